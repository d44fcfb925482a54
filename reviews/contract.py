"""The intake contract (docs/api/REQUEST.md): its vocabularies, the spinal-level grammar and the
input serializers, used by the REST API and the FHIR intake alike.

Input serializers only check the shape of what the provider sent (types, enumerations, ranges,
dates, code formats); what happens to a request lives in reviews.services. They are strict in one
way on purpose: an unknown key anywhere is refused, because a misspelled fact would otherwise be
stored as "unknown" and quietly pend or misroute the request. An omitted or null optional field
is accepted and means *unknown*, never "no".

`RequestCreateInput` is the whole contract; the FHIR intake maps a Claim bundle to the same dict
and validates it through the same class, so both channels refuse the same things.

`VOCABULARY` is the same fields as a person meets them: the FHIR Questionnaires and the case page
build their items and labels from it, so a question and the row showing its answer agree.
"""

import math
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notes.limits import NoteSizeLimits
from reviews import reference, spine, vocabulary
from reviews.models import (
    Attachment,
    LineOfBusiness,
    Urgency,
)

# --- Enumerations of the contract (REQUEST.md) ------------------------------------------------
SEXES = ("female", "male", "other", "unknown")
SPINAL_REGIONS = ("cervical", "thoracic", "lumbar", "sacral")
LATERALITIES = ("left", "right", "bilateral", "midline")
IMAGE_GUIDANCE = ("fluoroscopy", "ct", "ultrasound", "none")
# REQUEST.md lists thermal, pulsed and cooled RFA, kyphoplasty and vertebroplasty as examples;
# the other ablation techniques are named so that the criteria (FJ-11) can see them as such.
TECHNIQUES = (
    "thermal_rfa",
    "pulsed_rfa",
    "cooled_rfa",
    "chemical_neurolysis",
    "cryoneurolysis",
    "laser_ablation",
    "kyphoplasty",
    "vertebroplasty",
    "other",
)
BLOCK_INTENTS = ("diagnostic", "therapeutic")
SETTINGS = ("office", "ambulatory_surgery_center", "hospital_outpatient", "inpatient")
PAIN_TYPES = ("axial", "radicular", "mixed")
FUNCTION_INSTRUMENTS = ("odi", "ndi", "rdq", "mjoa")
# The score range of each function instrument (REQUEST.md `function_scale`).
FUNCTION_RANGES = {"odi": (0, 100), "ndi": (0, 100), "rdq": (0, 24), "mjoa": (0, 18)}
RED_FLAGS = (
    "cauda_equina",
    "fever",
    "recent_bacteremia",
    "iv_drug_use",
    "immunosuppression",
    "dialysis_or_diabetes",
    "cancer_history",
    "malignancy_workup_complete",
    "unexplained_weight_loss",
    "night_pain",
    "significant_trauma",
    "osteoporosis_or_chronic_steroids",
)
CONSERVATIVE_CARE_MODALITIES = (
    "physical_therapy",
    "home_exercise",
    "chiropractic",
    "nsaid",
    "acetaminophen",
    "muscle_relaxant",
    "neuropathic_agent",
    "oral_steroid",
    "opioid",
    "activity_modification",
    "acupuncture",
    "massage",
    "cognitive_behavioral_therapy",
    "bracing",
    "other",
)
CONSERVATIVE_CARE_OUTCOMES = ("failed", "partial_relief", "resolved", "not_tolerated", "ongoing")
IMAGING_MODALITIES = ("mri", "ct", "ct_myelogram", "xray", "xray_flexion_extension", "bone_scan")
IMAGING_FINDINGS = (
    "disc_herniation",
    "nerve_root_compression",
    "central_stenosis",
    "foraminal_stenosis",
    "spondylolisthesis",
    "dynamic_instability",
    "spondylolysis",
    "pseudarthrosis",
    "deformity",
    "cord_compression",
    "cord_signal_change",
    "facet_arthropathy",
    "degenerative_disc_disease",
    "compression_fracture",
    "marrow_edema",
    "epidural_tumor",
    "osseous_metastasis",
    "indeterminate_marrow_lesion",
    "marrow_replacement",
    "canal_compromise",
    "infection",
    "normal",
)
PAIN_SCALES = ("nrs", "vas_mm")
# The range of a pain score on each scale: NRS 0-10, VAS 0-100 mm.
PAIN_SCALE_RANGES = {"nrs": (0, 10), "vas_mm": (0, 100)}
ESCC_GRADES = ("0", "1a", "1b", "1c", "2", "3")
FRACTURE_ETIOLOGIES = ("osteoporotic", "metastatic", "myeloma", "traumatic")
SMOKING_STATUSES = ("never", "former", "current")
LAB_TESTS = (
    "crp_mg_l",
    "esr_mm_h",
    "wbc_10e9_l",
    "temperature_c",
    "blood_culture",
    "hba1c_percent",
    "spep",
)
LAB_RESULTS = ("positive", "negative", "pending")
# Plausible ranges per numeric lab: a value outside is a unit or typing error, not a finding.
LAB_RANGES = {
    "crp_mg_l": (0, 1000),
    "esr_mm_h": (0, 200),
    "wbc_10e9_l": (0, 500),
    "temperature_c": (25, 45),
    "hba1c_percent": (3, 20),
    "spep": (0, 100),
}
# Results that are words, not numbers.
LAB_TEXT_ONLY = frozenset({"blood_culture"})
ATTACHMENT_KINDS = tuple(Attachment.Kind.values)
MAX_ATTACHMENT_CHARS = 200_000
MAX_TEXT_CHARS = 20_000

# A CPT code: five digits (Category I) or four digits and T (Category III, emerging procedures).
CPT_FORMAT = re.compile(r"^[0-9]{4}[0-9T]$")


def _choices(values) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


# --- Fields -------------------------------------------------------------------------------------


class NumberField(serializers.FloatField):
    """A JSON number, kept as sent (7 stays 7, 27.4 stays 27.4); strings and booleans refused."""

    default_error_messages = {"invalid": "A number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if isinstance(data, float) and not math.isfinite(data):
            self.fail("invalid")
        return data


class StrictBooleanField(serializers.BooleanField):
    """true or false only: "yes" or 1 for a clinical fact is more likely a mistake than an answer."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


def validate_past_date(value: date | None) -> None:
    if value is not None and value > timezone.localdate():
        raise serializers.ValidationError("Cannot be in the future.")


def validate_level(value: str) -> None:
    """A level as reviews/spine.py reads it (L6 a known variant), written the canonical way."""
    try:
        span = spine.parse(value)
    except spine.LevelError as error:
        raise serializers.ValidationError(str(error)) from None
    if str(span) != value:
        raise serializers.ValidationError(f"'{value}': write it as '{span}'.")


def validate_cpt_format(value: str) -> None:
    if not CPT_FORMAT.match(value or ""):
        raise serializers.ValidationError(
            f"'{value}' is not a CPT code: five digits, or four digits and T."
        )


def validate_icd10(value: str) -> None:
    if not reference.icd10_is_billable(value):
        raise serializers.ValidationError(
            f"'{value}' is not a billable ICD-10-CM code (a category like M54.5 is not a code)."
        )


def validate_npi(value: str) -> None:
    if not reference.npi_is_valid(value):
        raise serializers.ValidationError(
            "Not a valid NPI: 10 digits whose last digit is the Luhn check digit."
        )


def past_date(help_text: str, **kwargs) -> serializers.DateField:
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_null", not kwargs["required"])
    return serializers.DateField(
        help_text=help_text + " ISO date (YYYY-MM-DD), not in the future.",
        validators=[validate_past_date],
        **kwargs,
    )


def choice(values, help_text: str, **kwargs) -> serializers.ChoiceField:
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_null", not kwargs["required"])
    return serializers.ChoiceField(choices=_choices(values), help_text=help_text, **kwargs)


def number(help_text: str, low=None, high=None, **kwargs) -> NumberField:
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_null", not kwargs["required"])
    return NumberField(min_value=low, max_value=high, help_text=help_text, **kwargs)


def integer(help_text: str, low=None, high=None, **kwargs) -> serializers.IntegerField:
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_null", not kwargs["required"])
    return serializers.IntegerField(min_value=low, max_value=high, help_text=help_text, **kwargs)


def boolean(help_text: str) -> StrictBooleanField:
    return StrictBooleanField(required=False, allow_null=True, help_text=help_text)


def text(help_text: str, max_length: int = 200, **kwargs) -> serializers.CharField:
    kwargs.setdefault("required", False)
    if not kwargs["required"]:
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("allow_blank", True)
    return serializers.CharField(max_length=max_length, help_text=help_text, **kwargs)


def level_list(help_text: str, **kwargs) -> serializers.ListField:
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_null", True)
    return serializers.ListField(
        child=serializers.CharField(max_length=7, validators=[validate_level]),
        max_length=30,
        help_text=help_text + " Each a vertebra ('L1') or a segment ('L4-L5').",
        **kwargs,
    )


def objects(serializer_class, help_text: str, **kwargs):
    """An optional list of nested objects (null or omitted: unknown)."""
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_null", True)
    kwargs.setdefault("max_length", 500)
    return serializer_class(many=True, help_text=help_text, **kwargs)


def nested(serializer_class, help_text: str, **kwargs):
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_null", not kwargs["required"])
    return serializer_class(help_text=help_text, **kwargs)


@extend_schema_field(
    {"oneOf": [{"type": "boolean"}, {"type": "string", "maxLength": MAX_TEXT_CHARS}]}
)
class BoolOrTextField(serializers.Field):
    """`change_from_prior` answers: true/false, or a short text saying what changed."""

    default_error_messages = {"invalid": "Must be true, false or a text."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and len(data) <= MAX_TEXT_CHARS:
            return data
        self.fail("invalid")

    def to_representation(self, value):
        return value


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "string", "enum": list(LAB_RESULTS)}]})
class LabValueField(serializers.Field):
    """A lab result: a number, or positive / negative / pending (cultures, pending results)."""

    default_error_messages = {
        "invalid": "Must be a number, or one of: positive, negative, pending.",
    }

    def to_internal_value(self, data):
        if isinstance(data, str) and data in LAB_RESULTS:
            return data
        if isinstance(data, int | float) and not isinstance(data, bool) and math.isfinite(data):
            return data
        self.fail("invalid")

    def to_representation(self, value):
        return value


# --- Strict input base --------------------------------------------------------------------------


class StrictInput(serializers.Serializer):
    """Refuses keys it does not know, listing each one under its own path."""

    def to_internal_value(self, data):
        errors: dict[str, Any] = {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            errors.update(exc.detail)
            value = None
        if isinstance(data, dict):
            for key in sorted(set(data) - set(self.fields), key=str):
                errors[key] = [
                    "Unknown field: Lamina does not accept it (check the spelling against "
                    "the API schema)."
                ]
        if errors:
            raise serializers.ValidationError(errors)
        return value


# --- The request (REQUEST.md) -------------------------------------------------------------------


class MemberInput(StrictInput):
    member_id = serializers.CharField(
        max_length=64, help_text="The health plan's member identifier."
    )
    first_name = serializers.CharField(max_length=100, help_text="The member's given name.")
    last_name = serializers.CharField(max_length=100, help_text="The member's family name.")
    birth_date = past_date("The member's date of birth.", required=True)
    sex = serializers.ChoiceField(
        choices=_choices(SEXES),
        required=False,
        allow_null=True,
        default="unknown",
        help_text="Administrative sex; omitted or null is stored as `unknown`.",
    )

    def validate_sex(self, value):
        return value or "unknown"


class RequestingProviderInput(StrictInput):
    npi = serializers.CharField(
        max_length=10,
        validators=[validate_npi],
        help_text="The requesting clinician's National Provider Identifier: 10 digits with a "
        "valid Luhn check digit.",
    )
    name = serializers.CharField(max_length=200, help_text="The requesting clinician's name.")
    specialty = text("The clinician's specialty, free text (e.g. `pain medicine`).")


class ChangeFromPriorInput(StrictInput):
    approach = BoolOrTextField(
        required=False,
        allow_null=True,
        help_text="Whether the approach changed from the last injection (true/false or text).",
    )
    levels = BoolOrTextField(
        required=False,
        allow_null=True,
        help_text="Whether the levels changed from the last injection (true/false or text).",
    )
    injectate = BoolOrTextField(
        required=False,
        allow_null=True,
        help_text="Whether the injectate changed from the last injection (true/false or text).",
    )
    rationale = text("Why a repeat injection is expected to help.", max_length=MAX_TEXT_CHARS)


class ServiceInput(StrictInput):
    cpt_codes = serializers.ListField(
        child=serializers.CharField(max_length=5, validators=[validate_cpt_format]),
        min_length=1,
        max_length=20,
        help_text="The procedure lines as CPT codes; all must belong to one procedure family "
        "(decompression codes only as companions of a spinal fusion). A well-formed code no "
        "Lamina policy covers is accepted and goes to a human reviewer.",
    )
    spinal_region = choice(SPINAL_REGIONS, "The spinal region treated.")
    levels = level_list("The levels treated (or the entry level of an injection).")
    laterality = choice(LATERALITIES, "The side treated.")
    units = integer("Units requested; 1 when omitted.", 1, 50)
    image_guidance = choice(IMAGE_GUIDANCE, "Imaging guidance, for injections and ablation.")
    contrast = boolean("Whether contrast is used, for injections.")
    technique = choice(
        TECHNIQUES, "The technique, e.g. `thermal_rfa` for ablation or `kyphoplasty`."
    )
    target_levels = level_list(
        "The treated levels when they differ from `levels` (an interlaminar injection entered "
        "at C7-T1 for C5-C6 pathology)."
    )
    block_intent = choice(
        BLOCK_INTENTS,
        "For facet injections: diagnostic or therapeutic. Omitted with no earlier block in "
        "`prior_procedures`: a first diagnostic block.",
    )
    change_from_prior = nested(
        ChangeFromPriorInput,
        "For a repeat injection: what changed from the last one and why.",
    )
    setting = choice(SETTINGS, "Where the procedure is done.")
    facet_resection_percent = number(
        "For a fusion with decompression: the planned removal of the facet joint, in percent "
        "(more than 50 % destabilises the segment, an accepted fusion indication).",
        0,
        100,
    )
    planned_date = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="The planned date of the procedure: ISO date, not before today.",
    )

    def validate_planned_date(self, value):
        if value is not None and value < timezone.localdate():
            raise serializers.ValidationError("Cannot be before the request's date (today).")
        return value

    def validate_cpt_codes(self, value):
        _, problem = reference.family_for_codes(list(value))
        if problem:
            raise serializers.ValidationError(problem)
        return value


class PainScoreInput(StrictInput):
    date = past_date("When the score was recorded.", required=True)
    nrs = number("Pain on the 0-10 numeric rating scale.", 0, 10, required=True)


class FunctionScaleInput(StrictInput):
    instrument = choice(
        FUNCTION_INSTRUMENTS,
        "The function instrument: Oswestry (odi), Neck Disability Index (ndi), Roland-Morris "
        "(rdq) or modified JOA (mjoa).",
        required=True,
    )
    score = number(
        "The score on the instrument's own range: odi/ndi 0-100, rdq 0-24, mjoa 0-18.",
        0,
        100,
        required=True,
    )

    def validate(self, attrs):
        low, high = FUNCTION_RANGES[attrs["instrument"]]
        if not low <= attrs["score"] <= high:
            raise serializers.ValidationError(
                {"score": [f"{attrs['instrument']} scores run from {low} to {high}."]}
            )
        return attrs


class RedFlagsInput(StrictInput):
    cauda_equina = boolean("Cauda equina syndrome (saddle anaesthesia, retention).")
    fever = boolean("Fever.")
    recent_bacteremia = boolean("Recent bacteremia.")
    iv_drug_use = boolean("Intravenous drug use.")
    immunosuppression = boolean("Immunosuppression.")
    dialysis_or_diabetes = boolean("Dialysis or diabetes (infection risk).")
    cancer_history = boolean("A history of cancer.")
    malignancy_workup_complete = boolean("A malignancy work-up was completed.")
    unexplained_weight_loss = boolean("Unexplained weight loss.")
    night_pain = boolean("Pain at night or at rest.")
    significant_trauma = boolean("Significant trauma.")
    osteoporosis_or_chronic_steroids = boolean("Osteoporosis or chronic steroid use.")


class MotorExamInput(StrictInput):
    date = past_date("When the muscle was examined.", required=True)
    muscle = text("The muscle examined (e.g. `ankle dorsiflexors`).", required=True)
    grade = number("MRC motor grade, 0-5.", 0, 5, required=True)


class NeurologicalInput(StrictInput):
    radicular_signs = boolean("Radicular signs on examination (e.g. straight leg raise).")
    motor_grade_mrc = number("MRC motor grade of the worst affected muscle, 0-5.", 0, 5)
    progressive_motor_deficit = boolean("A motor deficit that is getting worse.")
    myelopathy = boolean("Signs of myelopathy.")
    bowel_bladder_dysfunction = boolean("Bowel or bladder dysfunction.")
    motor_exams = objects(
        MotorExamInput,
        "Dated motor examinations; a grade worsening between exams is a progressive deficit "
        "even when the flag is absent.",
    )


class ConservativeCareInput(StrictInput):
    modality = choice(CONSERVATIVE_CARE_MODALITIES, "The kind of conservative care.", required=True)
    start_date = past_date("When it started.")
    end_date = past_date("When it ended; null while ongoing.")
    visits = integer("Number of visits (therapy).", 0, 1000)
    outcome = choice(CONSERVATIVE_CARE_OUTCOMES, "How it went.")
    detail = text("Free-text detail (drug and dose, programme).", max_length=2000)

    def validate(self, attrs):
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if start and end and end < start:
            raise serializers.ValidationError({"end_date": ["Cannot be before start_date."]})
        return attrs


class ImagingInput(StrictInput):
    modality = choice(IMAGING_MODALITIES, "The imaging study.", required=True)
    date = past_date("When the study was done.")
    region = choice(SPINAL_REGIONS, "The spinal region imaged.")
    levels = level_list("The levels the findings concern.")
    findings = serializers.ListField(
        child=serializers.ChoiceField(choices=_choices(IMAGING_FINDINGS)),
        required=False,
        allow_null=True,
        max_length=len(IMAGING_FINDINGS),
        help_text="The findings, from Lamina's vocabulary.",
    )
    concordant_with_symptoms = boolean("Whether the findings match the symptoms and exam.")
    translation_mm = number("Translation on flexion-extension views, in mm.", 0, 50)
    report_text = text("The radiologist's report.", max_length=MAX_ATTACHMENT_CHARS)


class PriorProcedureInput(StrictInput):
    cpt_code = serializers.CharField(
        max_length=5,
        required=False,
        allow_null=True,
        validators=[validate_cpt_format],
        help_text="The CPT code of the earlier procedure.",
    )
    date = past_date("When it was done.")
    region = choice(SPINAL_REGIONS, "The spinal region treated.")
    levels = level_list("The levels treated.")
    laterality = choice(LATERALITIES, "The side treated.")
    agent = text("The agent injected (e.g. `lidocaine`, `bupivacaine`, `triamcinolone`).")
    pain_scale = choice(PAIN_SCALES, "The scale of the scores: nrs (0-10) or vas_mm (0-100).")
    baseline_score = number("Pain before the procedure, on `pain_scale`.", 0, 100)
    post_score = number("Pain after the procedure, on `pain_scale`.", 0, 100)
    relief_percent = number("Percent relief, 0-100; computed from the scores when absent.", 0, 100)
    relief_duration_hours = number("How long the relief lasted, in hours (blocks).", 0, 100_000)
    relief_duration_days = number("How long the relief lasted, in days.", 0, 10_000)

    def validate(self, attrs):
        scale = attrs.get("pain_scale")
        if scale:
            low, high = PAIN_SCALE_RANGES[scale]
            errors = {
                name: [f"On the {scale} scale a score runs from {low} to {high}."]
                for name in ("baseline_score", "post_score")
                if attrs.get(name) is not None and not low <= attrs[name] <= high
            }
            if errors:
                raise serializers.ValidationError(errors)
        return attrs


class OncologyInput(StrictInput):
    metastatic_disease = boolean("Metastatic disease.")
    primary_cancer = text("The primary cancer.")
    life_expectancy_months = number("Estimated life expectancy in months.", 0, 1200)
    ecog = integer("ECOG performance status, 0-4.", 0, 4)
    epidural_tumor_abuts_cord = boolean("Epidural tumor abutting the spinal cord.")
    escc_grade = choice(ESCC_GRADES, "Epidural spinal cord compression grade (Bilsky).")
    sins_score = integer("Spinal Instability Neoplastic Score, 0-18.", 0, 18)
    radiotherapy_to_level = boolean("Radiotherapy given to the level.")
    recurrence_after_radiotherapy = boolean(
        "The tumour recurred at the level after radiotherapy (radiotherapy alone is not a "
        "reason for surgery)."
    )
    deficit_progressing_despite_radiotherapy = boolean(
        "A neurological deficit progressing despite radiotherapy."
    )


class FractureInput(StrictInput):
    level = serializers.CharField(
        max_length=7,
        required=False,
        allow_null=True,
        validators=[validate_level],
        help_text="The fractured vertebra (e.g. `L1`).",
    )
    onset_date = past_date("When the fracture happened or pain began.")
    etiology = choice(FRACTURE_ETIOLOGIES, "The cause of the fracture.")
    mri_marrow_edema = boolean("Marrow edema on MRI (an acute fracture).")
    bone_scan_uptake = boolean("Increased uptake on bone scan.")
    height_loss_percent = number("Vertebral height lost, percent.", 0, 100)
    progressive_height_loss = boolean("Height loss getting worse on serial imaging.")
    kyphotic_deformity = boolean("Kyphotic deformity.")
    retropulsion = boolean("Retropulsion of fragments into the canal.")
    hospitalized = boolean("Hospitalized for the fracture pain.")
    bone_density_referral = boolean("Referred for bone density evaluation and treatment.")


class NicotineTestInput(StrictInput):
    date = past_date("When the sample was taken.")
    cotinine_ng_ml = number("Cotinine level, ng/mL.", 0, 10_000)


class PsychScreenInput(StrictInput):
    instrument = text("The screening instrument (e.g. `phq9`).", max_length=40)
    score = number("The screening score.", 0, 1000)
    unmanaged_disorder = boolean("A psychiatric disorder that is not being managed.")


class LabInput(StrictInput):
    test = choice(LAB_TESTS, "The laboratory test.", required=True)
    value = LabValueField(
        help_text="The result: a number in the test's unit, or positive/negative/pending "
        "(blood cultures take only these).",
    )
    date = past_date("When the sample was taken.")

    def validate(self, attrs):
        test, value = attrs["test"], attrs["value"]
        if isinstance(value, str):
            if value != "pending" and test not in LAB_TEXT_ONLY and test != "spep":
                raise serializers.ValidationError(
                    {"value": [f"{test} is a number (or `pending`)."]}
                )
            return attrs
        if test in LAB_TEXT_ONLY:
            raise serializers.ValidationError(
                {"value": ["A blood culture is positive, negative or pending."]}
            )
        low, high = LAB_RANGES[test]
        if not low <= value <= high:
            raise serializers.ValidationError({"value": [f"{test} must be {low}-{high}."]})
        return attrs


class ClinicalInput(StrictInput):
    symptom_onset_date = past_date("Start of the current episode.")
    pain_type = choice(PAIN_TYPES, "Axial, radicular or mixed pain.")
    pain_score_nrs = number("Current pain on the 0-10 numeric rating scale.", 0, 10)
    pain_score_vas_mm = number("Current pain on a 0-100 mm visual analogue scale.", 0, 100)
    pain_scores = objects(PainScoreInput, "Earlier pain scores, for a trajectory.")
    function_scale = nested(FunctionScaleInput, "A functional disability score.")
    red_flags = nested(
        RedFlagsInput, "Red flags assessed, each true or false; a missing key is unknown."
    )
    neurological = nested(NeurologicalInput, "Neurological findings.")
    conservative_care = objects(
        ConservativeCareInput, "Episodes of conservative care: therapy, drugs, other."
    )
    imaging = objects(ImagingInput, "Imaging studies and their findings.")
    prior_procedures = objects(PriorProcedureInput, "Earlier spine procedures and their effect.")
    oncology = nested(OncologyInput, "Cancer-related facts, or null.")
    fracture = nested(FractureInput, "A vertebral compression fracture, or null.")
    prior_fusion_levels = level_list("Levels fused before.")
    prior_discectomy_levels = level_list(
        "Levels of an earlier disc excision (discectomy): a herniation there again is a "
        "recurrent same-level herniation."
    )
    smoking_status = choice(SMOKING_STATUSES, "Never, former or current smoker.")
    nicotine_free_since = past_date("For a former smoker: nicotine-free since.")
    bmi = number("Body-mass index, 10-90.", 10, 90)
    hba1c_percent = number("Latest HbA1c, percent.", 3, 20)
    diabetes = boolean("Diabetes mellitus.")
    nicotine_test = nested(NicotineTestInput, "The latest nicotine (cotinine) test.")
    cessation_counselling = boolean("Smoking-cessation counselling given.")
    psych_screen = nested(PsychScreenInput, "A psychological screen.")
    labs = objects(LabInput, "Laboratory results.")
    coagulopathy = boolean("An uncorrected coagulopathy.")
    contrast_or_cement_allergy = boolean("Allergy to contrast or bone cement.")
    pregnant = boolean("Pregnancy.")

    def validate(self, attrs):
        if attrs.get("smoking_status") == "current" and attrs.get("nicotine_free_since"):
            raise serializers.ValidationError(
                {"nicotine_free_since": ["A current smoker has no nicotine-free date."]}
            )
        return attrs


class AttachmentInput(StrictInput):
    kind = choice(ATTACHMENT_KINDS, "What the document is.", required=True)
    date = past_date("The document's date.")
    title = text("A short title.")
    text = serializers.CharField(
        max_length=MAX_ATTACHMENT_CHARS,
        help_text="The document as plain text. Notes are read for evidence, so their size is "
        "bounded: NOTE_MAX_CHARS per note and NOTE_MAX_SUBMISSION_CHARS for all the notes of one "
        "submission (20,000 and 100,000 characters unless the plan sets otherwise).",
    )


def _clinical_dates(clinical: dict) -> list[tuple[str, date]]:
    """(path, date) for every date of the clinical facts: none may precede the member's birth."""
    found: list[tuple[str, date]] = []

    def walk(value, path):
        if isinstance(value, date):
            found.append((path, value))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")

    walk(clinical, "clinical")
    return found


class RequestCreateInput(NoteSizeLimits, StrictInput):
    """The provider's prior-authorization request (REQUEST.md)."""

    external_id = text("The provider's own reference, echoed back.", max_length=100)
    urgency = serializers.ChoiceField(
        choices=Urgency.choices,
        help_text="expedited: the provider attests that waiting could seriously jeopardize life, "
        "health or function (72-hour clock); standard: 7 calendar days.",
    )
    line_of_business = choice(
        LineOfBusiness.values,
        "Selects the policy profile and the decision clock; the plan default when omitted.",
    )
    member = MemberInput(help_text="The health-plan member the request is for.")
    requesting_provider = RequestingProviderInput(
        help_text="The clinician who asks for the procedure."
    )
    service = ServiceInput(help_text="What is to be done.")
    diagnosis_codes = serializers.ListField(
        child=serializers.CharField(max_length=8, validators=[validate_icd10]),
        min_length=1,
        max_length=12,
        help_text="Billable ICD-10-CM codes (e.g. `M51.17`; `M54.5` is a category, not a code).",
    )
    clinical = ClinicalInput(help_text="The clinical evidence the criteria read.")
    attachments = objects(
        AttachmentInput, "Clinical notes and reports as plain text.", max_length=50
    )

    def validate(self, attrs):
        birth = attrs["member"]["birth_date"]
        errors = {
            path: ["Cannot be before the member's date of birth."]
            for path, value in _clinical_dates(attrs["clinical"])
            if value < birth
        }
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class InformationAnswerInput(NoteSizeLimits, StrictInput):
    """The provider's answer to a request for information."""

    clinical = nested(
        ClinicalInput,
        "Clinical facts to add or correct. A key sent replaces the stored one; objects of "
        "facts (red_flags, neurological, oncology, fracture) merge key by key.",
    )
    attachments = objects(AttachmentInput, "Notes or reports to add.", max_length=50)
    message = text("A note to the reviewer.", max_length=MAX_TEXT_CHARS)


class WithdrawInput(StrictInput):
    reason = text("Why the request is withdrawn.", max_length=2000)


# --- The vocabulary -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One field of the request as a person meets it: in a Questionnaire, on the case page.

    What the field is (kind, choices, whether it repeats, its help text) is read from the input
    serializer above; how it is named (label, unit, hint) from reviews/vocabulary.py.
    kind: group | date | string | text | integer | decimal | boolean | choice | number_or_code |
    boolean_or_text.
    """

    path: str
    kind: str
    label: str
    unit: str = ""
    hint: str = ""
    help: str = ""
    choices: tuple[str, ...] = ()
    repeats: bool = False
    children: tuple["Term", ...] = dataclass_field(default=())

    @property
    def key(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def text(self) -> str:
        """The label with its unit: "Translation (mm)"."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


# Longer than this a free-text field is a text (a paragraph), not a string (a line).
_LINE_CHARS = 200


def _kind(field: serializers.Field, path: str) -> str:
    if isinstance(field, serializers.Serializer):
        return "group"
    if isinstance(field, BoolOrTextField):
        return "boolean_or_text"
    if isinstance(field, LabValueField):
        return "number_or_code"
    if isinstance(field, serializers.BooleanField):
        return "boolean"
    if isinstance(field, serializers.DateField):
        return "date"
    if isinstance(field, serializers.ChoiceField):
        return "choice"
    if isinstance(field, serializers.IntegerField):
        return "integer"
    if isinstance(field, serializers.FloatField):
        return "decimal"
    if isinstance(field, serializers.CharField):
        long = field.max_length is None or field.max_length > _LINE_CHARS
        return "text" if long else "string"
    raise TypeError(f"{path}: the vocabulary has no kind for a {type(field).__name__}.")


def _term(path: str, field: serializers.Field) -> Term:
    repeats = isinstance(field, serializers.ListField | serializers.ListSerializer)
    inner = field.child if repeats else field
    if path not in vocabulary.LABELS:
        raise LookupError(f"{path} has no label in reviews/vocabulary.py.")
    children = ()
    if isinstance(inner, serializers.Serializer):
        children = tuple(_term(f"{path}.{name}", f) for name, f in inner.fields.items())
    return Term(
        path=path,
        kind=_kind(inner, path),
        label=vocabulary.LABELS[path],
        unit=vocabulary.UNITS.get(path, ""),
        hint=vocabulary.HINTS.get(path, ""),
        help=str(field.help_text or ""),
        choices=tuple(inner.choices) if isinstance(inner, serializers.ChoiceField) else (),
        repeats=repeats,
        children=children,
    )


def _index(terms, out: dict[str, Term]) -> dict[str, Term]:
    for term in terms:
        out[term.path] = term
        _index(term.children, out)
    return out


# The service and the clinical facts of a request, field by field, in the contract's order.
VOCABULARY: tuple[Term, ...] = (
    _term("service", ServiceInput()),
    _term("clinical", ClinicalInput()),
)
TERMS: dict[str, Term] = _index(VOCABULARY, {})


def choice_text(code: str) -> str:
    """A code of the contract's choices as a person reads it: "nsaid" -> "NSAID"."""
    return vocabulary.CHOICE_LABELS.get(code, code.replace("_", " "))
