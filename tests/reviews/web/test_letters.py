"""Determination letters: the web page, the PDF and the provider API, all from one context."""

from datetime import timedelta

import pytest
from django.urls import reverse

from reviews.letters import letter_context
from reviews.models import AuditEvent, Evaluation
from reviews.services import (
    determination_record,
    request_claim,
    request_escalate,
    request_withdraw,
)
from tests.reviews.web.builders import review_case

pytestmark = pytest.mark.django_db

STATEMENT = (
    "At least 4 weeks of noninvasive conservative care (therapy, home exercise, medications, "
    "activity modification; not bed rest) that failed or was not tolerated, from its earliest "
    "start to its end or the review date."
)
IMAGING = (
    "History, examination and imaging agree on the radicular level and side: concordant MRI or "
    "CT at the treated level."
)


# The LCD ESI-05 comes from, as the shipped policy names it.
LCD = (
    "LCD Epidural Steroid Injections for Pain Management (multi-MAC text) (L39240, "
    "https://www.cms.gov/medicare-coverage-database/view/lcd.aspx?lcdid=39240)"
)


def escalated(provider, nurse, physician, **service):
    """A case the nurse escalated and the physician now holds."""
    case = review_case(provider, **service)
    request_claim(pa_request=case, actor=nurse)
    request_escalate(pa_request=case, actor=nurse, note="Short therapy.")
    return request_claim(pa_request=case, actor=physician)


def denied(provider, nurse, physician, reasons=None):
    case = escalated(provider, nurse, physician)
    return determination_record(
        pa_request=case,
        outcome="denied",
        actor=physician,
        reasons=reasons or [{"criterion": "ESI-05"}],
        rationale="The records show 20 days of therapy; the policy asks for 28.",
    )


def test_denial_letter_says_why_under_which_policy_and_how_to_appeal(
    nurse_client, nurse, physician, provider_a
):
    determination = denied(provider_a, nurse, physician)
    case = determination.request
    response = nurse_client.get(reverse("letter", args=[case.pk, determination.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Your request is not approved" in html
    assert STATEMENT in html
    assert "The records show 20 days of therapy; the policy asks for 28." in html
    version = Evaluation.objects.get(request=case).policy_version
    assert version.label in html and version.checksum[:12] in html
    assert "a physician reviewer (medical director)" in html
    appeal_by = (determination.decided_at + timedelta(days=60)).strftime("%B %-d, %Y")
    assert f"until <strong>{appeal_by}</strong>" in html
    assert "Dana Whitfield" in html and "Priya Raman, MD" in html
    event = AuditEvent.objects.get(action="letter_viewed", request_id_ref=case.pk)
    assert event.data == {"channel": "web", "determination_id": determination.pk, "format": "html"}


def test_each_reason_states_the_fact_the_threshold_and_the_source(
    nurse_client, nurse, physician, provider_a
):
    determination = denied(provider_a, nurse, physician)
    (reason,) = letter_context(determination)["reasons"]
    assert reason["findings"] == [
        {
            "fact": "Dated conservative care (start, end, outcome) that failed or was not tolerated",
            "found": "20 days",
            "required": "at least 28 days",
        }
    ]
    assert reason["location"] == "L39240; L33906 summary (4 weeks); commercial 2-6 weeks"
    html = nurse_client.get(
        reverse("letter", args=[determination.request_id, determination.pk])
    ).content.decode()
    assert "<h2>Why the request was not approved</h2>" in html
    assert (
        "the records show <strong>20 days</strong>; the criterion asks for <strong>at least 28 days"
        in html
    )
    assert LCD in html
    assert "Where: L39240; L33906 summary (4 weeks); commercial 2-6 weeks." in html


def test_a_letter_speaks_plainly_and_gives_the_plans_contact(
    settings, nurse_client, nurse, physician, provider_a
):
    settings.PLAN_NAME = "Cascade Health Plan"
    settings.PLAN_PHONE = "1-800-555-0199"
    settings.PLAN_ADDRESS = "PO Box 4410, Portland, OR 97208"
    # ESI-02 cites internal guidance next to the LCD: the letter names the LCD only
    determination = denied(provider_a, nurse, physician, reasons=[{"criterion": "ESI-02"}])
    url = reverse("letter", args=[determination.request_id, determination.pk])
    html = nurse_client.get(url).content.decode()
    pdf_text = letter_context(determination)
    for text in (html, str(pdf_text)):
        assert "seed" not in text.lower()
        assert "SEED-" not in text and "RUBRIC-" not in text
        assert "provider API" not in text and "Lamina's" not in text
    assert "Cascade Health Plan · Utilization review" in html
    assert "Call 1-800-555-0199 (TTY 711), or write to PO Box 4410, Portland, OR 97208." in html
    assert "the member may call 1-800-555-0199 (TTY 711)" in html
    assert "Why was not approved" not in html


def test_a_written_reason_states_its_evidence(nurse_client, nurse, physician, provider_a):
    determination = denied(
        provider_a,
        nurse,
        physician,
        reasons=[
            {"statement": "An injection at L5-S1 was done three weeks ago.", "source": "records"}
        ],
    )
    (reason,) = letter_context(determination)["reasons"]
    assert (reason["criterion"], reason["findings"], reason["documents"]) == ("", [], [])
    html = nurse_client.get(
        reverse("letter", args=[determination.request_id, determination.pk])
    ).content.decode()
    assert "An injection at L5-S1 was done three weeks ago." in html
    assert "Based on: The clinical records sent with the request." in html
    assert "(criterion" not in html


def test_approval_letter_has_the_authorization_and_no_appeal(nurse_client, nurse, provider_a):
    case = request_claim(pa_request=review_case(provider_a), actor=nurse)
    determination = determination_record(pa_request=case, outcome="approved", actor=nurse)
    context = letter_context(determination)
    assert context["appeal"] is None and context["reasons"] == []
    assert context["authorization"]["number"] == determination.authorization_number
    html = nurse_client.get(reverse("letter", args=[case.pk, determination.pk])).content.decode()
    assert "Your request is approved" in html
    assert determination.authorization_number in html
    assert "How to appeal" not in html
    assert "a registered nurse reviewer" in html


def test_partial_letter_marks_what_was_not_approved(nurse, physician, provider_a):
    case = escalated(provider_a, nurse, physician, levels=["L4-L5", "L5-S1"], units=2)
    determination = determination_record(
        pa_request=case,
        outcome="partially_approved",
        actor=physician,
        reasons=[{"criterion": "ESI-02", "statement": IMAGING}],
        rationale="One level only.",
        approved_levels=["L5-S1"],
        approved_units=1,
    )
    context = letter_context(determination)
    assert context["headline"] == "Your request is partly approved"
    assert context["authorization"]["levels"] == ["L5-S1"]
    ((reason),) = context["reasons"]
    assert (reason["criterion"], reason["statement"]) == ("ESI-02", IMAGING)
    assert reason["findings"] == [
        {
            "fact": "An MRI or CT showing the pathology at the treated level",
            "found": "yes",
            "required": "yes",
        },
        {
            "fact": "An MRI or CT concordant with the symptoms and the treated level",
            "found": "not stated in the records",
            "required": "yes",
        },
    ]
    assert context["appeal"]["window_days"] == 60


def test_withdrawal_letter(provider_a):
    case = review_case(provider_a)
    request_withdraw(pa_request=case, actor=provider_a, reason="Patient improved.")
    context = letter_context(case.determinations.get())
    assert context["headline"] == "Your request was withdrawn"
    assert context["appeal"] is None


def test_letter_pdf_from_the_web(nurse_client, nurse, physician, provider_a):
    determination = denied(provider_a, nurse, physician)
    response = nurse_client.get(
        reverse("letter_pdf", args=[determination.request_id, determination.pk])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert "attachment;" in response["Content-Disposition"]
    assert AuditEvent.objects.filter(action="letter_viewed", data__format="pdf").exists()


def test_letter_of_another_request_is_404(nurse_client, nurse, physician, provider_a):
    determination = denied(provider_a, nurse, physician)
    other = review_case(provider_a)
    assert nurse_client.get(reverse("letter", args=[other.pk, determination.pk])).status_code == 404


def test_provider_cannot_open_the_web_letter(client, nurse, physician, provider_a):
    from tests.reviews.web.conftest import signed_in

    determination = denied(provider_a, nurse, physician)
    url = reverse("letter", args=[determination.request_id, determination.pk])
    assert signed_in(provider_a).get(url).status_code == 403


# --- Provider API -------------------------------------------------------------------------------


def test_provider_lists_and_reads_letters_through_the_api(api_a, nurse, physician, provider_a):
    determination = denied(provider_a, nurse, physician)
    case = determination.request
    listing = api_a.get(f"/api/v1/requests/{case.pk}/letters/")
    assert listing.status_code == 200
    body = listing.json()
    assert body["reference"] == case.reference
    assert [r["determination_id"] for r in body["results"]] == [determination.pk]
    assert body["results"][0]["links"]["pdf"].endswith(
        f"/api/v1/requests/{case.pk}/letters/{determination.pk}/?format=pdf"
    )

    detail = api_a.get(f"/api/v1/requests/{case.pk}/letters/{determination.pk}/")
    assert detail.status_code == 200
    letter = detail.json()
    assert letter["outcome"] == "denied"
    ((reason),) = letter["reasons"]
    assert (reason["criterion"], reason["statement"], reason["source"]) == ("ESI-05", STATEMENT, "")
    assert reason["documents"][0]["id"] == "L39240"
    assert letter["plan"]["tty"] == "711"
    version = Evaluation.objects.get(request=case).policy_version
    assert letter["policy"]["label"] == version.label
    assert letter["policy"]["checksum_prefix"] == version.checksum[:12]
    assert letter["reviewer_role"] == "physician"
    assert letter["appeal"]["by"] == (determination.decided_at + timedelta(days=60)).isoformat()
    event = AuditEvent.objects.get(action="letter_viewed", actor=provider_a)
    assert event.data["channel"] == "api" and event.data["format"] == "json"


@pytest.mark.parametrize("suffix", ["?format=pdf", "PDF"])
def test_provider_downloads_the_pdf_through_the_api(api_a, nurse, physician, provider_a, suffix):
    determination = denied(provider_a, nurse, physician)
    base = f"/api/v1/requests/{determination.request_id}/letters/{determination.pk}"
    url = f"{base}/{suffix}" if suffix.startswith("?") else f"{base}.pdf"
    response = api_a.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")


def test_another_organization_gets_404(api_b, nurse, physician, provider_a):
    determination = denied(provider_a, nurse, physician)
    case = determination.request
    assert api_b.get(f"/api/v1/requests/{case.pk}/letters/").status_code == 404
    assert api_b.get(f"/api/v1/requests/{case.pk}/letters/{determination.pk}/").status_code == 404
    pdf = f"/api/v1/requests/{case.pk}/letters/{determination.pk}.pdf"
    assert api_b.get(pdf).status_code == 404
    assert not AuditEvent.objects.filter(action="letter_viewed").exists()


def test_letters_need_authentication(client, nurse, physician, provider_a):
    determination = denied(provider_a, nurse, physician)
    response = client.get(f"/api/v1/requests/{determination.request_id}/letters/")
    assert response.status_code in {401, 403}
