"""No input makes the FHIR endpoints fail with a server error."""

import copy
import random

import pytest

from tests.conftest import example
from tests.pas.conftest import INQUIRE, SUBMIT, bundle_from_request, post_fhir

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
        assert response.json()["resourceType"] in {"Bundle", "OperationOutcome"}


def test_infinite_numbers_are_refused(api_a):
    import json

    bundle = bundle_from_request(
        example("fusion-spondylolisthesis-short-therapy"), family="spinal_fusion"
    )
    bundle["entry"][0]["resource"]["item"][0]["quantity"] = {"value": 12345}
    raw = json.dumps(bundle).replace("12345", "1e999")
    response = post_fhir(api_a, SUBMIT, raw)
    assert response.status_code == 400
    assert "out of range" in response.json()["issue"][0]["diagnostics"]
