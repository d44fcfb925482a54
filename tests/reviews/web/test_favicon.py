"""Every page names Lamina's icon, and the icon is served (no 404 on each page load)."""

import re

import pytest
from django.urls import reverse

from tests.reviews.web.conftest import signed_in

pytestmark = pytest.mark.django_db


def icons(html: str) -> list[str]:
    return re.findall(r'<link rel="icon" href="([^"]+)"', html)


@pytest.mark.parametrize("signed", [False, True])
def test_pages_link_an_icon_that_is_served(client, nurse, signed):
    page = signed_in(nurse).get(reverse("queue")) if signed else client.get(reverse("login"))
    assert page.status_code == 200
    hrefs = icons(page.content.decode())
    assert [h.rsplit(".", 1)[-1] for h in hrefs] == ["svg", "png"]
    for href in hrefs:
        assert href.startswith("/static/reviews/favicon.")
        response = client.get(href)
        assert response.status_code == 200
        assert response["Content-Type"] in {"image/svg+xml", "image/png"}
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert body.startswith((b"<svg", b"\x89PNG"))


def test_favicon_ico_is_served_for_pages_that_do_not_link_it(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
