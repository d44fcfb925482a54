"""Who may use the reviewers' pages: sign-in, lockout, roles, CSRF."""

import pytest
from django.test import Client
from django.urls import reverse

from reviews.models import AuditEvent, Determination, Status
from tests.conftest import PASSWORD
from tests.reviews.web.builders import review_case

pytestmark = pytest.mark.django_db


def test_anonymous_user_is_sent_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_anonymous_post_to_an_action_changes_nothing(client, provider_a):
    case = review_case(provider_a)
    response = client.post(reverse("action", args=[case.pk, "approve"]), {"confirmed": "yes"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    case.refresh_from_db()
    assert case.status == Status.NURSE_REVIEW


def test_sign_in_page_renders_with_csrf_token(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content


def test_nurse_signs_in_and_lands_on_the_queue(client, nurse):
    response = client.post("/accounts/login/", {"username": "nurse", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_provider_can_authenticate_but_not_use_the_queue(client, provider_a):
    response = client.post(
        "/accounts/login/", {"username": "provider_a", "password": PASSWORD}, follow=True
    )
    assert response.status_code == 403
    assert b"Providers follow their requests through Lamina" in response.content
    case = review_case(provider_a)
    assert client.get(reverse("case", args=[case.pk])).status_code == 403
    assert client.get(reverse("dashboard")).status_code == 403
    assert client.post(reverse("claim", args=[case.pk])).status_code == 403


def test_wrong_password_is_refused_plainly(client, nurse):
    response = client.post("/accounts/login/", {"username": "nurse", "password": "wrong"})
    assert response.status_code == 200
    assert b"do not match" in response.content


def test_account_locks_after_five_failures_even_with_the_right_password(client, nurse):
    for _ in range(5):
        client.post("/accounts/login/", {"username": "nurse", "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "nurse", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Account locked" in response.content
    assert b"5 failed sign-in attempts" in response.content
    assert client.get("/").status_code == 302  # still signed out


def test_lockout_is_per_account(client, nurse, physician):
    for _ in range(5):
        client.post("/accounts/login/", {"username": "nurse", "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "physician", "password": PASSWORD})
    assert response.status_code == 302


def test_sign_out_needs_a_post_and_ends_the_session(nurse_client):
    response = nurse_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert nurse_client.get("/").status_code == 302


def test_posts_without_a_csrf_token_are_refused(nurse, provider_a):
    case = review_case(provider_a)
    client = Client(enforce_csrf_checks=True)
    client.force_login(nurse, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(reverse("claim", args=[case.pk]))
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.assigned_to is None


def test_htmx_pages_carry_the_csrf_token_header(nurse_client):
    response = nurse_client.get("/")
    assert b'hx-headers=\'{"X-CSRFToken": "' in response.content


def test_auditor_reads_but_cannot_act(auditor_client, provider_a):
    case = review_case(provider_a)
    assert auditor_client.get("/").status_code == 200
    page = auditor_client.get(reverse("case", args=[case.pk]))
    assert page.status_code == 200
    assert b"Read-only" in page.content
    assert reverse("action", args=[case.pk, "approve"]).encode() not in page.content
    for url, data in [
        (reverse("claim", args=[case.pk]), {}),
        (reverse("action", args=[case.pk, "approve"]), {"confirmed": "yes"}),
        (reverse("action", args=[case.pk, "escalate"]), {"note": "x", "confirmed": "yes"}),
    ]:
        assert auditor_client.post(url, data).status_code == 403
    case.refresh_from_db()
    assert case.status == Status.NURSE_REVIEW
    assert case.assigned_to is None
    assert not Determination.objects.filter(request=case).exists()
    assert (
        not AuditEvent.objects.filter(request_id_ref=case.pk, actor__username="auditor")
        .exclude(action="request_viewed")
        .exists()
    )


def test_session_settings_suit_patient_data(settings):
    assert settings.SESSION_COOKIE_AGE <= 30 * 60
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    assert settings.SESSION_COOKIE_HTTPONLY
