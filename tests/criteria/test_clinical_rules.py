"""Clinical rules of issue 13 tested from raw requests: build the request, derive, evaluate.

Every case runs under both profiles: a rule that makes a request unsafe to approve holds whatever
the plan's profile.
"""

import pytest

from .conftest import (
    evaluate_body,
    facet_block_body,
    load_example,
    result,
    vertebral_augmentation_body,
)

PROFILES = ["baseline", "evidence_strict"]


def esi() -> dict:
    return load_example("esi-lumbar-radiculopathy")


def rfa() -> dict:
    return load_example("rfa-lumbar-after-two-blocks")


def fusion() -> dict:
    """The fusion example made approvable: 8 weeks of formal PT and a never-smoker."""
    body = load_example("fusion-spondylolisthesis-short-therapy")
    body["clinical"]["conservative_care"][0].update(
        start_date="2026-08-20", end_date="2026-10-15", visits=16
    )
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
    "esi": esi,
    "facet": facet_block_body,
    "rfa": rfa,
    "va": vertebral_augmentation_body,
    "fusion": fusion,
}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("family", sorted(BASES))
def test_the_bases_approve_under_both_profiles(family, profile):
    body = BASES[family]()
    if profile == "evidence_strict" and family in {"rfa", "facet"}:
        pytest.skip("the facet LCD needs 3 months of pain and GEN-09 less: never both")
    if profile == "evidence_strict" and family == "esi":
        body["clinical"]["symptom_onset_date"] = "2026-09-20"  # under 3 months: GEN-09 met
    outcome = evaluate_body(body, profile)
    assert outcome.recommendation == "approve", [
        (r["id"], r["answer"])
        for r in outcome.results
        if r["answer"] not in {"met", "not_applicable"}
    ]


# --- class 5: trauma and fracture types ---------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("family", ["esi", "facet", "rfa"])
@pytest.mark.parametrize(
    "mutation",
    [
        lambda b: b["clinical"]["red_flags"].update(significant_trauma=True),
        lambda b: b["diagnosis_codes"].append("S32.030A"),
        lambda b: b["clinical"].update(fracture={"level": "L1", "etiology": "traumatic"}),
    ],
    ids=["flag", "injury-code", "traumatic-fracture"],
)
def test_significant_trauma_is_a_red_flag_for_injections_and_ablation(family, profile, mutation):
    body = BASES[family]()
    mutation(body)
    outcome = evaluate_body(body, profile)
    assert result(outcome, "GEN-11")["answer"] == "not_met"
    assert outcome.recommendation == "physician_review"


@pytest.mark.parametrize("profile", PROFILES)
def test_trauma_unknown_is_asked_for_not_assumed_absent(profile):
    body = esi()
    del body["clinical"]["red_flags"]["significant_trauma"]
    outcome = evaluate_body(body, profile)
    assert result(outcome, "GEN-11")["answer"] == "insufficient_information"
    assert outcome.recommendation != "approve"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    "mutation",
    [
        lambda b: b["clinical"]["fracture"].update(etiology="traumatic"),
        lambda b: b["clinical"]["red_flags"].update(significant_trauma=True),
        lambda b: b["diagnosis_codes"].append("S32.010A"),
    ],
    ids=["traumatic", "trauma-flag", "injury-code"],
)
def test_a_traumatic_fracture_never_takes_the_osteoporotic_path(profile, mutation):
    body = vertebral_augmentation_body()
    mutation(body)
    outcome = evaluate_body(body, profile)
    assert result(outcome, "VA-09")["answer"] == "not_met"
    assert outcome.recommendation == "physician_review"


def metastatic_va() -> dict:
    body = vertebral_augmentation_body()
    body["diagnosis_codes"] = ["C79.51", "M84.58XA"]
    body["clinical"]["fracture"]["etiology"] = "metastatic"
    body["clinical"]["red_flags"].update(cancer_history=True, malignancy_workup_complete=True)
    body["clinical"]["oncology"] = {
        "metastatic_disease": True,
        "primary_cancer": "breast",
        "epidural_tumor_abuts_cord": False,
        "escc_grade": "1b",
        "radiotherapy_to_level": True,
    }
    return body


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("grade,answer", [("1b", "met"), ("1c", "not_met"), ("2", "not_met")])
def test_escc_grade_1c_abuts_the_cord(profile, grade, answer):
    body = metastatic_va()
    body["clinical"]["oncology"]["escc_grade"] = grade
    outcome = evaluate_body(body, profile)
    assert result(outcome, "VA-08")["answer"] == answer
    if answer == "not_met":
        assert outcome.recommendation == "physician_review"


# --- class 6: conservative care and smoking -----------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    "modality,detail",
    [
        ("activity_modification", "Bed rest for two weeks"),
        ("physical_therapy", "bedrest at home"),
        ("other", "rest"),
        ("home_exercise", "strict rest, no exercise"),
    ],
)
def test_bed_rest_never_counts_as_conservative_care(profile, modality, detail):
    body = esi()
    body["clinical"]["conservative_care"] = [
        {
            "modality": modality,
            "start_date": "2026-08-01",
            "end_date": "2026-10-20",
            "outcome": "failed",
            "detail": detail,
        }
    ]
    outcome = evaluate_body(body, profile)
    assert result(outcome, "ESI-05")["answer"] == "not_met"
    assert outcome.recommendation == "physician_review"


@pytest.mark.parametrize("profile", PROFILES)
def test_activity_modification_that_is_not_rest_still_counts(profile):
    body = esi()
    body["clinical"]["conservative_care"][0] = {
        "modality": "activity_modification",
        "start_date": "2026-08-25",
        "end_date": "2026-10-20",
        "outcome": "failed",
        "detail": "restricted lifting, ergonomic workstation",
    }
    outcome = evaluate_body(body, profile)
    assert result(outcome, "ESI-05")["answer"] == "met"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    "visits,answer", [(1, "not_met"), (5, "not_met"), (6, "met"), (None, "met")]
)
def test_physical_therapy_counts_at_most_a_week_per_visit(profile, visits, answer):
    body = fusion()
    body["clinical"]["conservative_care"][0].update(
        start_date="2026-08-20", end_date="2026-10-15", visits=visits
    )
    outcome = evaluate_body(body, profile)
    assert result(outcome, "FU-03")["answer"] == answer
    if answer == "not_met":
        assert outcome.recommendation == "physician_review"


@pytest.mark.parametrize("profile", PROFILES)
def test_one_visit_over_six_weeks_is_not_four_weeks_of_care_for_an_injection(profile):
    body = esi()
    body["clinical"]["conservative_care"] = [
        {
            "modality": "physical_therapy",
            "start_date": "2026-08-25",
            "end_date": "2026-10-20",
            "visits": 1,
            "outcome": "failed",
        },
        body["clinical"]["conservative_care"][2],  # the ongoing home exercise
    ]
    outcome = evaluate_body(body, profile)
    assert result(outcome, "ESI-05")["answer"] == "not_met"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    "status,cotinine,answer",
    [
        ("never", 250, "not_met"),
        ("former", 11, "not_met"),
        ("never", 10, "met"),
        ("never", None, "met"),
        ("former", 3, "met"),
    ],
)
def test_a_positive_cotinine_outweighs_the_stated_status(profile, status, cotinine, answer):
    body = fusion()
    body["clinical"]["smoking_status"] = status
    body["clinical"]["nicotine_test"] = (
        None if cotinine is None else {"date": "2026-11-01", "cotinine_ng_ml": cotinine}
    )
    outcome = evaluate_body(body, profile)
    assert result(outcome, "FU-06")["answer"] == answer
    if answer == "not_met":
        assert outcome.recommendation == "physician_review"
