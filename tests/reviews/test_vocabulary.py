"""One vocabulary for the intake contract: the Questionnaire items and the case page's labels are
the contract's fields in the words of reviews/vocabulary.py, and neither keeps words of its own."""

import ast
from pathlib import Path

import pytest
from rest_framework import serializers

from pas.questionnaires import ASKED_BY, FAMILIES, FIELDS, UCUM, questionnaire
from reviews import contract, vocabulary
from reviews.contract import TERMS, ClinicalInput, ServiceInput, choice_text
from reviews.web import clinical

ROOT = Path(__file__).resolve().parents[2]
ROOTS = {"service", "clinical"}


def contract_fields(serializer, prefix: str) -> dict[str, serializers.Field]:
    """Every field of an input serializer by its path, nested objects and lists of them too."""
    out = {}
    for name, field in serializer.fields.items():
        path = f"{prefix}.{name}"
        out[path] = field
        inner = getattr(field, "child", field)
        if isinstance(inner, serializers.Serializer):
            out |= contract_fields(inner, path)
    return out


FIELDS_OF_THE_CONTRACT = contract_fields(ServiceInput(), "service") | contract_fields(
    ClinicalInput(), "clinical"
)


def test_every_field_of_the_contract_has_a_term_and_every_word_a_field():
    assert set(TERMS) == set(FIELDS_OF_THE_CONTRACT) | ROOTS
    assert set(vocabulary.LABELS) == set(TERMS)
    assert set(vocabulary.UNITS) <= set(TERMS)
    assert set(vocabulary.HINTS) <= set(TERMS)
    codes = {code for term in TERMS.values() for code in term.choices}
    assert set(vocabulary.CHOICE_LABELS) <= codes


def test_a_term_is_read_from_its_serializer_field():
    for path, field in FIELDS_OF_THE_CONTRACT.items():
        term = TERMS[path]
        inner = getattr(field, "child", field)
        assert term.help == field.help_text, path
        assert term.repeats == (inner is not field), path
        if isinstance(inner, serializers.ChoiceField):
            assert term.kind == "choice" and term.choices == tuple(inner.choices), path
        else:
            assert term.choices == (), path
        if isinstance(inner, serializers.Serializer):
            assert [c.key for c in term.children] == list(inner.fields), path
    assert TERMS["clinical.imaging.findings"].choices == contract.IMAGING_FINDINGS
    assert TERMS["clinical.pain_score_nrs"].kind == "decimal"
    assert TERMS["clinical.oncology.ecog"].kind == "integer"
    assert TERMS["clinical.conservative_care.detail"].kind == "text"
    assert TERMS["clinical.prior_procedures.agent"].kind == "string"
    assert TERMS["clinical.labs.value"].kind == "number_or_code"
    assert TERMS["service.change_from_prior.approach"].kind == "boolean_or_text"
    assert TERMS["clinical.imaging.translation_mm"].text == "Translation (mm)"


def test_a_field_without_a_label_stops_the_contract_loading(monkeypatch):
    monkeypatch.delitem(vocabulary.LABELS, "clinical.bmi")
    with pytest.raises(LookupError, match=r"clinical\.bmi has no label"):
        contract._term("clinical", ClinicalInput())


def _items(items):
    for item in items:
        yield item
        yield from _items(item.get("item", []))


@pytest.mark.parametrize("family", FAMILIES)
def test_every_questionnaire_item_is_the_vocabulary_term_of_its_link_id(family):
    for item in _items(questionnaire(family)["item"]):
        term = TERMS[item["linkId"]]
        assert item["text"] == term.text
        assert item.get("repeats", False) == term.repeats
        expected_type = {"number_or_code": "string", "boolean_or_text": "string"}
        assert item["type"] == expected_type.get(term.kind, term.kind)
        options = [o["valueCoding"] for o in item.get("answerOption", [])]
        assert [o["code"] for o in options] == list(term.choices)
        assert [o["display"] for o in options] == [choice_text(c) for c in term.choices]
        units = [e for e in item.get("extension", []) if e["url"].endswith("questionnaire-unit")]
        assert bool(units) == bool(term.unit)
        for unit in units:
            assert unit["valueCoding"]["system"] == UCUM
            assert unit["valueCoding"]["display"] == term.unit


def test_the_questionnaires_together_ask_every_field_but_the_claims_own_codes():
    asked = {item["linkId"] for f in FAMILIES for item in _items(questionnaire(f)["item"])}
    assert asked == set(TERMS) - ROOTS - {"service.cpt_codes"}
    assert set(ASKED_BY) <= set(FIELDS)


def test_a_questionnaire_says_units_and_how_to_write_an_answer():
    items = {i["linkId"]: i for i in _items(questionnaire("spinal_fusion")["item"])}
    unit = items["clinical.prior_procedures.relief_duration_hours"]["extension"][0]
    assert unit["valueCoding"] == {"system": UCUM, "code": "h", "display": "hours"}
    levels = items["service.levels"]["extension"][0]
    assert levels == {
        "url": "http://hl7.org/fhir/StructureDefinition/entryFormat",
        "valueString": vocabulary.HINTS["service.levels"],
    }
    modality = items["clinical.conservative_care"]["item"][0]
    assert {"system": "urn:lamina:vocabulary", "code": "nsaid", "display": "NSAID"} in [
        o["valueCoding"] for o in modality["answerOption"]
    ]


def _sample(term):
    """A value for every field of a term, of the field's kind."""
    if term.kind == "group":
        value = {child.key: _sample(child) for child in term.children}
        return [value] if term.repeats else value
    value = {
        "date": "2024-03-01",
        "string": "L4_L5 written_freely",
        "text": "A report_text with underscores.",
        "integer": 2,
        "decimal": 1.5,
        "boolean": True,
        "choice": term.choices[-1] if term.choices else None,
        "number_or_code": 4.2,
        "boolean_or_text": "a new approach",
    }[term.kind]
    return [value] if term.repeats else value


def _labels_shown(sections):
    shown = [text for text, _ in sections["facts"]]
    for group in sections["flags"]:
        shown += [group["label"], *group["present"], *group["absent"], *group["unknown"]]
    for text, table in sections["tables"]:
        shown += [text, *table["columns"]]
    return shown


@pytest.mark.parametrize("root", sorted(ROOTS))
def test_every_case_page_label_is_a_vocabulary_term(root):
    term = TERMS[root]
    sections = clinical.clinical_sections(_sample(term))
    shown = _labels_shown(sections)
    texts = {t.text for t in TERMS.values()}
    assert set(shown) <= texts
    # every top-level field shows under its own term's text; the rows in the contract's order
    assert {c.text for c in term.children} <= set(shown)
    rows = [text for text, _ in sections["facts"]]
    assert rows == [c.text for c in term.children if c.text in rows]
    assert set(clinical.LABELS.values()) <= texts


def test_the_case_page_reads_a_table_by_its_fields_paths():
    sections = clinical.clinical_sections(
        {
            "prior_procedures": [
                {
                    "relief_duration_days": 90,
                    "relief_duration_hours": 6,
                    "agent": "bupivacaine_0.5%",
                    "pain_scale": "vas_mm",
                    "cpt_code": "64493",
                }
            ],
            "function_scale": {"score": 40, "instrument": "odi"},
            "conservative_care": [{"modality": "nsaid", "outcome": "partial_relief"}],
        }
    )
    facts = dict(sections["facts"])
    assert facts["Function scale"] == "Instrument: ODI; Score: 40"
    tables = dict(sections["tables"])
    procedures = tables["Prior procedures"]
    assert procedures["columns"] == [
        "CPT",
        "Agent",
        "Pain scale",
        "Relief lasted (hours)",
        "Relief lasted (days)",
    ]
    assert procedures["rows"] == [["64493", "bupivacaine_0.5%", "VAS (mm)", "6", "90"]]
    assert tables["Conservative care"]["rows"] == [["NSAID", "partial relief"]]


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    }


@pytest.mark.parametrize("module", ["pas/questionnaires.py", "reviews/web/clinical.py"])
def test_neither_the_questionnaires_nor_the_case_page_keep_labels_of_their_own(module):
    words = {t.label for t in TERMS.values()} | {t.text for t in TERMS.values()}
    words |= set(vocabulary.CHOICE_LABELS.values())
    assert _string_constants(ROOT / module) & words == set()
