"""Browser tests: Playwright driving Debian's chromium against pytest-django's live server."""

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the Django calls the tests make
# around it are ordinary synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Each run saves fresh screenshots under var/screenshots/ (not tracked); set
# LAMINA_SCREENSHOTS=docs/screenshots to refresh the copies the README shows.
SCREENSHOTS = Path(__file__).resolve().parents[2] / os.environ.get(
    "LAMINA_SCREENSHOTS", "var/screenshots"
)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise pytest.UsageError(
            f"{CHROMIUM} is missing: install Debian's chromium (./lamina test does)."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def plain_http_cookies(settings):
    """The live server speaks plain HTTP: cookies must not be marked Secure for it."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.fixture
def page(browser, live_server, plain_http_cookies):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
