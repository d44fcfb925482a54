"""Lamina's clinical questionnaires (DTR style) and the reading of their answers.

One catalogue of fields, built from the intake contract's vocabulary (reviews.contract.VOCABULARY):
the linkId of each Questionnaire item is the field's path (`clinical.symptom_onset_date`,
`clinical.conservative_care.start_date`), so a QuestionnaireResponse maps onto the same request
dict the REST API takes; its text, type and answer options are the contract's, the same words the
case page shows. Each procedure family's Questionnaire lists the fields its criteria read.
"""

from dataclasses import dataclass, field
from typing import Any

from pas.fhir import LAMINA, LAMINA_VOCABULARY
from reviews.contract import VOCABULARY, Term, choice_text

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
    """A Questionnaire item: one term of the contract's vocabulary and the families that ask it."""

    path: str
    kind: str  # a vocabulary kind (reviews.contract.Term.kind)
    text: str
    repeats: bool = False
    options: tuple[str, ...] = ()
    families: frozenset[str] | None = ALL
    children: tuple["Field", ...] = field(default=())
    unit: str = ""
    hint: str = ""

    @property
    def key(self) -> str:
        return self.path.rsplit(".", 1)[-1]


FUSION = frozenset({"spinal_fusion"})
AUGMENTATION = frozenset({"vertebral_augmentation"})
FUSION_OR_AUGMENTATION = FUSION | AUGMENTATION
FACET_OR_RFA = frozenset({"facet_injection", "radiofrequency_ablation"})
ESI = frozenset({"epidural_steroid_injection"})

# The families whose criteria read a field; a field not named here is asked of every family.
ASKED_BY: dict[str, frozenset[str]] = {
    "service.image_guidance": INJECTIONS | AUGMENTATION,
    "service.contrast": ESI,
    "service.technique": frozenset({"radiofrequency_ablation", "vertebral_augmentation"}),
    "service.target_levels": ESI,
    "service.block_intent": frozenset({"facet_injection"}),
    "service.change_from_prior": ESI | frozenset({"facet_injection"}),
    "service.facet_resection_percent": FUSION,
    "clinical.oncology": FUSION_OR_AUGMENTATION,
    "clinical.fracture": FUSION_OR_AUGMENTATION,
    "clinical.prior_fusion_levels": FUSION | FACET_OR_RFA,
    "clinical.prior_discectomy_levels": FUSION,
    "clinical.smoking_status": FUSION,
    "clinical.nicotine_free_since": FUSION,
    "clinical.bmi": FUSION,
    "clinical.hba1c_percent": FUSION,
    "clinical.diabetes": FUSION,
    "clinical.nicotine_test": FUSION,
    "clinical.cessation_counselling": FUSION,
    "clinical.psych_screen": FUSION,
    "clinical.contrast_or_cement_allergy": INJECTIONS | AUGMENTATION,
}
# The Claim's items carry the procedure codes; the Questionnaire does not ask them again.
CLAIM_CARRIES = frozenset({"service.cpt_codes"})


def _field(term: Term) -> Field:
    return Field(
        path=term.path,
        kind=term.kind,
        text=term.text,
        repeats=term.repeats,
        options=term.choices,
        families=ASKED_BY.get(term.path, ALL),
        children=tuple(_field(t) for t in term.children if t.path not in CLAIM_CARRIES),
        unit=term.unit,
        hint=term.hint,
    )


# The service details a Claim item has no element for, then the clinical facts: every field of
# the contract's vocabulary, with its label, kind and choices.
CATALOGUE: tuple[Field, ...] = tuple(f for term in VOCABULARY for f in _field(term).children)


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
    "boolean_or_text": "string",
}
QUESTIONNAIRE_UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
ENTRY_FORMAT = "http://hl7.org/fhir/StructureDefinition/entryFormat"
UCUM = "http://unitsofmeasure.org"
# The vocabulary's units that UCUM writes otherwise (mm, %, ng/mL and kg/m2 are UCUM as they are).
_UCUM_CODES = {"hours": "h", "days": "d", "months": "mo"}


def _extensions(f: Field) -> list[dict]:
    """The unit of a number (questionnaire-unit, in UCUM) and how to write an answer
    (entryFormat), for forms that show them."""
    out = []
    if f.unit:
        code = _UCUM_CODES.get(f.unit, f.unit)
        out.append(
            {
                "url": QUESTIONNAIRE_UNIT,
                "valueCoding": {"system": UCUM, "code": code, "display": f.unit},
            }
        )
    if f.hint:
        out.append({"url": ENTRY_FORMAT, "valueString": f.hint})
    return out


def _item(f: Field, family: str) -> dict:
    item: dict[str, Any] = {"linkId": f.path, "text": f.text, "type": _FHIR_TYPES[f.kind]}
    extensions = _extensions(f)
    if extensions:
        item["extension"] = extensions
    if f.repeats:
        item["repeats"] = True
    if f.options:
        item["answerOption"] = [
            {"valueCoding": {"system": LAMINA_VOCABULARY, "code": o, "display": choice_text(o)}}
            for o in f.options
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
    if kind == "boolean_or_text" and key in {"valueBoolean", "valueString"}:
        return value  # true/false, or what changed (REQUEST.md)
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
