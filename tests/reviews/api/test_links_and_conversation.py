"""What the provider reads back: the reviewer's request for information with its message, their
own answer, and, once decided, where the letter is and where to appeal."""

from datetime import timedelta

import pytest
import time_machine

from reviews.models import Determination, PriorAuthRequest, Status
from reviews.services import request_answer_information, request_information_ask
from reviews.services.appeals import appeal_file
from tests.conftest import post_json
from tests.reviews.audit_cases import fusion_request
from tests.reviews.held import decided, denied_by, held

URL = "/api/v1/requests/"
ITEMS = [
    {
        "field": "clinical.conservative_care",
        "why": "Dated physical therapy and its outcome.",
        "criterion": "FU-03",
    }
]
MESSAGE = "Please send the physical therapy discharge summary with its dates."


@pytest.fixture
def in_review(org_a, provider_a):
    return fusion_request(organization=org_a, submitted_by=provider_a)


def detail(client, pa_request) -> dict:
    response = client.get(f"{URL}{pa_request.pk}/")
    assert response.status_code == 200
    return response.json()


def test_the_reviewers_message_reaches_the_provider(api_a, provider_a, physician, in_review):
    held(in_review, physician)
    request_information_ask(pa_request=in_review, actor=physician, items=ITEMS, message=MESSAGE)

    data = detail(api_a, in_review)

    assert data["status"] == Status.PENDING_INFORMATION
    assert data["missing_information"] == ITEMS
    (asked,) = data["information_requests"]
    assert (asked["requested_by_role"], asked["message"], asked["items"]) == (
        "physician",
        MESSAGE,
        ITEMS,
    )
    assert (asked["answered_at"], asked["answer"]) == (None, None)
    assert data["links"]["information"].endswith(f"/api/v1/requests/{in_review.pk}/information/")


def test_the_providers_answer_is_on_the_record_it_reads(api_a, provider_a, physician, in_review):
    held(in_review, physician)
    request_information_ask(pa_request=in_review, actor=physician, items=ITEMS, message=MESSAGE)
    request_answer_information(
        pa_request=in_review,
        actor=provider_a,
        attachments=[{"kind": "clinical_note", "title": "PT discharge", "text": "8 weeks."}],
        message="Discharge summary attached: eight weeks, no relief.",
    )

    (asked,) = detail(api_a, in_review)["information_requests"]

    assert asked["message"] == MESSAGE
    assert asked["answered_at"] is not None
    assert asked["answer"] == {
        "message": "Discharge summary attached: eight weeks, no relief.",
        "clinical_fields": [],
        "attachments": 1,
    }


def test_a_denied_request_links_its_letter_and_the_appeal(api_a, policies, physician, in_review):
    denied = denied_by(in_review, physician)
    determination = Determination.objects.get(request=denied)

    data = detail(api_a, denied)

    letter_url = data["links"]["letter"]
    assert letter_url.endswith(f"/api/v1/requests/{denied.pk}/letters/{determination.pk}/")
    assert data["links"]["appeal"].endswith(f"/api/v1/requests/{denied.pk}/appeal/")
    assert data["links"]["withdraw"] is None
    letter = api_a.get(letter_url)
    assert letter.status_code == 200 and letter.json()["outcome"] == "denied"
    (reason,) = data["determination"]["reasons"]
    assert (reason["criterion"], reason["source"], reason["note"]) == ("FU-03", "", "")
    # the list says the same for the row
    (row,) = api_a.get(URL).json()["results"]
    assert (row["links"]["letter"], row["links"]["appeal"]) == (
        letter_url,
        data["links"]["appeal"],
    )
    # the appeal link is where an appeal is filed
    appealed = post_json(api_a, data["links"]["appeal"], {"reason": "Eight weeks of PT."})
    assert appealed.status_code == 201, appealed.json()
    after = detail(api_a, denied)
    assert after["status"] == Status.APPEAL
    assert (after["links"]["letter"], after["links"]["appeal"]) == (letter_url, None)


def test_a_partial_approval_links_its_letter_and_the_appeal(api_a, policies, physician, in_review):
    decided(
        in_review,
        physician,
        "partially_approved",
        reasons=[{"criterion": "FU-05", "note": ""}],
        rationale="One level only.",
        approved_levels=["L4-L5"],
        approved_units=1,
    )

    links = detail(api_a, in_review)["links"]

    assert links["letter"] and links["appeal"]


def test_no_appeal_link_once_the_window_closed_or_the_appeal_was_decided(
    api_a, provider_a, policies, physician, physician2, org_a, in_review
):
    denied = denied_by(in_review, physician)
    decided_at = Determination.objects.get(request=denied).decided_at
    with time_machine.travel(decided_at + timedelta(days=61)):
        assert detail(api_a, denied)["links"]["appeal"] is None

    appeal_file(pa_request=denied, actor=provider_a, reason="PT documented.")
    decided(denied, physician2, "denied", reasons=[{"criterion": "FU-03"}], rationale="Upheld.")
    data = detail(api_a, denied)
    assert data["status"] == Status.DENIED
    assert data["links"]["appeal"] is None
    upheld = Determination.objects.get(request=denied, kind="appeal")
    assert data["links"]["letter"].endswith(f"/letters/{upheld.pk}/")


def test_open_and_approved_requests(api_a, nurse, org_a, provider_a, in_review):
    data = detail(api_a, in_review)
    assert (data["links"]["letter"], data["links"]["appeal"]) == (None, None)
    assert data["information_requests"] == []

    approved = fusion_request(
        organization=org_a, submitted_by=provider_a, status=Status.NURSE_REVIEW
    )
    decided(approved, nurse, "approved")
    links = detail(api_a, PriorAuthRequest.objects.get(pk=approved.pk))["links"]
    assert links["letter"] and links["appeal"] is None
