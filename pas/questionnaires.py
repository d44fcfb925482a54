"""Lamina's clinical questionnaires (DTR style) and the reading of their answers.

One catalogue of fields, named exactly as the REST intake contract names them (REQUEST.md): the
linkId of each Questionnaire item is the field's path (`clinical.symptom_onset_date`,
`clinical.conservative_care.start_date`), so a QuestionnaireResponse maps onto the same request
dict the REST API takes. Each procedure family's Questionnaire lists the fields its criteria read.
"""

from dataclasses import dataclass, field
from typing import Any

from pas.fhir import LAMINA, LAMINA_VOCABULARY
from reviews import contract as api

ALL = None  # a field every family asks
INJECTIONS = frozenset({"epidural_steroid_injection", "facet_injection", "radiofrequency_ablation"})
FAMILIES = (
    "epidural_steroid_injection",
    "facet_injection",
    "radiofrequency_ablation",
    "vertebral_augmentation",
    "spinal_fusion",
)
FAMILY_TITLES = {
    "epidural_steroid_injection": "Epidural steroid injection",
    "facet_injection": "Facet injection (medial branch block or intra-articular)",
    "radiofrequency_ablation": "Radiofrequency ablation",
    "vertebral_augmentation": "Vertebral augmentation",
    "spinal_fusion": "Spinal fusion",
}


@dataclass(frozen=True)
class Field:
    path: str
    kind: (
        str  # group | date | string | text | integer | decimal | boolean | choice | number_or_code
    )
    text: str
    repeats: bool = False
    options: tuple[str, ...] = ()
    families: frozenset[str] | None = ALL
    children: tuple["Field", ...] = field(default=())

    @property
    def key(self) -> str:
        return self.path.rsplit(".", 1)[-1]


def _f(path, kind, text, *, repeats=False, options=(), families=ALL, children=()):
    return Field(path, kind, text, repeats, tuple(options), families, tuple(children))


def _group(path, text, children, *, repeats=False, families=ALL):
    return _f(path, "group", text, repeats=repeats, families=families, children=children)


def _bools(prefix: str, keys: list[tuple[str, str]]) -> list[Field]:
    return [_f(f"{prefix}.{k}", "boolean", t) for k, t in keys]


REGIONS = api.SPINAL_REGIONS
FINDINGS = api.IMAGING_FINDINGS
MODALITIES = api.CONSERVATIVE_CARE_MODALITIES

C = "clinical"
S = "service"
FUSION = frozenset({"spinal_fusion"})
AUGMENTATION = frozenset({"vertebral_augmentation"})
FUSION_OR_AUGMENTATION = FUSION | AUGMENTATION
FACET_OR_RFA = frozenset({"facet_injection", "radiofrequency_ablation"})

CATALOGUE: tuple[Field, ...] = (
    # --- the service details a Claim item has no element for --------------------------------
    _f(f"{S}.spinal_region", "choice", "Spinal region", options=REGIONS),
    _f(f"{S}.levels", "string", "Levels (e.g. L4-L5, or L1 for a vertebra)", repeats=True),
    _f(f"{S}.laterality", "choice", "Laterality", options=api.LATERALITIES),
    _f(f"{S}.units", "integer", "Units"),
    _f(
        f"{S}.image_guidance",
        "choice",
        "Image guidance",
        options=api.IMAGE_GUIDANCE,
        families=INJECTIONS | AUGMENTATION,
    ),
    _f(
        f"{S}.contrast",
        "boolean",
        "Contrast used",
        families=frozenset({"epidural_steroid_injection"}),
    ),
    _f(
        f"{S}.technique",
        "choice",
        "Technique",
        options=api.TECHNIQUES,
        families=frozenset({"radiofrequency_ablation", "vertebral_augmentation"}),
    ),
    _f(
        f"{S}.target_levels",
        "string",
        "Treated levels, when they differ from the entry levels",
        repeats=True,
        families=frozenset({"epidural_steroid_injection"}),
    ),
    _f(
        f"{S}.block_intent",
        "choice",
        "Block intent",
        options=api.BLOCK_INTENTS,
        families=frozenset({"facet_injection"}),
    ),
    _group(
        f"{S}.change_from_prior",
        "Change from the prior injection (repeat injections)",
        [
            _f(f"{S}.change_from_prior.approach", "string", "Approach changed (yes/no or how)"),
            _f(f"{S}.change_from_prior.levels", "string", "Levels changed (yes/no or how)"),
            _f(f"{S}.change_from_prior.injectate", "string", "Injectate changed (yes/no or how)"),
            _f(f"{S}.change_from_prior.rationale", "text", "Rationale"),
        ],
        families=frozenset({"epidural_steroid_injection", "facet_injection"}),
    ),
    _f(
        f"{S}.setting",
        "choice",
        "Setting",
        options=api.SETTINGS,
    ),
    _f(
        f"{S}.facet_resection_percent",
        "decimal",
        "Planned facet joint removal, percent (fusion with decompression)",
        families=FUSION,
    ),
    _f(f"{S}.planned_date", "date", "Planned date"),
    # --- the clinical facts --------------------------------------------------------------------
    _f(f"{C}.symptom_onset_date", "date", "Start of the current episode"),
    _f(f"{C}.pain_type", "choice", "Pain type", options=api.PAIN_TYPES),
    _f(f"{C}.pain_score_nrs", "decimal", "Current pain, NRS 0-10"),
    _f(f"{C}.pain_score_vas_mm", "decimal", "Current pain, VAS 0-100 mm"),
    _group(
        f"{C}.pain_scores",
        "Earlier pain scores",
        [_f(f"{C}.pain_scores.date", "date", "Date"), _f(f"{C}.pain_scores.nrs", "decimal", "NRS")],
        repeats=True,
    ),
    _group(
        f"{C}.function_scale",
        "Function scale",
        [
            _f(
                f"{C}.function_scale.instrument",
                "choice",
                "Instrument",
                options=api.FUNCTION_INSTRUMENTS,
            ),
            _f(f"{C}.function_scale.score", "decimal", "Score"),
        ],
    ),
    _group(
        f"{C}.red_flags",
        "Red flags (answer each one assessed)",
        _bools(
            f"{C}.red_flags",
            [
                ("cauda_equina", "Cauda equina syndrome"),
                ("fever", "Fever"),
                ("recent_bacteremia", "Recent bacteremia"),
                ("iv_drug_use", "IV drug use"),
                ("immunosuppression", "Immunosuppression"),
                ("dialysis_or_diabetes", "Dialysis or diabetes"),
                ("cancer_history", "History of cancer"),
                ("malignancy_workup_complete", "Malignancy work-up complete"),
                ("unexplained_weight_loss", "Unexplained weight loss"),
                ("night_pain", "Night pain"),
                ("significant_trauma", "Significant trauma"),
                ("osteoporosis_or_chronic_steroids", "Osteoporosis or chronic steroid use"),
            ],
        ),
    ),
    _group(
        f"{C}.neurological",
        "Neurological findings",
        [
            _f(f"{C}.neurological.radicular_signs", "boolean", "Radicular signs"),
            _f(f"{C}.neurological.motor_grade_mrc", "decimal", "Worst motor grade (MRC 0-5)"),
            _f(
                f"{C}.neurological.progressive_motor_deficit",
                "boolean",
                "Progressive motor deficit",
            ),
            _f(f"{C}.neurological.myelopathy", "boolean", "Myelopathy"),
            _f(
                f"{C}.neurological.bowel_bladder_dysfunction",
                "boolean",
                "Bowel or bladder dysfunction",
            ),
            _group(
                f"{C}.neurological.motor_exams",
                "Dated motor examinations",
                [
                    _f(f"{C}.neurological.motor_exams.date", "date", "Date"),
                    _f(f"{C}.neurological.motor_exams.muscle", "string", "Muscle"),
                    _f(f"{C}.neurological.motor_exams.grade", "decimal", "Grade (MRC 0-5)"),
                ],
                repeats=True,
            ),
        ],
    ),
    _group(
        f"{C}.conservative_care",
        "Conservative care episodes",
        [
            _f(f"{C}.conservative_care.modality", "choice", "Modality", options=MODALITIES),
            _f(f"{C}.conservative_care.start_date", "date", "Start date"),
            _f(f"{C}.conservative_care.end_date", "date", "End date (empty: ongoing)"),
            _f(f"{C}.conservative_care.visits", "integer", "Visits"),
            _f(
                f"{C}.conservative_care.outcome",
                "choice",
                "Outcome",
                options=api.CONSERVATIVE_CARE_OUTCOMES,
            ),
            _f(f"{C}.conservative_care.detail", "text", "Detail"),
        ],
        repeats=True,
    ),
    _group(
        f"{C}.imaging",
        "Imaging",
        [
            _f(
                f"{C}.imaging.modality",
                "choice",
                "Modality",
                options=api.IMAGING_MODALITIES,
            ),
            _f(f"{C}.imaging.date", "date", "Date"),
            _f(f"{C}.imaging.region", "choice", "Region", options=REGIONS),
            _f(f"{C}.imaging.levels", "string", "Levels", repeats=True),
            _f(f"{C}.imaging.findings", "choice", "Findings", repeats=True, options=FINDINGS),
            _f(
                f"{C}.imaging.concordant_with_symptoms",
                "boolean",
                "Concordant with symptoms",
            ),
            _f(f"{C}.imaging.translation_mm", "decimal", "Translation (mm)"),
            _f(f"{C}.imaging.report_text", "text", "Report text"),
        ],
        repeats=True,
    ),
    _group(
        f"{C}.prior_procedures",
        "Prior procedures",
        [
            _f(f"{C}.prior_procedures.cpt_code", "string", "CPT code"),
            _f(f"{C}.prior_procedures.date", "date", "Date"),
            _f(f"{C}.prior_procedures.region", "choice", "Region", options=REGIONS),
            _f(f"{C}.prior_procedures.levels", "string", "Levels", repeats=True),
            _f(
                f"{C}.prior_procedures.laterality",
                "choice",
                "Laterality",
                options=api.LATERALITIES,
            ),
            _f(f"{C}.prior_procedures.agent", "string", "Agent"),
            _f(
                f"{C}.prior_procedures.pain_scale",
                "choice",
                "Pain scale",
                options=api.PAIN_SCALES,
            ),
            _f(f"{C}.prior_procedures.baseline_score", "decimal", "Baseline score"),
            _f(f"{C}.prior_procedures.post_score", "decimal", "Score after the procedure"),
            _f(f"{C}.prior_procedures.relief_percent", "decimal", "Relief (%)"),
            _f(f"{C}.prior_procedures.relief_duration_hours", "decimal", "Relief lasted (hours)"),
            _f(f"{C}.prior_procedures.relief_duration_days", "decimal", "Relief lasted (days)"),
        ],
        repeats=True,
    ),
    _group(
        f"{C}.oncology",
        "Oncology",
        [
            _f(f"{C}.oncology.metastatic_disease", "boolean", "Metastatic disease"),
            _f(f"{C}.oncology.primary_cancer", "string", "Primary cancer"),
            _f(f"{C}.oncology.life_expectancy_months", "decimal", "Life expectancy (months)"),
            _f(f"{C}.oncology.ecog", "integer", "ECOG (0-4)"),
            _f(
                f"{C}.oncology.epidural_tumor_abuts_cord",
                "boolean",
                "Epidural tumour abuts the cord",
            ),
            _f(
                f"{C}.oncology.escc_grade",
                "choice",
                "ESCC (Bilsky) grade",
                options=api.ESCC_GRADES,
            ),
            _f(f"{C}.oncology.sins_score", "integer", "SINS score (0-18)"),
            _f(f"{C}.oncology.radiotherapy_to_level", "boolean", "Radiotherapy to the level"),
            _f(
                f"{C}.oncology.recurrence_after_radiotherapy",
                "boolean",
                "Tumour recurred at the level after radiotherapy",
            ),
            _f(
                f"{C}.oncology.deficit_progressing_despite_radiotherapy",
                "boolean",
                "Deficit progressing despite radiotherapy",
            ),
        ],
        families=FUSION_OR_AUGMENTATION,
    ),
    _group(
        f"{C}.fracture",
        "Vertebral compression fracture",
        [
            _f(f"{C}.fracture.level", "string", "Level"),
            _f(f"{C}.fracture.onset_date", "date", "Onset date"),
            _f(
                f"{C}.fracture.etiology",
                "choice",
                "Etiology",
                options=api.FRACTURE_ETIOLOGIES,
            ),
            *_bools(
                f"{C}.fracture",
                [
                    ("mri_marrow_edema", "Marrow oedema on MRI"),
                    ("bone_scan_uptake", "Uptake on bone scan"),
                ],
            ),
            _f(f"{C}.fracture.height_loss_percent", "decimal", "Height loss (%)"),
            *_bools(
                f"{C}.fracture",
                [
                    ("progressive_height_loss", "Progressive height loss"),
                    ("kyphotic_deformity", "Kyphotic deformity"),
                    ("retropulsion", "Retropulsion"),
                    ("hospitalized", "Hospitalized"),
                    ("bone_density_referral", "Referred for bone density evaluation"),
                ],
            ),
        ],
        families=FUSION_OR_AUGMENTATION,
    ),
    _f(
        f"{C}.prior_fusion_levels",
        "string",
        "Levels fused before",
        repeats=True,
        families=FUSION | FACET_OR_RFA,
    ),
    _f(
        f"{C}.prior_discectomy_levels",
        "string",
        "Levels of an earlier discectomy",
        repeats=True,
        families=FUSION,
    ),
    _f(
        f"{C}.smoking_status",
        "choice",
        "Smoking status",
        options=api.SMOKING_STATUSES,
        families=FUSION,
    ),
    _f(f"{C}.nicotine_free_since", "date", "Nicotine-free since", families=FUSION),
    _group(
        f"{C}.nicotine_test",
        "Nicotine test",
        [
            _f(f"{C}.nicotine_test.date", "date", "Date"),
            _f(f"{C}.nicotine_test.cotinine_ng_ml", "decimal", "Cotinine (ng/mL)"),
        ],
        families=FUSION,
    ),
    _f(f"{C}.cessation_counselling", "boolean", "Cessation counselling given", families=FUSION),
    _f(f"{C}.bmi", "decimal", "BMI", families=FUSION),
    _f(f"{C}.hba1c_percent", "decimal", "HbA1c (%)", families=FUSION),
    _f(f"{C}.diabetes", "boolean", "Diabetes", families=FUSION),
    _group(
        f"{C}.psych_screen",
        "Psychological screening",
        [
            _f(f"{C}.psych_screen.instrument", "string", "Instrument (e.g. phq9)"),
            _f(f"{C}.psych_screen.score", "decimal", "Score"),
            _f(f"{C}.psych_screen.unmanaged_disorder", "boolean", "Unmanaged disorder"),
        ],
        families=FUSION,
    ),
    _group(
        f"{C}.labs",
        "Laboratory results",
        [
            _f(
                f"{C}.labs.test",
                "choice",
                "Test",
                options=api.LAB_TESTS,
            ),
            _f(
                f"{C}.labs.value",
                "number_or_code",
                "Value (a number, or positive / negative / pending for cultures)",
            ),
            _f(f"{C}.labs.date", "date", "Date"),
        ],
        repeats=True,
    ),
    _f(f"{C}.coagulopathy", "boolean", "Uncorrected coagulopathy"),
    _f(
        f"{C}.contrast_or_cement_allergy",
        "boolean",
        "Contrast or cement allergy",
        families=INJECTIONS | AUGMENTATION,
    ),
    _f(f"{C}.pregnant", "boolean", "Pregnant"),
)


def _index(fields, out):
    for f in fields:
        out[f.path] = f
        _index(f.children, out)
    return out


FIELDS: dict[str, Field] = _index(CATALOGUE, {})


def questionnaire_id(family: str) -> str:
    return "lamina-" + family.replace("_", "-")


def family_for_questionnaire_id(qid: str) -> str | None:
    family = qid.removeprefix("lamina-").replace("-", "_")
    return family if family in FAMILIES and qid.startswith("lamina-") else None


def canonical_base(base: str = "") -> str:
    """Where Lamina's canonical URLs live: settings.FHIR_CANONICAL_BASE (a deployment's public
    FHIR base), else the base the client reached."""
    from django.conf import settings

    return (getattr(settings, "FHIR_CANONICAL_BASE", "") or base).rstrip("/")


def questionnaire_canonical(family: str, base: str = "") -> str:
    """The Questionnaire's canonical URL: where it can be read (GET {base}/Questionnaire/{id})."""
    return f"{canonical_base(base)}/Questionnaire/{questionnaire_id(family)}"


def family_for_canonical(url: str, base: str = "") -> str | None:
    """The family a canonical names: this server's URL (an optional |version), or the earlier
    urn:lamina:questionnaire name."""
    url = url.split("|", 1)[0]
    for family in FAMILIES:
        legacy = f"{LAMINA}:questionnaire:{questionnaire_id(family)}"
        if url in {questionnaire_canonical(family, base), legacy}:
            return family
    return None


QUESTIONNAIRE_VERSION = "1"

_FHIR_TYPES = {
    "group": "group",
    "date": "date",
    "string": "string",
    "text": "text",
    "integer": "integer",
    "decimal": "decimal",
    "boolean": "boolean",
    "choice": "choice",
    "number_or_code": "string",
}


def _item(f: Field, family: str) -> dict:
    item: dict[str, Any] = {"linkId": f.path, "text": f.text, "type": _FHIR_TYPES[f.kind]}
    if f.repeats:
        item["repeats"] = True
    if f.options:
        item["answerOption"] = [
            {"valueCoding": {"system": LAMINA_VOCABULARY, "code": o}} for o in f.options
        ]
    if f.children:
        item["item"] = [_item(c, family) for c in f.children if _asks(c, family)]
    return item


def _asks(f: Field, family: str) -> bool:
    return f.families is None or family in f.families


def questionnaire(family: str, base: str = "") -> dict:
    """The Questionnaire for one procedure family: every field its criteria may read.

    Every item is optional: an unanswered item is unknown, and the engine asks for what a
    criterion needs (REQUEST.md: omitted means unknown, never "no").
    """
    return {
        "resourceType": "Questionnaire",
        "id": questionnaire_id(family),
        "url": questionnaire_canonical(family, base),
        "version": QUESTIONNAIRE_VERSION,
        "name": "Lamina" + "".join(p.title() for p in family.split("_")),
        "title": f"Lamina: {FAMILY_TITLES[family]}",
        "status": "active",
        "subjectType": ["Patient"],
        "description": (
            "The clinical facts Lamina's criteria read for this procedure family. Each linkId is "
            "the field path of Lamina's REST intake contract; unanswered items are unknown."
        ),
        "item": [_item(f, family) for f in CATALOGUE if _asks(f, family)],
    }


# --- Reading a QuestionnaireResponse ----------------------------------------------------------


class AnswerError(ValueError):
    def __init__(self, expression: str, message: str):
        super().__init__(message)
        self.expression = expression
        self.message = message


def _answer_value(f: Field, answer: dict, expr: str) -> Any:
    """One answer -> the REQUEST.md value for the field's kind."""
    present = {k: v for k, v in answer.items() if k.startswith("value")}
    if len(present) != 1:
        raise AnswerError(expr, "An answer carries exactly one value[x].")
    ((key, value),) = present.items()
    kind = f.kind
    if kind == "boolean" and key == "valueBoolean":
        return value
    if kind == "date" and key in {"valueDate", "valueDateTime"}:
        return str(value)[:10]
    if kind == "integer" and key == "valueInteger":
        return value
    if kind == "decimal" and key in {"valueDecimal", "valueInteger"}:
        return value
    if kind == "decimal" and key == "valueQuantity" and isinstance(value, dict):
        return value.get("value")
    if kind in {"string", "text"} and key == "valueString":
        return value
    if kind == "string" and key == "valueCoding" and isinstance(value, dict):
        return value.get("code")
    if kind == "choice" and key == "valueCoding" and isinstance(value, dict):
        return value.get("code")
    if kind == "choice" and key in {"valueString", "valueCode"}:
        return value
    if kind == "number_or_code":
        if key in {"valueDecimal", "valueInteger"}:
            return value
        if key == "valueQuantity" and isinstance(value, dict):
            return value.get("value")
        if key == "valueCoding" and isinstance(value, dict):
            return value.get("code")
        if key == "valueString":
            try:
                return float(value) if value.strip() else value
            except ValueError:
                return value
    if f.path.startswith("service.change_from_prior.") and key == "valueBoolean":
        return value  # booleans or text (REQUEST.md)
    raise AnswerError(expr, f"{f.path} takes a {f.kind} answer, not {key}.")


def _set_path(target: dict, relative: str, value: Any) -> None:
    *parents, last = relative.split(".")
    for p in parents:
        target = target.setdefault(p, {})
    target[last] = value


def _get_path(target: dict, relative: str, default):
    *parents, last = relative.split(".")
    for p in parents:
        target = target.setdefault(p, {})
    return target.setdefault(last, default)


def read_items(
    items: list[dict],
    *,
    expr: str,
    base: str = "",
    rest_base: str = "",
    target: dict,
    sources: dict[str, str],
) -> None:
    """Fill `target` from QuestionnaireResponse items; record each field's FHIR expression.

    base: the catalogue path of the enclosing group ("" at the top); rest_base: the same with list
    indices, as the REST validation errors name fields ("clinical.imaging[1]").
    Items whose linkId is not a Lamina field are read through: a group used only to arrange the
    form still yields its children; anything else is not Lamina's to read.
    """
    for i, item in enumerate(items or []):
        if not isinstance(item, dict):
            continue
        item_expr = f"{expr}.item[{i}]"
        link = str(item.get("linkId") or "")
        f = FIELDS.get(link)
        if f is None:
            read_items(
                item.get("item") or [],
                expr=item_expr,
                base=base,
                rest_base=rest_base,
                target=target,
                sources=sources,
            )
            continue
        if base and not link.startswith(base + "."):
            raise AnswerError(item_expr, f"{link} does not belong inside the group {base}.")
        relative = link[len(base) + 1 :] if base else link
        rest_path = f"{rest_base}.{relative}" if rest_base else relative
        if f.kind == "group":
            if f.repeats:
                entries = _get_path(target, relative, [])
                if not isinstance(entries, list):
                    raise AnswerError(item_expr, f"{link} is answered twice in different shapes.")
                rest_entry = f"{rest_path}[{len(entries)}]"
                child: dict = {}
                entries.append(child)
                sources[rest_entry] = item_expr
            else:
                child = _get_path(target, relative, {})
                rest_entry = rest_path
                sources.setdefault(rest_entry, item_expr)
            read_items(
                item.get("item") or [],
                expr=item_expr,
                base=link,
                rest_base=rest_entry,
                target=child,
                sources=sources,
            )
            continue
        answers = [a for a in item.get("answer") or [] if isinstance(a, dict)]
        values = [_answer_value(f, a, f"{item_expr}.answer[{j}]") for j, a in enumerate(answers)]
        if not values:
            continue  # unanswered: unknown
        sources[rest_path] = item_expr
        if f.repeats:
            existing = _get_path(target, relative, [])
            existing.extend(values)
        elif len(values) > 1:
            raise AnswerError(item_expr, f"{link} takes one answer.")
        else:
            _set_path(target, relative, values[0])


def questionnaire_response_read(qr: dict, expr: str) -> tuple[dict, dict[str, str]]:
    """A QuestionnaireResponse -> ({"clinical": {...}, "service": {...}}, {field path: expression})."""
    target: dict = {}
    sources: dict[str, str] = {}
    read_items(qr.get("item") or [], expr=expr, target=target, sources=sources)
    return target, sources
