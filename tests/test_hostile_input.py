"""Hostile input: generated requests against the OpenAPI schema, body limits, and the rate limit.

No input may produce a server error (DESIGN, "What bad input gets"), and every answer must match
what the schema promises. The schemathesis run is bounded (MAX_EXAMPLES per operation) so the
suite stays fast; it runs through the real WSGI application, authenticated as a provider.

Bodies drawn from the schema alone are almost never accepted (a billable ICD-10 code, a birth date
before every clinical date, a level grammar: rules a JSON Schema does not state), so the fuzzing
of the intake also draws submissions built on the shipped examples with generated values in every
free-text and choice field (`accepted_submissions`): the accepted path is fuzzed too, and a test
checks that some of the generated submissions were accepted.
"""

import copy
import json
import threading
import uuid

import pytest
import schemathesis
from django.conf import settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from config.wsgi import application
from reviews.api.throttling import ProviderTokenThrottle
from reviews.models import LineOfBusiness, PriorAuthRequest
from tests.conftest import example, post_json

MAX_EXAMPLES = 25
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.response_schema_conformance]
# Generous enough that the generated traffic never meets the rate limit (tested on its own below).
UNTHROTTLED = "1000000/min"


def _rates(drf_settings, rate: str) -> dict:
    return {**drf_settings, "DEFAULT_THROTTLE_RATES": {"provider": rate}}


@pytest.fixture
def unthrottled(settings):
    settings.REST_FRAMEWORK = _rates(settings.REST_FRAMEWORK, UNTHROTTLED)


@pytest.fixture
def wsgi_in_test_transaction():
    """Call the WSGI application inside the test's transaction.

    The WSGI handler closes "old" database connections around each request; inside a test's
    transaction that would close the test's own connection (Django's test Client disconnects the
    same handler for the same reason).
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def provider_a_request(api_a):
    """A request of provider A's, so generated paths can name an object that exists."""
    response = post_json(api_a, "/api/v1/requests/", example("esi-lumbar-radiculopathy"))
    assert response.status_code == 201, response.content
    return response.json()["id"]


# Loaded from the application itself at collection (the schema view reads no data).
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)

EXAMPLES = (
    "esi-lumbar-radiculopathy",
    "rfa-lumbar-after-two-blocks",
    "fusion-spondylolisthesis-short-therapy",
)
# Text as a provider's system may send it: any Unicode but surrogates (not text) and control
# characters other than line breaks (the contract refuses NUL; the rest are not note text).
TEXT = st.characters(exclude_categories=["Cs", "Cc"], include_characters="\n")
NAME = st.text(st.characters(categories=["L"]), min_size=1, max_size=100)


def _note_text():
    # Starts with a letter: a note of only spaces is blank, which the contract refuses.
    return st.builds(
        lambda first, rest: first + rest,
        st.characters(categories=["L"]),
        st.text(TEXT, max_size=3000),
    )


@st.composite
def accepted_submissions(draw) -> dict:
    """A submission the contract accepts: a shipped example with generated values in it."""
    body = copy.deepcopy(example(draw(st.sampled_from(EXAMPLES))))
    body["external_id"] = draw(st.none() | st.text(TEXT, max_size=100))
    body["urgency"] = draw(st.sampled_from(["standard", "expedited"]))
    if draw(st.booleans()):
        body["line_of_business"] = draw(st.sampled_from(LineOfBusiness.values))
    body["member"]["member_id"] = draw(
        st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=4, max_size=64)
    )
    body["member"]["first_name"] = draw(NAME)
    body["member"]["last_name"] = draw(NAME)
    body["member"]["sex"] = draw(st.sampled_from(["female", "male", "other", "unknown", None]))
    body["attachments"] = [
        {**attachment, "title": draw(st.text(TEXT, max_size=200)), "text": draw(_note_text())}
        for attachment in body.get("attachments") or []
    ]
    return body


@schema.hook
def flatmap_body(context, body):
    """The intake's bodies: as the schema generates them, or a generated accepted submission."""
    operation = context.operation
    if operation is not None and (operation.method.upper(), operation.path) == (
        "POST",
        "/api/v1/requests/",
    ):
        return st.one_of(st.just(body), accepted_submissions())
    return st.just(body)


@schema.parametrize()
@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
def test_generated_requests_get_no_server_error_and_match_the_schema(
    case, provider_a, provider_a_request, unthrottled, wsgi_in_test_transaction
):
    # Half the generated ids name provider A's real request, so detail, information and withdraw
    # are exercised past the 404 as well as at it.
    for name, value in list((case.path_parameters or {}).items()):
        if name.endswith("_id") and isinstance(value, int) and value % 2 == 0:
            case.path_parameters[name] = provider_a_request
    token, _ = Token.objects.get_or_create(user=provider_a)
    case.call_and_validate(
        headers={
            "Authorization": f"Token {token.key}",
            "Idempotency-Key": uuid.uuid4().hex,
        },
        checks=CHECKS,
    )


def test_generated_submissions_are_accepted_too(provider_a, unthrottled, wsgi_in_test_transaction):
    # given the intake operation's cases as schemathesis generates them (the hook above included)
    token, _ = Token.objects.get_or_create(user=provider_a)
    statuses: list[int] = []

    @given(case=schema["/api/v1/requests/"]["POST"].as_strategy())
    @hypothesis_settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def submit(case):
        response = case.call_and_validate(
            headers={"Authorization": f"Token {token.key}", "Idempotency-Key": uuid.uuid4().hex},
            checks=CHECKS,
        )
        statuses.append(response.status_code)

    # when they are sent
    submit()

    # then none was a server error, some were refused and some were accepted and stored
    assert statuses and max(statuses) < 500
    accepted = statuses.count(201)
    assert accepted > 0, statuses
    assert any(400 <= status < 500 for status in statuses), statuses
    assert PriorAuthRequest.objects.filter(submitted_by=provider_a).count() == accepted


# --- Body size and depth -----------------------------------------------------------------------


def _raw_post(client, body: bytes, content_type: str = "application/json"):
    return client.post(
        "/api/v1/requests/",
        data=body,
        content_type=content_type,
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )


def _padded(size: int) -> bytes:
    """A valid request padded with trailing whitespace (still valid JSON) to exactly `size` bytes."""
    body = json.dumps(example("esi-lumbar-radiculopathy")).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


def test_a_body_at_the_size_limit_is_accepted(api_a, unthrottled):
    response = _raw_post(api_a, _padded(settings.MAX_BODY_BYTES))

    assert response.status_code == 201, response.content
    assert PriorAuthRequest.objects.count() == 1


def test_a_body_one_byte_over_the_size_limit_is_413_and_stores_nothing(api_a, unthrottled):
    response = _raw_post(api_a, _padded(settings.MAX_BODY_BYTES + 1))

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert PriorAuthRequest.objects.count() == 0


def _nested(depth: int) -> bytes:
    """`depth` levels of objects inside the request's external_id (an unknown shape there)."""
    value: object = "x"
    for _ in range(depth):
        value = {"a": value}
    return json.dumps({**example("esi-lumbar-radiculopathy"), "external_id": value}).encode()


def test_a_body_deeper_than_the_limit_is_refused_by_the_parser(api_a, unthrottled):
    response = _raw_post(api_a, _nested(settings.MAX_JSON_DEPTH + 1))

    assert response.status_code == 400
    assert "deeper" in response.json()["message"]
    assert PriorAuthRequest.objects.count() == 0


def test_a_body_at_the_depth_limit_reaches_validation(api_a, unthrottled):
    # external_id sits one level down, so the whole body is exactly MAX_JSON_DEPTH deep.
    response = _raw_post(api_a, _nested(settings.MAX_JSON_DEPTH - 1))

    assert response.status_code == 400
    body = response.json()
    assert "deeper" not in body["message"]
    assert "external_id" in body["fields"]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    ],
    ids=["deep-array", "deep-object"],
)
def test_pathologically_deep_json_is_a_400_not_a_crash(api_a, unthrottled, body):
    response = _raw_post(api_a, body)

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"", "application/json", 400),
        (b'{"urgency": ', "application/json", 400),
        (b'{"urgency": NaN}', "application/json", 400),
        (b"\xff\xfe\x00{", "application/json", 400),
        (b"urgency=standard", "application/x-www-form-urlencoded", 415),
        (b"<request/>", "application/xml", 415),
    ],
    ids=["empty", "truncated", "nan", "not-utf8", "form", "xml"],
)
def test_malformed_bodies_get_a_clear_4xx(api_a, unthrottled, body, content_type, status):
    response = _raw_post(api_a, body, content_type)

    assert response.status_code == status
    assert response.json()["code"]
    assert PriorAuthRequest.objects.count() == 0


# --- Rate limit -------------------------------------------------------------------------------------


@pytest.fixture
def three_per_minute(settings, provider_a, provider_b):
    settings.REST_FRAMEWORK = _rates(settings.REST_FRAMEWORK, "3/min")
    keys = [
        ProviderTokenThrottle.cache_format % {"scope": "provider", "ident": user.pk}
        for user in (provider_a, provider_b)
    ]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


def test_a_provider_token_over_its_rate_gets_429_with_retry_after(api_a, three_per_minute):
    answers = [api_a.get("/api/v1/requests/").status_code for _ in range(3)]
    response = api_a.get("/api/v1/requests/")

    assert answers == [200, 200, 200]
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_the_rate_limit_counts_writes_too(api_a, three_per_minute):
    statuses = [
        post_json(api_a, "/api/v1/requests/", example("esi-lumbar-radiculopathy")).status_code
        for _ in range(4)
    ]

    assert statuses == [201, 201, 201, 429]
    assert PriorAuthRequest.objects.count() == 3


def test_the_rate_limit_is_per_token(api_a, api_b, three_per_minute):
    for _ in range(4):
        api_a.get("/api/v1/requests/")

    assert api_a.get("/api/v1/requests/").status_code == 429
    assert api_b.get("/api/v1/requests/").status_code == 200


def test_the_rate_limit_covers_the_fhir_interface(api_a, three_per_minute):
    # No such subscription: the 404s count against the rate like any answer.
    answers = [api_a.get("/fhir/Subscription/999999").status_code for _ in range(3)]
    response = api_a.get("/fhir/Subscription/999999")

    assert answers == [404, 404, 404]
    assert response.status_code == 429
    assert response.json()["resourceType"] == "OperationOutcome"
    assert 0 < int(response["Retry-After"]) <= 60


def test_auditors_are_not_held_to_the_provider_rate(auditor, three_per_minute):
    from tests.conftest import token_client

    api = token_client(auditor)

    assert [api.get("/api/v1/audit/determinations/").status_code for _ in range(5)] == [200] * 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_lose_no_count(live_server, provider_a, settings):
    """Thirty requests at once through a threaded server: exactly the rate passes (atomic INCR)."""
    import time

    import requests

    settings.REST_FRAMEWORK = _rates(settings.REST_FRAMEWORK, "10/min")
    key = ProviderTokenThrottle.cache_format % {"scope": "provider", "ident": provider_a.pk}
    token, _ = Token.objects.get_or_create(user=provider_a)
    # All thirty inside one fixed window: start early in a minute, never across its end.
    while time.time() % 60 > 45:
        time.sleep(0.5)
    cache.delete(f"{key}:{int(time.time() // 60)}")
    start = threading.Barrier(30)
    statuses: list[int] = []

    def call():
        start.wait()
        response = requests.get(
            f"{live_server.url}/api/v1/requests/",
            headers={"Authorization": f"Token {token.key}"},
            timeout=60,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=call) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)

    assert len(statuses) == 30
    assert statuses.count(200) == 10, statuses
    assert statuses.count(429) == 20, statuses
