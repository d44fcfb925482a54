"""No input makes the FHIR endpoints fail with a server error."""

import copy
import json
import random

import pytest

from tests.conftest import example
from tests.pas.conftest import INQUIRE, SUBMIT, bundle_from_request, fhir_example, post_fhir

pytestmark = pytest.mark.django_db

ODD_VALUES = [
    None,
    "",
    "x" * 300,
    -1,
    0,
    10**20,
    1e308,
    True,
    [],
    {},
    [None],
    {"reference": "#nowhere"},
    "2026-02-30",
    "9999-12-31",
    "../../etc",
    "\u0000",
]


def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    yield path


def _set(value, path, new):
    for part in path[:-1]:
        value = value[part]
    value[path[-1]] = new


@pytest.mark.parametrize("url", [SUBMIT, INQUIRE])
def test_mutated_bundles_never_get_a_server_error(api_a, url):
    base = bundle_from_request(
        example("fusion-spondylolisthesis-short-therapy"), family="spinal_fusion"
    )
    paths = [p for p in _leaves(base) if p]
    rng = random.Random(20261122)
    for _ in range(120):
        bundle = copy.deepcopy(base)
        path = rng.choice(paths)
        _set(bundle, path, copy.deepcopy(rng.choice(ODD_VALUES)))
        response = post_fhir(api_a, url, bundle)
        assert response.status_code < 500, (path, response.content[:500])
        assert response.json()["resourceType"] in {"Bundle", "Parameters", "OperationOutcome"}


@pytest.mark.parametrize(
    "name",
    [
        "Bundle-SurgicalRequestBundleExample",
        "Bundle-ReferralAuthorizationBundleExample",
        "Bundle-HomecareAuthorizationUpdateBundleExample",
        "Bundle-PASClaimInquiryBundleExample",
    ],
)
def test_mutated_real_bundles_never_get_a_server_error(api_a, name):
    from reviews.models import Member

    Member.objects.create(
        member_id="1122334455", first_name="Joe", last_name="Smith", birth_date="1960-01-01"
    )
    base = fhir_example(name)
    url = INQUIRE if "Inquiry" in name else SUBMIT
    paths = [p for p in _leaves(base) if p]
    rng = random.Random(name)
    for _ in range(60):
        bundle = copy.deepcopy(base)
        path = rng.choice(paths)
        _set(bundle, path, copy.deepcopy(rng.choice(ODD_VALUES)))
        response = post_fhir(api_a, url, bundle)
        assert response.status_code < 500, (path, response.content[:500])
        assert response.json()["resourceType"] in {"Bundle", "Parameters", "OperationOutcome"}


def test_mutated_subscriptions_never_get_a_server_error(api_a, org_a, settings):
    # Private endpoints allowed, so mutations reach past the address check; no handshake can
    # succeed (nothing listens on port 9), so every stored subscription is in error.
    settings.FHIR_SUBSCRIPTION_PRIVATE_ENDPOINTS = True
    base = fhir_example("Subscription-PASSubscriptionExample")
    base["_criteria"]["extension"][0]["valueString"] = f"org-identifier={org_a.npi}"
    base["channel"]["endpoint"] = "http://127.0.0.1:9/hook"
    base["channel"]["header"] = ["Authorization: Bearer x"]
    values = [*ODD_VALUES, "9999-12-31T23:00:00-14:00", "0001-01-01T00:00:00+14:00"]
    paths = [p for p in _leaves(base) if p]
    rng = random.Random(20261202)
    created = post_fhir(api_a, "/fhir/Subscription", base)
    assert created.status_code == 201, created.content
    url = f"/fhir/Subscription/{created.json()['id']}"
    for n in range(120):
        body = copy.deepcopy(base)
        path = rng.choice(paths)
        _set(body, path, copy.deepcopy(rng.choice(values)))
        if n % 2:
            body["id"] = created.json()["id"]
            response = api_a.generic(
                "PUT", url, json.dumps(body), content_type="application/fhir+json"
            )
        else:
            response = post_fhir(api_a, "/fhir/Subscription", body)
        assert response.status_code < 500, (path, response.content[:500])
        assert response.json()["resourceType"] in {"Subscription", "OperationOutcome"}
        assert api_a.get(url).status_code in {200}
        assert api_a.get(f"{url}/$status").status_code == 200


def test_infinite_numbers_are_refused(api_a):
    bundle = bundle_from_request(
        example("fusion-spondylolisthesis-short-therapy"), family="spinal_fusion"
    )
    bundle["entry"][0]["resource"]["item"][0]["quantity"] = {"value": 12345}
    raw = json.dumps(bundle).replace("12345", "1e999")
    response = post_fhir(api_a, SUBMIT, raw)
    assert response.status_code == 400
    assert "out of range" in response.json()["issue"][0]["diagnostics"]
