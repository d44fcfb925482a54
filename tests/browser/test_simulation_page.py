"""The policy team simulates a draft in the browser: the form, progress, the result and its CSV.

The simulation runs on a real Celery worker. A screenshot of the result page is written to
var/screenshots/simulation.png (LAMINA_SCREENSHOTS overrides; the README shows
docs/screenshots/simulation.png).
"""

import copy
from datetime import date

import pytest
from playwright.sync_api import expect

from criteria.models import PolicyVersion
from criteria.services import policy_version_copy_as_draft, policy_version_draft_update
from reviews.services import evidence_checks_run
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import PASSWORD
from tests.factories import submit
from tests.reviews.test_simulation import _care

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REVIEW_DATE = date(2026, 11, 23)


def test_an_administrator_simulates_a_draft_and_reads_what_changes(
    page, start_worker, policies, provider_a, admin_user
):
    for days in (20, 30, 33, 35, 38, 45, 60, 75):
        pa_request = submit(
            provider_a,
            clinical__conservative_care=_care(days),
            clinical__symptom_onset_date="2026-08-01",
        )
        evidence_checks_run(pa_request=pa_request, review_date=REVIEW_DATE)
    active = PolicyVersion.objects.get(
        policy__family="epidural_steroid_injection", profile="baseline", status="active"
    )
    draft = policy_version_copy_as_draft(version=active)
    content = copy.deepcopy(draft.content)
    content["parameters"]["esi_conservative_min_days"]["value"] = 42
    policy_version_draft_update(version=draft, content=content)
    start_worker(concurrency=1)

    page.goto("/accounts/login/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".who")).to_contain_text(admin_user.username)
    page.goto("/policy/simulations/")
    page.select_option("#id_version", str(draft.pk))
    page.fill("#id_since", "2026-01-01")
    page.fill("#id_until", date.today().isoformat())
    page.click("button:has-text('Simulate')")

    # The page follows the task's progress and shows the result when it is done.
    expect(page.locator("text=ESI-05").first).to_be_visible(timeout=90_000)
    expect(page.locator("body")).to_contain_text("4")  # four requests change
    result_url = page.url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "simulation.png"), full_page=True)
    for viewport in (1280, 375):
        page.set_viewport_size({"width": viewport, "height": 900})
        for path in (result_url, "/policy/simulations/"):
            page.goto(path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport, (path, viewport, width)
    csv = page.request.get(result_url.rstrip("/") + ".csv")
    assert csv.status == 200
    assert len(csv.text().strip().splitlines()) == 1 + 4
