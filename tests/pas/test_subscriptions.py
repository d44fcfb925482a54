"""Subscriptions: a decision on a pended request is POSTed to the subscriber, with retries."""

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.subscription import Subscription as SubscriptionModel

from pas.models import DeliveryAttempt, Notification, Subscription
from reviews.models import AuditEvent, PriorAuthRequest, Status
from reviews.services import determination_record, evidence_checks_run
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


def subscription_body(org, endpoint: str) -> dict:
    """The shared subscription example, for this organization and this endpoint."""
    body = fhir_example("Subscription-PASSubscriptionExample")
    body["_criteria"]["extension"][0]["valueString"] = f"orgIdentifier={org.npi}"
    body["channel"]["endpoint"] = endpoint
    body["channel"]["header"] = ["Authorization: Bearer subscriber-secret"]
    return body


def subscribe(client, org, endpoint: str) -> dict:
    response = post_fhir(client, "/fhir/Subscription", subscription_body(org, endpoint))
    assert response.status_code == 201, response.content
    return response.json()


def _check_notification(payload: dict, subscription_id: str, expected_action: str) -> None:
    Bundle.model_validate(payload)
    assert payload["type"] == "history"
    parameters = payload["entry"][0]["resource"]
    assert parameters["resourceType"] == "Parameters"
    by_name = {p["name"]: p for p in parameters["parameter"]}
    assert by_name["subscription"]["valueReference"]["reference"].endswith(
        f"/Subscription/{subscription_id}"
    )
    assert by_name["topic"]["valueCanonical"] == PAS_TOPIC
    assert by_name["type"]["valueCode"] == "event-notification"
    event = {p["name"]: p for p in by_name["notification-event"]["part"]}
    assert event["event-number"]["valueString"] == "1"
    response_bundle = payload["entry"][1]["resource"]
    assert event["focus"]["valueReference"]["reference"] == payload["entry"][1]["fullUrl"]
    assert response_bundle["meta"]["profile"][0].endswith("profile-pas-response-bundle")
    assert set(review_actions(response_bundle)) == {expected_action}


@pytest.mark.django_db
def test_subscription_created_read_and_ended(api_a, api_b, org_a):
    body = subscribe(api_a, org_a, "https://ehr.example.org/pas-notifications")
    SubscriptionModel.model_validate(body)
    assert body["status"] == "active"
    assert "header" not in body["channel"]  # the subscriber's credentials are not echoed
    stored = Subscription.objects.get()
    assert stored.organization == org_a
    assert stored.headers == ["Authorization: Bearer subscriber-secret"]
    assert AuditEvent.objects.filter(action="fhir_subscription_created").exists()

    assert api_a.get(f"/fhir/Subscription/{stored.pk}").status_code == 200
    assert api_b.get(f"/fhir/Subscription/{stored.pk}").status_code == 404
    assert api_b.delete(f"/fhir/Subscription/{stored.pk}").status_code == 404

    ended = api_a.delete(f"/fhir/Subscription/{stored.pk}")
    assert ended.status_code == 200
    assert ended.json()["status"] == "off"


@pytest.mark.django_db
def test_a_decision_is_delivered_after_a_failed_attempt(
    api_a, org_a, nurse, receiver, eager_celery, django_capture_on_commit_callbacks
):
    # given a subscriber whose endpoint fails once, then accepts
    endpoint = receiver([500])
    sub = subscribe(api_a, org_a, endpoint.url)
    # and a request pended for a human (no Lamina policy covers CPT 33510)
    submitted = post_fhir(api_a, SUBMIT, surgical_bundle())
    assert review_actions(submitted.json()) == ["A4"]
    pa_request = PriorAuthRequest.objects.get()
    evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    assert pa_request.status == Status.NURSE_REVIEW

    # when the nurse approves it (the signal is sent after commit)
    with django_capture_on_commit_callbacks(execute=True):
        determination = determination_record(pa_request=pa_request, outcome="approved", actor=nurse)

    # then the first POST got a 500, the retry delivered the notification, both recorded
    attempts = list(DeliveryAttempt.objects.order_by("attempt"))
    assert [(a.attempt, a.status_code, a.succeeded) for a in attempts] == [
        (1, 500, False),
        (2, 200, True),
    ]
    assert attempts[0].error == "HTTP 500"
    assert attempts[0].attempted_at <= attempts[1].attempted_at
    notification = Notification.objects.get()
    assert notification.determination == determination
    assert notification.delivered_at is not None
    assert len(endpoint.received) == 2
    assert endpoint.headers[1]["Authorization"] == "Bearer subscriber-secret"
    assert endpoint.headers[1]["Content-Type"].startswith("application/fhir+json")
    _check_notification(endpoint.received[1], sub["id"], "A1")
    response = claim_response(endpoint.received[1]["entry"][1]["resource"])
    assert response["preAuthRef"] == determination.authorization_number
    assert response["extension"][0]["extension"][0] == {
        "url": "wasHumanReviewedFlag",
        "valueBoolean": True,
    }


@pytest.mark.django_db
def test_only_subscribed_organizations_are_notified(
    api_a, api_b, org_a, nurse, receiver, eager_celery, django_capture_on_commit_callbacks
):
    endpoint = receiver()
    subscribe(api_a, org_a, endpoint.url)
    # organization B submits and is decided: A's subscriber hears nothing
    post_fhir(api_b, SUBMIT, surgical_bundle())
    pa_request = PriorAuthRequest.objects.get()
    evidence_checks_run(pa_request=pa_request)
    with django_capture_on_commit_callbacks(execute=True):
        determination_record(pa_request=pa_request, outcome="approved", actor=nurse)
    assert endpoint.received == []
    assert Notification.objects.count() == 0


@pytest.mark.django_db
def test_an_ended_subscription_is_not_notified(
    api_a, org_a, nurse, receiver, eager_celery, django_capture_on_commit_callbacks
):
    endpoint = receiver()
    sub = subscribe(api_a, org_a, endpoint.url)
    api_a.delete(f"/fhir/Subscription/{sub['id']}")
    post_fhir(api_a, SUBMIT, surgical_bundle())
    pa_request = PriorAuthRequest.objects.get()
    evidence_checks_run(pa_request=pa_request)
    with django_capture_on_commit_callbacks(execute=True):
        determination_record(pa_request=pa_request, outcome="approved", actor=nurse)
    assert endpoint.received == []


@pytest.mark.worker
def test_end_to_end_with_a_real_worker(api_a, org_a, nurse, receiver, start_worker, settings):
    # given a real worker, a subscriber failing once, and the guide's wait on $submit
    start_worker()
    endpoint = receiver([500])
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

    # when the nurse approves, the worker delivers the notification, retrying after the 500
    determination_record(pa_request=pa_request, outcome="approved", actor=nurse)
    wait_for(lambda: DeliveryAttempt.objects.filter(succeeded=True).exists(), timeout=60)

    attempts = list(DeliveryAttempt.objects.order_by("attempt"))
    assert [(a.attempt, a.status_code, a.succeeded) for a in attempts] == [
        (1, 500, False),
        (2, 200, True),
    ]
    _check_notification(endpoint.received[-1], sub["id"], "A1")
