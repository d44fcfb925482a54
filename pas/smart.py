"""SMART Backend Services: an EHR's token request with a signed JWT (client credentials).

The client POSTs `grant_type=client_credentials`, `client_assertion_type=urn:ietf:params:oauth:
client-assertion-type:jwt-bearer`, `client_assertion=<JWT>` and `scope=system/...` to the token
endpoint. The assertion is signed RS384 or ES384 with a key of the JWKS registered for the client;
its `iss` and `sub` are the client id, its `aud` the token endpoint's URL, its `exp` at most five
minutes ahead, and its `jti` is spent once. The answer is a short-lived bearer token that acts as
the client's provider user on /fhir/, within the scopes granted. Every refusal is an RFC 6749
error (`{"error", "error_description"}`) and stores nothing.
"""

import hashlib
import ipaddress
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

import jwt
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from pas.models import SmartAccessToken, SmartClient, SmartJti
from reviews.models import Role

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS384", "ES384")
KEY_TYPES = {"RS384": "RSA", "ES384": "EC"}
MAX_ASSERTION_LIFETIME = 300  # seconds: SMART's "no more than five minutes in the future"
CLOCK_SKEW = 30  # seconds of disagreement tolerated between the client's clock and ours
TOKEN_LIFETIME = 300  # seconds an access token is good for
MAX_ASSERTION_CHARS = 16_000
MIN_RSA_BITS = 2048
JWKS_URL_TIMEOUT = 5  # seconds to read a client's JWKS URL
JWKS_URL_LIFESPAN = 300  # seconds a JWKS read from a URL is used before it is read again
JWKS_URL_COOLDOWN = 10  # seconds between reads forced by a key id not seen yet

# The scopes a client may be granted, and what each FHIR route needs (any one of the set).
SCOPES = (
    "system/Claim.write",
    "system/Claim.read",
    "system/ClaimResponse.read",
    "system/Subscription.write",
    "system/Subscription.read",
)
RESOURCES = ("Claim", "ClaimResponse", "Subscription")
ACCESSES = ("read", "write")
ROUTE_SCOPES = {
    ("fhir-claim-submit", "POST"): {("Claim", "write")},
    ("fhir-claim-inquire", "POST"): {("Claim", "read"), ("ClaimResponse", "read")},
    ("fhir-subscription-create", "POST"): {("Subscription", "write")},
    ("fhir-subscription", "GET"): {("Subscription", "read")},
    ("fhir-subscription", "HEAD"): {("Subscription", "read")},
    ("fhir-subscription", "PUT"): {("Subscription", "write")},
    ("fhir-subscription", "DELETE"): {("Subscription", "write")},
    ("fhir-subscription-status", "GET"): {("Subscription", "read")},
    ("fhir-subscription-status", "HEAD"): {("Subscription", "read")},
}


class SmartError(Exception):
    """An RFC 6749 section 5.2 error."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def _invalid_client(description: str) -> SmartError:
    return SmartError("invalid_client", description, 401)


# --- Scopes -------------------------------------------------------------------------------------


def scope_parse(scope: str) -> tuple[str, str]:
    """`system/Claim.write` -> ("Claim", "write"); `*` stands for any resource or access."""
    context, _, rest = scope.partition("/")
    resource, _, access = rest.partition(".")
    if context != "system" or resource not in (*RESOURCES, "*") or access not in (*ACCESSES, "*"):
        raise ValueError(
            f"'{scope}' is not a scope Lamina grants (system/<Resource>.<read|write>, "
            f"one of {', '.join(SCOPES)}, or a * form of them)."
        )
    return resource, access


def _covers(granted: tuple[str, str], wanted: tuple[str, str]) -> bool:
    return granted[0] in ("*", wanted[0]) and granted[1] in ("*", wanted[1])


def scopes_cover(granted: list[str], wanted: set[tuple[str, str]]) -> bool:
    parsed = []
    for scope in granted:
        try:
            parsed.append(scope_parse(scope))
        except ValueError:
            continue
    return any(_covers(g, w) for g in parsed for w in wanted)


# --- Registration -------------------------------------------------------------------------------


def jwks_keys(jwks) -> list[dict]:
    """The usable public keys of a JWKS (RSA, or EC on P-384); a ValueError says what is wrong."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ValueError('The JWKS must be an object {"keys": [...]} holding at least one key.')
    keys = []
    for index, key in enumerate(jwks["keys"]):
        if not isinstance(key, dict):
            raise ValueError(f"Key {index} of the JWKS is not an object.")
        if "d" in key:
            raise ValueError(f"Key {index} is a private key: register only the public keys.")
        if key.get("kty") not in ("RSA", "EC"):
            raise ValueError(f"Key {index} is neither an RSA nor an EC key (RS384 or ES384).")
        if key.get("kty") == "EC" and key.get("crv") != "P-384":
            raise ValueError(f"Key {index} is an EC key on {key.get('crv')}, not P-384 (ES384).")
        if key.get("alg") not in (None, *ALGORITHMS):
            raise ValueError(f"Key {index} is for {key.get('alg')}, not RS384 or ES384.")
        try:
            public = jwt.PyJWK.from_dict(
                key, algorithm="RS384" if key["kty"] == "RSA" else "ES384"
            ).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"Key {index} of the JWKS is not a valid public key: {exc}") from exc
        if key["kty"] == "RSA" and public.key_size < MIN_RSA_BITS:
            raise ValueError(f"Key {index} is RSA of {public.key_size} bits, fewer than 2048.")
        keys.append(key)
    return keys


def jwks_url_check(url: str) -> None:
    """A JWKS URL is https; plain http only on this machine's loopback (a local test client)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "http" and loopback:
        return
    raise ValueError("The JWKS URL must be https (plain http only on the loopback address).")


def smart_client_validate(client: SmartClient) -> None:
    """What a registered client must be: a provider user, a usable JWKS or a JWKS URL (one of
    the two), grantable scopes."""
    errors: dict[str, list[str]] = {}
    user = client.user if client.user_id else None
    if user is not None and not (user.organization_id and user.has_role(Role.PROVIDER)):
        errors["user"] = ["A SMART client acts as a provider user of an organization."]
    if client.jwks_url:
        if client.jwks:
            errors["jwks"] = ["Register the keys or their URL, not both."]
        try:
            jwks_url_check(client.jwks_url)
        except ValueError as exc:
            errors["jwks_url"] = [str(exc)]
    else:
        try:
            jwks_keys(client.jwks)
        except ValueError as exc:
            errors["jwks"] = [str(exc)]
    if not isinstance(client.scopes, list) or not all(isinstance(s, str) for s in client.scopes):
        errors["scopes"] = ["The scopes are a list of strings."]
    else:
        for scope in client.scopes:
            try:
                scope_parse(scope)
            except ValueError as exc:
                errors.setdefault("scopes", []).append(str(exc))
    if errors:
        raise ValidationError(errors)


def smart_client_register(
    *,
    user,
    jwks: dict | None = None,
    jwks_url: str = "",
    scopes: list[str] | None = None,
    client_id: str = "",
    name: str = "",
) -> SmartClient:
    client = SmartClient(
        user=user,
        jwks=jwks or {},
        jwks_url=jwks_url,
        scopes=list(SCOPES) if scopes is None else scopes,
        name=name,
    )
    if client_id:
        client.client_id = client_id
    client.full_clean()
    client.save()
    return client


# --- The token request --------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    access_token: str
    scope: str
    expires_in: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class _JwksUrlClient(jwt.PyJWKClient):
    """PyJWKClient (fetching without redirects, caching, refreshing for an unseen key id) that
    holds a fetched JWKS to the rules a registered one meets (jwks_keys)."""

    def fetch_data(self):
        try:
            data = super().fetch_data()
        except ValueError as exc:  # not JSON
            raise jwt.PyJWKClientError(f"The JWKS URL did not answer JSON: {exc}") from exc
        try:
            jwks_keys(data)
        except ValueError as exc:
            if self.jwk_set_cache is not None:
                self.jwk_set_cache.put(None)
            raise jwt.PyJWKClientError(str(exc)) from exc
        return data


@lru_cache(maxsize=256)
def _jwks_url_client(url: str) -> _JwksUrlClient:
    return _JwksUrlClient(
        url,
        lifespan=JWKS_URL_LIFESPAN,
        timeout=JWKS_URL_TIMEOUT,
        cooldown_duration=JWKS_URL_COOLDOWN,
    )


def _url_key(client: SmartClient, algorithm: str, header: dict):
    """The public key the assertion names, read from the client's JWKS URL."""
    kid, jku = header.get("kid"), header.get("jku")
    if jku is not None and jku != client.jwks_url:
        raise _invalid_client("The client assertion's jku is not the client's registered JWKS URL.")
    if not isinstance(kid, str) or not kid:
        raise _invalid_client("The client assertion's header must name its key (kid).")
    try:
        jwk = _jwks_url_client(client.jwks_url).get_signing_key(kid)
    except jwt.PyJWKClientConnectionError as exc:
        raise _invalid_client(f"The client's JWKS URL cannot be read: {exc}") from exc
    except (jwt.PyJWKError, jwt.PyJWKSetError, jwt.PyJWKClientError) as exc:
        raise _invalid_client(f"The client's JWKS URL gives no usable key {kid!r}: {exc}") from exc
    if jwk.key_type != KEY_TYPES[algorithm]:
        raise _invalid_client(f"The key {kid!r} at the client's JWKS URL is not for {algorithm}.")
    return jwk.key


def _verified_claims(assertion: str, client: SmartClient, algorithm: str, header: dict) -> dict:
    if client.jwks_url:
        publics = [_url_key(client, algorithm, header)]
    else:
        kid = header.get("kid")
        candidates = [
            key
            for key in jwks_keys(client.jwks)
            if key["kty"] == KEY_TYPES[algorithm]
            and key.get("alg") in (None, algorithm)
            and (kid is None or key.get("kid") == kid)
        ]
        if not candidates:
            raise _invalid_client(
                f"No {algorithm} key{f' with kid {kid!r}' if kid is not None else ''} is "
                "registered for this client."
            )
        publics = [jwt.PyJWK.from_dict(key, algorithm=algorithm).key for key in candidates]
    for public in publics:
        try:
            return jwt.decode(
                assertion,
                public,
                algorithms=[algorithm],
                options={
                    "verify_exp": False,
                    "verify_aud": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise _invalid_client(f"The client assertion cannot be verified: {exc}") from exc
    raise _invalid_client("The client assertion's signature does not match the client's keys.")


def _numeric(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def token_issue(*, form, token_url: str) -> Issued:
    """Check a token request (form fields) and issue an access token, or raise SmartError."""
    grant_type = form.get("grant_type")
    if grant_type != "client_credentials":
        raise SmartError(
            "unsupported_grant_type",
            "Lamina grants only client_credentials (SMART Backend Services)."
            if grant_type
            else "grant_type is required (client_credentials).",
        )
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise SmartError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}.")
    assertion = form.get("client_assertion") or ""
    if not assertion:
        raise SmartError("invalid_request", "client_assertion (a signed JWT) is required.")
    if len(assertion) > MAX_ASSERTION_CHARS:
        raise SmartError("invalid_request", "client_assertion is longer than Lamina accepts.")
    scope_text = form.get("scope") or ""
    if not scope_text.strip():
        raise SmartError("invalid_scope", f"scope is required (for example {SCOPES[0]}).")

    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _invalid_client(f"client_assertion is not a JWT: {exc}") from exc
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise _invalid_client(f"The client assertion is signed {algorithm}, not RS384 or ES384.")
    iss, sub = unverified.get("iss"), unverified.get("sub")
    if not isinstance(iss, str) or not iss:
        raise _invalid_client("The client assertion has no iss (the client id).")
    if iss != sub:
        raise _invalid_client("The client assertion's iss and sub must both be the client id.")
    if form.get("client_id") not in (None, "", iss):
        raise _invalid_client("client_id differs from the client assertion's iss.")
    client = SmartClient.objects.select_related("user").filter(client_id=iss).first()
    if client is None or not client.active or not client.user.is_active:
        raise _invalid_client("No active client is registered with this id.")

    claims = _verified_claims(assertion, client, algorithm, header)
    aud = claims.get("aud")
    if aud != token_url and not (isinstance(aud, list) and token_url in aud):
        raise _invalid_client(f"The client assertion's aud must be the token endpoint {token_url}.")
    now = timezone.now().timestamp()
    exp = claims.get("exp")
    if not _numeric(exp):
        raise _invalid_client("The client assertion has no numeric exp.")
    if exp < now - CLOCK_SKEW:
        raise _invalid_client("The client assertion has expired.")
    if exp > now + MAX_ASSERTION_LIFETIME + CLOCK_SKEW:
        raise _invalid_client("The client assertion's exp is more than five minutes ahead.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 255:
        raise _invalid_client("The client assertion needs a jti (a unique string of 1-255).")

    requested = scope_text.split()
    for scope in requested:
        try:
            wanted = scope_parse(scope)
        except ValueError as exc:
            raise SmartError("invalid_scope", str(exc)) from exc
        if not scopes_cover(client.scopes, {wanted}):
            raise SmartError("invalid_scope", f"The client is not allowed the scope {scope}.")
    granted = " ".join(dict.fromkeys(requested))

    token = secrets.token_urlsafe(32)
    current = timezone.now()
    try:
        with transaction.atomic():
            client.jtis.filter(expires_at__lt=current - timedelta(seconds=CLOCK_SKEW)).delete()
            client.tokens.filter(expires_at__lt=current).delete()
            SmartJti.objects.create(
                client=client,
                jti=jti,
                expires_at=datetime.fromtimestamp(exp, tz=UTC),
            )
            SmartAccessToken.objects.create(
                client=client,
                token_hash=token_hash(token),
                scope=granted,
                expires_at=current + timedelta(seconds=TOKEN_LIFETIME),
            )
    except IntegrityError as exc:
        raise _invalid_client("This client assertion (its jti) has already been used.") from exc
    return Issued(access_token=token, scope=granted, expires_in=TOKEN_LIFETIME)


def access_token_find(token: str) -> SmartAccessToken | None:
    return (
        SmartAccessToken.objects.select_related("client__user")
        .filter(token_hash=token_hash(token))
        .first()
    )


# --- Views --------------------------------------------------------------------------------------


def token_url(request) -> str:
    return request.build_absolute_uri(reverse("fhir-smart-token"))


def _oauth(body: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(View):
    """POST /fhir/auth/token: public; the client authenticates with its signed assertion."""

    http_method_names = ["post", "options"]

    def post(self, request):
        content_type = (request.content_type or "").lower()
        try:
            if content_type != "application/x-www-form-urlencoded":
                raise SmartError(
                    "invalid_request",
                    "Send the token request as application/x-www-form-urlencoded.",
                )
            try:
                form = request.POST
            except RequestDataTooBig as exc:
                raise SmartError(
                    "invalid_request", "The request body is larger than Lamina accepts.", 413
                ) from exc
            issued = token_issue(form=form, token_url=token_url(request))
        except SmartError as exc:
            response = _oauth(
                {"error": exc.error, "error_description": exc.description}, exc.status
            )
            if exc.status == 401:
                response["WWW-Authenticate"] = 'Bearer realm="lamina-fhir"'
            return response
        return _oauth(
            {
                "access_token": issued.access_token,
                "token_type": "bearer",
                "expires_in": issued.expires_in,
                "scope": issued.scope,
            }
        )


def smart_configuration(request) -> dict:
    return {
        "token_endpoint": token_url(request),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": list(SCOPES),
        "capabilities": ["client-confidential-asymmetric"],
    }


class SmartConfigurationView(View):
    """GET /fhir/.well-known/smart-configuration: public discovery document."""

    http_method_names = ["get", "head", "options"]

    def get(self, request):
        return JsonResponse(smart_configuration(request))
