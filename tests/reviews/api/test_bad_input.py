"""Bad input gets a 4xx in one shape ({"code", "message", "fields"}) and stores nothing."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from reviews.models import (
    Attachment,
    AuditEvent,
    IdempotencyRecord,
    Member,
    PriorAuthRequest,
)
from tests.conftest import example, post_json, token_client

URL = "/api/v1/requests/"


def row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (PriorAuthRequest, Member, Attachment, AuditEvent, IdempotencyRecord)
    }


def esi() -> dict:
    return example("esi-lumbar-radiculopathy")


def days_from_today(days: int) -> str:
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def change(path: str, value):
    """A mutation of the ESI example: set the value at a dotted path ("clinical.bmi")."""

    def apply(body: dict) -> dict:
        *parents, last = path.split(".")
        target = body
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
        return body

    return apply


def remove(path: str):
    def apply(body: dict) -> dict:
        *parents, last = path.split(".")
        target = body
        for key in parents:
            target = target[key]
        del target[last]
        return body

    return apply


# (case id, mutation, the field path that must carry the error)
BAD_FIELDS = [
    # CPT codes
    ("cpt_not_a_code", change("service.cpt_codes", ["6448"]), "service.cpt_codes[0]"),
    ("cpt_letters", change("service.cpt_codes", ["ABCDE"]), "service.cpt_codes[0]"),
    ("cpt_none", change("service.cpt_codes", []), "service.cpt_codes"),
    (
        "cpt_two_families",
        change("service.cpt_codes", ["64483", "64635"]),
        "service.cpt_codes",
    ),
    (
        "cpt_covered_with_uncovered",
        change("service.cpt_codes", ["64483", "62380"]),
        "service.cpt_codes",
    ),
    ("cpt_add_on_alone", change("service.cpt_codes", ["64484"]), "service.cpt_codes"),
    ("cpt_decompression_alone", change("service.cpt_codes", ["63047"]), "service.cpt_codes"),
    # ICD-10-CM
    ("icd_category", change("diagnosis_codes", ["M54.5"]), "diagnosis_codes[0]"),
    ("icd_nonsense", change("diagnosis_codes", ["M51.17", "XYZ.1"]), "diagnosis_codes[1]"),
    ("icd_none", change("diagnosis_codes", []), "diagnosis_codes"),
    # NPI
    ("npi_check_digit", change("requesting_provider.npi", "1679576723"), "requesting_provider.npi"),
    ("npi_short", change("requesting_provider.npi", "167957672"), "requesting_provider.npi"),
    # Dates in the future or out of order
    (
        "onset_in_future",
        change("clinical.symptom_onset_date", days_from_today(1)),
        "clinical.symptom_onset_date",
    ),
    (
        "imaging_in_future",
        change("clinical.imaging.0.date", days_from_today(30)),
        "clinical.imaging[0].date",
    ),
    ("birth_in_future", change("member.birth_date", days_from_today(1)), "member.birth_date"),
    (
        "therapy_ends_before_it_starts",
        change("clinical.conservative_care.0.end_date", "2026-08-01"),
        "clinical.conservative_care[0].end_date",
    ),
    (
        "onset_before_birth",
        change("clinical.symptom_onset_date", "1960-01-01"),
        "clinical.symptom_onset_date",
    ),
    (
        "planned_before_today",
        change("service.planned_date", days_from_today(-1)),
        "service.planned_date",
    ),
    ("date_not_iso", change("member.birth_date", "04/02/1971"), "member.birth_date"),
    (
        "date_impossible",
        change("clinical.symptom_onset_date", "2026-02-30"),
        "clinical.symptom_onset_date",
    ),
    (
        "current_smoker_nicotine_free",
        lambda b: {
            **b,
            "clinical": {
                **b["clinical"],
                "smoking_status": "current",
                "nicotine_free_since": "2020-01-01",
            },
        },
        "clinical.nicotine_free_since",
    ),
    # Negative or absurd values
    ("nrs_above_10", change("clinical.pain_score_nrs", 11), "clinical.pain_score_nrs"),
    ("nrs_negative", change("clinical.pain_score_nrs", -1), "clinical.pain_score_nrs"),
    ("nrs_as_text", change("clinical.pain_score_nrs", "7"), "clinical.pain_score_nrs"),
    ("vas_above_100", change("clinical.pain_score_vas_mm", 101), "clinical.pain_score_vas_mm"),
    ("bmi_below_10", change("clinical.bmi", 9.9), "clinical.bmi"),
    ("bmi_above_90", change("clinical.bmi", 90.5), "clinical.bmi"),
    (
        "odi_above_100",
        change("clinical.function_scale", {"instrument": "odi", "score": 101}),
        "clinical.function_scale.score",
    ),
    (
        "rdq_above_24",
        change("clinical.function_scale", {"instrument": "rdq", "score": 25}),
        "clinical.function_scale.score",
    ),
    (
        "motor_grade_6",
        change("clinical.neurological.motor_grade_mrc", 6),
        "clinical.neurological.motor_grade_mrc",
    ),
    (
        "negative_visits",
        change("clinical.conservative_care.0.visits", -3),
        "clinical.conservative_care[0].visits",
    ),
    ("zero_units", change("service.units", 0), "service.units"),
    (
        "relief_above_100",
        change(
            "clinical.prior_procedures",
            [{"cpt_code": "64483", "date": "2026-01-05", "relief_percent": 120}],
        ),
        "clinical.prior_procedures[0].relief_percent",
    ),
    (
        "nrs_score_above_scale",
        change(
            "clinical.prior_procedures",
            [{"cpt_code": "64483", "pain_scale": "nrs", "baseline_score": 70, "post_score": 10}],
        ),
        "clinical.prior_procedures[0].baseline_score",
    ),
    (
        "temperature_absurd",
        change("clinical.labs", [{"test": "temperature_c", "value": 98.6}]),
        "clinical.labs[0].value",
    ),
    (
        "culture_as_number",
        change("clinical.labs", [{"test": "blood_culture", "value": 1}]),
        "clinical.labs[0].value",
    ),
    ("boolean_as_text", change("clinical.red_flags.fever", "no"), "clinical.red_flags.fever"),
    # Unknown enumeration values
    ("urgency_unknown", change("urgency", "urgent"), "urgency"),
    ("line_of_business_unknown", change("line_of_business", "ppo"), "line_of_business"),
    ("sex_unknown", change("member.sex", "f"), "member.sex"),
    ("region_unknown", change("service.spinal_region", "lower_back"), "service.spinal_region"),
    ("laterality_unknown", change("service.laterality", "both"), "service.laterality"),
    ("guidance_unknown", change("service.image_guidance", "xray"), "service.image_guidance"),
    (
        "modality_unknown",
        change("clinical.conservative_care.0.modality", "yoga"),
        "clinical.conservative_care[0].modality",
    ),
    (
        "finding_unknown",
        change("clinical.imaging.0.findings", ["disc_herniation", "bulge"]),
        "clinical.imaging[0].findings[1]",
    ),
    ("attachment_kind_unknown", change("attachments.0.kind", "letter"), "attachments[0].kind"),
    ("level_not_a_level", change("service.levels", ["L5/S1"]), "service.levels[0]"),
    ("level_upside_down", change("service.levels", ["S1-L5"]), "service.levels[0]"),
    # Unknown keys: a typo must not silently become "unknown"
    ("unknown_top_level_key", lambda b: {**b, "urgancy": "standard"}, "urgancy"),
    (
        "unknown_clinical_key",
        lambda b: {**b, "clinical": {**b["clinical"], "pain_score": 7}},
        "clinical.pain_score",
    ),
    (
        "unknown_red_flag",
        change("clinical.red_flags.cauda_equina_syndrome", False),
        "clinical.red_flags.cauda_equina_syndrome",
    ),
    (
        "unknown_key_in_a_list_item",
        change("clinical.conservative_care.0.weeks", 8),
        "clinical.conservative_care[0].weeks",
    ),
    # Missing and oversized
    ("member_missing", remove("member"), "member"),
    ("urgency_missing", remove("urgency"), "urgency"),
    ("npi_missing", remove("requesting_provider.npi"), "requesting_provider.npi"),
    (
        "attachment_too_long",
        change("attachments.0.text", "x" * 200_001),
        "attachments[0].text",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "field"), [case[1:] for case in BAD_FIELDS], ids=[case[0] for case in BAD_FIELDS]
)
def test_bad_field_is_refused_with_its_path_and_nothing_stored(api_a, mutate, field):
    body = mutate(esi())
    before = row_counts()

    response = post_json(api_a, URL, body)

    assert response.status_code == 400, response.content
    data = response.json()
    assert set(data) == {"code", "message", "fields"}
    assert data["code"] == "invalid"
    assert field in data["fields"], data["fields"]
    assert all(isinstance(m, str) and m for m in data["fields"][field])
    assert row_counts() == before


def test_every_error_is_reported_at_once(api_a):
    body = esi()
    body["clinical"]["pain_score_nrs"] = 12
    body["clinical"]["bmi"] = 5
    body["requesting_provider"]["npi"] = "1234567890"

    response = post_json(api_a, URL, body)

    assert response.status_code == 400
    assert {
        "clinical.pain_score_nrs",
        "clinical.bmi",
        "requesting_provider.npi",
    } <= set(response.json()["fields"])


def test_a_member_id_on_file_with_another_birth_date_is_refused(api_a):
    assert post_json(api_a, URL, esi()).status_code == 201
    body = esi()
    body["member"]["birth_date"] = "1972-04-02"
    before = row_counts()

    response = post_json(api_a, URL, body)

    assert response.status_code == 400
    assert "member.birth_date" in response.json()["fields"]
    assert row_counts() == before


def test_a_body_that_is_not_an_object_is_refused(api_a):
    before = row_counts()

    response = post_json(api_a, URL, [esi()])

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["fields"]
    assert row_counts() == before


def test_malformed_json_is_a_400(api_a):
    before = row_counts()

    response = post_json(api_a, URL, '{"urgency": "standard",')

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert set(response.json()) == {"code", "message", "fields"}
    assert row_counts() == before


def test_a_body_over_one_mebibyte_is_a_413(api_a):
    body = esi()
    body["attachments"] = [
        {"kind": "clinical_note", "text": "x" * 190_000} for _ in range(6)
    ]  # each within its own limit, together over 1 MiB
    raw = json.dumps(body)
    assert len(raw) > 1024 * 1024
    before = row_counts()

    response = post_json(api_a, URL, raw)

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert row_counts() == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_non_json_content_type_is_a_415(api_a, content_type):
    before = row_counts()

    response = api_a.post(
        URL, data=json.dumps(esi()), content_type=content_type, HTTP_IDEMPOTENCY_KEY="k-415"
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert row_counts() == before


def test_no_token_is_a_401(db):
    from rest_framework.test import APIClient

    before = row_counts()

    response = post_json(APIClient(), URL, esi())

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.has_header("WWW-Authenticate")
    assert row_counts() == before


def test_an_invalid_token_is_a_401(db):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    assert client.get(URL).status_code == 401
    assert post_json(client, URL, esi()).status_code == 401


def test_a_reviewer_token_is_a_403(nurse):
    before = row_counts()

    response = post_json(token_client(nurse), URL, esi())

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert token_client(nurse).get(URL).status_code == 403
    assert row_counts() == before


def test_a_missing_idempotency_key_is_a_400(api_a):
    before = row_counts()

    response = api_a.post(URL, data=json.dumps(esi()), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert "Idempotency-Key" in response.json()["fields"]
    assert row_counts() == before


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=finished", "status"),
        ("urgency=urgent", "urgency"),
        ("procedure_family=massage", "procedure_family"),
        ("received_after=yesterday", "received_after"),
    ],
)
def test_an_invalid_list_filter_is_a_400(api_a, query, field):
    response = api_a.get(f"{URL}?{query}")

    assert response.status_code == 400
    assert field in response.json()["fields"]
