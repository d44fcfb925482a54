"""How an EHR authenticates to the FHIR endpoints: `Authorization: Bearer <token>` (what FHIR
clients send), or DRF's `Token <token>` scheme; both take a provider user's API token."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"


FHIR_AUTHENTICATION = [BearerTokenAuthentication, TokenAuthentication]
CHALLENGE = 'Bearer realm="lamina-fhir", Token realm="lamina-fhir"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme of the Bearer form (the Token form is DRF's own tokenAuth)."""

    target_class = "pas.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A provider user's API token as `Authorization: Bearer <token>`.",
        }
