"""Clinical rules of issue 13 tested from raw requests: build the request, derive, evaluate.

Every case runs under both profiles: a rule that makes a request unsafe to approve holds whatever
the plan's profile.
"""

from datetime import timedelta

import pytest

from .conftest import (
    REVIEW_DATE,
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


@pytest.mark.parametrize("profile", PROFILES)
def test_a_positive_cotinine_outweighs_a_quit_date_old_enough(profile):
    body = fusion()
    body["clinical"].update(
        smoking_status="former",
        nicotine_free_since="2026-06-01",
        nicotine_test={"date": "2026-11-01", "cotinine_ng_ml": 250},
    )
    outcome = evaluate_body(body, profile)
    assert result(outcome, "FU-06")["answer"] == "not_met"
    assert outcome.recommendation == "physician_review"


# --- class 4: imaging findings are red flags whatever the attested booleans say -----------------


def add_findings(body: dict, *found: str) -> dict:
    for study in body["clinical"]["imaging"]:
        study["findings"] = study.get("findings", []) + list(found)
    return body


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("family", sorted(BASES))
@pytest.mark.parametrize(
    "finding",
    ["osseous_metastasis", "epidural_tumor", "marrow_replacement", "indeterminate_marrow_lesion"],
)
def test_a_neoplasm_on_imaging_is_a_red_flag_whatever_the_history_says(family, profile, finding):
    body = add_findings(BASES[family](), finding)
    # the attested history says there is no cancer and the work-up is done
    body["clinical"]["red_flags"].update(cancer_history=False, malignancy_workup_complete=True)
    outcome = evaluate_body(body, profile)
    assert result(outcome, "GEN-12")["flag"] == "present"
    assert "GEN-12" in outcome.red_flags
    assert outcome.recommendation == "physician_review"
    assert outcome.reasons[0]["criterion"] in outcome.red_flags


@pytest.mark.parametrize("profile", PROFILES)
def test_a_metastatic_fracture_treated_as_such_is_not_held_to_the_neoplasm_flag(profile):
    body = add_findings(metastatic_va(), "osseous_metastasis")
    outcome = evaluate_body(body, profile)
    assert result(outcome, "GEN-12")["answer"] == "not_applicable"
    assert outcome.recommendation == "approve"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("family", sorted(BASES))
def test_cord_compression_on_imaging_goes_to_a_physician_in_every_family(family, profile):
    body = add_findings(BASES[family](), "cord_compression")
    body["clinical"]["neurological"]["myelopathy"] = False
    outcome = evaluate_body(body, profile)
    assert "GEN-05" in outcome.red_flags
    assert outcome.recommendation == "physician_review"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("family", ["esi", "facet", "rfa", "fusion"])
@pytest.mark.parametrize(
    ("found", "flagged"),
    [
        (["compression_fracture", "canal_compromise"], True),
        (["compression_fracture", "dynamic_instability"], True),
        (["compression_fracture"], False),  # an old stable fracture is not a red flag by itself
    ],
)
def test_a_fracture_with_instability_is_a_red_flag(family, profile, found, flagged):
    body = BASES[family]()
    if family == "fusion":
        # the fusion base's instability is its indication; a fracture joins it on the MRI only
        body["clinical"]["imaging"][0]["findings"] += found
    else:
        add_findings(body, *found)
    outcome = evaluate_body(body, profile)
    present = family == "fusion" or flagged  # the fusion base shows dynamic instability
    assert (result(outcome, "GEN-13")["flag"] == "present") is present
    if present:
        assert outcome.recommendation == "physician_review"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("family", sorted(BASES))
def test_a_study_reported_normal_but_marked_concordant_is_a_contradiction(family, profile):
    body = BASES[family]()
    body["clinical"]["imaging"].append(
        {
            "modality": "xray",
            "date": "2026-10-01",
            "region": "lumbar",
            "findings": ["normal"],
            "concordant_with_symptoms": True,
        }
    )
    outcome = evaluate_body(body, profile)
    assert "GEN-14" in outcome.red_flags
    assert outcome.recommendation == "physician_review"
    # the same study not marked concordant contradicts nothing
    body["clinical"]["imaging"][-1]["concordant_with_symptoms"] = False
    assert "GEN-14" not in evaluate_body(body, profile).red_flags


# --- class 7: fusion scope -----------------------------------------------------------------------


def fusion_at(levels: list[str], *found: str) -> dict:
    body = fusion()
    body["service"]["levels"] = levels
    for study in body["clinical"]["imaging"]:
        study["levels"] = levels
        study["findings"] = study["findings"] + list(found)
    return body


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    ("body", "answer"),
    [
        (lambda: fusion_at(["L4-L5"]), "not_applicable"),
        (lambda: fusion_at(["L3-L4", "L4-L5"]), "not_met"),
        (lambda: fusion_at(["L4-S1"]), "not_met"),  # one span, two segments
        (lambda: fusion_at(["L3-L4", "L4-L5"], "deformity"), "met"),
    ],
    ids=["one-level", "two-levels", "one-span-two-segments", "two-levels-deformity"],
)
def test_more_than_one_fused_level_needs_trauma_deformity_or_neoplasm(profile, body, answer):
    outcome = evaluate_body(body(), profile)
    assert result(outcome, "FU-13")["answer"] == answer
    assert outcome.recommendation == ("physician_review" if answer == "not_met" else "approve")


@pytest.mark.parametrize("profile", PROFILES)
def test_an_additional_level_code_is_a_second_level_whatever_the_levels_say(profile):
    body = fusion()
    body["service"]["cpt_codes"] = ["22633", "22634", "22840"]
    outcome = evaluate_body(body, profile)
    assert result(outcome, "FU-13")["answer"] == "not_met"
    assert outcome.recommendation == "physician_review"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    ("imaged", "fused", "answer"),
    [
        (["L4-L5"], ["L4-L5"], "met"),
        (["L5-S1"], ["L4-L5"], "not_met"),  # the listhesis is below the fused level
        (["L4-L5"], ["L4-L5", "L5-S1"], "not_met"),  # a level fused without an indication
    ],
)
def test_the_fused_levels_are_the_levels_of_the_listhesis(profile, imaged, fused, answer):
    body = fusion()
    body["service"]["levels"] = fused
    for study in body["clinical"]["imaging"]:
        study["levels"] = imaged
    outcome = evaluate_body(body, profile)
    assert result(outcome, "FU-14")["answer"] == answer
    if answer == "not_met":
        assert outcome.recommendation == "physician_review"


# --- class 9: rules criteria.md had and the policies lacked -------------------------------------


def second_block(agent: str | None, hours: float | None, days_ago: int = 28, relief: int = 85):
    body = facet_block_body()
    body["service"]["block_intent"] = "diagnostic"
    entry = {
        "cpt_code": "64493",
        "date": (REVIEW_DATE - timedelta(days=days_ago)).isoformat(),
        "region": "lumbar",
        "levels": ["L4-L5", "L5-S1"],
        "pain_scale": "nrs",
        "baseline_score": 10,
        "post_score": 10 - relief / 10,
    }
    if agent:
        entry["agent"] = agent
    if hours is not None:
        entry["relief_duration_hours"] = hours
    body["clinical"]["prior_procedures"] = [entry]
    return body


@pytest.mark.parametrize("profile", ["baseline"])
@pytest.mark.parametrize(
    ("agent", "hours", "answer"),
    [
        ("lidocaine", 0.9, "not_met"),
        ("lidocaine", 1, "met"),
        ("bupivacaine 0.5%", 1.9, "not_met"),
        ("bupivacaine 0.5%", 2, "met"),
        ("ropivacaine", 1.5, "not_met"),
        (None, 0.5, "not_met"),  # shorter than any anaesthetic acts
        (None, 1.5, "insufficient_information"),  # the agent decides: it is asked for
        (None, 2, "met"),
        ("lidocaine", None, "met"),  # no duration reported: nothing to contradict
    ],
)
def test_a_blocks_relief_lasts_as_long_as_its_anaesthetic(profile, agent, hours, answer):
    outcome = evaluate_body(second_block(agent, hours), profile)
    assert result(outcome, "FJ-05")["answer"] == answer
    expected = {
        "met": "approve",
        "not_met": "physician_review",
        "insufficient_information": "pend_missing_information",
    }[answer]
    assert outcome.recommendation == expected
    if answer == "insufficient_information":
        assert [m["fact"] for m in outcome.missing_information] == ["facet.last_block_anaesthetic"]


@pytest.mark.parametrize("profile", ["baseline"])
def test_a_third_diagnostic_block_is_not_approved_by_rule(profile):
    body = second_block("lidocaine", 3)
    first = dict(body["clinical"]["prior_procedures"][0])
    first["date"] = (REVIEW_DATE - timedelta(days=60)).isoformat()
    body["clinical"]["prior_procedures"].insert(0, first)
    outcome = evaluate_body(body, profile)
    assert result(outcome, "FJ-05")["answer"] == "not_met"
    assert outcome.recommendation == "physician_review"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("which", [0, 1])
def test_an_ablation_rests_on_two_blocks_each_lasting_as_long_as_its_anaesthetic(profile, which):
    body = rfa()
    body["clinical"]["prior_procedures"][which].update(agent="bupivacaine", relief_duration_hours=1)
    outcome = evaluate_body(body, profile)
    assert result(outcome, "FJ-05")["answer"] == "not_met"
    assert outcome.recommendation == "physician_review"


@pytest.mark.parametrize("profile", PROFILES)
def test_a_therapeutic_injection_rests_on_blocks_that_lasted_as_long_as_their_anaesthetic(
    profile,
):
    body = rfa()
    body["service"] = {
        "cpt_codes": ["64493", "64494"],
        "spinal_region": "lumbar",
        "levels": ["L4-L5", "L5-S1"],
        "laterality": "bilateral",
        "image_guidance": "fluoroscopy",
        "block_intent": "therapeutic",
    }
    body["clinical"]["prior_procedures"][0].update(agent="lidocaine", relief_duration_hours=0.5)
    outcome = evaluate_body(body, profile)
    assert result(outcome, "FJ-12")["answer"] == "not_met"


def herniation_fusion() -> dict:
    body = fusion()
    for study in body["clinical"]["imaging"]:
        study["findings"] = ["disc_herniation"]
        study.pop("translation_mm", None)
    return body


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    ("discectomy", "answer"),
    [(["L4-L5"], "met"), (["L2-L3"], "not_met"), (None, "not_met")],
)
def test_a_recurrent_same_level_herniation_is_a_fusion_indication(profile, discectomy, answer):
    body = herniation_fusion()
    if discectomy is not None:
        body["clinical"]["prior_discectomy_levels"] = discectomy
    outcome = evaluate_body(body, profile)
    assert result(outcome, "FU-01")["answer"] == answer
    assert result(outcome, "FU-02")["answer"] == answer  # a recurrence is not "isolated"
    assert outcome.recommendation == ("approve" if answer == "met" else "physician_review")


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("percent", "answer"), [(50, "not_met"), (51, "met")])
def test_a_decompression_removing_more_than_half_the_facet_is_a_fusion_indication(
    profile, percent, answer
):
    body = herniation_fusion()
    body["service"]["facet_resection_percent"] = percent
    outcome = evaluate_body(body, profile)
    assert result(outcome, "FU-01")["answer"] == answer
    assert outcome.recommendation == ("approve" if answer == "met" else "physician_review")


def metastatic_fusion(**oncology) -> dict:
    """A metastasis at the listhesis level: FU-01 met by the listhesis with stenosis, and no
    instability on imaging or by SINS, so FU-10 turns on what radiotherapy left."""
    body = fusion()
    for study in body["clinical"]["imaging"]:
        study["findings"] = ["spondylolisthesis", "central_stenosis", "osseous_metastasis"]
    body["diagnosis_codes"] = ["C79.51"]
    body["clinical"]["red_flags"].update(cancer_history=True, malignancy_workup_complete=True)
    body["clinical"]["oncology"] = {
        "metastatic_disease": True,
        "primary_cancer": "lung",
        "life_expectancy_months": 24,
        "ecog": 1,
        "radiotherapy_to_level": True,
        "sins_score": 4,
        "deficit_progressing_despite_radiotherapy": False,
        **oncology,
    }
    return body


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    ("oncology", "answer"),
    [
        ({}, "insufficient_information"),  # radiotherapy alone: a recurrence is asked for
        ({"recurrence_after_radiotherapy": False}, "not_met"),
        ({"recurrence_after_radiotherapy": True}, "met"),
        ({"deficit_progressing_despite_radiotherapy": True}, "met"),
    ],
)
def test_metastatic_surgery_needs_a_recurrence_not_radiotherapy_alone(profile, oncology, answer):
    outcome = evaluate_body(metastatic_fusion(**oncology), profile)
    assert result(outcome, "FU-10")["answer"] == answer
    assert (
        outcome.recommendation
        == {
            "met": "approve",
            "not_met": "physician_review",
            "insufficient_information": "pend_missing_information",
        }[answer]
    )
    if answer == "insufficient_information":
        assert [m["fact"] for m in outcome.missing_information] == [
            "oncology.recurrence_after_radiotherapy"
        ]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("family", sorted(BASES))
def test_documentation_is_a_criterion_of_its_own(family, profile):
    body = BASES[family]()
    note = {"kind": "clinical_note", "date": "2026-11-01", "title": "Visit", "text": "Seen."}
    body["attachments"] = []
    for study in body["clinical"]["imaging"]:
        study["report_text"] = ""
    outcome = evaluate_body(body, profile)
    gen10 = result(outcome, "GEN-10")
    assert gen10["answer"] == "insufficient_information"
    assert gen10["citation"]["sources"] and gen10["decisive"]
    item = next(m for m in outcome.missing_information if m["criterion"] == "GEN-10")
    assert item["field"] == "attachments" and "documentation" in item["why"]
    assert outcome.recommendation != "approve"
    body["attachments"] = [note]
    assert result(evaluate_body(body, profile), "GEN-10")["answer"] == "met"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(
    "oncology",
    [
        {"epidural_tumor_abuts_cord": True},
        {"escc_grade": "1c"},
        {"metastatic_disease": True},
    ],
    ids=["abuts", "bilsky-1c", "metastatic"],
)
@pytest.mark.parametrize("family", ["esi", "facet", "rfa"])
def test_a_reported_neoplasm_is_a_red_flag_before_an_injection_or_ablation(
    family, profile, oncology
):
    body = BASES[family]()
    body["clinical"]["oncology"] = oncology
    outcome = evaluate_body(body, profile)
    assert "GEN-12" in outcome.red_flags
    assert outcome.recommendation == "physician_review"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("grade,flagged", [("1b", False), ("1c", True), ("3", True)])
def test_an_osteoporotic_fracture_beside_a_tumour_abutting_the_cord_is_a_red_flag(
    profile, grade, flagged
):
    # VA-08 reads the grade on the neoplastic path; on the osteoporotic path GEN-12 does.
    body = vertebral_augmentation_body()
    body["clinical"]["oncology"] = {"escc_grade": grade}
    outcome = evaluate_body(body, profile)
    assert ("GEN-12" in outcome.red_flags) is flagged
    assert (outcome.recommendation == "physician_review") is flagged
