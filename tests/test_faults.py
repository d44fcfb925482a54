"""Faults and hostile input (issue: holds under faults and hostile input).

Against the real stack: PostgreSQL, Redis, the WSGI application.
"""

import uuid

import pytest
from axes.models import AccessAttempt

from reviews.models import AuditEvent, IdempotencyRecord, PriorAuthRequest
from tests.conftest import PASSWORD, example

LONE = b'"\\ud800"'


def _with_lone_surrogate(body: dict, field: str) -> bytes:
    import json

    raw = json.dumps({**body, field: "x"}).encode()
    return raw.replace(b'"x"', LONE, 1)


@pytest.mark.parametrize(
    "url",
    ["/api/v1/requests/", "REQUEST/information/", "REQUEST/withdraw/"],
    ids=["submit", "information", "withdraw"],
)
def test_a_lone_surrogate_in_a_rest_body_is_a_400_and_stores_nothing(api_a, url):
    from tests.conftest import post_json

    if url.startswith("REQUEST"):
        created = post_json(api_a, "/api/v1/requests/", example("esi-lumbar-radiculopathy"))
        url = url.replace("REQUEST", f"/api/v1/requests/{created.json()['id']}")
        body = {"message": "x"} if "information" in url else {"reason": "x"}
    else:
        body = example("esi-lumbar-radiculopathy")
    field = next(iter(body)) if "requests/" not in url or url.endswith("/") else "external_id"
    field = "external_id" if url == "/api/v1/requests/" else field
    before = (PriorAuthRequest.objects.count(), IdempotencyRecord.objects.count())
    response = api_a.post(
        url,
        data=_with_lone_surrogate(body, field),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "parse_error"
    assert "surrogate" in response.json()["message"]
    assert (PriorAuthRequest.objects.count(), IdempotencyRecord.objects.count()) == before


@pytest.mark.parametrize("url", ["/fhir/Claim/$submit", "/fhir/Claim/$inquire"])
def test_a_lone_surrogate_in_a_fhir_body_is_a_400_operation_outcome(api_a, url):
    from tests.pas.conftest import surgical_bundle

    raw = _with_lone_surrogate(surgical_bundle(), "id")
    response = api_a.post(
        url,
        data=raw,
        content_type="application/fhir+json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )

    assert response.status_code == 400, response.content
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "surrogate" in outcome["issue"][0]["diagnostics"]
    assert PriorAuthRequest.objects.count() == 0


@pytest.mark.django_db
def test_a_sign_in_username_of_256_characters_is_refused_and_stores_nothing(client, nurse):
    events = AuditEvent.objects.count()
    response = client.post("/accounts/login/", {"username": "n" * 300, "password": PASSWORD})

    assert response.status_code == 400
    assert "at most 150 characters" in str(response.context["form"].errors["username"])
    assert AccessAttempt.objects.count() == 0
    assert AuditEvent.objects.count() == events


# --- Sign-in lockout by username and address; addresses limited on their own ----------------------


@pytest.fixture
def fresh_signin_limits(settings):
    from django.core.cache import cache

    cache.clear()
    settings.SIGNIN_ADDRESS_FAILURE_LIMIT = 12
    yield
    cache.clear()


def _sign_in(client, username, password, address):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


@pytest.mark.django_db
def test_a_strangers_failures_do_not_lock_the_reviewer_out(client, nurse, fresh_signin_limits):
    for _ in range(6):
        _sign_in(client, "nurse", "wrong", "203.0.113.9")

    assert _sign_in(client, "nurse", PASSWORD, "203.0.113.9").status_code == 429
    assert _sign_in(client, "nurse", PASSWORD, "198.51.100.7").status_code == 302


@pytest.mark.django_db
def test_one_address_trying_many_usernames_is_stopped_and_audits_a_bounded_number(
    client, nurse, fresh_signin_limits
):
    events = AuditEvent.objects.filter(action="sign_in_failed").count()
    answers = [
        _sign_in(client, f"guess{i}", "wrong", "203.0.113.10").status_code for i in range(40)
    ]

    assert answers[:12] == [200] * 12
    assert set(answers[12:]) == {429}
    assert AuditEvent.objects.filter(action="sign_in_failed").count() - events == 12
    # another address is not affected
    assert _sign_in(client, "nurse", PASSWORD, "198.51.100.8").status_code == 302


# --- Error shapes: 404s under /api/, a missing letter asked as PDF ------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/requests/abc/",
        "/api/v1/requests/1x/letters/",
        "/api/v1/requests/abc/withdraw/",
        "/api/v1/no-such-thing/",
    ],
)
def test_every_404_under_the_api_is_the_json_error(api_a, url):
    response = api_a.get(url)

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"code": "not_found", "message": "Not found.", "fields": {}}


@pytest.mark.parametrize("suffix", [".pdf", "/?format=pdf"])
def test_a_missing_letter_asked_as_pdf_is_a_json_404(api_a, suffix):
    from tests.conftest import post_json

    created = post_json(api_a, "/api/v1/requests/", example("esi-lumbar-radiculopathy")).json()
    response = api_a.get(f"/api/v1/requests/{created['id']}/letters/999999{suffix}")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"


# --- X-Forwarded-Proto and Content-Security-Policy ---------------------------------------------


def test_x_forwarded_proto_is_not_trusted_by_default():
    from django.conf import settings
    from django.test import RequestFactory

    request = RequestFactory().get("/", HTTP_X_FORWARDED_PROTO="https")

    assert settings.TRUST_X_FORWARDED_PROTO is False
    assert settings.SECURE_PROXY_SSL_HEADER is None
    assert request.is_secure() is False


def test_x_forwarded_proto_is_trusted_when_configured_behind_a_proxy():
    import subprocess
    import sys

    from tests.conftest import REPO

    code = (
        "import django; django.setup(); from django.test import RequestFactory; "
        "print(RequestFactory().get('/', HTTP_X_FORWARDED_PROTO='https').is_secure())"
    )
    import os

    env = {
        **os.environ,
        "TRUST_X_FORWARDED_PROTO": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True"


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy(client, nurse):
    client.force_login(nurse, backend="django.contrib.auth.backends.ModelBackend")
    for url in ["/accounts/login/", "/", "/dashboard/"]:
        policy = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "object-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy


@pytest.mark.django_db
def test_the_pages_have_no_inline_script_for_the_policy_to_refuse(client, nurse):
    import re

    client.force_login(nurse, backend="django.contrib.auth.backends.ModelBackend")
    for url in ["/accounts/login/", "/", "/dashboard/", "/api/docs/", "/api/redoc/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "script-src 'self'" in response["Content-Security-Policy"], url
        html = response.content.decode()
        scripts = re.findall(r"<script\b([^>]*)>", html, flags=re.IGNORECASE)
        assert scripts, url
        assert all("src=" in attributes for attributes in scripts), (url, scripts)
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", html, flags=re.IGNORECASE), url


def _api_post_paths(client) -> list[str]:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    return sorted(
        path
        for path, operations in schema["paths"].items()
        if path.startswith("/api/") and "post" in operations
    )


def test_a_lone_surrogate_in_any_api_post_is_a_400_and_stores_nothing(api_a):
    from tests.conftest import post_json

    created = post_json(api_a, "/api/v1/requests/", example("esi-lumbar-radiculopathy")).json()
    paths = _api_post_paths(api_a)
    assert "/api/v1/requests/{request_id}/appeal/" in paths
    for path in paths:
        url = path.replace("{request_id}", str(created["id"]))
        before = (
            PriorAuthRequest.objects.count(),
            IdempotencyRecord.objects.count(),
            AuditEvent.objects.count(),
        )
        response = api_a.post(
            url,
            data=b'{"reason": "\\ud800", "message": "\\udfff"}',
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )

        assert response.status_code == 400, (url, response.content)
        assert "surrogate" in response.json()["message"], url
        after = (
            PriorAuthRequest.objects.count(),
            IdempotencyRecord.objects.count(),
            AuditEvent.objects.count(),
        )
        assert after == before, url
