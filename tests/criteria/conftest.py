"""Fixtures for the criteria tests: compiled shipped policies, the shared examples, base requests.

Engine tests need no database: the policies are compiled from the YAML files in-process.
"""

import copy
import json
from datetime import date
from functools import lru_cache
from pathlib import Path

import pytest

from criteria.engine import evaluate
from criteria.loader import load_directory
from reviews.facts import build_facts
from reviews.reference import family_for_codes

# The intake contract's examples, copied into the repository (docs/README.md).
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "api" / "examples"
REVIEW_DATE = date(2026, 11, 23)


@lru_cache(maxsize=1)
def compiled_versions() -> dict[tuple[str, str], dict]:
    return {(v["family"], v["profile"]): v["content"] for v in load_directory()}


def content_for(family: str, profile: str = "baseline") -> dict:
    return compiled_versions()[(family, profile)]


def load_example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def request_data(body: dict) -> dict:
    """The plain request_data build_facts takes, from an API body."""
    family, _ = family_for_codes(body["service"]["cpt_codes"])
    return {
        "service": body["service"],
        "clinical": body["clinical"],
        "diagnosis_codes": body["diagnosis_codes"],
        "procedure_family": family,
        "urgency": body["urgency"],
        "line_of_business": body.get("line_of_business", "commercial"),
        "attachments": body.get("attachments", []),
    }


def member_of(body: dict) -> dict:
    return {
        "birth_date": date.fromisoformat(body["member"]["birth_date"]),
        "sex": body["member"]["sex"],
    }


def facts_of(body: dict, review_date: date = REVIEW_DATE, history=None) -> dict:
    return build_facts(
        request_data=request_data(body),
        review_date=review_date,
        history=history or [],
        member=member_of(body),
    )


def evaluate_body(body: dict, profile: str = "baseline", review_date: date = REVIEW_DATE):
    data = request_data(body)
    return evaluate(
        content_for(data["procedure_family"], profile),
        facts_of(body, review_date),
        review_date=review_date,
    )


def result(outcome, cid: str) -> dict:
    return next(r for r in outcome.results if r["id"] == cid)


# Requests for the two families without a shared example, built on the examples' clean red flags.
_CLEAN_FLAGS = {
    "cauda_equina": False,
    "fever": False,
    "recent_bacteremia": False,
    "iv_drug_use": False,
    "immunosuppression": False,
    "dialysis_or_diabetes": False,
    "cancer_history": False,
    "unexplained_weight_loss": False,
    "night_pain": False,
    "significant_trauma": False,
    "osteoporosis_or_chronic_steroids": True,
}


def vertebral_augmentation_body() -> dict:
    """An outpatient osteoporotic L1 fracture that meets every VA criterion on REVIEW_DATE."""
    body = copy.deepcopy(load_example("esi-lumbar-radiculopathy"))
    body["member"].update(birth_date="1940-03-15", sex="female")
    body["service"] = {
        "cpt_codes": ["22514"],
        "spinal_region": "lumbar",
        "levels": ["L1"],
        "technique": "kyphoplasty",
        "setting": "hospital_outpatient",
    }
    body["diagnosis_codes"] = ["M80.08XA"]
    body["clinical"] = {
        "symptom_onset_date": "2026-10-20",
        "pain_type": "axial",
        "pain_score_nrs": 7,
        "pain_scores": [{"date": "2026-10-25", "nrs": 6}],
        "red_flags": dict(_CLEAN_FLAGS),
        "neurological": {
            "radicular_signs": False,
            "motor_grade_mrc": 5,
            "progressive_motor_deficit": False,
            "myelopathy": False,
            "bowel_bladder_dysfunction": False,
        },
        "conservative_care": [
            {
                "modality": "acetaminophen",
                "start_date": "2026-10-20",
                "end_date": None,
                "outcome": "failed",
            },
            {
                "modality": "bracing",
                "start_date": "2026-10-22",
                "end_date": None,
                "outcome": "failed",
            },
        ],
        "imaging": [
            {
                "modality": "mri",
                "date": "2026-10-28",
                "region": "lumbar",
                "levels": ["L1"],
                "findings": ["compression_fracture", "marrow_edema"],
                "concordant_with_symptoms": True,
                "report_text": "Acute L1 compression fracture with STIR marrow oedema.",
            }
        ],
        "prior_procedures": [],
        "oncology": None,
        "fracture": {
            "level": "L1",
            "onset_date": "2026-10-20",
            "etiology": "osteoporotic",
            "mri_marrow_edema": True,
            "height_loss_percent": 30,
            "progressive_height_loss": True,
            "kyphotic_deformity": False,
            "retropulsion": False,
            "hospitalized": False,
            "bone_density_referral": True,
        },
    }
    return body


def facet_block_body() -> dict:
    """A first diagnostic lumbar medial branch block that meets every facet criterion."""
    body = copy.deepcopy(load_example("rfa-lumbar-after-two-blocks"))
    body["service"] = {
        "cpt_codes": ["64493", "64494"],
        "spinal_region": "lumbar",
        "levels": ["L4-L5", "L5-S1"],
        "laterality": "bilateral",
        "image_guidance": "fluoroscopy",
    }
    body["clinical"]["prior_procedures"] = []
    return body


@pytest.fixture
def review_date() -> date:
    return REVIEW_DATE
