"""The case page: everything needed to decide on one screen, and an audited view."""

import pytest
from django.urls import reverse

from reviews.models import AuditEvent, Evaluation, Status
from reviews.services import request_escalate
from tests.reviews.web.builders import review_case

pytestmark = pytest.mark.django_db


def test_case_page_shows_the_request(nurse_client, provider_a):
    case = review_case(provider_a)
    response = nurse_client.get(reverse("case", args=[case.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    # member and provider
    assert "Dana Whitfield" in html and case.member.member_id in html
    assert "Priya Raman, MD" in html and "Northside Spine Clinic" in html
    # codes with Lamina's descriptions
    assert "64483" in html and "Transforaminal epidural injection, lumbar or sacral" in html
    assert "M51.17" in html and "Intervertebral disc disorders" in html
    # clinical facts, readably
    assert "Pain (NRS 0-10)" in html
    assert "Physical therapy" in html or "physical therapy" in html
    assert "Red flags" in html and "Cauda equina" in html
    # criteria grouped with statement and citation: ESI-05 not met, GEN-06 and ESI-02 unknown
    evaluation = Evaluation.objects.get(request=case)
    met = sum(r["answer"] == "met" for r in evaluation.trace)
    assert [r["id"] for r in evaluation.trace if r["answer"] == "not_met"] == ["ESI-05"]
    assert (
        html.index("Not met (1)")
        < html.index("Insufficient information (2)")
        < html.index(f"Met ({met})")
    )
    assert "At least 4 weeks of noninvasive conservative care (therapy, home exercise" in html
    # ESI-05's citation, as a reader sees it: sources, location, verification level
    assert (
        "Source: L39240, ESI-SIBS, ESI-COMM · L39240; L33906 summary (4 weeks); commercial 2-6 weeks"
        in html
    )
    assert "{&#x27;sources&#x27;" not in html and "{'sources'" not in html
    # the policy version and the checks
    version = evaluation.policy_version
    assert version.label in html and version.checksum[:12] in html
    assert "<strong>Duplicate open request</strong>: ok" in html
    assert "<strong>Clinical note</strong>: present" in html
    # the attached note (rendered by the notes template) and the timeline
    assert "Pain clinic follow-up" in html
    assert "request_submitted" in html and "status_changed" in html


def test_opening_a_case_is_an_audited_view(nurse_client, nurse, provider_a):
    case = review_case(provider_a)
    nurse_client.get(reverse("case", args=[case.pk]), REMOTE_ADDR="10.1.2.3")
    event = AuditEvent.objects.get(request_id_ref=case.pk, action="request_viewed")
    assert event.actor == nurse
    assert event.role == "nurse"
    assert event.source_ip == "10.1.2.3"


def test_case_page_offers_the_nurse_her_actions(nurse_client, provider_a):
    case = review_case(provider_a)
    html = nurse_client.get(reverse("case", args=[case.pk])).content.decode()
    for name in ("approve", "request_information", "escalate"):
        assert reverse("action", args=[case.pk, name]) in html
    for name in ("deny", "partial", "peer_to_peer"):
        assert reverse("action", args=[case.pk, name]) not in html


def test_case_page_offers_the_physician_his(physician_client, nurse, provider_a):
    case = review_case(provider_a)
    request_escalate(pa_request=case, actor=nurse, note="Short conservative care; please review.")
    html = physician_client.get(reverse("case", args=[case.pk])).content.decode()
    for name in ("approve", "request_information", "deny", "partial", "peer_to_peer"):
        assert reverse("action", args=[case.pk, name]) in html
    assert reverse("action", args=[case.pk, "escalate"]) not in html
    assert "Short conservative care; please review." in html


def test_a_case_held_by_someone_else_offers_no_actions(nurse_client, nurse2, provider_a):
    from reviews.services import request_claim

    case = review_case(provider_a)
    request_claim(pa_request=case, actor=nurse2)
    html = nurse_client.get(reverse("case", args=[case.pk])).content.decode()
    assert "nurse2 holds this case" in html
    assert reverse("action", args=[case.pk, "approve"]) not in html


def test_a_case_without_an_evaluation_still_renders(nurse_client, provider_a):
    case = review_case(provider_a)
    Evaluation.objects.filter(request=case).delete()
    response = nurse_client.get(reverse("case", args=[case.pk]))
    assert response.status_code == 200
    assert b"have not run for this request yet" in response.content


def test_unknown_case_is_404(nurse_client):
    assert nurse_client.get(reverse("case", args=[424242])).status_code == 404


def test_decided_case_is_readable_with_its_letter_links(nurse_client, nurse, provider_a):
    from reviews.services import determination_record

    case = review_case(provider_a)
    determination = determination_record(pa_request=case, outcome="approved", actor=nurse)
    html = nurse_client.get(reverse("case", args=[case.pk])).content.decode()
    assert reverse("letter", args=[case.pk, determination.pk]) in html
    assert reverse("letter_pdf", args=[case.pk, determination.pk]) in html
    assert determination.authorization_number in html
    assert reverse("action", args=[case.pk, "approve"]) not in html
    assert Status.APPROVED.label in html
