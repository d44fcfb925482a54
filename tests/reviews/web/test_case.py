"""The case page: everything needed to decide on one screen, and an audited view."""

import pytest
from django.urls import reverse

from criteria.services import policies_load
from reviews.models import AuditEvent, Evaluation, InformationRequest, PriorAuthRequest, Status
from reviews.services import request_claim, request_escalate, request_submit
from reviews.services.checks import evidence_checks_run
from tests.reviews.web.builders import NOTE, review_case, submission

# A fever the request attests absent: GEN-01 (infection red flag) is met from the attested facts,
# and the note contradicts it.
FEVER = " Febrile to 38.9 C yesterday with night sweats."

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
    # ESI-05's citation, as a reader sees it: each source a link where the register has one
    assert (
        '<a href="https://www.cms.gov/medicare-coverage-database/view/lcd.aspx?lcdid=39240" '
        'title="LCD Epidural Steroid Injections for Pain Management (multi-MAC text)"'
    ) in html
    assert "· L39240; L33906 summary (4 weeks); commercial 2-6 weeks" in html
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


def test_case_page_offers_the_nurse_her_actions(nurse_client, nurse, provider_a):
    case = review_case(provider_a)
    request_claim(pa_request=case, actor=nurse)
    html = nurse_client.get(reverse("case", args=[case.pk])).content.decode()
    for name in ("approve", "request_information", "escalate"):
        assert reverse("action", args=[case.pk, name]) in html
    for name in ("deny", "partial", "peer_to_peer"):
        assert reverse("action", args=[case.pk, name]) not in html


def test_case_page_offers_the_physician_his(physician_client, nurse, physician, provider_a):
    case = review_case(provider_a)
    request_claim(pa_request=case, actor=nurse)
    request_escalate(pa_request=case, actor=nurse, note="Short conservative care; please review.")
    request_claim(pa_request=case, actor=physician)
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
    request_claim(pa_request=case, actor=nurse)
    determination = determination_record(pa_request=case, outcome="approved", actor=nurse)
    html = nurse_client.get(reverse("case", args=[case.pk])).content.decode()
    assert reverse("letter", args=[case.pk, determination.pk]) in html
    assert reverse("letter_pdf", args=[case.pk, determination.pk]) in html
    assert determination.authorization_number in html
    assert reverse("action", args=[case.pk, "approve"]) not in html
    assert Status.APPROVED.label in html


def test_an_unclaimed_case_says_to_claim_it_before_acting(nurse_client, provider_a):
    case = review_case(provider_a)
    html = nurse_client.get(reverse("case", args=[case.pk])).content.decode()
    assert "Claim the case to act on it: approve, request information" in html
    assert reverse("claim", args=[case.pk]) in html
    assert reverse("action", args=[case.pk, "approve"]) not in html


def checked_case(provider, *, note: str = NOTE, **service) -> PriorAuthRequest:
    """A request through the real intake and evidence checks (notes read, consistency run)."""
    policies_load()
    data = submission(**service)
    data["attachments"][0]["text"] = note
    pa_request = request_submit(actor=provider, data=data)
    evidence_checks_run(pa_request=pa_request)
    return PriorAuthRequest.objects.get(pk=pa_request.pk)


def _summary(html: str) -> str:
    return html[html.index('id="summary"') : html.index('id="member"')]


def test_the_summary_says_why_the_case_is_here_with_links(nurse_client, provider_a):
    case = review_case(provider_a)
    html = nurse_client.get(reverse("case", args=[case.pk])).content.decode()
    summary = _summary(html)
    assert "Why this case is here" in summary
    # the failing criterion in words, linked to its entry and its LCD
    assert "ESI-05 not met" in summary
    assert 'href="#criterion-ESI-05"' in summary
    assert "https://www.cms.gov/medicare-coverage-database/view/lcd.aspx?lcdid=39240" in summary
    assert "ESI-02 not enough information" in summary
    # in plain words, not the engine's notation
    assert (
        "conservative care, failed days is 20 (needs conservative care, failed days at least 28)"
        in summary
    )
    assert "conservative_care.failed_days" not in summary and "&gt;=" not in summary
    # the due time with its countdown, and the actions, in the same screen
    assert 'class="countdown" data-due="' in summary
    assert 'id="actions"' in summary
    assert "/static/reviews/countdown" in html
    # a met criterion is one line that opens
    evaluation = Evaluation.objects.get(request=case)
    met = next(r["id"] for r in evaluation.trace if r["answer"] == "met")
    entry = html[html.index(f'id="criterion-{met}"') :]
    assert entry.index("<details>") < entry.index("<summary>") < entry.index("</li>")


def test_a_note_conflict_is_in_the_summary_and_marks_the_met_criterion(nurse_client, provider_a):
    case = checked_case(provider_a, note=NOTE + FEVER)
    evaluation = Evaluation.objects.get(request=case)
    assert any(c.get("criterion") == "GEN-01" for c in evaluation.note_conflicts)
    assert next(r for r in evaluation.trace if r["id"] == "GEN-01")["answer"] == "met"
    html = nurse_client.get(reverse("case", args=[case.pk])).content.decode()
    summary = _summary(html)
    assert "GEN-01 was found met from the attested facts, but the notes disagree" in summary
    assert "The passage in the note" in summary
    anchor = summary.split('href="#finding-')[1].split('"')[0]
    assert f'id="finding-{anchor}"' in html  # the link lands on the highlighted span
    entry = html[html.index('id="criterion-GEN-01"') :]
    assert "Met from the attested facts, but the notes disagree" in entry[: entry.index("</li>")]
    assert "<details>" not in entry[: entry.index("</li>")]


def test_a_consistency_finding_is_in_the_summary(nurse_client, provider_a):
    case = checked_case(provider_a, laterality="left")
    evaluation = Evaluation.objects.get(request=case)
    assert evaluation.consistency, "the side treated disagrees with the imaging and the note"
    html = nurse_client.get(reverse("case", args=[case.pk])).content.decode()
    summary = _summary(html)
    for finding in evaluation.consistency:
        assert finding["statement"].replace("'", "&#x27;") in summary
    assert "The request contradicts itself" in summary


def test_a_history_flag_links_the_earlier_request(nurse_client, provider_a):
    first = review_case(provider_a)
    data = submission()
    data["member"]["member_id"] = first.member.member_id
    second = request_submit(actor=provider_a, data=data)
    evidence_checks_run(pa_request=second)
    evaluation = Evaluation.objects.get(request=second)
    assert any(h["result"] == "flag" for h in evaluation.history_checks)
    html = nurse_client.get(reverse("case", args=[second.pk])).content.decode()
    summary = _summary(html)
    assert "Duplicate open request" in summary
    assert f'href="{reverse("case", args=[first.pk])}"' in summary


def test_the_providers_answer_is_on_the_case_page(nurse_client, auditor_client, nurse, provider_a):
    from reviews.services import request_answer_information, request_information_ask

    case = review_case(provider_a)
    request_claim(pa_request=case, actor=nurse)
    request_information_ask(
        pa_request=case,
        actor=nurse,
        items=[{"field": "imaging", "why": "The MRI report", "criterion": "ESI-02"}],
        message="Please send the radiologist's report.",
    )
    request_answer_information(
        pa_request=case,
        actor=provider_a,
        attachments=[
            {
                "kind": "imaging_report",
                "title": "MRI lumbar spine report",
                "date": "2026-10-01",
                "text": "Right L5-S1 extrusion contacting the S1 nerve root.",
            }
        ],
        message="Report attached; it matches the right S1 symptoms.",
    )
    case = PriorAuthRequest.objects.get(pk=case.pk)
    assert InformationRequest.objects.get(request=case).answered_at is not None
    evidence_checks_run(pa_request=case)
    case = PriorAuthRequest.objects.get(pk=case.pk)
    html = nurse_client.get(reverse("case", args=[case.pk])).content.decode()
    summary = _summary(html)
    assert "The provider answered" in summary
    assert "Report attached; it matches the right S1 symptoms." in summary
    assert "MRI lumbar spine report" in summary
    # back in review: the queue marks it answered (auditors read every review queue)
    assert case.status in {Status.NURSE_REVIEW, Status.PHYSICIAN_REVIEW}
    queue = auditor_client.get(reverse("queue")).content.decode()
    row = queue[queue.index(f'id="row-{case.pk}"') :]
    assert "Answered" in row[: row.index("</tr>")]


def test_a_case_in_another_queue_says_whose_it_is(nurse_client, nurse, provider_a):
    case = review_case(provider_a, status=Status.PHYSICIAN_REVIEW)
    html = nurse_client.get(reverse("case", args=[case.pk])).content.decode()
    assert "This case waits in the physician review queue" in html
    assert "Claim the case to act on it" not in html
    assert reverse("claim", args=[case.pk]) not in html
