"""The pages and the schema browsers work under the Content-Security-Policy, in chromium.

Every `securitypolicyviolation` event a page raises is recorded (the recorder is injected by the
browser driver, which the policy does not cover) and must stay empty, while the page still does
its work: htmx loads, Swagger UI and ReDoc render the schema.
"""

import pytest
from playwright.sync_api import expect

from tests.browser.test_review_flow import sign_in
from tests.reviews.web.builders import review_case

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def watched(page):
    page.add_init_script(RECORD_VIOLATIONS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.errors = errors
    return page


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations") + page.errors


def test_the_reviewer_pages_raise_no_violation(watched, nurse, provider_a):
    pa_request = review_case(provider_a)
    sign_in(watched, "nurse")
    for url in ["/", "/dashboard/", f"/requests/{pa_request.pk}/"]:
        watched.errors.clear()
        response = watched.goto(url)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        watched.wait_for_load_state("networkidle")
        assert watched.evaluate("typeof window.htmx") == "object", url
        assert violations(watched) == [], (url, violations(watched))
    # The queue's filters refresh the list when a select changes, without an evaluated filter
    # expression (which the policy's script-src would refuse).
    watched.goto("/")
    watched.wait_for_load_state("networkidle")
    with watched.expect_response(lambda r: "status=nurse_review" in r.url):
        watched.select_option("select[name=status]", "nurse_review")
    assert violations(watched) == [], violations(watched)


def test_swagger_ui_renders_the_schema_under_the_policy(watched):
    response = watched.goto("/api/docs/")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(watched.locator(".swagger-ui .info .title")).to_contain_text("Lamina")
    expect(watched.locator(".opblock").first).to_be_visible()
    assert violations(watched) == []


def test_redoc_renders_the_schema_under_the_policy(watched):
    response = watched.goto("/api/redoc/")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(watched.locator("h1").first).to_contain_text("Lamina")
    expect(watched.get_by_text("/api/v1/requests/").first).to_be_attached()
    watched.wait_for_load_state("networkidle")
    # The one thing refused is ReDoc's own "API docs by Redocly" logo from its CDN: the policy
    # keeps the page from fetching anything outside Lamina.
    assert [v for v in violations(watched) if "cdn.redoc.ly" not in v] == []
