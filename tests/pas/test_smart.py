"""SMART Backend Services: a registered EHR trades a signed client assertion for an access token
that submits PAS bundles as its provider user; every bad assertion is refused and stores nothing."""

import json
import time
import uuid
from datetime import timedelta
from io import StringIO
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.management import CommandError, call_command
from django.utils import timezone
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from rest_framework.test import APIClient

from pas.models import SmartAccessToken, SmartClient, SmartJti
from pas.smart import ASSERTION_TYPE, SCOPES, smart_client_register
from reviews.models import PriorAuthRequest
from tests.pas.conftest import INQUIRE, SUBMIT, post_fhir, surgical_bundle

pytestmark = pytest.mark.django_db

TOKEN = "/fhir/auth/token"
TOKEN_URL = "http://testserver/fhir/auth/token"  # the aud a client puts in its assertion
SUBMIT_SCOPE = "system/Claim.write system/ClaimResponse.read"


# --- Keys and clients, made in the test ---------------------------------------------------------


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def weak_rsa_key():
    """A key registration must refuse."""
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505


def ec_key():
    return ec.generate_private_key(ec.SECP384R1())


def public_jwk(private_key, kid: str) -> dict:
    if isinstance(private_key, rsa.RSAPrivateKey):
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        alg = "RS384"
    else:
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        alg = "ES384"
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


class Ehr:
    """A registered client holding its private key."""

    def __init__(self, client: SmartClient, private_key, kid: str):
        self.client, self.private_key, self.kid = client, private_key, kid
        self.alg = "RS384" if isinstance(private_key, rsa.RSAPrivateKey) else "ES384"

    def assertion(self, key=None, headers=None, **claims) -> str:
        now = int(time.time())
        body = {
            "iss": self.client.client_id,
            "sub": self.client.client_id,
            "aud": TOKEN_URL,
            "exp": now + 240,
            "jti": str(uuid.uuid4()),
            **claims,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(
            body,
            key or self.private_key,
            algorithm=self.alg,
            headers={
                k: v for k, v in {"kid": self.kid, **(headers or {})}.items() if v is not None
            },
        )


def register(user, private_key, kid="key-1", **extra) -> Ehr:
    client = smart_client_register(
        user=user, jwks={"keys": [public_jwk(private_key, kid)]}, **extra
    )
    return Ehr(client, private_key, kid)


@pytest.fixture
def ehr(provider_a):
    return register(provider_a, rsa_key())


def token_request(assertion: str | None, scope: str | None = SUBMIT_SCOPE, **fields):
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        "scope": scope,
        **fields,
    }
    return APIClient().generic(
        "POST",
        TOKEN,
        urlencode({k: v for k, v in form.items() if v is not None}),
        content_type="application/x-www-form-urlencoded",
    )


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def assert_nothing_stored():
    assert SmartAccessToken.objects.count() == 0
    assert SmartJti.objects.count() == 0


# --- A valid assertion --------------------------------------------------------------------------


@pytest.mark.parametrize("make_key", [rsa_key, ec_key], ids=["RS384", "ES384"])
def test_a_valid_assertion_gets_a_token_that_submits_a_pas_bundle(provider_a, make_key):
    # given an EHR registered with its public key, acting as provider A
    ehr = register(provider_a, make_key())

    # when it asks for a token with an assertion signed by its private key
    response = token_request(ehr.assertion())

    # then it gets a short-lived bearer token with the scopes it asked
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "bearer"
    assert 0 < body["expires_in"] <= 300
    assert body["scope"] == SUBMIT_SCOPE
    stored = SmartAccessToken.objects.get()
    assert stored.client == ehr.client
    assert body["access_token"] not in stored.token_hash  # only its hash is kept
    assert SmartJti.objects.get().client == ehr.client

    # and the token submits a PAS bundle as provider A
    submitted = post_fhir(bearer(body["access_token"]), SUBMIT, surgical_bundle())
    assert submitted.status_code == 200, submitted.content
    pa_request = PriorAuthRequest.objects.get()
    assert pa_request.submitted_by == provider_a
    assert pa_request.organization == provider_a.organization


def test_the_client_id_form_field_may_name_the_client(ehr):
    response = token_request(ehr.assertion(), client_id=ehr.client.client_id)
    assert response.status_code == 200, response.content


# --- Refusals: the right error, nothing stored --------------------------------------------------


def _other_key_assertion(ehr):
    return ehr.assertion(key=rsa_key())


REFUSALS = {
    "wrong audience": (lambda e: e.assertion(aud="https://other.example/token"), "invalid_client"),
    "audience missing": (lambda e: e.assertion(aud=None), "invalid_client"),
    "expired": (lambda e: e.assertion(exp=int(time.time()) - 120), "invalid_client"),
    "exp too far ahead": (lambda e: e.assertion(exp=int(time.time()) + 600), "invalid_client"),
    "exp missing": (lambda e: e.assertion(exp=None), "invalid_client"),
    "exp not a number": (lambda e: e.assertion(exp=float("nan")), "invalid_client"),
    "exp a string": (lambda e: e.assertion(exp="soon"), "invalid_client"),
    "jti not a string": (lambda e: e.assertion(jti=7), "invalid_client"),
    "jti missing": (lambda e: e.assertion(jti=None), "invalid_client"),
    "wrong signing key": (_other_key_assertion, "invalid_client"),
    "unknown kid": (lambda e: e.assertion(headers={"kid": "no-such-key"}), "invalid_client"),
    "unknown client": (
        lambda e: e.assertion(iss="no-such-client", sub="no-such-client"),
        "invalid_client",
    ),
    "iss differs from sub": (lambda e: e.assertion(sub="someone-else"), "invalid_client"),
    "not a JWT": (lambda e: "not-a-jwt", "invalid_client"),
    "signed HS256": (
        lambda e: jwt.encode(
            {"iss": e.client.client_id, "sub": e.client.client_id, "aud": TOKEN_URL},
            "a-shared-secret-of-enough-length-for-hs256",
            algorithm="HS256",
        ),
        "invalid_client",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_bad_assertion_is_refused_and_stores_nothing(ehr, case):
    make, error = REFUSALS[case]

    response = token_request(make(ehr))

    assert response.status_code == 401, response.content
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({"grant_type": None}, 400, "unsupported_grant_type"),
        ({"client_assertion_type": "urn:other"}, 400, "invalid_request"),
        ({"client_assertion": None}, 400, "invalid_request"),
        ({"scope": "system/Claim.write system/Patient.read"}, 400, "invalid_scope"),
        ({"scope": "user/Claim.write"}, 400, "invalid_scope"),
        ({"scope": ""}, 400, "invalid_scope"),
        ({"client_id": "someone-else"}, 401, "invalid_client"),
    ],
    ids=[
        "unsupported grant type",
        "no grant type",
        "wrong assertion type",
        "no assertion",
        "unsupported scope",
        "user scope",
        "no scope",
        "client_id differs",
    ],
)
def test_a_bad_token_request_is_refused_and_stores_nothing(ehr, fields, status, error):
    form = {"assertion": ehr.assertion(), "scope": SUBMIT_SCOPE}
    if "client_assertion" in fields:
        form["assertion"] = fields.pop("client_assertion")
    if "scope" in fields:
        form["scope"] = fields.pop("scope")

    response = token_request(form["assertion"], form["scope"], **fields)

    assert response.status_code == status, response.content
    assert response.json()["error"] == error
    assert_nothing_stored()


def test_a_scope_the_client_is_not_allowed_is_refused(provider_a):
    ehr = register(provider_a, ec_key(), scopes=["system/Claim.read"])

    response = token_request(ehr.assertion(), scope="system/Claim.write")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert_nothing_stored()


def test_a_replayed_assertion_is_refused(ehr):
    assertion = ehr.assertion()
    assert token_request(assertion).status_code == 200

    replayed = token_request(assertion)

    assert replayed.status_code == 401
    assert replayed.json()["error"] == "invalid_client"
    assert "already been used" in replayed.json()["error_description"]
    assert SmartAccessToken.objects.count() == 1


def test_an_inactive_client_gets_no_token(ehr):
    SmartClient.objects.filter(pk=ehr.client.pk).update(active=False)

    response = token_request(ehr.assertion())

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert_nothing_stored()


def test_a_form_is_required_and_get_is_not_allowed(ehr):
    as_json = APIClient().post(
        TOKEN,
        json.dumps({"grant_type": "client_credentials", "client_assertion": ehr.assertion()}),
        content_type="application/json",
    )
    assert as_json.status_code == 400
    assert as_json.json()["error"] == "invalid_request"
    assert APIClient().get(TOKEN).status_code == 405
    assert_nothing_stored()


# --- Using the access token ---------------------------------------------------------------------


def _token(ehr, scope=SUBMIT_SCOPE) -> str:
    response = token_request(ehr.assertion(), scope=scope)
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def test_an_expired_access_token_is_refused(ehr):
    token = _token(ehr)
    SmartAccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = post_fhir(bearer(token), SUBMIT, surgical_bundle())

    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "expired" in response.json()["issue"][0]["diagnostics"]
    assert PriorAuthRequest.objects.count() == 0


def test_a_token_of_a_deactivated_client_is_refused(ehr):
    token = _token(ehr)
    SmartClient.objects.filter(pk=ehr.client.pk).update(active=False)

    response = post_fhir(bearer(token), SUBMIT, surgical_bundle())

    assert response.status_code == 401
    assert PriorAuthRequest.objects.count() == 0


def test_an_unknown_bearer_token_is_refused():
    response = post_fhir(bearer("not-a-token"), SUBMIT, surgical_bundle())
    assert response.status_code == 401


def test_the_token_reaches_only_what_its_scopes_cover(ehr):
    reader = bearer(_token(ehr, scope="system/ClaimResponse.read"))

    submitted = post_fhir(reader, SUBMIT, surgical_bundle())
    inquired = post_fhir(reader, INQUIRE, surgical_bundle())

    assert submitted.status_code == 403
    assert "system/Claim.write" in submitted.json()["issue"][0]["diagnostics"]
    assert PriorAuthRequest.objects.count() == 0
    assert inquired.status_code != 403  # past authorization: the inquiry itself is answered


def test_a_provider_api_token_still_works_as_bearer(provider_a):
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=provider_a)

    response = post_fhir(bearer(token.key), SUBMIT, surgical_bundle())

    assert response.status_code == 200, response.content


# --- Discovery ----------------------------------------------------------------------------------


def test_the_smart_configuration_advertises_backend_services(client):
    response = client.get("/fhir/.well-known/smart-configuration")

    assert response.status_code == 200
    body = response.json()
    assert body["token_endpoint"] == TOKEN_URL
    assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert body["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert body["grant_types_supported"] == ["client_credentials"]
    assert body["capabilities"] == ["client-confidential-asymmetric"]
    assert set(SUBMIT_SCOPE.split()) <= set(body["scopes_supported"])


def test_the_capability_statement_declares_smart_security(client):
    response = client.get("/fhir/metadata")

    body = response.json()
    CapabilityStatement.model_validate(body)
    security = body["rest"][0]["security"]
    codes = {c["code"] for s in security["service"] for c in s["coding"]}
    assert "SMART-on-FHIR" in codes
    (oauth,) = [
        e
        for e in security["extension"]
        if e["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    ]
    assert {"url": "token", "valueUri": TOKEN_URL} in oauth["extension"]


# --- Registration -------------------------------------------------------------------------------


def test_the_command_registers_a_client_and_prints_its_id(provider_a, tmp_path):
    key = ec_key()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk(key, "ec-1")]}))
    out = StringIO()

    call_command(
        "register_smart_client", "--user", provider_a.username, "--jwks", str(path), stdout=out
    )

    client = SmartClient.objects.get()
    assert out.getvalue().strip() == client.client_id
    assert client.user == provider_a
    assert client.scopes == list(SCOPES)
    # and the registered key gets a token
    assert token_request(Ehr(client, key, "ec-1").assertion()).status_code == 200


def test_the_command_takes_a_client_id(provider_a, tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk(rsa_key(), "r")]}))
    out = StringIO()

    call_command(
        "register_smart_client",
        "--user",
        provider_a.username,
        "--jwks",
        str(path),
        "--client-id",
        "ehr-west",
        "--scope",
        "system/Claim.write",
        stdout=out,
    )

    assert out.getvalue().strip() == "ehr-west"
    assert SmartClient.objects.get().scopes == ["system/Claim.write"]


def _write(tmp_path, content) -> str:
    path = tmp_path / "jwks.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def _public(key, kid="k") -> dict:
    return {"keys": [public_jwk(key, kid)]}


BAD_REGISTRATIONS = {
    "private key": (
        lambda p: _write(
            p, {"keys": [jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key(), as_dict=True)]}
        ),
        "provider_a",
        "private key",
    ),
    "no file": (lambda p: str(p / "missing.json"), "provider_a", "Cannot read"),
    "not JSON": (lambda p: _write(p, "keys"), "provider_a", "Cannot read"),
    "no keys": (lambda p: _write(p, {"keys": []}), "provider_a", "JWKS"),
    "P-256 key": (
        lambda p: _write(p, _public(ec.generate_private_key(ec.SECP256R1()))),
        "provider_a",
        "P-384",
    ),
    "RSA of 1024 bits": (
        lambda p: _write(p, _public(weak_rsa_key())),
        "provider_a",
        "fewer than 2048",
    ),
    "unknown user": (lambda p: _write(p, _public(ec_key())), "nobody", "No user"),
    "not a provider": (lambda p: _write(p, _public(ec_key())), "nurse", "provider user"),
    "unknown scope": (lambda p: _write(p, _public(ec_key())), "scope", "not a scope"),
}


@pytest.mark.parametrize("case", list(BAD_REGISTRATIONS))
def test_the_command_refuses_bad_registrations(provider_a, nurse, tmp_path, case):
    jwks, user, message = BAD_REGISTRATIONS[case]
    username = {"provider_a": provider_a.username, "nurse": nurse.username, "scope": "provider_a"}
    extra = ["--scope", "system/Patient.read"] if user == "scope" else []

    with pytest.raises(CommandError, match=message):
        call_command(
            "register_smart_client",
            "--user",
            username.get(user, user),
            "--jwks",
            jwks(tmp_path),
            *extra,
            stdout=StringIO(),
        )
    assert SmartClient.objects.count() == 0


def test_the_admin_registers_a_client_and_refuses_a_bad_jwks(admin_user, provider_a):
    from django.test import Client

    browser = Client()
    browser.force_login(admin_user, backend="django.contrib.auth.backends.ModelBackend")
    form = {
        "client_id": "ehr-admin",
        "name": "EHR",
        "user": provider_a.pk,
        "scopes": json.dumps(["system/Claim.write"]),
        "active": "on",
    }

    refused = browser.post(
        "/admin/pas/smartclient/add/", {**form, "jwks": json.dumps({"keys": [{"kty": "oct"}]})}
    )
    assert refused.status_code == 200  # the form again, with the error
    assert b"neither an RSA nor an EC key" in refused.content
    assert SmartClient.objects.count() == 0

    jwks = {"keys": [public_jwk(rsa_key(), "r")]}
    added = browser.post("/admin/pas/smartclient/add/", {**form, "jwks": json.dumps(jwks)})
    assert added.status_code == 302, added.content[:2000]
    assert SmartClient.objects.get().client_id == "ehr-admin"


# --- A client registered by its JWKS URL --------------------------------------------------------


class JwksServer:
    """The EHR's key endpoint: a real HTTP server on the loopback serving what the test puts."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from threading import Thread

        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.reads += 1
                body = server.body if isinstance(server.body, bytes) else json.dumps(server.body)
                body = body.encode() if isinstance(body, str) else body
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.body: dict | bytes = {"keys": []}
        self.reads = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks_server():
    from pas.smart import _jwks_url_client

    _jwks_url_client.cache_clear()
    server = JwksServer()
    yield server
    server.stop()
    _jwks_url_client.cache_clear()


def _url_ehr(user, server, key, kid="url-1") -> Ehr:
    server.body = {"keys": [public_jwk(key, kid)]}
    client = smart_client_register(user=user, jwks_url=server.url)
    return Ehr(client, key, kid)


@pytest.mark.parametrize("make_key", [rsa_key, ec_key], ids=["RS384", "ES384"])
def test_a_client_registered_by_jwks_url_gets_a_token_from_the_keys_read_there(
    provider_a, jwks_server, make_key
):
    ehr = _url_ehr(provider_a, jwks_server, make_key())

    first = token_request(ehr.assertion())
    second = token_request(ehr.assertion())

    assert first.status_code == 200, first.content
    assert second.status_code == 200, second.content
    assert jwks_server.reads == 1  # the key set is cached
    response = post_fhir(bearer(first.json()["access_token"]), SUBMIT, surgical_bundle())
    assert response.status_code == 200, response.content


def test_a_key_rotated_in_at_the_url_is_read_for_its_new_kid(provider_a, jwks_server):
    from pas.smart import _jwks_url_client

    ehr = _url_ehr(provider_a, jwks_server, rsa_key())
    assert token_request(ehr.assertion()).status_code == 200
    # the EHR publishes a new key beside the old one; once the cool-down has passed Lamina reads
    # the set again for a kid it has not seen
    new_key = ec_key()
    jwks_server.body = {
        "keys": [public_jwk(ehr.private_key, "url-1"), public_jwk(new_key, "url-2")]
    }
    _jwks_url_client(ehr.client.jwks_url).cooldown_duration = 0

    response = token_request(Ehr(ehr.client, new_key, "url-2").assertion())

    assert response.status_code == 200, response.content
    assert jwks_server.reads == 2


URL_REFUSALS = {
    "a kid the URL does not publish": (lambda ehr: ehr.assertion(headers={"kid": "other"}), None),
    "no kid": (lambda ehr: ehr.assertion(headers={"kid": None}), None),
    "a jku other than the registered URL": (
        lambda ehr: ehr.assertion(headers={"jku": "https://attacker.example/jwks.json"}),
        None,
    ),
    "a signature by another key": (lambda ehr: ehr.assertion(key=rsa_key()), None),
    "the URL serves a private key": (
        lambda ehr: ehr.assertion(),
        {"keys": [{**jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key(), as_dict=True), "kid": "url-1"}]},
    ),
    "the URL serves something not JSON": (lambda ehr: ehr.assertion(), b"<html>keys</html>"),
    "the URL serves no keys": (lambda ehr: ehr.assertion(), {"keys": []}),
}


@pytest.mark.parametrize("case", list(URL_REFUSALS))
def test_a_bad_assertion_against_a_jwks_url_is_refused_and_stores_nothing(
    provider_a, jwks_server, case
):
    ehr = _url_ehr(provider_a, jwks_server, rsa_key())
    assertion, served = URL_REFUSALS[case]
    text = assertion(ehr)
    if served is not None:
        jwks_server.body = served

    response = token_request(text)

    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_description"]
    assert_nothing_stored()


def test_an_unreachable_jwks_url_is_refused_and_stores_nothing(provider_a, jwks_server):
    ehr = _url_ehr(provider_a, jwks_server, rsa_key())
    jwks_server.stop()

    response = token_request(ehr.assertion())

    assert response.status_code == 401, response.content
    assert "cannot be read" in response.json()["error_description"]
    assert_nothing_stored()


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://ehr.example/jwks.json", "must be https"),
        ("ftp://127.0.0.1/jwks.json", "must be https"),
        ("https://", "valid URL"),
    ],
)
def test_a_jwks_url_must_be_https(provider_a, tmp_path, url, message):
    with pytest.raises(CommandError, match=message):
        call_command(
            "register_smart_client",
            "--user",
            provider_a.username,
            "--jwks-url",
            url,
            stdout=StringIO(),
        )
    assert SmartClient.objects.count() == 0


def test_the_command_registers_a_jwks_url_but_not_with_keys_too(provider_a, tmp_path):
    out = StringIO()
    call_command(
        "register_smart_client",
        "--user",
        provider_a.username,
        "--jwks-url",
        "https://ehr.example/.well-known/jwks.json",
        stdout=out,
    )
    client = SmartClient.objects.get()
    assert client.jwks_url == "https://ehr.example/.well-known/jwks.json"
    assert client.jwks == {}
    with pytest.raises(CommandError):
        call_command(
            "register_smart_client",
            "--user",
            provider_a.username,
            "--jwks",
            _write(tmp_path, _public(ec_key())),
            "--jwks-url",
            "https://ehr.example/jwks.json",
            stdout=StringIO(),
            stderr=StringIO(),
        )
