"""The clinical facts of a request as a reviewer reads them: labelled rows and small tables.

A missing or null fact is shown as "unknown", never as "no" (REQUEST.md: null means unknown).
The labels are the intake contract's vocabulary (reviews.contract.VOCABULARY), the words the FHIR
Questionnaires ask with, looked up by the fact's path so that a column of a table reads as the
question did.
"""

import re
from typing import Any

from reviews.contract import TERMS, VOCABULARY, Term, choice_text

UNKNOWN = "unknown"
# The request's parts the case page shows through clinical_sections.
ROOTS = tuple(term.path for term in VOCABULARY)


def _labels_by_key() -> dict[str, str]:
    """Each field's label under its bare name, the first in reading order (the top-level fields
    before the fields of their groups): for a name met without its path (a missing item, an
    engine fact, a field an answer updated)."""
    labels: dict[str, str] = {}
    level = list(VOCABULARY)
    while level:
        level = [child for term in level for child in term.children]
        for term in level:
            labels.setdefault(term.key, term.text)
    return labels


LABELS: dict[str, str] = _labels_by_key()


def label(key: str) -> str:
    return LABELS.get(key) or key.replace("_", " ").capitalize()


def _top(key: str) -> Term | None:
    """The term of a top-level key of the clinical facts or of the service (their names differ)."""
    for root in ROOTS:
        term = TERMS.get(f"{root}.{key}")
        if term is not None:
            return term
    return None


def _child(parent: Term | None, key: str) -> Term | None:
    return TERMS.get(f"{parent.path}.{key}") if parent is not None else None


def _label(term: Term | None, key: str) -> str:
    return term.text if term is not None else label(key)


def _position(parent: Term | None, key: str) -> int:
    """Where the contract puts a key among its siblings: the stored JSON (PostgreSQL jsonb) does
    not keep the sender's order."""
    keys = [child.key for child in parent.children] if parent is not None else []
    return keys.index(key) if key in keys else len(keys)


def value_text(value: Any, term: Term | None = None) -> str:
    if value is None or value == "":
        return UNKNOWN
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list):
        if not value:
            return "none"
        return ", ".join(value_text(v, term) for v in value)
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: _position(term, item[0]))
        return "; ".join(
            f"{_label(_child(term, k), k)}: {value_text(v, _child(term, k))}" for k, v in items
        )
    if isinstance(value, str):
        # A code of the contract's choices reads as words; what the provider wrote stays as is.
        return value if term is not None and term.kind != "choice" else choice_text(value)
    return str(value)


# Columns a reviewer reads first; the rest follow in the contract's order.
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


def _column_order(term: Term | None, key: str) -> tuple[int, int]:
    if key in FIRST_COLUMNS:
        return (0, FIRST_COLUMNS.index(key))
    return (1, _position(term, key))


def _table(term: Term | None, rows: list[dict]) -> dict:
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    columns.sort(key=lambda c: _column_order(term, c))
    return {
        "columns": [_label(_child(term, c), c) for c in columns],
        "rows": [[value_text(row.get(c), _child(term, c)) for c in columns] for row in rows],
    }


def _top_position(key: str) -> int:
    term = _top(key)
    return _position(TERMS[term.path.split(".", 1)[0]], key) if term is not None else len(TERMS)


def clinical_sections(clinical: dict) -> dict:
    """{"facts": [(label, text)], "flags": [...], "tables": [(label, table)]} for the template.

    Takes the clinical facts or the service details of a request. Objects of booleans (red
    flags, neurological findings) become present / absent / unknown lists, since a reviewer
    scans them for the one that is present.
    """
    facts: list[tuple[str, str]] = []
    flags: list[dict] = []
    tables: list[tuple[str, dict]] = []
    for key, value in sorted((clinical or {}).items(), key=lambda item: _top_position(item[0])):
        term = _top(key)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.append((_label(term, key), _table(term, value)))
        elif (
            isinstance(value, dict)
            and value
            and all(isinstance(v, bool) or v is None for v in value.values())
        ):
            keys = sorted(value, key=lambda k: _position(term, k))
            flags.append(
                {
                    "label": _label(term, key),
                    "present": [_label(_child(term, k), k) for k in keys if value[k] is True],
                    "absent": [_label(_child(term, k), k) for k in keys if value[k] is False],
                    "unknown": [_label(_child(term, k), k) for k in keys if value[k] is None],
                }
            )
        else:
            facts.append((_label(term, key), value_text(value, term)))
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
