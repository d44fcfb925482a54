"""The request fields the criteria of issue 13 read are part of the intake contract (REQUEST.md):
accepted with their documented range, refused outside it, each with a description."""

import copy

import pytest

from reviews.contract import IMAGING_FINDINGS, RequestCreateInput

from .conftest import load_example


def fusion_body() -> dict:
    return load_example("fusion-spondylolisthesis-short-therapy")


def errors_of(body: dict) -> dict:
    serializer = RequestCreateInput(data=body)
    serializer.is_valid()
    return serializer.errors


def test_the_new_fields_are_accepted_and_kept():
    body = fusion_body()
    body["service"]["facet_resection_percent"] = 60
    body["clinical"]["prior_discectomy_levels"] = ["L4-L5"]
    body["clinical"]["oncology"] = {
        "metastatic_disease": True,
        "radiotherapy_to_level": True,
        "recurrence_after_radiotherapy": True,
    }
    body["clinical"]["imaging"][0]["findings"].append("marrow_replacement")
    serializer = RequestCreateInput(data=body)
    assert serializer.is_valid(), serializer.errors
    data = serializer.validated_data
    assert data["service"]["facet_resection_percent"] == 60
    assert data["clinical"]["prior_discectomy_levels"] == ["L4-L5"]
    assert data["clinical"]["oncology"]["recurrence_after_radiotherapy"] is True
    assert "marrow_replacement" in data["clinical"]["imaging"][0]["findings"]
    assert "marrow_replacement" in IMAGING_FINDINGS


@pytest.mark.parametrize(
    ("where", "value", "path"),
    [
        (("service", "facet_resection_percent"), 101, "service"),
        (("service", "facet_resection_percent"), "60", "service"),
        (("clinical", "prior_discectomy_levels"), ["L4L5"], "clinical"),
        (("clinical", "prior_discectomy_levels"), ["L5-L4"], "clinical"),
    ],
)
def test_the_new_fields_refuse_what_is_outside_their_range(where, value, path):
    body = fusion_body()
    body[where[0]][where[1]] = value
    errors = errors_of(body)
    assert where[1] in errors[path]


def test_recurrence_after_radiotherapy_is_true_or_false_only():
    body = fusion_body()
    body["clinical"]["oncology"] = {"recurrence_after_radiotherapy": "yes"}
    assert "recurrence_after_radiotherapy" in errors_of(body)["clinical"]["oncology"]


def test_omitted_new_fields_are_unknown_not_no():
    body = copy.deepcopy(fusion_body())
    serializer = RequestCreateInput(data=body)
    assert serializer.is_valid(), serializer.errors
    assert "facet_resection_percent" not in serializer.validated_data["service"]
    assert "prior_discectomy_levels" not in serializer.validated_data["clinical"]


def test_every_new_field_is_described():
    service = RequestCreateInput().fields["service"].fields
    clinical = RequestCreateInput().fields["clinical"].fields
    oncology = clinical["oncology"].fields
    for field in (
        service["facet_resection_percent"],
        clinical["prior_discectomy_levels"],
        oncology["recurrence_after_radiotherapy"],
    ):
        assert field.help_text
