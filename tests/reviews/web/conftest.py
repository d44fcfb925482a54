import pytest
from django.test import Client

from reviews.models import Role
from reviews.roles import user_create
from tests.conftest import PASSWORD

BACKEND = "django.contrib.auth.backends.ModelBackend"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend=BACKEND)
    return client


@pytest.fixture
def nurse_client(nurse):
    return signed_in(nurse)


@pytest.fixture
def physician_client(physician):
    return signed_in(physician)


@pytest.fixture
def auditor_client(auditor):
    return signed_in(auditor)


@pytest.fixture
def nurse2(db):
    return user_create(username="nurse2", password=PASSWORD, role=Role.NURSE)
