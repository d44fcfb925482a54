"""The API docs pages load Swagger UI and ReDoc from Lamina's own static files (no CDN)."""

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_their_scripts_from_lamina(client, path):
    response = client.get(path)
    assert response.status_code == 200
    body = response.content.decode()
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', body)
    assert scripts, "the page loads its viewer"
    for src in scripts:
        if src.startswith(path + "?script"):
            # Swagger UI's start-up script, served by the page itself (no inline script, for the
            # Content-Security-Policy): Lamina's own, and it loads nothing from a CDN.
            script = client.get(src)
            assert script.status_code == 200, src
            assert "javascript" in script["Content-Type"]
            assert "cdn.jsdelivr.net" not in script.content.decode()
            continue
        assert src.startswith("/static/"), src
        # The file is really there, shipped by drf-spectacular-sidecar.
        assert finders.find(src.removeprefix("/static/")), src
    assert "cdn.jsdelivr.net" not in body
