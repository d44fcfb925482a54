"""A nurse claims and escalates a case, a physician denies it, the provider reads the letter.

Screenshots of the queue, the case page and the dashboard are written to var/screenshots/
(LAMINA_SCREENSHOTS overrides; the README shows the copies in docs/screenshots/).
"""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from rest_framework.authtoken.models import Token

from reviews.models import Determination, PriorAuthRequest, Status
from reviews.services import determination_record, request_claim, request_escalate
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import PASSWORD
from tests.reviews.web.builders import review_case

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ESI_05 = (
    "At least 4 weeks of noninvasive conservative care (therapy, home exercise, medications, "
    "activity modification; not bed rest) that failed or was not tolerated, from its earliest "
    "start to its end or the review date."
)


def sign_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".who")).to_contain_text(username)


def sign_out(page) -> None:
    page.click("text=Sign out")
    expect(page.locator("h1")).to_have_text("Sign in")


def a_busy_plan(provider, nurse, physician) -> None:
    """A few more cases so the queue and dashboard pictures show what a day looks like."""
    now = timezone.now()
    overdue = review_case(provider)
    PriorAuthRequest.objects.filter(pk=overdue.pk).update(
        received_at=now - timedelta(days=7, hours=5), due_at=now - timedelta(hours=5)
    )
    at_risk = review_case(provider, urgency="expedited")
    PriorAuthRequest.objects.filter(pk=at_risk.pk).update(
        received_at=now - timedelta(hours=60), due_at=now + timedelta(hours=12)
    )
    review_case(provider, urgency="expedited")
    approved = review_case(provider)
    request_claim(pa_request=approved, actor=nurse)
    determination_record(pa_request=approved, outcome="approved", actor=nurse)
    denied = review_case(provider)
    request_claim(pa_request=denied, actor=nurse)
    request_escalate(pa_request=denied, actor=nurse, note="Short therapy.")
    request_claim(pa_request=denied, actor=physician)
    determination_record(
        pa_request=denied,
        outcome="denied",
        actor=physician,
        reasons=[{"criterion": "ESI-05", "statement": ESI_05}],
        rationale="Twenty days of therapy.",
    )
    review_case(provider, status=Status.PENDING_INFORMATION)
    review_case(provider, status=Status.PHYSICIAN_REVIEW)


def test_nurse_escalates_physician_denies_provider_reads_the_letter(
    page, live_server, provider_a, nurse, physician
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    a_busy_plan(provider_a, nurse, physician)
    case = review_case(provider_a)
    PriorAuthRequest.objects.filter(pk=case.pk).update(due_at=timezone.now() + timedelta(days=1))
    row = page.locator(f"#row-{case.pk}")

    # 1. The nurse signs in, claims the case from the queue (htmx swaps the row) and opens it.
    sign_in(page, "nurse")
    expect(page.locator("h1")).to_have_text("Queue")
    row.get_by_role("button", name="Claim").click()
    expect(row.get_by_role("button", name="Release")).to_be_visible()
    expect(row).to_contain_text("you")
    page.screenshot(path=str(SCREENSHOTS / "queue.png"), full_page=True)
    case.refresh_from_db()
    assert case.assigned_to == nurse

    row.get_by_role("link", name=case.reference).click()
    expect(page.locator("h1")).to_contain_text(case.reference)
    expect(page.locator("#criteria")).to_contain_text("Not met (1)")
    page.screenshot(path=str(SCREENSHOTS / "case.png"), full_page=True)

    # 2. She escalates it with a note, through the confirmation step.
    page.get_by_role("link", name="Escalate to physician").click()
    page.fill(
        "#id_note", "Only 20 days of therapy documented; please review for medical necessity."
    )
    page.get_by_role("button", name="Review and confirm").click()
    expect(page.locator("h1")).to_contain_text("Confirm: Escalate to physician")
    page.get_by_role("button", name="Yes, escalate to physician").click()
    expect(page.locator(".messages")).to_contain_text("Escalated to physician review.")
    expect(page.locator("h1")).to_contain_text("Physician review")
    sign_out(page)

    # 3. The physician signs in and denies it, naming the criterion not met.
    sign_in(page, "physician")
    page.fill("input[name=q]", case.reference)
    page.keyboard.press("Enter")
    # htmx swaps the results, then pushes the URL: claim only once the search has settled.
    page.wait_for_url(re.compile(rf"[?&]q={case.reference}&"))
    expect(page.locator("table.queue tbody tr")).to_have_count(1)
    page.wait_for_load_state("networkidle")
    row.get_by_role("button", name="Claim").click()
    expect(row.get_by_role("button", name="Release")).to_be_visible()
    row.get_by_role("link", name=case.reference).click()
    expect(page.locator("#actions")).to_contain_text("Deny")
    expect(page.locator("body")).to_contain_text("Only 20 days of therapy documented")
    page.get_by_role("link", name="Deny", exact=True).click()
    page.get_by_label(
        "ESI-05: At least 4 weeks of noninvasive conservative care", exact=False
    ).check()
    page.fill(
        "#id_rationale",
        "The records show 20 days of physical therapy; the policy asks for at least 4 weeks.",
    )
    page.get_by_role("button", name="Review and confirm").click()
    expect(page.locator(".confirm")).to_contain_text("ESI-05")
    page.get_by_role("button", name="Yes, deny").click()
    expect(page.locator(".messages")).to_contain_text("Denied.")
    determination = Determination.objects.get(request=case)
    assert determination.outcome == "denied"
    assert determination.decided_by == physician

    page.get_by_role("link", name="Letter").first.click()
    expect(page.locator("h1.headline")).to_have_text("Your request is not approved")

    page.goto("/dashboard/")
    expect(page.locator("svg.chart")).to_have_count(5)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    sign_out(page)

    # 4. The provider reads the determination and the letter through the API.
    token = Token.objects.create(user=provider_a).key
    api = page.context.request
    headers = {"Authorization": f"Token {token}"}
    detail = api.get(f"{live_server.url}/api/v1/requests/{case.pk}/", headers=headers)
    assert detail.status == 200
    assert detail.json()["status"] == "denied"
    letters = api.get(f"{live_server.url}/api/v1/requests/{case.pk}/letters/", headers=headers)
    assert letters.status == 200
    [entry] = letters.json()["results"]
    assert entry["determination_id"] == determination.pk
    letter = api.get(entry["links"]["self"], headers=headers)
    body = json.loads(letter.body())
    assert body["outcome"] == "denied"
    assert body["reasons"][0]["criterion"] == "ESI-05"
    assert body["reviewer_role"] == "physician"
    assert body["appeal"]["by"]
    pdf = api.get(entry["links"]["pdf"], headers=headers)
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")


def test_provider_signs_in_and_is_refused_the_queue(page, provider_a):
    sign_in(page, "provider_a")
    expect(page.locator("h1")).to_have_text("Not available to your role")
