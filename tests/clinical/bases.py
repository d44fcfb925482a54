"""Approvable base requests, one per procedure family, dated relative to the review date.

Each base is a request a provider really could send and that every decisive criterion meets;
tests/clinical/test_bases.py proves each approves. The adversarial cases are small changes to
these. Dates are offsets from the review date (`ago(n)`: n days before it) so the suite does not
age: the ESI example as written becomes chronic pain (GEN-09) a few weeks after it was dated.
"""

import copy
from datetime import date, timedelta

from django.utils import timezone

from tests.conftest import example

# The profile each line of business uses is the setting PROFILE_<LOB> (settings.POLICY_PROFILES).
PROFILES = ("baseline", "evidence_strict")
FAMILIES = (
    "epidural_steroid_injection",
    "facet_injection",
    "radiofrequency_ablation",
    "vertebral_augmentation",
    "spinal_fusion",
)
# Facet injections and ablation need pain for 3 months or more (FJ-02), which is exactly the
# chronic pain that evidence_strict's decisive GEN-09 sends to a physician: under that profile
# no facet or ablation request can be approved, so their bases approve under baseline only.
APPROVABLE_UNDER = {
    "epidural_steroid_injection": PROFILES,
    "facet_injection": ("baseline",),
    "radiofrequency_ablation": ("baseline",),
    "vertebral_augmentation": PROFILES,
    "spinal_fusion": PROFILES,
}
# The shared examples are written as of this day.
EXAMPLE_ANCHOR = date(2026, 11, 22)

NO_RED_FLAGS = {
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
}
NORMAL_NEURO = {
    "radicular_signs": False,
    "motor_grade_mrc": 5,
    "progressive_motor_deficit": False,
    "myelopathy": False,
    "bowel_bladder_dysfunction": False,
}


def today() -> date:
    return timezone.localdate()


def ago(days: int) -> str:
    return (today() - timedelta(days=days)).isoformat()


def _shifted(value, days: int, key: str = ""):
    """The example's clinical dates moved by `days` (birth dates stay)."""
    if isinstance(value, dict):
        return {k: _shifted(v, days, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_shifted(v, days, key) for v in value]
    if isinstance(value, str) and key != "birth_date" and len(value) == 10 and value[4] == "-":
        try:
            return (date.fromisoformat(value) + timedelta(days=days)).isoformat()
        except ValueError:
            return value
    return value


def esi() -> dict:
    """The ESI example with an episode of 10 weeks: acute enough for evidence_strict's GEN-09."""
    body = copy.deepcopy(example("esi-lumbar-radiculopathy"))
    c = body["clinical"]
    c["symptom_onset_date"] = ago(70)
    c["conservative_care"] = [
        {
            "modality": "physical_therapy",
            "start_date": ago(63),
            "end_date": ago(14),
            "visits": 10,
            "outcome": "failed",
        },
        {
            "modality": "nsaid",
            "start_date": ago(70),
            "end_date": None,
            "outcome": "failed",
            "detail": "naproxen 500 mg twice daily",
        },
        {
            "modality": "home_exercise",
            "start_date": ago(14),
            "end_date": None,
            "outcome": "ongoing",
        },
    ]
    c["imaging"][0]["date"] = ago(35)
    body["attachments"][0].update(
        date=ago(5),
        text=(
            "55-year-old woman with right buttock and posterior leg pain for ten weeks, radiating "
            "to the lateral foot. Completed 7 weeks of physical therapy (10 visits) without "
            "lasting relief; naproxen helps partially. Denies fever, weight loss, bowel or "
            "bladder changes. No history of cancer. Straight leg raise positive on the right at "
            "45 degrees, ankle reflex diminished on the right, strength 5/5 throughout. MRI "
            "shows a right L5-S1 extrusion contacting the S1 root. Plan: right L5-S1 "
            "transforaminal epidural steroid injection under fluoroscopy with contrast; "
            "continue home exercise program."
        ),
    )
    return body


def rfa() -> dict:
    """The RFA example as written, its dates moved to stand as they did on its own date."""
    body = copy.deepcopy(example("rfa-lumbar-after-two-blocks"))
    return _shifted(body, (today() - EXAMPLE_ANCHOR).days)


def facet() -> dict:
    """A first diagnostic medial branch block at two lumbar levels, for the RFA example's patient."""
    body = rfa()
    body["external_id"] = "VSP-88190"
    body["service"] = {
        "cpt_codes": ["64493", "64494"],
        "spinal_region": "lumbar",
        "levels": ["L4-L5", "L5-S1"],
        "laterality": "bilateral",
        "units": 2,
        "image_guidance": "fluoroscopy",
        "contrast": False,
        "block_intent": "diagnostic",
        "setting": "hospital_outpatient",
    }
    body["clinical"]["prior_procedures"] = []
    body["attachments"][0]["text"] = (
        "Axial low back pain for about a year, worse with extension and rotation, no radiation "
        "below the knee. No numbness or weakness. Completed 10 weeks of physical therapy and "
        "months of meloxicam without lasting relief. Denies fevers, night sweats, weight loss. "
        "Plan: first diagnostic bilateral L4-L5 and L5-S1 medial branch blocks with lidocaine."
    )
    return body


def vertebral_augmentation() -> dict:
    """A lumbar kyphoplasty for a 4-week-old osteoporotic L1 fracture with marrow oedema."""
    return {
        "external_id": "VA-2026-0077",
        "urgency": "standard",
        "line_of_business": "commercial",
        "member": {
            "member_id": "VA10002000",
            "first_name": "Ruth",
            "last_name": "Alder",
            "birth_date": "1946-05-12",
            "sex": "female",
        },
        "requesting_provider": {
            "npi": "1679576722",
            "name": "Priya Raman, MD",
            "specialty": "interventional radiology",
        },
        "service": {
            "cpt_codes": ["22514"],
            "spinal_region": "lumbar",
            "levels": ["L1"],
            "units": 1,
            "image_guidance": "fluoroscopy",
            "technique": "kyphoplasty",
            "setting": "hospital_outpatient",
        },
        "diagnosis_codes": ["M80.08XA"],
        "clinical": {
            "symptom_onset_date": ago(28),
            "pain_type": "axial",
            "pain_score_nrs": 7,
            "pain_scores": [{"date": ago(21), "nrs": 6}, {"date": ago(7), "nrs": 7}],
            "function_scale": {"instrument": "rdq", "score": 19},
            "red_flags": dict(NO_RED_FLAGS, osteoporosis_or_chronic_steroids=True),
            "neurological": dict(NORMAL_NEURO),
            "conservative_care": [
                {
                    "modality": "acetaminophen",
                    "start_date": ago(28),
                    "end_date": None,
                    "outcome": "failed",
                },
                {
                    "modality": "bracing",
                    "start_date": ago(25),
                    "end_date": None,
                    "outcome": "failed",
                },
            ],
            "imaging": [
                {
                    "modality": "mri",
                    "date": ago(20),
                    "region": "lumbar",
                    "levels": ["L1"],
                    "findings": ["compression_fracture", "marrow_edema"],
                    "concordant_with_symptoms": True,
                    "report_text": "Acute L1 compression fracture with STIR marrow oedema and 30 % "
                    "anterior height loss. No retropulsion, no canal compromise.",
                }
            ],
            "prior_procedures": [],
            "oncology": None,
            "fracture": {
                "level": "L1",
                "onset_date": ago(28),
                "etiology": "osteoporotic",
                "mri_marrow_edema": True,
                "height_loss_percent": 30,
                "progressive_height_loss": True,
                "kyphotic_deformity": False,
                "retropulsion": False,
                "hospitalized": False,
                "bone_density_referral": True,
            },
            "smoking_status": "never",
            "coagulopathy": False,
            "contrast_or_cement_allergy": False,
            "pregnant": False,
            "bmi": 23.1,
        },
        "attachments": [
            {
                "kind": "clinical_note",
                "date": ago(6),
                "title": "Spine clinic visit",
                "text": "80-year-old woman with osteoporosis and severe mid-back pain for four "
                "weeks despite acetaminophen and a brace. Pain 7/10, worse on standing. "
                "MRI shows an acute L1 compression fracture with marrow oedema and 30 % "
                "height loss. Neurologically intact. Referred for bone density evaluation. "
                "Plan: L1 kyphoplasty.",
            }
        ],
    }


def fusion() -> dict:
    """The fusion example with what it lacked: 7 weeks of failed PT and a non-smoker."""
    body = _shifted(
        copy.deepcopy(example("fusion-spondylolisthesis-short-therapy")),
        (today() - EXAMPLE_ANCHOR).days,
    )
    c = body["clinical"]
    c["conservative_care"][0].update(start_date=ago(63), end_date=ago(14), visits=14)
    c["smoking_status"] = "never"
    c["red_flags"] = dict(NO_RED_FLAGS)
    c["diabetes"] = False
    c["psych_screen"] = {"instrument": "phq9", "score": 3, "unmanaged_disorder": False}
    body["attachments"] = [
        {
            "kind": "clinical_note",
            "date": ago(7),
            "title": "Spine surgery consultation",
            "text": "63-year-old woman with low back and bilateral leg pain, worse with walking. "
            "Seven weeks of physical therapy (14 visits) and naproxen without relief. "
            "Never smoked. MRI: grade 1 degenerative anterolisthesis of L4 on L5 with "
            "moderate central stenosis; flexion-extension films show 4.5 mm of motion. "
            "Plan: L4-L5 decompression and instrumented fusion.",
        }
    ]
    return body


BASES = {
    "epidural_steroid_injection": esi,
    "facet_injection": facet,
    "radiofrequency_ablation": rfa,
    "vertebral_augmentation": vertebral_augmentation,
    "spinal_fusion": fusion,
}
