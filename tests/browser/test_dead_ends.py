"""Every role finishes its task: a physician denies a case no policy covers, a request for
information and its answer reach both sides, the case summary shows why a case is here above the
fold, and every page fits a 375 px phone without scrolling sideways.
"""

import json

import pytest
from playwright.sync_api import expect
from rest_framework.authtoken.models import Token

from criteria.services import policies_load
from reviews.models import Determination, InformationRequest, PriorAuthRequest, Status
from reviews.services import (
    determination_record,
    request_claim,
    request_escalate,
    request_submit,
)
from reviews.services.checks import evidence_checks_run
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_review_flow import sign_in, sign_out
from tests.factories import submit
from tests.reviews.web.builders import NOTE, review_case, submission

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The note records a fever the request attests absent: GEN-01 is met from the attested facts and
# contradicted by the note.
FEVER = " Febrile to 38.9 C yesterday with night sweats."


def checked(pa_request) -> PriorAuthRequest:
    evidence_checks_run(pa_request=pa_request)
    return PriorAuthRequest.objects.get(pk=pa_request.pk)


def case_with_note(provider, note: str) -> PriorAuthRequest:
    policies_load()
    data = submission()
    data["attachments"][0]["text"] = note
    return checked(request_submit(actor=provider, data=data))


def escalated(pa_request, nurse) -> PriorAuthRequest:
    request_claim(pa_request=pa_request, actor=nurse)
    return request_escalate(pa_request=pa_request, actor=nurse, note="Please review.")


def test_the_physician_denies_a_case_no_policy_covers(page, provider_a, nurse, physician):
    policies_load()
    case = checked(submit(provider_a, service__cpt_codes=["33510"]))
    assert case.procedure_family == "" and case.status == Status.NURSE_REVIEW
    escalated(case, nurse)

    sign_in(page, "physician")
    page.goto(f"/requests/{case.pk}/")
    summary = page.locator("#summary")
    expect(summary).to_contain_text("No Lamina policy covers this service")
    expect(page.locator("#actions")).to_contain_text("Claim the case to act on it")
    page.locator("#actions").get_by_role("button", name="Claim").click()
    expect(page.locator("#actions")).to_contain_text("Held by you")
    page.get_by_role("link", name="Deny", exact=True).click()
    # No criterion to pick: the form asks for a written reason and its source.
    expect(page.locator("form.action-form")).to_contain_text(
        "No Lamina policy applied to this case"
    )
    page.fill(
        "#id_written_reason",
        "Coronary artery bypass is not a spine procedure this plan reviews under these rules.",
    )
    page.select_option("#id_written_source", "no_policy")
    page.fill("#id_rationale", "The requested service is outside the plan's benefit.")
    page.get_by_role("button", name="Review and confirm").click()
    expect(page.locator(".confirm")).to_contain_text("Coronary artery bypass")
    page.get_by_role("button", name="Yes, deny").click()
    expect(page.locator(".messages")).to_contain_text("Denied.")
    determination = Determination.objects.get(request=case)
    assert determination.outcome == "denied"
    [reason] = determination.reasons
    assert reason["criterion"] == "" and reason["source"] == "no_policy"
    assert reason["statement"].startswith("Coronary artery bypass")


def test_a_request_for_information_and_its_answer_reach_both_sides(
    page, live_server, provider_a, nurse
):
    case = review_case(provider_a)
    message = "Please send the radiologist's report of the lumbar MRI."

    # The nurse claims the case and asks for the report, with a message.
    sign_in(page, "nurse")
    page.goto(f"/requests/{case.pk}/")
    page.locator("#actions").get_by_role("button", name="Claim").click()
    page.get_by_role("link", name="Request information").click()
    page.locator("input[name=items]").first.check()
    page.fill("#id_message", message)
    page.get_by_role("button", name="Review and confirm").click()
    page.get_by_role("button", name="Yes, request information").click()
    expect(page.locator("h1")).to_contain_text("Pending information")

    # The provider reads the message through the API and answers it with a document.
    token = Token.objects.create(user=provider_a).key
    api = page.context.request
    headers = {"Authorization": f"Token {token}", "Idempotency-Key": "answer-1"}
    detail = api.get(f"{live_server.url}/api/v1/requests/{case.pk}/", headers=headers)
    assert detail.status == 200
    assert message in json.dumps(detail.json())
    answer = api.post(
        f"{live_server.url}/api/v1/requests/{case.pk}/information/",
        headers={**headers, "Content-Type": "application/json"},
        data=json.dumps(
            {
                "attachments": [
                    {
                        "kind": "imaging_report",
                        "title": "MRI lumbar spine report",
                        "date": "2026-10-01",
                        "text": "Right L5-S1 extrusion contacting the right S1 nerve root, "
                        "concordant with the right S1 radiculopathy.",
                    }
                ],
                "message": "Report attached; it matches the right S1 symptoms.",
            }
        ),
    )
    assert answer.status in (200, 202), answer.text()
    checked(case)
    case.refresh_from_db()
    assert case.status in {Status.NURSE_REVIEW, Status.PHYSICIAN_REVIEW, Status.APPROVED}
    assert InformationRequest.objects.get(request=case).answered_at is not None

    if case.status == Status.NURSE_REVIEW:
        # Back in the nurse's queue, marked answered.
        page.goto("/")
        expect(page.locator(f"#row-{case.pk}")).to_contain_text("Answered")
    page.goto(f"/requests/{case.pk}/")
    answer_box = page.locator("#provider-answer")
    expect(answer_box).to_contain_text("Report attached; it matches the right S1 symptoms.")
    expect(answer_box).to_contain_text("MRI lumbar spine report")
    expect(page.locator("#conversation")).to_contain_text(message)


def test_the_summary_shows_a_note_conflict_above_the_fold(page, provider_a, nurse):
    case = case_with_note(provider_a, NOTE + FEVER)
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, "nurse")
    page.goto(f"/requests/{case.pk}/")
    conflict = page.locator("#summary li.why-note_conflict").first
    expect(conflict).to_contain_text("GEN-01 was found met from the attested facts")
    box = conflict.bounding_box()
    assert box["y"] + box["height"] <= 800, box  # above the fold
    actions = page.locator("#actions").bounding_box()
    assert actions["y"] < 800
    # the countdown runs
    expect(page.locator(".countdown-left")).to_contain_text("left")
    page.screenshot(path=str(SCREENSHOTS / "case-summary.png"))
    # the link lands on the highlighted passage in the note
    conflict.get_by_role("link", name="The passage in the note").click()
    target = page.locator("mark.finding-conflict").first
    expect(target).to_be_in_viewport()
    # GEN-01 is not a quiet green "met": it is marked contradicted and open
    expect(page.locator("#criterion-GEN-01")).to_contain_text("the notes disagree")


def test_the_summary_shows_a_consistency_finding_above_the_fold(page, provider_a, nurse):
    policies_load()
    data = submission(laterality="left")
    case = checked(request_submit(actor=provider_a, data=data))
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, "nurse")
    page.goto(f"/requests/{case.pk}/")
    finding = page.locator("#summary li.why-consistency").first
    expect(finding).to_contain_text("The service treats the left side")
    box = finding.bounding_box()
    assert box["y"] + box["height"] <= 800, box


def _width(page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def test_no_page_scrolls_sideways_at_375_px(
    page, live_server, provider_a, nurse, physician, auditor, capsys
):
    policies_load()
    case = case_with_note(provider_a, NOTE + FEVER)
    decided = review_case(provider_a)
    escalated(decided, nurse)
    request_claim(pa_request=decided, actor=physician)
    determination_record(
        pa_request=decided,
        outcome="denied",
        actor=physician,
        reasons=[{"criterion": "ESI-05", "note": ""}],
        rationale="Twenty days of therapy; the policy asks for four weeks.",
    )
    for _ in range(3):
        review_case(provider_a)

    measured = {}
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        sign_in(page, "auditor")
        pages = {
            "queue": "/",
            "case": f"/requests/{case.pk}/",
            "history": f"/audit/requests/{decided.pk}/",
            "audit": "/audit/",
            "metrics": "/audit/metrics/",
            "dashboard": "/dashboard/",
            "verify": "/audit/verify/",
            "letter": f"/requests/{decided.pk}/letters/"
            f"{Determination.objects.get(request=decided).pk}/",
        }
        for name, url in pages.items():
            page.goto(url)
            scroll, inner = _width(page)
            measured[(name, width)] = scroll
            assert scroll <= inner, f"{name} at {width} px is {scroll} px wide"
            if width == 375 and name in {"queue", "case", "history"}:
                page.screenshot(path=str(SCREENSHOTS / f"{name}-375.png"))
        sign_out(page)
    with capsys.disabled():
        print("\nscrollWidth:", {f"{n}@{w}": v for (n, w), v in sorted(measured.items())})


def test_the_skip_link_moves_to_the_content(page, nurse):
    sign_in(page, "nurse")
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")


def test_an_eligible_physician_decides_the_appeal_the_one_who_denied_cannot_claim_it(
    page, live_server, provider_a, nurse, physician, physician2
):
    case = review_case(provider_a)
    escalated(case, nurse)
    request_claim(pa_request=case, actor=physician)
    determination_record(
        pa_request=case,
        outcome="denied",
        actor=physician,
        reasons=[{"criterion": "ESI-05", "note": ""}],
        rationale="Twenty days of therapy; the policy asks for four weeks.",
    )
    # The provider appeals through the API, with the therapy notes the file lacked.
    token = Token.objects.create(user=provider_a).key
    reason = "The member had six weeks of therapy: the discharge summary was left out."
    response = page.context.request.post(
        f"{live_server.url}/api/v1/requests/{case.pk}/appeal/",
        headers={
            "Authorization": f"Token {token}",
            "Idempotency-Key": "appeal-1",
            "Content-Type": "application/json",
        },
        data=json.dumps(
            {
                "reason": reason,
                "attachments": [
                    {
                        "kind": "clinical_note",
                        "title": "Physical therapy discharge summary",
                        "date": "2026-11-20",
                        "text": "Discharged after 6 weeks (12 visits) of physical therapy "
                        "without lasting relief.",
                    }
                ],
            }
        ),
    )
    assert response.status in (200, 201), response.text()
    case.refresh_from_db()
    assert case.status == Status.APPEAL
    appeal = case.appeals.get()
    row = page.locator(f"#row-{case.pk}")

    # The physician who denied it sees the appeal but cannot claim it.
    sign_in(page, "physician")
    expect(row).to_contain_text("Appeal")
    expect(row.get_by_role("button", name="Claim")).to_have_count(0)
    expect(row).to_contain_text("another physician decides the appeal")
    page.goto(f"/requests/{case.pk}/")
    expect(page.locator("#not-eligible")).to_be_visible()
    expect(page.locator("#actions").get_by_role("button", name="Claim")).to_have_count(0)
    sign_out(page)

    # Another physician claims it from the queue and reads the appeal first.
    sign_in(page, "physician2")
    expect(row).to_contain_text("(appeal)")
    row.get_by_role("button", name="Claim").click()
    expect(row.get_by_role("button", name="Release")).to_be_visible()
    row.get_by_role("link", name=case.reference).click()
    summary = page.locator("#summary")
    expect(summary.locator("#appeal")).to_contain_text(reason)
    expect(summary.locator("#appeal")).to_contain_text("Physical therapy discharge summary")
    appeal_box = summary.locator("#appeal").bounding_box()
    why = summary.get_by_role("heading", name="Why this case is here").bounding_box()
    assert appeal_box["y"] < why["y"]  # the appeal comes first
    due = page.locator("#actions time.countdown")
    assert due.get_attribute("datetime")[:16] == appeal.due_at.isoformat()[:16]
    expect(page.locator("#actions")).to_contain_text("Appeal due")
    page.screenshot(path=str(SCREENSHOTS / "appeal.png"))
    page.get_by_role("link", name="Approve", exact=True).click()
    page.fill("#id_rationale", "Six weeks of failed therapy are documented in the appeal.")
    page.get_by_role("button", name="Review and confirm").click()
    page.get_by_role("button", name="Yes, approve").click()
    expect(page.locator(".messages")).to_contain_text("Approved")
    decision = Determination.objects.filter(request=case).order_by("-decided_at").first()
    assert decision.kind == "appeal" and decision.decided_by == physician2
