"""Every decisive criterion (and every red flag, which is decisive wherever it is present) of every
family can fail: for each, a raw request that meets everything else is changed so that this
criterion answers `not_met` (a red flag: present). Built as a provider would send it, derived by
reviews.facts.build_facts and evaluated by the engine under the family's shipped policies.

A new criterion without a failing request here fails `test_the_table_covers_every_decisive_criterion`.
"""

import copy
from collections.abc import Callable

import pytest

from .conftest import (
    compiled_versions,
    evaluate_body,
    facet_block_body,
    result,
    vertebral_augmentation_body,
)
from .test_clinical_rules import esi, fusion, rfa

ESI = "epidural_steroid_injection"
FACET = "facet_injection"
RFA = "radiofrequency_ablation"
VA = "vertebral_augmentation"
FUSION = "spinal_fusion"
BASES: dict[str, Callable[[], dict]] = {
    ESI: esi,
    FACET: facet_block_body,
    RFA: rfa,
    VA: vertebral_augmentation_body,
    FUSION: fusion,
}

# Criteria whose only failing answer is "insufficient information", on purpose: what they ask for
# is a document or a record (a pend asks the provider for it), never a reason for a would-be
# denial. Each still fails: the request is not approved.
ASK_ONLY = {
    "GEN-10": "no clinical note or imaging report at all: the request is asked for one",
    "GEN-07": "a relief percent without its named scale and scores: the scores are asked for",
}


# --- changes ------------------------------------------------------------------------------------


def clinical(**values):
    def change(body):
        body["clinical"].update(values)

    return change


def flags(**values):
    def change(body):
        body["clinical"]["red_flags"].update(values)

    return change


def neuro(**values):
    def change(body):
        body["clinical"]["neurological"].update(values)

    return change


def service(**values):
    def change(body):
        body["service"].update(values)

    return change


def findings(*added, replace=False):
    def change(body):
        for study in body["clinical"]["imaging"]:
            study["findings"] = list(added) if replace else study.get("findings", []) + list(added)

    return change


def studies(**values):
    def change(body):
        for study in body["clinical"]["imaging"]:
            study.update(values)
            if values.get("translation_mm", 0) is None:
                study.pop("translation_mm")

    return change


def procedures(*entries, keep=True):
    def change(body):
        before = body["clinical"].get("prior_procedures") or [] if keep else []
        body["clinical"]["prior_procedures"] = list(before) + [dict(e) for e in entries]

    return change


def both(*changes):
    def change(body):
        for one in changes:
            one(body)

    return change


def no_documents(body):
    body["attachments"] = []
    for study in body["clinical"].get("imaging") or []:
        study["report_text"] = ""


def block(date, post=1.0, **more):
    return {
        "cpt_code": "64493",
        "date": date,
        "region": "lumbar",
        "levels": ["L4-L5", "L5-S1"],
        "pain_scale": "nrs",
        "baseline_score": 7,
        "post_score": post,
        **more,
    }


def esi_before(date, post, **more):
    return {
        "cpt_code": "64483",
        "date": date,
        "region": "lumbar",
        "levels": ["L5-S1"],
        "agent": "triamcinolone",
        "pain_scale": "nrs",
        "baseline_score": 8,
        "post_score": post,
        **more,
    }


def rfa_before(date, post=5, **more):
    return {
        "cpt_code": "64635",
        "date": date,
        "region": "lumbar",
        "levels": ["L4-L5", "L5-S1"],
        "pain_scale": "nrs",
        "baseline_score": 7,
        "post_score": post,
        "relief_duration_days": 240,
        **more,
    }


def metastatic_va(body):
    body["diagnosis_codes"] = ["C79.51", "M84.58XA"]
    body["clinical"]["fracture"]["etiology"] = "metastatic"
    body["clinical"]["red_flags"].update(cancer_history=True, malignancy_workup_complete=True)
    body["clinical"]["oncology"] = {
        "metastatic_disease": True,
        "epidural_tumor_abuts_cord": True,
        "radiotherapy_to_level": True,
    }


def cervical_fusion(**more):
    def change(body):
        body["service"].update(cpt_codes=["22551"], spinal_region="cervical", levels=["C5-C6"])
        for study in body["clinical"]["imaging"]:
            study.update(region="cervical", levels=["C5-C6"])
        body["diagnosis_codes"] = ["M50.121"]
        body["clinical"].update(more)

    return change


# Shared by every family: the red flags and the imaging that counts whatever else is attested.
COMMON = {
    "GEN-01": flags(fever=True),
    "GEN-02": flags(cancer_history=True, malignancy_workup_complete=False),
    "GEN-03": flags(cauda_equina=True),
    "GEN-04": neuro(progressive_motor_deficit=True, motor_grade_mrc=3),
    "GEN-05": findings("cord_compression"),
    "GEN-11": flags(significant_trauma=True),
    "GEN-12": findings("osseous_metastasis"),
    "GEN-13": findings("compression_fracture", "dynamic_instability"),
    "GEN-14": findings("normal", replace=True),
    "GEN-10": no_documents,
    "GEN-09": clinical(symptom_onset_date="2026-01-05"),
}

FAILS: dict[str, dict[str, Callable]] = {
    ESI: {
        "GEN-06": studies(concordant_with_symptoms=False),
        "GEN-07": procedures(
            {k: v for k, v in esi_before("2026-07-01", 3).items() if "score" not in k}
            | {"relief_percent": 60, "relief_duration_days": 120}
        ),
        "ESI-01": both(
            clinical(pain_type="axial"),
            neuro(radicular_signs=False),
            lambda b: b.update(diagnosis_codes=["M47.816"]),
        ),
        "ESI-02": studies(levels=["L3-L4"]),
        "ESI-03": clinical(pain_score_nrs=0),
        "ESI-04": clinical(symptom_onset_date="2026-11-01"),
        "ESI-05": clinical(
            conservative_care=[
                {"modality": "nsaid", "start_date": "2026-11-10", "outcome": "failed"},
                {"modality": "home_exercise", "start_date": "2026-11-10", "outcome": "ongoing"},
            ]
        ),
        "ESI-06": service(image_guidance="ultrasound"),
        "ESI-07": service(levels=["L3-L4", "L4-L5", "L5-S1"]),
        "ESI-08": procedures(esi_before("2026-09-20", 3.2, relief_duration_days=30)),
        "ESI-09": procedures(esi_before("2026-11-15", 6.4)),
        "ESI-10": procedures(
            *[
                esi_before(d, 3, relief_duration_days=95)
                for d in ("2026-01-10", "2026-04-20", "2026-07-30")
            ],
            esi_before("2026-11-05", 3, relief_duration_days=10),
        ),
        "ESI-11": clinical(pain_type="axial"),
        "ESI-12": flags(fever=True),
        "ESI-13": lambda b: b["clinical"]["conservative_care"].pop(),
    },
    FACET: {
        "GEN-07": both(procedures(block("2026-10-20", relief_percent=85) | {"post_score": None})),
        "FJ-01": clinical(pain_score_nrs=2),
        "FJ-02": clinical(symptom_onset_date="2026-10-01"),
        "FJ-03": neuro(radicular_signs=True),
        "FJ-04": findings("deformity"),
        "FJ-05": both(service(block_intent="diagnostic"), procedures(block("2026-11-03", 2.8))),
        "FJ-09": procedures(
            *(block(d, 1.0) for d in ("2026-01-10", "2026-03-10", "2026-05-10", "2026-07-10"))
        ),
        "FJ-10": service(cpt_codes=["64493", "64494", "64495"]),
        "FJ-11": service(image_guidance="ultrasound"),
        "FJ-12": service(block_intent="therapeutic"),
    },
    RFA: {
        "GEN-07": lambda b: [p.pop("baseline_score") for p in b["clinical"]["prior_procedures"]],
        "FJ-01": clinical(pain_score_nrs=2),
        "FJ-02": clinical(symptom_onset_date="2026-10-01"),
        "FJ-03": neuro(radicular_signs=True),
        "FJ-04": findings("deformity"),
        "FJ-05": lambda b: b["clinical"]["prior_procedures"][0].update(date="2026-10-01"),
        "FJ-06": lambda b: b["clinical"]["prior_procedures"][0].update(post_score=2.1),
        "FJ-07": procedures(rfa_before("2026-03-20", post=5)),
        "FJ-08": procedures(rfa_before("2024-06-01", post=1), keep=False),
        "FJ-09": procedures(rfa_before("2026-01-10", post=1), rfa_before("2026-06-10", post=1)),
        "FJ-10": service(levels=["L3-L4", "L4-L5", "L5-S1"]),
        "FJ-11": service(technique="pulsed_rfa"),
    },
    VA: {
        "VA-01": lambda b: b["clinical"]["fracture"].update(onset_date="2026-07-01"),
        "VA-02": clinical(pain_score_nrs=4),
        "VA-03": both(
            clinical(
                pain_scores=[{"date": "2026-10-25", "nrs": 8}],
                function_scale={"instrument": "rdq", "score": 10},
            ),
            lambda b: b["clinical"]["fracture"].update(
                progressive_height_loss=False, height_loss_percent=10, kyphotic_deformity=False
            ),
        ),
        "VA-04": lambda b: b["clinical"]["fracture"].update(bone_density_referral=False),
        "VA-05": lambda b: b["clinical"]["fracture"].update(etiology="metastatic"),
        "VA-06": both(
            lambda b: b["member"].update(birth_date="1990-05-01"), clinical(pregnant=True)
        ),
        "VA-07": clinical(coagulopathy=True),
        "VA-08": metastatic_va,
        "VA-09": lambda b: b["clinical"]["fracture"].update(etiology="traumatic"),
    },
    FUSION: {
        "GEN-06": studies(concordant_with_symptoms=False),
        "FU-01": studies(findings=["disc_herniation"], translation_mm=None),
        "FU-02": studies(findings=["disc_herniation"], translation_mm=None),
        "FU-03": lambda b: b["clinical"]["conservative_care"][0].update(
            start_date="2026-10-27", end_date="2026-11-17", visits=5
        ),
        "FU-05": studies(date="2025-06-01"),
        "FU-06": clinical(smoking_status="current"),
        "FU-10": clinical(
            oncology={
                "metastatic_disease": True,
                "life_expectancy_months": 2,
                "ecog": 1,
                "sins_score": 9,
            }
        ),
        "FU-11": cervical_fusion(
            pain_type="radicular", pain_score_nrs=5, symptom_onset_date="2026-10-01"
        ),
        "FU-12": cervical_fusion(pain_type="axial"),
        "FU-13": service(levels=["L3-L4", "L4-L5"]),
        "FU-14": service(levels=["L5-S1"]),
    },
}


def _must_fail(family: str) -> set[str]:
    """The family's decisive criteria and red flags, under either profile."""
    return {
        c["id"]
        for (fam, _profile), content in compiled_versions().items()
        if fam == family
        for c in content["criteria"]
        if c["decisive"] or c["kind"] == "red_flag"
    }


def _profiles(family: str, cid: str) -> list[str]:
    return [
        profile
        for (fam, profile), content in sorted(compiled_versions().items())
        if fam == family
        and any(
            c["id"] == cid and (c["decisive"] or c["kind"] == "red_flag")
            for c in content["criteria"]
        )
    ]


def _change(family: str, cid: str) -> Callable:
    return FAILS[family].get(cid) or COMMON[cid]


CASES = [(family, cid) for family in sorted(BASES) for cid in sorted(_must_fail(family))]


@pytest.mark.parametrize("family", sorted(BASES))
def test_the_table_covers_every_decisive_criterion(family):
    missing = {cid for cid in _must_fail(family) if cid not in FAILS[family] and cid not in COMMON}
    assert not missing, f"{family}: no request makes these fail: {sorted(missing)}"


@pytest.mark.parametrize(("family", "cid"), CASES)
def test_some_request_makes_the_criterion_fail(family, cid):
    profiles = _profiles(family, cid)
    assert profiles
    for profile in profiles:
        base = BASES[family]()
        before = evaluate_body(copy.deepcopy(base), profile)
        changed = copy.deepcopy(base)
        _change(family, cid)(changed)
        outcome = evaluate_body(changed, profile)
        answer = result(outcome, cid)["answer"]
        if cid in ASK_ONLY:
            assert answer == "insufficient_information", (profile, result(outcome, cid))
            assert outcome.recommendation != "approve"
            assert cid in {m["criterion"] for m in outcome.missing_information} or (
                outcome.recommendation == "physician_review"
            )
            continue
        assert answer == "not_met", (profile, result(outcome, cid))
        if cid in before.red_flags or result(before, cid)["answer"] == "not_met":
            continue  # GEN-09 under evidence_strict: the base is already chronic pain
        assert outcome.recommendation == "physician_review" or (
            outcome.recommendation == "nurse_review"
            and result(outcome, cid).get("kind") != "red_flag"
            and cid in {r["criterion"] for r in outcome.reasons}
        ), (profile, outcome.recommendation, outcome.reasons)


# --- a pain or function criterion is never met by a score of 0 ----------------------------------

_SCORE_FACTS = {"pain.score", "function.score", "function.impaired", "function.rdq_score"}


@pytest.mark.parametrize("profile", ["baseline", "evidence_strict"])
@pytest.mark.parametrize("family", sorted(BASES))
@pytest.mark.parametrize(
    "scores",
    [
        {"pain_score_nrs": 0, "pain_scores": []},
        {
            "pain_score_nrs": 0,
            "pain_scores": [],
            "function_scale": {"instrument": "odi", "score": 0},
        },
        {"pain_score_nrs": None, "function_scale": {"instrument": "odi", "score": 0}},
        {"pain_score_nrs": None, "function_scale": {"instrument": "mjoa", "score": 18}},
    ],
    ids=["pain-0", "pain-0-odi-0", "odi-0-only", "mjoa-18-only"],
)
def test_a_score_of_zero_meets_no_pain_or_function_criterion(family, profile, scores):
    # "Documented" is not "severe enough": with no pain (or no disability, and no pain score to
    # stand for it) no criterion that reads the scores is met, and nothing is approved.
    body = BASES[family]()
    body["clinical"].update(scores)
    outcome = evaluate_body(body, profile)
    scored = [
        r
        for r in outcome.results
        if _SCORE_FACTS & set(r["facts"]) and r["answer"] != "not_applicable"
    ]
    assert scored, "no criterion of the family reads the scores"
    assert [r["id"] for r in scored if r["answer"] == "met"] == []
    assert outcome.recommendation != "approve"
