"""How an EHR authenticates to the FHIR endpoints: `Authorization: Bearer <token>` (what FHIR
clients send), or DRF's `Token <token>` scheme; both take a provider user's API token."""

from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"


FHIR_AUTHENTICATION = [BearerTokenAuthentication, TokenAuthentication]
CHALLENGE = 'Bearer realm="lamina-fhir", Token realm="lamina-fhir"'
