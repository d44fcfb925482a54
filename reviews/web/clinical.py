"""The clinical facts of a request as a reviewer reads them: labelled rows and small tables.

A missing or null fact is shown as "unknown", never as "no" (REQUEST.md: null means unknown).
"""

import re
from typing import Any

LABELS = {
    "symptom_onset_date": "Symptom onset",
    "pain_type": "Pain type",
    "pain_score_nrs": "Pain (NRS 0-10)",
    "pain_score_vas_mm": "Pain (VAS mm)",
    "pain_scores": "Earlier pain scores",
    "function_scale": "Function scale",
    "red_flags": "Red flags",
    "neurological": "Neurological findings",
    "conservative_care": "Conservative care",
    "imaging": "Imaging",
    "prior_procedures": "Prior procedures",
    "oncology": "Oncology",
    "fracture": "Fracture",
    "prior_fusion_levels": "Prior fusion levels",
    "prior_discectomy_levels": "Levels of an earlier discectomy",
    "facet_resection_percent": "Planned facet removal %",
    "relief_duration_hours": "Relief lasted (hours)",
    "smoking_status": "Smoking",
    "nicotine_free_since": "Nicotine-free since",
    "bmi": "BMI",
    "hba1c_percent": "HbA1c %",
    "nicotine_test": "Nicotine test",
    "cessation_counselling": "Cessation counselling",
    "psych_screen": "Psychological screen",
    "labs": "Labs",
    "coagulopathy": "Uncorrected coagulopathy",
    "contrast_or_cement_allergy": "Contrast or cement allergy",
    "pregnant": "Pregnant",
    "motor_grade_mrc": "Motor grade (MRC 0-5)",
    "cpt_code": "CPT",
    "relief_percent": "Relief %",
    "nsaid": "NSAID",
    "odi": "ODI",
    "ndi": "NDI",
    "mri": "MRI",
    "ct": "CT",
    "report_text": "Report",
}
UNKNOWN = "unknown"


def label(key: str) -> str:
    return LABELS.get(key) or key.replace("_", " ").capitalize()


def value_text(value: Any) -> str:
    if value is None or value == "":
        return UNKNOWN
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list):
        if not value:
            return "none"
        return ", ".join(value_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{label(k)}: {value_text(v)}" for k, v in value.items())
    if isinstance(value, str):
        return LABELS.get(value, value.replace("_", " "))
    return str(value)


# Columns a reviewer reads first; the rest follow in their stored order.
FIRST_COLUMNS = [
    "modality",
    "cpt_code",
    "test",
    "date",
    "start_date",
    "end_date",
    "region",
    "levels",
]


def _order(key: str) -> tuple[int, int]:
    """REQUEST.md's order: the stored JSON (PostgreSQL jsonb) does not keep the sender's order."""
    if key in FIRST_COLUMNS:
        return (0, FIRST_COLUMNS.index(key))
    keys = list(LABELS)
    return (1, keys.index(key) if key in keys else len(keys))


def _table(rows: list[dict]) -> dict:
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    columns.sort(key=_order)
    return {
        "columns": [label(c) for c in columns],
        "rows": [[value_text(row.get(c)) for c in columns] for row in rows],
    }


def clinical_sections(clinical: dict) -> dict:
    """{"facts": [(label, text)], "flags": [...], "tables": [(label, table)]} for the template.

    Objects of booleans (red flags, neurological findings) become present / absent / unknown
    lists, since a reviewer scans them for the one that is present.
    """
    facts: list[tuple[str, str]] = []
    flags: list[dict] = []
    tables: list[tuple[str, dict]] = []
    for key, value in sorted((clinical or {}).items(), key=lambda item: _order(item[0])[1]):
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.append((label(key), _table(value)))
        elif (
            isinstance(value, dict)
            and value
            and all(isinstance(v, bool) or v is None for v in value.values())
        ):
            flags.append(
                {
                    "label": label(key),
                    "present": [label(k) for k, v in value.items() if v is True],
                    "absent": [label(k) for k, v in value.items() if v is False],
                    "unknown": [label(k) for k, v in value.items() if v is None],
                }
            )
        else:
            facts.append((label(key), value_text(value)))
    return {"facts": facts, "flags": flags, "tables": tables}


_FACT = re.compile(r"\b[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+\b")
_OPERATORS = [
    (" >= ", " at least "),
    (" <= ", " at most "),
    (" > ", " more than "),
    (" < ", " less than "),
    (" == ", " is "),
    (" != ", " is not "),
    (" = ", " is "),
]


def fact_words(path: str) -> str:
    """`conservative_care.failed_days` -> "conservative care, failed days"."""
    return ", ".join(label(part).lower() for part in path.split("."))


def plain_engine_text(text: str) -> str:
    """An engine explanation in words: dotted fact names and comparison operators spelled out.

    "Not met: conservative_care.failed_days = 20 (needs conservative_care.failed_days >= 28)"
    reads "Not met: conservative care, failed days is 20 (needs conservative care, failed days
    at least 28)".
    """
    out = _FACT.sub(lambda m: fact_words(m.group(0)), str(text or ""))
    for symbol, words in _OPERATORS:
        out = out.replace(symbol, words)
    return out
