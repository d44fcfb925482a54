"""The fact vocabulary: every name a policy rule may read, its type and the request field it comes from.

It lives in `criteria` (not in `reviews.facts`) because the policy loader must refuse unknown facts
without importing `reviews` (dependencies point one way: reviews -> criteria). `reviews.facts`
builds exactly these names, and a test holds the three together: the catalogue, what facts.py
produces and what the shipped policies read.

`field` is the request path a provider is asked to send when the fact is unknown; `why` is the
plain-words description used in missing-information messages.
"""

from dataclasses import dataclass

# Operators each fact type accepts; the loader refuses any other pairing.
TYPE_OPERATORS: dict[str, frozenset[str]] = {
    "int": frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "documented"}),
    "number": frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "documented"}),
    "bool": frozenset({"is_true", "is_false", "documented"}),
    "str": frozenset({"eq", "ne", "in", "not_in", "documented"}),
    "date": frozenset(
        {"months_since_gte", "months_since_gt", "months_since_lt", "months_since_lte", "documented"}
    ),
    "list": frozenset({"contains", "contains_any", "any_prefix", "none_prefix", "documented"}),
}


@dataclass(frozen=True)
class Fact:
    type: str
    field: str
    why: str


def _f(type_: str, field: str, why: str) -> Fact:
    return Fact(type_, field, why)


# clinical.red_flags.osteoporosis_or_chronic_steroids is accepted by the API but no criterion reads
# it (VA-04 asks for osteoporosis care whatever the history), so it is not a fact.
_RED_FLAG_WHY = {
    "cauda_equina": "whether there are signs of cauda equina syndrome",
    "fever": "whether the member has a fever",
    "recent_bacteremia": "whether there was a recent bloodstream infection",
    "iv_drug_use": "whether there is intravenous drug use",
    "immunosuppression": "whether the member is immunosuppressed",
    "dialysis_or_diabetes": "whether the member is on dialysis or diabetic",
    "cancer_history": "whether there is a history of cancer",
    "malignancy_workup_complete": "whether a suspected malignancy has been fully worked up",
    "unexplained_weight_loss": "whether there is unexplained weight loss",
    "night_pain": "whether there is night or rest pain",
    "significant_trauma": "whether there was significant trauma",
}

FACTS: dict[str, Fact] = {
    # Member and service
    "member.age_years": _f("int", "member.birth_date", "the member's age at review"),
    "member.sex": _f("str", "member.sex", "the member's sex"),
    "service.spinal_region": _f("str", "service.spinal_region", "the spinal region treated"),
    "service.level_count": _f("int", "service.levels", "how many levels are treated"),
    "service.laterality": _f("str", "service.laterality", "the side treated"),
    "service.image_guidance": _f("str", "service.image_guidance", "the image guidance used"),
    "service.contrast": _f("bool", "service.contrast", "whether contrast is used"),
    "service.technique": _f("str", "service.technique", "the ablation or augmentation technique"),
    "service.approach": _f(
        "str", "service.cpt_codes", "the injection approach (transforaminal or interlaminar)"
    ),
    "service.without_image_guidance_code": _f(
        "bool", "service.cpt_codes", "whether an ESI code without imaging guidance is requested"
    ),
    "service.third_level_addon": _f(
        "bool", "service.cpt_codes", "whether a third-or-more-level facet add-on code is requested"
    ),
    "service.block_intent": _f(
        "str", "service.block_intent", "whether the facet injection is diagnostic or therapeutic"
    ),
    "service.fused_segment_count": _f(
        "int",
        "service.levels",
        "how many segments are fused (from the levels and the additional-level codes)",
    ),
    "service.facet_resection_percent": _f(
        "number",
        "service.facet_resection_percent",
        "the planned removal of the facet joint in percent, for a decompression with the fusion",
    ),
    "service.levels_at_prior_fusion": _f(
        "bool", "clinical.prior_fusion_levels", "whether a treated level was fused before"
    ),
    "service.change_from_prior_documented": _f(
        "bool",
        "service.change_from_prior",
        "what changed from the last injection (approach, level or drug) and why",
    ),
    "diagnosis.codes": _f("list", "diagnosis_codes", "the diagnosis codes"),
    # Symptoms, pain and function
    "symptoms.onset_date": _f(
        "date", "clinical.symptom_onset_date", "the date the current episode of pain started"
    ),
    "symptoms.duration_days": _f(
        "int", "clinical.symptom_onset_date", "the date the current episode of pain started"
    ),
    "pain.type": _f("str", "clinical.pain_type", "whether the pain is axial, radicular or mixed"),
    "pain.score": _f("number", "clinical.pain_score_nrs", "the current pain score (NRS 0-10)"),
    "pain.score_reported": _f(
        "bool", "clinical.pain_score_nrs", "whether a current pain score was reported"
    ),
    "pain.worsening": _f(
        "bool", "clinical.pain_scores", "dated earlier pain scores showing the pain's course"
    ),
    "function.score": _f(
        "number", "clinical.function_scale", "a function score on a named instrument"
    ),
    "function.rdq_score": _f(
        "number", "clinical.function_scale", "the Roland-Morris disability score"
    ),
    "function.reported": _f(
        "bool", "clinical.function_scale", "whether a function score was reported"
    ),
    "function.impaired": _f(
        "bool",
        "clinical.function_scale",
        "a function score showing the disability (0 on ODI, NDI or RDQ, or 18 on mJOA, is none)",
    ),
    # Neurological findings
    "neurological.radicular_signs": _f(
        "bool", "clinical.neurological.radicular_signs", "whether there are radicular signs"
    ),
    "neurological.motor_grade_mrc": _f(
        "int", "clinical.neurological.motor_grade_mrc", "the worst motor grade (MRC 0-5)"
    ),
    "neurological.progressive_motor_deficit": _f(
        "bool",
        "clinical.neurological.progressive_motor_deficit",
        "whether a motor deficit is progressing",
    ),
    "neurological.myelopathy": _f(
        "bool", "clinical.neurological.myelopathy", "whether there are myelopathic signs"
    ),
    "neurological.bowel_bladder_dysfunction": _f(
        "bool",
        "clinical.neurological.bowel_bladder_dysfunction",
        "whether there is new bowel or bladder dysfunction",
    ),
    **{
        f"red_flags.{key}": _f("bool", f"clinical.red_flags.{key}", why)
        for key, why in _RED_FLAG_WHY.items()
    },
    # Labs
    "labs.max_temperature_c": _f("number", "clinical.labs", "the highest recorded temperature"),
    "labs.max_crp_mg_l": _f("number", "clinical.labs", "the highest CRP"),
    "labs.max_esr_mm_h": _f("number", "clinical.labs", "the highest ESR"),
    "labs.max_wbc_10e9_l": _f("number", "clinical.labs", "the highest white cell count"),
    "labs.blood_culture_positive": _f(
        "bool", "clinical.labs", "whether a blood culture is positive"
    ),
    "labs.hba1c_percent": _f("number", "clinical.hba1c_percent", "the latest HbA1c"),
    # Conservative care
    "conservative_care.failed_days": _f(
        "int",
        "clinical.conservative_care",
        "dated conservative care (start, end, outcome) that failed or was not tolerated",
    ),
    "conservative_care.any_failed": _f(
        "bool", "clinical.conservative_care", "documented conservative care that failed"
    ),
    "conservative_care.any_tried": _f(
        "bool", "clinical.conservative_care", "the conservative care tried"
    ),
    "conservative_care.physical_therapy_days": _f(
        "int", "clinical.conservative_care", "dated formal physical therapy and its outcome"
    ),
    "conservative_care.medication_trial": _f(
        "bool", "clinical.conservative_care", "the medications tried"
    ),
    "conservative_care.active_rehab_ongoing": _f(
        "bool",
        "clinical.conservative_care",
        "whether a home exercise or rehabilitation programme continues",
    ),
    # Imaging
    "imaging.findings": _f("list", "clinical.imaging", "the imaging studies and their findings"),
    "imaging.advanced_concordant": _f(
        "bool",
        "clinical.imaging",
        "an MRI or CT concordant with the symptoms and the treated level",
    ),
    "imaging.advanced_report_available": _f(
        "bool", "clinical.imaging", "the MRI or CT report text (or an imaging report attachment)"
    ),
    "imaging.advanced_at_level": _f(
        "bool", "clinical.imaging", "an MRI or CT showing the pathology at the treated level"
    ),
    "imaging.normal_study_contradicted": _f(
        "bool",
        "clinical.imaging",
        "whether a study reported normal is marked concordant with the symptoms or lists a "
        "pathology as well",
    ),
    "imaging.fused_levels_match_indication": _f(
        "bool",
        "clinical.imaging",
        "the levels of the imaging showing the fusion indication (listhesis, stenosis, "
        "instability), for every fused segment",
    ),
    "imaging.recurrent_herniation_at_level": _f(
        "bool",
        "clinical.prior_discectomy_levels",
        "an earlier discectomy at a fused level and a disc herniation there again on MRI or CT",
    ),
    "imaging.latest_advanced_date": _f(
        "date", "clinical.imaging", "the date of the latest MRI or CT"
    ),
    "imaging.max_translation_mm": _f(
        "number", "clinical.imaging", "translation in mm on flexion-extension films"
    ),
    "imaging.instability_claimed": _f("bool", "clinical.imaging", "whether instability is claimed"),
    "imaging.flexion_extension_done": _f(
        "bool", "clinical.imaging", "flexion-extension films where instability is claimed"
    ),
    # Epidural steroid injection history (same region)
    "esi.sessions_rolling_12_months": _f(
        "int", "clinical.prior_procedures", "earlier epidural injections with dates and regions"
    ),
    "esi.is_repeat": _f(
        "bool", "clinical.prior_procedures", "earlier epidural injections with dates and regions"
    ),
    "esi.last_relief_percent": _f(
        "number", "clinical.prior_procedures", "the relief from the last epidural injection"
    ),
    "esi.last_relief_months": _f(
        "int", "clinical.prior_procedures", "how long the last epidural injection's relief lasted"
    ),
    "esi.last_same_scale": _f(
        "bool",
        "clinical.prior_procedures",
        "the named pain scale with baseline and post scores for the last epidural injection",
    ),
    "esi.days_since_last": _f(
        "int", "clinical.prior_procedures", "the date of the last epidural injection"
    ),
    # Facet blocks (same region, since the last ablation there)
    "facet.diagnostic_blocks_prior": _f(
        "int", "clinical.prior_procedures", "the earlier diagnostic facet blocks with dates"
    ),
    "facet.last_block_relief_percent": _f(
        "number", "clinical.prior_procedures", "the relief from the latest diagnostic block"
    ),
    "facet.last_block_relief_hours": _f(
        "number",
        "clinical.prior_procedures",
        "how long the latest diagnostic block's relief lasted (relief_duration_hours)",
    ),
    "facet.last_block_duration_reported": _f(
        "bool",
        "clinical.prior_procedures",
        "whether the latest diagnostic block's relief duration was reported",
    ),
    "facet.last_block_anaesthetic": _f(
        "str",
        "clinical.prior_procedures",
        "the anaesthetic of the latest diagnostic block (e.g. lidocaine, bupivacaine)",
    ),
    "facet.previous_block_relief_hours": _f(
        "number",
        "clinical.prior_procedures",
        "how long the relief of the block before the latest lasted (relief_duration_hours)",
    ),
    "facet.previous_block_duration_reported": _f(
        "bool",
        "clinical.prior_procedures",
        "whether the relief duration of the block before the latest was reported",
    ),
    "facet.previous_block_anaesthetic": _f(
        "str",
        "clinical.prior_procedures",
        "the anaesthetic of the block before the latest (e.g. lidocaine, bupivacaine)",
    ),
    "facet.previous_block_relief_percent": _f(
        "number", "clinical.prior_procedures", "the relief from the block before the latest"
    ),
    "facet.days_between_last_two_blocks": _f(
        "int", "clinical.prior_procedures", "the dates of the two latest diagnostic blocks"
    ),
    "facet.days_since_last_block": _f(
        "int", "clinical.prior_procedures", "the date of the latest diagnostic block"
    ),
    "facet.last_block_same_scale": _f(
        "bool",
        "clinical.prior_procedures",
        "the named pain scale with baseline and post scores for the latest block",
    ),
    "facet.diagnostic_sessions_rolling_12_months": _f(
        "int", "clinical.prior_procedures", "earlier diagnostic facet blocks with dates"
    ),
    "facet.therapeutic_sessions_rolling_12_months": _f(
        "int", "clinical.prior_procedures", "earlier therapeutic facet injections with dates"
    ),
    "facet.prior_therapeutic_count": _f(
        "int", "clinical.prior_procedures", "earlier therapeutic facet injections with dates"
    ),
    "facet.last_therapeutic_relief_percent": _f(
        "number", "clinical.prior_procedures", "the relief from the last therapeutic injection"
    ),
    "facet.last_therapeutic_relief_months": _f(
        "int",
        "clinical.prior_procedures",
        "how long the last therapeutic facet injection's relief lasted",
    ),
    "facet.block_at_successful_rfa_level": _f(
        "bool",
        "clinical.prior_procedures",
        "whether a diagnostic block targets a level with a successful earlier ablation",
    ),
    # Radiofrequency ablation history (same region)
    "rfa.prior_count": _f(
        "int", "clinical.prior_procedures", "earlier radiofrequency ablations with dates"
    ),
    "rfa.last_date": _f("date", "clinical.prior_procedures", "the date of the last ablation"),
    "rfa.last_relief_percent": _f(
        "number", "clinical.prior_procedures", "the relief from the last ablation"
    ),
    "rfa.last_relief_months": _f(
        "int", "clinical.prior_procedures", "how long the last ablation's relief lasted"
    ),
    "rfa.last_same_scale": _f(
        "bool",
        "clinical.prior_procedures",
        "the named pain scale with baseline and post scores for the last ablation",
    ),
    "rfa.sessions_rolling_12_months": _f(
        "int", "clinical.prior_procedures", "earlier radiofrequency ablations with dates"
    ),
    # Vertebral fracture
    "fracture.etiology": _f("str", "clinical.fracture.etiology", "the cause of the fracture"),
    "fracture.age_days": _f(
        "int", "clinical.fracture.onset_date", "the date the fracture pain began"
    ),
    "fracture.level_in_range": _f(
        "bool", "clinical.fracture.level", "the fractured level (T1 to L5 are covered)"
    ),
    "fracture.mri_marrow_edema": _f(
        "bool", "clinical.fracture.mri_marrow_edema", "whether MRI shows marrow oedema"
    ),
    "fracture.bone_scan_uptake": _f(
        "bool", "clinical.fracture.bone_scan_uptake", "whether a bone scan shows uptake"
    ),
    "fracture.hospitalized": _f(
        "bool", "clinical.fracture.hospitalized", "whether the member is hospitalised for the pain"
    ),
    "fracture.height_loss_percent": _f(
        "number", "clinical.fracture.height_loss_percent", "the vertebral height loss in percent"
    ),
    "fracture.progressive_height_loss": _f(
        "bool", "clinical.fracture.progressive_height_loss", "whether height loss is progressing"
    ),
    "fracture.kyphotic_deformity": _f(
        "bool", "clinical.fracture.kyphotic_deformity", "whether there is kyphotic deformity"
    ),
    "fracture.retropulsion": _f(
        "bool", "clinical.fracture.retropulsion", "whether there is retropulsion"
    ),
    "fracture.bone_density_referral": _f(
        "bool",
        "clinical.fracture.bone_density_referral",
        "the referral for bone-density evaluation and osteoporosis care",
    ),
    # Oncology
    "oncology.metastatic_indication": _f(
        "bool",
        "clinical.oncology.metastatic_disease",
        "whether the request is for metastatic disease",
    ),
    "oncology.neoplasm_declared": _f(
        "bool",
        "clinical.oncology.metastatic_disease",
        "whether the request is made for a neoplastic lesion (metastatic disease, a metastatic "
        "or myeloma fracture, or a code of a spinal malignancy)",
    ),
    "oncology.life_expectancy_months": _f(
        "number", "clinical.oncology.life_expectancy_months", "the estimated life expectancy"
    ),
    "oncology.ecog": _f("int", "clinical.oncology.ecog", "the ECOG performance status"),
    "oncology.epidural_tumor_abuts_cord": _f(
        "bool",
        "clinical.oncology.epidural_tumor_abuts_cord",
        "whether epidural tumour abuts the spinal cord",
    ),
    "oncology.escc_grade": _f(
        "str", "clinical.oncology.escc_grade", "the epidural spinal cord compression grade"
    ),
    "oncology.sins_score": _f("int", "clinical.oncology.sins_score", "the SINS instability score"),
    "oncology.radiotherapy_to_level": _f(
        "bool", "clinical.oncology.radiotherapy_to_level", "whether the level was irradiated"
    ),
    "oncology.recurrence_after_radiotherapy": _f(
        "bool",
        "clinical.oncology.recurrence_after_radiotherapy",
        "whether the tumour recurred at the level after radiotherapy",
    ),
    "oncology.deficit_progressing_despite_radiotherapy": _f(
        "bool",
        "clinical.oncology.deficit_progressing_despite_radiotherapy",
        "whether a deficit progresses despite radiotherapy",
    ),
    # Surgical readiness
    "smoking.status": _f("str", "clinical.smoking_status", "the smoking status"),
    "nicotine.free_days": _f(
        "int", "clinical.nicotine_free_since", "the date the member stopped nicotine"
    ),
    "nicotine.cotinine_ng_ml": _f(
        "number", "clinical.nicotine_test", "a nicotine or cotinine test result"
    ),
    "nicotine.cotinine_reported": _f(
        "bool", "clinical.nicotine_test", "whether a cotinine result was reported"
    ),
    "body.bmi": _f("number", "clinical.bmi", "the body-mass index"),
    "metabolic.diabetes": _f("bool", "clinical.diabetes", "whether the member is diabetic"),
    "psych.unmanaged_disorder": _f(
        "bool", "clinical.psych_screen", "a psychological screening result"
    ),
    # Documentation
    "documentation.supporting": _f(
        "bool",
        "attachments",
        "the documentation: a clinical note or imaging report supporting the attested facts",
    ),
    # Contraindications
    "contraindications.coagulopathy": _f(
        "bool", "clinical.coagulopathy", "whether there is an uncorrected coagulopathy"
    ),
    "contraindications.contrast_or_cement_allergy": _f(
        "bool",
        "clinical.contrast_or_cement_allergy",
        "whether there is a contrast or cement allergy",
    ),
    "pregnancy.pregnant": _f("bool", "clinical.pregnant", "whether the member is pregnant"),
}

FACT_NAMES: frozenset[str] = frozenset(FACTS)
