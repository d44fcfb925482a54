"""The engine, family by family: boundary values on both sides of every threshold, no database.

Each case starts from facts that meet every criterion of the family (the shared examples, made
approvable where needed) and changes only what the case is about.
"""

import copy
from datetime import date

import pytest

from criteria.engine import (
    APPROVE,
    NOT_APPLICABLE,
    NURSE,
    PEND,
    PHYSICIAN,
    add_months,
    evaluate,
    no_policy_outcome,
)

from .conftest import (
    REVIEW_DATE,
    content_for,
    facet_block_body,
    facts_of,
    load_example,
    vertebral_augmentation_body,
)

MET, NOT_MET, UNKNOWN = "met", "not_met", "insufficient_information"


def _fusion_body() -> dict:
    """The fusion example with 6 weeks of PT, a never-smoker and every red flag answered."""
    body = load_example("fusion-spondylolisthesis-short-therapy")
    # 42 days of PT at two visits a week (a visit carries at most a week of the course)
    body["clinical"]["conservative_care"][0].update(start_date="2026-10-06", visits=12)
    body["clinical"]["smoking_status"] = "never"
    body["clinical"]["red_flags"].update(
        recent_bacteremia=False,
        iv_drug_use=False,
        immunosuppression=False,
        dialysis_or_diabetes=False,
        night_pain=False,
    )
    return body


BASES = {
    "epidural_steroid_injection": lambda: load_example("esi-lumbar-radiculopathy"),
    "radiofrequency_ablation": lambda: load_example("rfa-lumbar-after-two-blocks"),
    "spinal_fusion": _fusion_body,
    "vertebral_augmentation": vertebral_augmentation_body,
    "facet_injection": facet_block_body,
}
_BASE_FACTS = {family: facts_of(build()) for family, build in BASES.items()}


def run(family: str, changes: dict, profile: str = "baseline", review_date: date = REVIEW_DATE):
    facts = copy.deepcopy(_BASE_FACTS[family])
    unknown = set(changes) - set(facts)
    assert not unknown, f"not in the vocabulary: {unknown}"
    facts.update(changes)
    return evaluate(content_for(family, profile), facts, review_date=review_date)


def answer(outcome, cid: str) -> str:
    return next(r["answer"] for r in outcome.results if r["id"] == cid)


@pytest.mark.parametrize("family", sorted(BASES))
def test_every_base_request_is_approved(family):
    outcome = run(family, {})
    assert outcome.recommendation == APPROVE, [
        (r["id"], r["answer"], r["explanation"]) for r in outcome.results if r["decisive"]
    ]


ESI = "epidural_steroid_injection"
RFA = "radiofrequency_ablation"
FACET = "facet_injection"
FUSION = "spinal_fusion"
VA = "vertebral_augmentation"
REPEAT_ESI = {"esi.is_repeat": True, "esi.last_same_scale": True, "esi.days_since_last": 120}
PRIOR_RFA = {
    "rfa.prior_count": 1,
    "rfa.last_date": add_months(REVIEW_DATE, -8),
    "rfa.last_same_scale": True,
    "facet.diagnostic_blocks_prior": 0,
}
METASTATIC = {
    "oncology.metastatic_indication": True,
    "oncology.ecog": 1,
    "oncology.sins_score": 9,
}
HOSPITALIZED = {"fracture.hospitalized": True}

BOUNDARIES = [
    # ESI-04 pain >= 4 weeks; ESI-05 conservative care >= 4 weeks (27 / 28 days)
    (ESI, {"symptoms.duration_days": 27}, "ESI-04", NOT_MET),
    (ESI, {"symptoms.duration_days": 28}, "ESI-04", MET),
    (ESI, {"conservative_care.failed_days": 27}, "ESI-05", NOT_MET),
    (ESI, {"conservative_care.failed_days": 28}, "ESI-05", MET),
    # ESI-10: 4 and 5 sessions in a rolling 12 months
    (ESI, {"esi.sessions_rolling_12_months": 4}, "ESI-10", MET),
    (ESI, {"esi.sessions_rolling_12_months": 5}, "ESI-10", NOT_MET),
    # ESI-08: a repeat after 49 / 50 % relief, for 2 / 3 months
    (
        ESI,
        {**REPEAT_ESI, "esi.last_relief_percent": 50, "esi.last_relief_months": 3},
        "ESI-08",
        MET,
    ),
    (
        ESI,
        {**REPEAT_ESI, "esi.last_relief_percent": 50, "esi.last_relief_months": 2},
        "ESI-08",
        NOT_MET,
    ),
    (
        ESI,
        {**REPEAT_ESI, "esi.last_relief_percent": 49, "esi.last_relief_months": 6},
        "ESI-08",
        NOT_APPLICABLE,
    ),
    # ESI-09: after a failed one (49 %), 13 / 14 days later with a documented change
    (
        ESI,
        {
            **REPEAT_ESI,
            "esi.last_relief_percent": 49,
            "esi.days_since_last": 13,
            "service.change_from_prior_documented": True,
        },
        "ESI-09",
        NOT_MET,
    ),
    (
        ESI,
        {
            **REPEAT_ESI,
            "esi.last_relief_percent": 49,
            "esi.days_since_last": 14,
            "service.change_from_prior_documented": True,
        },
        "ESI-09",
        MET,
    ),
    (
        ESI,
        {
            **REPEAT_ESI,
            "esi.last_relief_percent": 49,
            "esi.days_since_last": 14,
            "service.change_from_prior_documented": False,
        },
        "ESI-09",
        NOT_MET,
    ),
    (ESI, {**REPEAT_ESI, "esi.last_relief_percent": 50}, "ESI-09", NOT_APPLICABLE),
    # ESI-07 level limits
    (ESI, {"service.level_count": 2}, "ESI-07", MET),
    (ESI, {"service.level_count": 3}, "ESI-07", NOT_MET),
    (
        ESI,
        {
            "service.approach": "interlaminar",
            "service.level_count": 1,
            "service.laterality": "bilateral",
        },
        "ESI-07",
        NOT_MET,
    ),
    # ESI-06: no contrast is met only with a documented contrast allergy
    (ESI, {"service.contrast": False}, "ESI-06", UNKNOWN),
    (
        ESI,
        {
            "service.contrast": False,
            "contraindications.contrast_or_cement_allergy": False,
            "pregnancy.pregnant": False,
        },
        "ESI-06",
        NOT_MET,
    ),
    (
        ESI,
        {"service.contrast": False, "contraindications.contrast_or_cement_allergy": True},
        "ESI-06",
        MET,
    ),
    (ESI, {"pain.type": "axial"}, "ESI-11", NOT_MET),
    (ESI, {"red_flags.fever": True}, "ESI-12", NOT_MET),
    # FJ-06: two blocks, each 79 / 80 %
    (RFA, {"facet.last_block_relief_percent": 79}, "FJ-06", NOT_MET),
    (
        RFA,
        {"facet.last_block_relief_percent": 80, "facet.previous_block_relief_percent": 80},
        "FJ-06",
        MET,
    ),
    (RFA, {"facet.previous_block_relief_percent": 79.9}, "FJ-06", NOT_MET),
    (
        RFA,
        {"facet.diagnostic_blocks_prior": 1, "facet.previous_block_relief_percent": None},
        "FJ-06",
        NOT_MET,
    ),
    # FJ-05 (ablation): the blocks 13 / 14 days apart
    (RFA, {"facet.days_between_last_two_blocks": 13}, "FJ-05", NOT_MET),
    (RFA, {"facet.days_between_last_two_blocks": 14}, "FJ-05", MET),
    # FJ-07: a repeat ablation within 2 years after 49 / 50 % for 5 / 6 months
    (RFA, {**PRIOR_RFA, "rfa.last_relief_percent": 50, "rfa.last_relief_months": 6}, "FJ-07", MET),
    (
        RFA,
        {**PRIOR_RFA, "rfa.last_relief_percent": 49, "rfa.last_relief_months": 6},
        "FJ-07",
        NOT_MET,
    ),
    (
        RFA,
        {**PRIOR_RFA, "rfa.last_relief_percent": 50, "rfa.last_relief_months": 5},
        "FJ-07",
        NOT_MET,
    ),
    (
        RFA,
        {**PRIOR_RFA, "rfa.last_relief_percent": 50, "rfa.last_relief_months": 6},
        "FJ-06",
        NOT_APPLICABLE,
    ),
    # FJ-08: exactly 24 months since the last ablation is not "more than 2 years"
    (RFA, {**PRIOR_RFA, "rfa.last_date": add_months(REVIEW_DATE, -24)}, "FJ-08", NOT_APPLICABLE),
    (RFA, {**PRIOR_RFA, "rfa.last_date": date(2024, 11, 22)}, "FJ-08", NOT_MET),
    (RFA, {**PRIOR_RFA, "rfa.last_date": date(2024, 11, 22)}, "FJ-07", NOT_APPLICABLE),
    # FJ-09 (ablation): 2 / 3 sessions in a rolling 12 months
    (RFA, {"rfa.sessions_rolling_12_months": 2}, "FJ-09", MET),
    (RFA, {"rfa.sessions_rolling_12_months": 3}, "FJ-09", NOT_MET),
    # FJ-02: pain since exactly 3 calendar months before the review date, and one day less
    (RFA, {"symptoms.onset_date": date(2026, 8, 23)}, "FJ-02", MET),
    (RFA, {"symptoms.onset_date": date(2026, 8, 24)}, "FJ-02", NOT_MET),
    (RFA, {"service.technique": "pulsed_rfa"}, "FJ-11", NOT_MET),
    (RFA, {"service.level_count": 3}, "FJ-10", NOT_MET),
    # facet injection: FJ-09 4 / 5 diagnostic sessions; FJ-05 second block 79 / 80 %, 13 / 14 days
    (FACET, {"facet.diagnostic_sessions_rolling_12_months": 4}, "FJ-09", MET),
    (FACET, {"facet.diagnostic_sessions_rolling_12_months": 5}, "FJ-09", NOT_MET),
    (FACET, {"facet.therapeutic_sessions_rolling_12_months": 5}, "FJ-09", NOT_MET),
    (
        FACET,
        {
            "facet.diagnostic_blocks_prior": 1,
            "facet.last_block_relief_percent": 80,
            "facet.days_since_last_block": 14,
            "facet.last_block_same_scale": True,
            "facet.last_block_duration_reported": False,
        },
        "FJ-05",
        MET,
    ),
    (
        FACET,
        {
            "facet.diagnostic_blocks_prior": 1,
            "facet.last_block_relief_percent": 79,
            "facet.days_since_last_block": 14,
            "facet.last_block_same_scale": True,
            "facet.last_block_duration_reported": False,
        },
        "FJ-05",
        NOT_MET,
    ),
    (
        FACET,
        {
            "facet.diagnostic_blocks_prior": 1,
            "facet.last_block_relief_percent": 80,
            "facet.days_since_last_block": 13,
            "facet.last_block_same_scale": True,
            "facet.last_block_duration_reported": False,
        },
        "FJ-05",
        NOT_MET,
    ),
    (FACET, {"service.third_level_addon": True}, "FJ-10", NOT_MET),
    (FACET, {"facet.block_at_successful_rfa_level": True}, "FJ-11", NOT_MET),
    # FU-03: 41 / 42 days of PT; FU-06: nicotine-free 41 / 42 days
    (FUSION, {"conservative_care.physical_therapy_days": 41}, "FU-03", NOT_MET),
    (FUSION, {"conservative_care.physical_therapy_days": 42}, "FU-03", MET),
    (FUSION, {"smoking.status": "former", "nicotine.free_days": 41}, "FU-06", NOT_MET),
    (FUSION, {"smoking.status": "former", "nicotine.free_days": 42}, "FU-06", MET),
    (
        FUSION,
        {"smoking.status": "former", "nicotine.free_days": 10, "nicotine.cotinine_ng_ml": 10},
        "FU-06",
        MET,
    ),
    (FUSION, {"smoking.status": "current"}, "FU-06", NOT_MET),
    (FUSION, {"smoking.status": None}, "FU-06", UNKNOWN),
    # FU-10: life expectancy 3 (not "> 3") and 4 months
    (FUSION, {**METASTATIC, "oncology.life_expectancy_months": 3}, "FU-10", NOT_MET),
    (FUSION, {**METASTATIC, "oncology.life_expectancy_months": 4}, "FU-10", MET),
    (FUSION, {**METASTATIC, "oncology.life_expectancy_months": None}, "FU-10", UNKNOWN),
    # FU-05: imaging exactly 12 months old is recent enough, a day more is not
    (FUSION, {"imaging.latest_advanced_date": add_months(REVIEW_DATE, -12)}, "FU-05", MET),
    (FUSION, {"imaging.latest_advanced_date": date(2025, 11, 22)}, "FU-05", NOT_MET),
    (
        FUSION,
        {
            "imaging.findings": ["disc_herniation", "nerve_root_compression"],
            "imaging.max_translation_mm": None,
        },
        "FU-01",
        NOT_MET,
    ),
    (
        FUSION,
        {
            "imaging.findings": ["disc_herniation", "nerve_root_compression"],
            "imaging.max_translation_mm": None,
        },
        "FU-02",
        NOT_MET,
    ),
    (FUSION, {"service.spinal_region": "cervical", "pain.type": "axial"}, "FU-12", NOT_MET),
    # VA-02: outpatient NRS 4 / 5, inpatient NRS 7 / 8
    (VA, {"pain.score": 4}, "VA-02", NOT_MET),
    (VA, {"pain.score": 5}, "VA-02", MET),
    (VA, {**HOSPITALIZED, "pain.score": 7}, "VA-02", NOT_MET),
    (VA, {**HOSPITALIZED, "pain.score": 8}, "VA-02", MET),
    (VA, {"pain.score": 6, "fracture.hospitalized": None}, "VA-02", UNKNOWN),
    # VA-01: a fracture 84 / 85 days old (12 weeks)
    (VA, {"fracture.age_days": 84}, "VA-01", MET),
    (VA, {"fracture.age_days": 85}, "VA-01", NOT_MET),
    (VA, {"fracture.mri_marrow_edema": None}, "VA-01", UNKNOWN),
    (VA, {"fracture.level_in_range": False}, "VA-01", NOT_MET),
    # VA-03: two of the structural signs, or worsening pain
    (
        VA,
        {"pain.worsening": False, "fracture.progressive_height_loss": False},
        "VA-03",
        UNKNOWN,
    ),  # RDQ could be the second sign
    (
        VA,
        {
            "pain.worsening": False,
            "fracture.progressive_height_loss": False,
            "function.rdq_score": 10,
        },
        "VA-03",
        NOT_MET,
    ),
    (VA, {"pain.worsening": True, "fracture.progressive_height_loss": False}, "VA-03", MET),
    (
        VA,
        {"pain.worsening": False, "fracture.height_loss_percent": 25, "function.rdq_score": 17},
        "VA-03",
        NOT_MET,
    ),
    (
        VA,
        {"pain.worsening": False, "function.rdq_score": 18, "fracture.height_loss_percent": 10},
        "VA-03",
        MET,
    ),
    # VA-06: pregnancy must be known for a female member aged 12 to 55
    (VA, {"member.age_years": 55, "pregnancy.pregnant": None}, "VA-06", UNKNOWN),
    (VA, {"member.age_years": 56, "pregnancy.pregnant": None}, "VA-06", MET),
    (VA, {"member.age_years": 40, "member.sex": "male", "pregnancy.pregnant": None}, "VA-06", MET),
    (VA, {"member.age_years": 40, "pregnancy.pregnant": True}, "VA-06", NOT_MET),
    # VA: a metastatic lesion is its own indication, not held to VA-01/03/04
    (VA, {"fracture.etiology": "metastatic"}, "VA-01", NOT_APPLICABLE),
    (VA, {"fracture.etiology": "metastatic"}, "VA-04", NOT_APPLICABLE),
    (VA, {"fracture.etiology": "metastatic"}, "VA-05", NOT_MET),
    (VA, {"fracture.etiology": "osteoporotic"}, "VA-05", NOT_APPLICABLE),
]


@pytest.mark.parametrize(("family", "changes", "criterion", "expected"), BOUNDARIES)
def test_threshold(family, changes, criterion, expected):
    assert answer(run(family, changes), criterion) == expected


OUTCOMES = [
    # one decisive criterion not met -> physician review, with that criterion as the reason
    (ESI, {"symptoms.duration_days": 27}, PHYSICIAN, ["ESI-04"]),
    (FUSION, {"conservative_care.physical_therapy_days": 41}, PHYSICIAN, ["FU-03"]),
    (FUSION, {**METASTATIC, "oncology.life_expectancy_months": 3}, PHYSICIAN, ["FU-10"]),
    (FUSION, {**METASTATIC, "oncology.life_expectancy_months": 4}, APPROVE, []),
    # just above the threshold is a physician's call (criteria.md 7.9)
    (FUSION, {**METASTATIC, "oncology.life_expectancy_months": 3.5}, PHYSICIAN, ["FU-10"]),
    # a red flag that makes the injection unsafe comes first among the reasons
    (
        ESI,
        {"red_flags.fever": True, "symptoms.duration_days": 27},
        PHYSICIAN,
        ["GEN-01", "ESI-04", "ESI-12"],
    ),
    # missing facts pend with the exact list; advisory criteria never change the outcome
    (ESI, {"symptoms.duration_days": None}, PEND, []),
    (FUSION, {"psych.unmanaged_disorder": True, "body.bmi": None}, APPROVE, []),
    # documentation a nurse can settle
    (ESI, {"conservative_care.active_rehab_ongoing": False}, NURSE, ["ESI-13"]),
    (VA, {"fracture.bone_density_referral": False}, NURSE, ["VA-04"]),
    (VA, {"contraindications.coagulopathy": True}, PHYSICIAN, ["VA-07"]),
    (
        VA,
        {
            "fracture.etiology": "metastatic",
            "oncology.neoplasm_declared": True,
            "diagnosis.codes": ["C79.51", "M84.58XA"],
            "red_flags.cancer_history": True,
            "red_flags.malignancy_workup_complete": True,
            "oncology.epidural_tumor_abuts_cord": True,
        },
        PHYSICIAN,
        ["VA-08"],
    ),
    (
        VA,
        {
            "fracture.etiology": "myeloma",
            "oncology.neoplasm_declared": True,
            "diagnosis.codes": ["C90.00", "M84.58XA"],
            "red_flags.cancer_history": True,
            "red_flags.malignancy_workup_complete": True,
            "oncology.epidural_tumor_abuts_cord": False,
        },
        APPROVE,
        [],
    ),
    (
        FACET,
        {
            "service.block_intent": "therapeutic",
            "facet.diagnostic_blocks_prior": 2,
            "facet.last_block_relief_percent": 90,
            "facet.previous_block_relief_percent": 85,
            "facet.last_block_same_scale": True,
            "facet.prior_therapeutic_count": 0,
            "facet.last_block_duration_reported": False,
            "facet.previous_block_duration_reported": False,
        },
        NURSE,
        ["FJ-12"],
    ),
]


@pytest.mark.parametrize(("family", "changes", "recommendation", "reasons"), OUTCOMES)
def test_recommendation(family, changes, recommendation, reasons):
    outcome = run(family, changes)
    assert outcome.recommendation == recommendation
    assert [r["criterion"] for r in outcome.reasons] == reasons


def test_pend_lists_exactly_what_is_missing_and_which_criterion_needs_it():
    outcome = run(ESI, {"symptoms.duration_days": None, "service.image_guidance": None})
    assert outcome.recommendation == PEND
    assert [(m["field"], m["fact"], m["criterion"]) for m in outcome.missing_information] == [
        ("clinical.symptom_onset_date", "symptoms.duration_days", "ESI-04"),
        ("service.image_guidance", "service.image_guidance", "ESI-06"),
    ]
    assert all(m["why"] for m in outcome.missing_information)


def test_decisive_not_met_wins_over_missing_information():
    outcome = run(ESI, {"symptoms.duration_days": 27, "service.image_guidance": None})
    assert outcome.recommendation == PHYSICIAN
    assert [m["fact"] for m in outcome.missing_information] == ["service.image_guidance"]


def test_a_waiver_lifts_conservative_care_and_nicotine_but_never_the_indication():
    # given cauda equina (GEN-03) in a fusion request with 3 weeks of PT and a current smoker
    changes = {
        "red_flags.cauda_equina": True,
        "conservative_care.physical_therapy_days": 21,
        "smoking.status": "current",
    }
    outcome = run(FUSION, changes)
    assert answer(outcome, "FU-04") == MET
    assert answer(outcome, "FU-03") == NOT_APPLICABLE
    assert answer(outcome, "FU-06") == NOT_APPLICABLE
    # the red flag itself is decisive: it waives care but a physician reads the case
    assert outcome.red_flags == ["GEN-03"]
    assert outcome.recommendation == PHYSICIAN
    assert [r["criterion"] for r in outcome.reasons] == ["GEN-03"]
    # without an indication the waiver does not help
    outcome = run(
        FUSION,
        {**changes, "imaging.findings": ["disc_herniation"], "imaging.max_translation_mm": None},
    )
    assert outcome.recommendation == PHYSICIAN
    assert "FU-01" in [r["criterion"] for r in outcome.reasons]


def test_gen09_is_advisory_in_baseline_and_decisive_in_evidence_strict():
    baseline = run(RFA, {})
    assert baseline.recommendation == APPROVE
    assert [a["criterion"] for a in baseline.advisories] == ["GEN-09"]
    strict = run(RFA, {}, profile="evidence_strict")
    assert strict.recommendation == PHYSICIAN
    assert [r["criterion"] for r in strict.reasons] == ["GEN-09"]
    # pain of under 3 months: the guideline does not apply in either profile
    recent = {"symptoms.onset_date": date(2026, 9, 1)}
    assert answer(run(ESI, recent, profile="evidence_strict"), "GEN-09") == MET


def test_every_result_carries_its_trace():
    outcome = run(ESI, {})
    for item in outcome.results:
        assert set(item) >= {
            "id",
            "answer",
            "decisive",
            "statement",
            "citation",
            "facts",
            "threshold",
            "explanation",
        }
        assert item["citation"]["sources"]
        assert "\n" not in item["explanation"]
    esi04 = next(r for r in outcome.results if r["id"] == "ESI-04")
    assert esi04["facts"] == {"symptoms.duration_days": 97, "diagnosis.codes": ["M51.17", "M54.17"]}
    assert esi04["threshold"].startswith("symptoms.duration_days >= 28")


def test_outcome_is_json_safe_and_replays_from_stored_facts():
    import json

    facts = copy.deepcopy(_BASE_FACTS[RFA])
    stored = json.loads(json.dumps(facts, default=str))  # dates become ISO strings
    content = content_for(RFA)
    first = evaluate(content, facts, review_date=REVIEW_DATE).to_dict()
    replay = evaluate(content, stored, review_date=REVIEW_DATE).to_dict()
    assert json.loads(json.dumps(first)) == replay


@pytest.mark.parametrize("family", sorted(BASES))
def test_a_red_flag_present_is_decisive_in_every_family_even_where_its_absence_is_not_asked(
    family,
):
    # GEN-04 is not decisive anywhere (its being unknown pends nothing), yet present it stops
    # an approval and a physician reads it first.
    outcome = run(
        family,
        {"neurological.progressive_motor_deficit": True, "neurological.motor_grade_mrc": 3},
    )
    assert "GEN-04" in outcome.red_flags
    assert outcome.recommendation == PHYSICIAN
    assert outcome.reasons[0]["criterion"] in outcome.red_flags
    assert "GEN-04" not in [a["criterion"] for a in outcome.advisories]


def test_codes_no_policy_covers_go_to_a_nurse():
    outcome = no_policy_outcome(cpt_codes=["99213"], review_date=REVIEW_DATE)
    assert outcome.recommendation == NURSE
    assert "99213" in outcome.reasons[0]["explanation"]
