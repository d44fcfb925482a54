"""Subscriptions as the R4 backport defines them: a handshake on creation, PUT, the
`org-identifier` filter, $status, event counters, and delivery through an outbox (the row written
with the decision, delivered by a task, re-sent by the beat sweep)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.subscription import Subscription as SubscriptionModel

from pas.models import DeliveryAttempt, Notification, Subscription
from pas.notifications import notifications_sweep
from reviews.models import AuditEvent, PriorAuthRequest, Status
from reviews.services import determination_record, evidence_checks_run
from reviews.services.assignments import request_claim
from tests.conftest import wait_for
from tests.pas.conftest import (
    SUBMIT,
    claim_response,
    fhir_example,
    post_fhir,
    review_actions,
    surgical_bundle,
)

PAS_TOPIC = "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic"


def subscription_body(org, endpoint: str, spelling: str = "org-identifier") -> dict:
    """The shared subscription example, for this organization and this endpoint."""
    body = fhir_example("Subscription-PASSubscriptionExample")
    body["_criteria"]["extension"][0]["valueString"] = f"{spelling}={org.npi}"
    body["channel"]["endpoint"] = endpoint
    body["channel"]["header"] = ["Authorization: Bearer subscriber-secret"]
    return body


def subscribe(client, org, endpoint: str, spelling: str = "org-identifier") -> dict:
    response = post_fhir(client, "/fhir/Subscription", subscription_body(org, endpoint, spelling))
    assert response.status_code == 201, response.content
    return response.json()


def put_fhir(client, url: str, body: dict):
    return client.generic("PUT", url, json.dumps(body), content_type="application/fhir+json")


def status_of(payload: dict) -> dict:
    """The SubscriptionStatus Parameters of a notification Bundle, by parameter name."""
    parameters = payload["entry"][0]["resource"]
    assert parameters["resourceType"] == "Parameters"
    return {p["name"]: p for p in parameters["parameter"]}


def _check_notification(payload: dict, subscription_id: str, expected_action: str, number=1):
    Bundle.model_validate(payload)
    assert payload["type"] == "history"
    by_name = status_of(payload)
    assert by_name["subscription"]["valueReference"]["reference"].endswith(
        f"/Subscription/{subscription_id}"
    )
    assert by_name["topic"]["valueCanonical"] == PAS_TOPIC
    assert by_name["type"]["valueCode"] == "event-notification"
    assert by_name["events-since-subscription-start"]["valueString"] == str(number)
    event = {p["name"]: p for p in by_name["notification-event"]["part"]}
    assert event["event-number"]["valueString"] == str(number)
    response_bundle = payload["entry"][1]["resource"]
    assert event["focus"]["valueReference"]["reference"] == payload["entry"][1]["fullUrl"]
    assert response_bundle["meta"]["profile"][0].endswith("profile-pas-response-bundle")
    assert set(review_actions(response_bundle)) == {expected_action}


def decided_request(client, nurse, capture):
    """A request of the client's organization, pended for a human, then approved by the nurse."""
    bundle = surgical_bundle()
    post_fhir(client, SUBMIT, bundle)
    pa_request = PriorAuthRequest.objects.order_by("-pk").first()
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    assert pa_request.status == Status.NURSE_REVIEW
    request_claim(pa_request=pa_request, actor=nurse)
    with capture(execute=True):
        return determination_record(pa_request=pa_request, outcome="approved", actor=nurse)


def make_due() -> None:
    Notification.objects.filter(delivered_at__isnull=True).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db
def test_creation_shakes_hands_then_read_status_and_end(api_a, api_b, org_a, receiver):
    endpoint = receiver()
    body = subscribe(api_a, org_a, endpoint.url)
    SubscriptionModel.model_validate(body)
    # the endpoint got the backport's handshake before the subscription went active
    assert body["status"] == "active"
    assert len(endpoint.received) == 1
    handshake = status_of(endpoint.received[0])
    Bundle.model_validate(endpoint.received[0])
    assert handshake["type"]["valueCode"] == "handshake"
    assert handshake["events-since-subscription-start"]["valueString"] == "0"
    assert endpoint.headers[0]["Authorization"] == "Bearer subscriber-secret"
    assert "header" not in body["channel"]  # the subscriber's credentials are not echoed
    stored = Subscription.objects.get()
    assert stored.organization == org_a
    assert stored.filter_criteria == f"org-identifier={org_a.npi}"
    assert AuditEvent.objects.filter(action="fhir_subscription_created").exists()

    assert api_a.get(f"/fhir/Subscription/{stored.pk}").status_code == 200
    status = api_a.get(f"/fhir/Subscription/{stored.pk}/$status")
    assert status.status_code == 200
    Bundle.model_validate(status.json())
    parameters = {p["name"]: p for p in status.json()["entry"][0]["resource"]["parameter"]}
    assert parameters["type"]["valueCode"] == "query-status"
    assert parameters["status"]["valueCode"] == "active"
    assert parameters["events-since-subscription-start"]["valueString"] == "0"
    assert api_b.get(f"/fhir/Subscription/{stored.pk}").status_code == 404
    assert api_b.get(f"/fhir/Subscription/{stored.pk}/$status").status_code == 404
    assert api_b.delete(f"/fhir/Subscription/{stored.pk}").status_code == 404

    ended = api_a.delete(f"/fhir/Subscription/{stored.pk}")
    assert ended.status_code == 200
    assert ended.json()["status"] == "off"


@pytest.mark.django_db
def test_the_old_filter_spelling_is_accepted_and_stored_in_the_guides(api_a, org_a, receiver):
    subscribe(api_a, org_a, receiver().url, spelling="orgIdentifier")
    assert Subscription.objects.get().filter_criteria == f"org-identifier={org_a.npi}"


@pytest.mark.django_db
def test_a_failed_handshake_is_an_error_and_a_put_to_a_working_endpoint_activates(
    api_a, org_a, receiver
):
    failing = receiver([503])
    body = subscribe(api_a, org_a, failing.url)
    assert body["status"] == "error"
    assert "Handshake failed: HTTP 503" in body["error"]

    working = receiver()
    body["channel"]["endpoint"] = working.url
    body["channel"]["header"] = ["Authorization: Bearer new-secret"]
    body["reason"] = "Decisions on our pended requests"
    response = put_fhir(api_a, f"/fhir/Subscription/{body['id']}", body)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "active"
    assert response.json()["reason"] == "Decisions on our pended requests"
    assert status_of(working.received[0])["type"]["valueCode"] == "handshake"
    assert working.headers[0]["Authorization"] == "Bearer new-secret"
    assert Subscription.objects.get().headers == ["Authorization: Bearer new-secret"]
    assert AuditEvent.objects.filter(action="fhir_subscription_updated").count() == 1


@pytest.mark.django_db
def test_put_checks_the_id_and_the_owner_and_can_end(api_a, api_b, org_a, receiver):
    body = subscribe(api_a, org_a, receiver().url)
    url = f"/fhir/Subscription/{body['id']}"
    assert put_fhir(api_a, url, {**body, "id": "999"}).status_code == 400
    assert put_fhir(api_b, url, body).status_code == 404
    ended = put_fhir(api_a, url, {**body, "status": "off"})
    assert ended.status_code == 200
    assert ended.json()["status"] == "off"
    assert put_fhir(api_a, url, body).status_code == 409


@pytest.mark.django_db
def test_the_outbox_row_is_written_with_the_decision_and_retried_by_the_sweep(
    api_a, org_a, nurse, receiver, eager_celery, django_capture_on_commit_callbacks
):
    # given a subscriber whose endpoint answers the handshake, fails once, then accepts
    endpoint = receiver([200, 500])
    sub = subscribe(api_a, org_a, endpoint.url)
    submitted = post_fhir(api_a, SUBMIT, surgical_bundle())
    assert review_actions(submitted.json()) == ["A4"]

    # when the nurse approves the request
    determination = decided_request(api_a, nurse, django_capture_on_commit_callbacks)

    # then the notification row was written with the decision, the first POST got a 500 and
    # the row waits for the sweep, with the attempt recorded
    notification = Notification.objects.get()
    assert notification.determination == determination
    assert notification.event_number == 1
    assert notification.delivered_at is None
    assert notification.next_attempt_at > timezone.now()
    assert [(a.attempt, a.status_code, a.succeeded) for a in DeliveryAttempt.objects.all()] == [
        (1, 500, False)
    ]
    assert DeliveryAttempt.objects.get().error == "HTTP 500"

    # when the sweep finds it due, it is delivered
    make_due()
    assert notifications_sweep() == 1
    notification.refresh_from_db()
    assert notification.delivered_at is not None
    assert [(a.attempt, a.status_code, a.succeeded) for a in DeliveryAttempt.objects.all()] == [
        (1, 500, False),
        (2, 200, True),
    ]
    # and a later sweep sends nothing again
    make_due()
    assert notifications_sweep() == 0
    assert len(endpoint.received) == 3  # handshake, the failed POST, the delivered one
    assert endpoint.headers[2]["Authorization"] == "Bearer subscriber-secret"
    assert endpoint.headers[2]["Content-Type"].startswith("application/fhir+json")
    _check_notification(endpoint.received[2], sub["id"], "A1")
    response = claim_response(endpoint.received[2]["entry"][1]["resource"])
    assert response["preAuthRef"] == determination.authorization_number
    assert response["extension"][0]["extension"][0] == {
        "url": "wasHumanReviewedFlag",
        "valueBoolean": True,
    }


@pytest.mark.django_db
def test_event_counters_count_each_decision_once(
    api_a, org_a, nurse, receiver, eager_celery, django_capture_on_commit_callbacks
):
    endpoint = receiver()
    sub = subscribe(api_a, org_a, endpoint.url)
    decided_request(api_a, nurse, django_capture_on_commit_callbacks)
    second = surgical_bundle()
    second["entry"][0]["resource"]["identifier"][0]["value"] = "second-claim"
    second["identifier"] = {**second.get("identifier", {}), "value": "second-bundle"}
    post_fhir(api_a, SUBMIT, second)
    pa_request = PriorAuthRequest.objects.order_by("-pk").first()
    evidence_checks_run(pa_request=pa_request)
    request_claim(pa_request=pa_request, actor=nurse)
    with django_capture_on_commit_callbacks(execute=True):
        determination_record(pa_request=pa_request, outcome="approved", actor=nurse)

    assert [n.event_number for n in Notification.objects.order_by("pk")] == [1, 2]
    _check_notification(endpoint.received[1], sub["id"], "A1", number=1)
    _check_notification(endpoint.received[2], sub["id"], "A1", number=2)
    status = api_a.get(f"/fhir/Subscription/{sub['id']}/$status").json()
    parameters = {p["name"]: p for p in status["entry"][0]["resource"]["parameter"]}
    assert parameters["events-since-subscription-start"]["valueString"] == "2"


@pytest.mark.django_db
def test_undelivered_after_the_last_attempt_the_subscription_shows_error(
    api_a, org_a, nurse, receiver, eager_celery, settings, django_capture_on_commit_callbacks
):
    settings.FHIR_NOTIFICATION_MAX_ATTEMPTS = 2
    endpoint = receiver([200, 500, 500, 500])
    sub = subscribe(api_a, org_a, endpoint.url)
    decided_request(api_a, nurse, django_capture_on_commit_callbacks)
    make_due()
    notifications_sweep()
    notification = Notification.objects.get()
    assert notification.failed_at is not None
    assert DeliveryAttempt.objects.count() == 2
    assert Subscription.objects.get().status == "error"
    make_due()
    assert notifications_sweep() == 0
    status = api_a.get(f"/fhir/Subscription/{sub['id']}/$status").json()
    parameters = {p["name"]: p for p in status["entry"][0]["resource"]["parameter"]}
    assert parameters["status"]["valueCode"] == "error"
    assert "undelivered" in parameters["error"]["valueCodeableConcept"]["text"]


@pytest.mark.django_db
def test_only_subscribed_organizations_are_notified(
    api_a, api_b, org_a, nurse, receiver, eager_celery, django_capture_on_commit_callbacks
):
    endpoint = receiver()
    subscribe(api_a, org_a, endpoint.url)
    # organization B submits and is decided: A's subscriber hears nothing after the handshake
    decided_request(api_b, nurse, django_capture_on_commit_callbacks)
    assert len(endpoint.received) == 1
    assert Notification.objects.count() == 0


@pytest.mark.django_db
def test_an_ended_subscription_is_not_notified(
    api_a, org_a, nurse, receiver, eager_celery, django_capture_on_commit_callbacks
):
    endpoint = receiver()
    sub = subscribe(api_a, org_a, endpoint.url)
    api_a.delete(f"/fhir/Subscription/{sub['id']}")
    decided_request(api_a, nurse, django_capture_on_commit_callbacks)
    assert len(endpoint.received) == 1  # the handshake only
    assert Notification.objects.count() == 0


# --- Endpoints on private addresses (SSRF) ----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_a_private_endpoint_is_refused(api_a, org_a, endpoint):
    response = post_fhir(api_a, "/fhir/Subscription", subscription_body(org_a, endpoint))
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["issue"][0]["expression"] == ["Subscription.channel.endpoint"]
    assert "non-public" in body["issue"][0]["diagnostics"]
    assert not Subscription.objects.exists()


@pytest.mark.django_db
def test_a_private_endpoint_is_refused_again_at_delivery(
    api_a, org_a, nurse, receiver, eager_celery, settings, django_capture_on_commit_callbacks
):
    # given a subscription made while private endpoints were allowed
    endpoint = receiver()
    subscribe(api_a, org_a, endpoint.url)
    # when they no longer are and a decision is made
    settings.FHIR_SUBSCRIPTION_PRIVATE_ENDPOINTS = False
    decided_request(api_a, nurse, django_capture_on_commit_callbacks)
    # then nothing is POSTed; the attempt says why
    assert len(endpoint.received) == 1  # the handshake only
    attempt = DeliveryAttempt.objects.get()
    assert not attempt.succeeded
    assert attempt.error.startswith("refused:")


# --- Hostile input ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["reason", "endpoint", "header", "filter"])
def test_nul_characters_are_a_400_that_stores_nothing(api_a, org_a, receiver, where):
    body = subscription_body(org_a, receiver().url)
    if where == "reason":
        body["reason"] = "a\u0000b"
    elif where == "endpoint":
        body["channel"]["endpoint"] += "\u0000"
    elif where == "header":
        body["channel"]["header"] = ["X-Key: a\u0000b"]
    else:
        body["_criteria"]["extension"][0]["valueString"] += "\u0000"
    response = post_fhir(api_a, "/fhir/Subscription", body)
    assert response.status_code == 400, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "NUL" in response.json()["issue"][0]["diagnostics"]
    assert not Subscription.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "end", ["9999-12-31T23:00:00-14:00", "9999-12-31T23:59:59-00:01", "2027-01-01T00:00:00"]
)
def test_an_end_past_year_9999_in_utc_or_without_zone_is_refused(api_a, org_a, receiver, end):
    body = subscription_body(org_a, receiver().url)
    body["end"] = end
    response = post_fhir(api_a, "/fhir/Subscription", body)
    assert response.status_code in {400, 422}, response.content
    assert not Subscription.objects.exists()


@pytest.mark.django_db
def test_the_latest_end_is_taken_and_read_back(api_a, org_a, receiver):
    body = subscription_body(org_a, receiver().url)
    body["end"] = "9999-12-31T23:59:59+00:00"
    created = post_fhir(api_a, "/fhir/Subscription", body)
    assert created.status_code == 201, created.content
    read = api_a.get(f"/fhir/Subscription/{created.json()['id']}")
    assert read.json()["end"].startswith("9999-12-31T23:59:59")


# --- A real worker, and a broker outage --------------------------------------------------------


@pytest.mark.worker
def test_end_to_end_with_a_real_worker(
    api_a, org_a, nurse, receiver, start_worker, settings, monkeypatch
):
    # given a real worker (allowed, like the test, to notify this machine), a subscriber failing
    # once after the handshake, and the guide's wait
    monkeypatch.setenv("FHIR_SUBSCRIPTION_PRIVATE_ENDPOINTS", "1")
    start_worker()
    endpoint = receiver([200, 500])
    sub = subscribe(api_a, org_a, endpoint.url)
    settings.FHIR_SUBMIT_WAIT_SECONDS = 30

    # when the EHR submits, the worker runs the checks while $submit waits
    submitted = post_fhir(api_a, SUBMIT, surgical_bundle())

    # then the answer is pended for clinical review (a human decides a non-spine service)
    assert submitted.status_code == 200, submitted.content
    pa_request = PriorAuthRequest.objects.get()
    assert pa_request.status == Status.NURSE_REVIEW
    assert review_actions(submitted.json()) == ["A4"]
    notes = [n["text"] for n in claim_response(submitted.json())["processNote"]]
    assert notes[0].startswith("Pended for clinical review")

    # when the nurse approves, the worker tries at once (500) and the sweep has it re-sent
    request_claim(pa_request=pa_request, actor=nurse)
    determination_record(pa_request=pa_request, outcome="approved", actor=nurse)
    wait_for(lambda: DeliveryAttempt.objects.exists(), timeout=60)
    make_due()
    notifications_sweep()
    wait_for(lambda: DeliveryAttempt.objects.filter(succeeded=True).exists(), timeout=60)

    attempts = list(DeliveryAttempt.objects.order_by("attempt"))
    assert [(a.attempt, a.status_code, a.succeeded) for a in attempts] == [
        (1, 500, False),
        (2, 200, True),
    ]
    _check_notification(endpoint.received[-1], sub["id"], "A1")


@pytest.mark.worker
def test_a_notification_survives_a_broker_outage(
    api_a, org_a, nurse, receiver, start_worker, settings, monkeypatch
):
    from tests.reviews.test_worker import RedisServer, broker, free_port

    # given a broker of the test's own, a worker on it and an active subscription
    redis = RedisServer(free_port())
    redis.start()
    try:
        with broker(redis.url):
            monkeypatch.setenv("FHIR_SUBSCRIPTION_PRIVATE_ENDPOINTS", "1")
            start_worker(broker_url=redis.url)
            endpoint = receiver()
            sub = subscribe(api_a, org_a, endpoint.url)
            post_fhir(api_a, SUBMIT, surgical_bundle())
            pa_request = PriorAuthRequest.objects.get()
            # the worker runs the checks (nothing left in flight when the broker stops)
            wait_for(
                lambda: PriorAuthRequest.objects.filter(status=Status.NURSE_REVIEW).exists(),
                timeout=60,
            )

            # when the broker is down as the decision is recorded
            redis.stop()
            request_claim(pa_request=pa_request, actor=nurse)
            determination = determination_record(
                pa_request=pa_request, outcome="approved", actor=nurse
            )

            # then the decision stands and its notification waits in the outbox
            notification = Notification.objects.get()
            assert notification.determination == determination
            assert notification.delivered_at is None
            assert len(endpoint.received) == 1  # the handshake only

            # when the broker is back, the sweep hands it to the worker, which delivers it
            redis.start()
            make_due()
            assert notifications_sweep() == 1
            wait_for(
                lambda: Notification.objects.filter(delivered_at__isnull=False).exists(),
                timeout=60,
            )
            _check_notification(endpoint.received[-1], sub["id"], "A1")
            assert DeliveryAttempt.objects.filter(succeeded=True).count() == 1
    finally:
        redis.stop()
