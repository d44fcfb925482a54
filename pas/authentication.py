"""How an EHR authenticates to the FHIR endpoints: `Authorization: Bearer <token>` (what FHIR
clients send), or DRF's `Token <token>` scheme. A Bearer token is either a SMART Backend Services
access token (pas.smart: it acts as the client's provider user, within its scopes, until it
expires) or a provider user's API token."""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from pas.models import SmartAccessToken
from pas.smart import ROUTE_SCOPES, access_token_find, scopes_cover


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and isinstance(result[1], SmartAccessToken):
            _scope_check(request, result[1])
        return result

    def authenticate_credentials(self, key):
        access = access_token_find(key)
        if access is None:
            return super().authenticate_credentials(key)
        if access.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed("The access token has expired.")
        client = access.client
        if not client.active or not client.user.is_active:
            raise exceptions.AuthenticationFailed("The access token's client is not active.")
        return client.user, access


def _scope_check(request, access: SmartAccessToken) -> None:
    """A SMART access token reaches only the routes its scopes cover."""
    if request.method == "OPTIONS":
        return
    match = request._request.resolver_match
    wanted = ROUTE_SCOPES.get((match.url_name if match else "", request.method))
    if not wanted or not scopes_cover(access.scope.split(), wanted):
        needed = " or ".join(sorted(f"system/{r}.{a}" for r, a in wanted or ()))
        raise exceptions.PermissionDenied(
            f"The access token's scopes do not cover this request{f' (needs {needed})' if needed else ''}."
        )


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
            "description": (
                "`Authorization: Bearer <token>`: a provider user's API token, or an access "
                "token from SMART Backend Services (POST /fhir/auth/token)."
            ),
        }
