"""The consistency stage: pure checks that the facts of a request agree with each other.

Each check is a small pure function `(request, facts, history, review_date) -> [finding]` over the
request's raw data (service, CPT codes, diagnoses, clinical, attachments with their text), the
derived facts and the member's history (as `reviews.facts.request_inputs` builds it). No database,
no clock. A finding:

    {"check": name, "statement": the contradiction in plain words,
     "compared": {what: value, ...}, "severity": "review" | "red_flag", "route": ...}

The policy version names the checks that apply to its family (`consistency:` in the family file,
catalogue in criteria/consistency.py); `consistency_run` runs exactly those. Any finding blocks
approval; `route` says which reviewer reads it (a red flag always a physician).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from criteria.consistency import CHECKS as CATALOGUE
from criteria.consistency import PHYSICIAN
from criteria.engine import add_months
from reviews import spine
from reviews.reference import cpt_lookup

ESI = "epidural_steroid_injection"
FACET = "facet_injection"
RFA = "radiofrequency_ablation"
_APPROVED = {"approved", "partially_approved"}
# A request still open may yet be approved by a reviewer: its session counts as planned.
_OPEN = {
    "received",
    "evaluating",
    "pending_information",
    "nurse_review",
    "physician_review",
    "appeal",
}
_ADVANCED_IMAGING = {"mri", "ct", "ct_myelogram"}
_INTERLAMINAR = {"62320", "62321", "62322", "62323"}
_TRANSFORAMINAL = {"64479", "64480", "64483", "64484"}
_STEROIDS = {"triamcinolone", "dexamethasone", "methylprednisolone", "betamethasone"}
_SCALES = {"nrs", "vas_mm"}
_FRACTURE_FINDINGS = {"compression_fracture", "marrow_edema"}
# Relief figures are whole percents at best: more than this between the stated percent and the
# one the scores give is a disagreement, not rounding.
RELIEF_TOLERANCE_POINTS = 10
ESI_MIN_INTERVAL_DAYS = 14  # ESI-09: a repeat at least 14 days after the last injection
RFA_MIN_INTERVAL_MONTHS = 6  # the "ablation at most every 6 months" per region and site
# ICD-10-CM codes that carry a side (sciatica, lumbago with sciatica, sciatic nerve lesion).
_CODE_SIDE = {
    "M54.31": "right",
    "M54.32": "left",
    "M54.41": "right",
    "M54.42": "left",
    "G57.01": "right",
    "G57.02": "left",
    "G57.03": "bilateral",
}
_SIDE_WORD = re.compile(r"\b(left|right|bilateral(?:ly)?)\b", re.IGNORECASE)

Finding = dict[str, Any]
CheckFunction = Callable[[dict, dict, list, date], list[Finding]]


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _finding(check: str, statement: str, compared: dict, severity: str = "review") -> Finding:
    return {"check": check, "statement": statement, "compared": compared, "severity": severity}


def _service(request: dict) -> dict:
    return request.get("service") or {}


def _clinical(request: dict) -> dict:
    return request.get("clinical") or {}


def _treated_levels(request: dict) -> list:
    service = _service(request)
    return list(service.get("target_levels") or service.get("levels") or [])


def _codes(request: dict) -> list[str]:
    return [str(c) for c in _service(request).get("cpt_codes") or []]


def _family_of(code: str) -> str:
    cpt = cpt_lookup(code)
    return cpt.family if cpt else ""


def _text(levels) -> str:
    return ", ".join(str(x) for x in levels or []) or "none"


# --- levels, regions and sides (class 1) ------------------------------------------------------


def levels_imaging(request: dict, facts: dict, history: list, review_date: date) -> list[Finding]:
    """The treated levels against the levels of the advanced imaging concordant with the symptoms.

    An interlaminar injection reaches the segment next to its entry: adjacency agrees there. A
    study marked concordant that lists no finding shows no pathology for the levels to agree with:
    that too is a finding (a request cannot rest on it by leaving its findings out).
    """
    empty = [
        s
        for s in _clinical(request).get("imaging") or []
        if s.get("concordant_with_symptoms") is True and not s.get("findings")
    ]
    blank = [
        _finding(
            "levels_imaging",
            f"The {str(s.get('modality') or 'imaging').replace('_', ' ')} study of "
            f"{s.get('date') or 'unknown date'} is marked concordant with the symptoms but lists "
            "no finding: it shows no pathology for the treated levels to agree with.",
            {"study": s.get("modality"), "date": s.get("date"), "findings": "none listed"},
        )
        for s in empty
    ]
    return blank + _levels_against_imaging(request)


def _levels_against_imaging(request: dict) -> list[Finding]:
    levels = _treated_levels(request)
    studies = [
        s
        for s in _clinical(request).get("imaging") or []
        if s.get("modality") in _ADVANCED_IMAGING
        and s.get("concordant_with_symptoms") is True
        and spine.spans(s.get("levels"))
    ]
    if not studies:
        return []
    imaged = sorted({str(x) for s in studies for x in s.get("levels") or []})
    if not spine.spans(levels):
        return [_no_level("levels_imaging", f"the imaging shows the pathology at {_text(imaged)}")]
    agree = spine.near if set(_codes(request)) & _INTERLAMINAR else spine.overlap
    if any(agree(levels, s.get("levels")) for s in studies):
        return []
    return [
        _finding(
            "levels_imaging",
            f"The service treats {_text(levels)}, but the imaging concordant with the symptoms "
            f"shows the pathology at {_text(imaged)}.",
            {"service levels": levels, "imaging levels": imaged},
        )
    ]


def _no_level(check: str, evidence: str) -> Finding:
    """A service naming no level where the evidence names one: nothing to reconcile, so nothing
    an approval could rest on (leaving the level out must not remove the contradiction)."""
    return _finding(
        check,
        f"The service names no level, but {evidence}.",
        {"service levels": "none", "evidence": evidence},
    )


def _blocks(request: dict) -> list[dict]:
    """The earlier facet blocks with levels, oldest first (diagnostic ones: no steroid)."""
    out = []
    for entry in _clinical(request).get("prior_procedures") or []:
        when = _date(entry.get("date"))
        if when is None or _family_of(str(entry.get("cpt_code") or "")) != FACET:
            continue
        if str(entry.get("agent") or "").lower() in _STEROIDS:
            continue
        out.append({**entry, "_date": when})
    return sorted(out, key=lambda e: e["_date"])


def levels_blocks(request: dict, facts: dict, history: list, review_date: date) -> list[Finding]:
    """An ablation's levels against the last two diagnostic blocks'; a repeat block's against the
    last block's: a level no block tested is a contradiction."""
    family = request.get("procedure_family")
    levels = spine.spans(_treated_levels(request))
    blocks = [b for b in _blocks(request) if spine.spans(b.get("levels"))]
    if not blocks:
        return []
    if not levels:
        tested = sorted({str(x) for b in blocks for x in b.get("levels") or []})
        return [_no_level("levels_blocks", f"the diagnostic blocks tested {_text(tested)}")]
    compared_blocks = blocks[-2:] if family == RFA else blocks[-1:]
    findings = []
    for block in compared_blocks:
        untested = [
            str(level) for level in levels if not spine.overlap([str(level)], block.get("levels"))
        ]
        if untested:
            findings.append(
                _finding(
                    "levels_blocks",
                    f"{_text(untested)} {'was' if len(untested) == 1 else 'were'} not tested by "
                    f"the diagnostic block of {block['_date'].isoformat()} "
                    f"(at {_text(block.get('levels'))}).",
                    {
                        "service levels": [str(s) for s in levels],
                        "block date": block["_date"].isoformat(),
                        "block levels": list(block.get("levels") or []),
                    },
                )
            )
    return findings


def levels_fracture(request: dict, facts: dict, history: list, review_date: date) -> list[Finding]:
    """Augmentation levels against the fracture's level and the imaging that shows the fracture."""
    levels = _treated_levels(request)
    findings = []
    fracture = _clinical(request).get("fracture")
    level = fracture.get("level") if isinstance(fracture, dict) else None
    if not spine.spans(levels):
        return [_no_level("levels_fracture", f"the fracture is at {level}")] if level else []
    if level and spine.overlap(levels, [level]) is False:
        findings.append(
            _finding(
                "levels_fracture",
                f"The service treats {_text(levels)}, but the fracture is at {level}.",
                {"service levels": levels, "fracture level": level},
            )
        )
    studies = [
        s
        for s in _clinical(request).get("imaging") or []
        if set(s.get("findings") or []) & _FRACTURE_FINDINGS and spine.spans(s.get("levels"))
    ]
    if studies and not any(spine.overlap(levels, s.get("levels")) for s in studies):
        imaged = sorted({str(x) for s in studies for x in s.get("levels") or []})
        findings.append(
            _finding(
                "levels_fracture",
                f"The service treats {_text(levels)}, but the imaging shows the fracture at "
                f"{_text(imaged)}.",
                {"service levels": levels, "imaging levels": imaged},
            )
        )
    return findings


def region_codes(request: dict, facts: dict, history: list, review_date: date) -> list[Finding]:
    """The CPT codes' region, the stated spinal region and the levels' regions must agree.

    A junction segment (C7-T1, T12-L1, L5-S1) belongs to both its regions.
    """
    service = _service(request)
    region = service.get("spinal_region")
    levels = list(service.get("levels") or []) + list(service.get("target_levels") or [])
    findings = []
    for code in _codes(request):
        regions = spine.cpt_regions(code)
        if regions is None:
            continue
        words = " or ".join(sorted(regions))
        if region in spine.REGIONS and region not in regions:
            findings.append(
                _finding(
                    "region_codes",
                    f"CPT {code} is a {words} code, but the spinal region is {region}.",
                    {"cpt code": code, "code regions": sorted(regions), "spinal region": region},
                )
            )
        outside = [
            x
            for x in levels
            if spine.region_of_level(x) and not (spine.region_of_level(x) & regions)
        ]
        if outside:
            findings.append(
                _finding(
                    "region_codes",
                    f"CPT {code} is a {words} code, but the levels {_text(outside)} are not.",
                    {"cpt code": code, "code regions": sorted(regions), "levels": outside},
                )
            )
    if region in spine.REGIONS:
        elsewhere = [
            x for x in levels if spine.region_of_level(x) and region not in spine.region_of_level(x)
        ]
        if elsewhere:
            findings.append(
                _finding(
                    "region_codes",
                    f"The spinal region is {region}, but the levels {_text(elsewhere)} are not "
                    f"{region}.",
                    {"spinal region": region, "levels": elsewhere},
                )
            )
    return findings


def _sides_in_text(text: str) -> set[str]:
    return {
        "bilateral" if word.lower().startswith("bilateral") else word.lower()
        for word in _SIDE_WORD.findall(text or "")
    }


def _contradicts(side: str, evidence: set[str]) -> bool:
    """A one-sided service against evidence of the other side only."""
    return bool(evidence) and "bilateral" not in evidence and side not in evidence


def sides(request: dict, facts: dict, history: list, review_date: date) -> list[Finding]:
    """The side treated against the side of the pathology where the request carries it: the
    diagnostic blocks (ablation and repeat blocks), diagnosis codes with a side, the imaging
    reports and the attached notes (injections; facet procedures before any block with a side).
    Evidence naming both sides or "bilateral" decides nothing."""
    side = _service(request).get("laterality")
    family = request.get("procedure_family")
    if side is None and (family in {FACET, RFA} or set(_codes(request)) & _TRANSFORAMINAL):
        return _no_side(request, family)
    if side not in {"left", "right", "bilateral"}:
        return []
    findings = []
    blocks = []
    if family in {FACET, RFA}:
        blocks = [
            b for b in _blocks(request) if b.get("laterality") in {"left", "right", "bilateral"}
        ]
        if blocks:
            last = blocks[-1]
            blocked = {last["laterality"]}
            if (
                side == "bilateral"
                and blocked != {"bilateral"}
                or side != "bilateral"
                and _contradicts(side, blocked)
            ):
                findings.append(
                    _finding(
                        "sides",
                        f"The service treats the {side} side, but the diagnostic block of "
                        f"{last['_date'].isoformat()} was {last['laterality']}.",
                        {"service side": side, "block side": last["laterality"]},
                    )
                )
    if side == "bilateral":
        return findings
    coded = {_CODE_SIDE[c] for c in request.get("diagnosis_codes") or [] if c in _CODE_SIDE}
    if _contradicts(side, coded):
        findings.append(
            _finding(
                "sides",
                f"The service treats the {side} side, but the diagnosis codes name the "
                f"{', '.join(sorted(coded))} side.",
                {"service side": side, "diagnosis side": sorted(coded)},
            )
        )
    # An injection's side against the imaging and notes; a facet procedure's there too until a
    # diagnostic block has said which side hurts.
    if family == ESI or (family in {FACET, RFA} and not blocks):
        for label, text in _text_sources(request):
            found = _sides_in_text(str(text or ""))
            if _contradicts(side, found):
                findings.append(
                    _finding(
                        "sides",
                        f"The service treats the {side} side, but the {label} names only the "
                        f"{', '.join(sorted(found))} side.",
                        {"service side": side, f"{label} side": sorted(found)},
                    )
                )
    return findings


def _text_sources(request: dict) -> list[tuple[str, Any]]:
    return [
        ("imaging report", s.get("report_text")) for s in _clinical(request).get("imaging") or []
    ] + [
        (str(a.get("kind") or "attachment").replace("_", " "), a.get("text"))
        for a in request.get("attachments") or []
        if a.get("kind") in {"clinical_note", "imaging_report"}
    ]


def _no_side(request: dict, family: str) -> list[Finding]:
    """A one-sided procedure (a transforaminal injection, a facet block or ablation) that names no
    side, where the blocks, the diagnosis codes or the reports name one: nothing to reconcile, so
    nothing an approval could rest on."""
    evidence: dict[str, list[str]] = {}
    blocks = [b for b in _blocks(request) if b.get("laterality") in {"left", "right", "bilateral"}]
    if blocks:
        evidence["diagnostic block side"] = [blocks[-1]["laterality"]]
    coded = {_CODE_SIDE[c] for c in request.get("diagnosis_codes") or [] if c in _CODE_SIDE}
    if coded:
        evidence["diagnosis side"] = sorted(coded)
    if family == ESI or not blocks:
        for label, text in _text_sources(request):
            found = _sides_in_text(str(text or ""))
            if found:
                evidence[f"{label} side"] = sorted(found)
    if not evidence:
        return []
    named = "; ".join(f"{what}: {', '.join(sides)}" for what, sides in evidence.items())
    return [
        _finding(
            "sides",
            f"The service names no side, but the request does ({named}).",
            {"service side": "none", **evidence},
        )
    ]


# --- time (class 2) ---------------------------------------------------------------------------


def relief_duration_elapsed(
    request: dict, facts: dict, history: list, review_date: date
) -> list[Finding]:
    """A relief cannot have lasted longer than the time since the procedure."""
    findings = []
    for entry in _clinical(request).get("prior_procedures") or []:
        when = _date(entry.get("date"))
        days = _number(entry.get("relief_duration_days"))
        hours = _number(entry.get("relief_duration_hours"))
        if when is None or (days is None and hours is None):
            continue
        claimed = days if days is not None else hours / 24
        elapsed = (review_date - when).days
        if claimed > elapsed:
            findings.append(
                _finding(
                    "relief_duration_elapsed",
                    f"The relief after the procedure of {when.isoformat()} is said to have lasted "
                    f"{claimed:g} days, but only {elapsed} days have passed since.",
                    {
                        "procedure": f"{entry.get('cpt_code')} on {when.isoformat()}",
                        "claimed relief days": claimed,
                        "days elapsed": elapsed,
                    },
                )
            )
    return findings


def _earlier_sessions(request: dict, history: list, family: str) -> list[tuple[date, list, str]]:
    """(date, levels, source) of the family's earlier sessions in the request's region: the
    provider's prior procedures and the member's approved or still open Lamina requests, planned
    dates ahead included (an approval not yet carried out still counts, and so does a request a
    reviewer may yet approve)."""
    service = _service(request)
    region = spine.region_group(service.get("spinal_region"), service.get("levels"))
    out = []
    for entry in _clinical(request).get("prior_procedures") or []:
        when = _date(entry.get("date"))
        if when is None or _family_of(str(entry.get("cpt_code") or "")) != family:
            continue
        entry_region = spine.region_group(entry.get("region"), entry.get("levels"))
        if entry_region is None or region is None or entry_region == region:
            out.append((when, list(entry.get("levels") or []), "reported procedure"))
    for item in history:
        determination = item.get("determination") or {}
        approved = determination.get("outcome") in _APPROVED
        still_open = item.get("status") in _OPEN
        if item.get("procedure_family") != family or not (approved or still_open):
            continue
        other = item.get("service") or {}
        if not approved and spine.overlap(other.get("levels"), service.get("levels")):
            continue  # an open request at the same levels is a duplicate: the history checks'

        when = (
            _date(other.get("planned_date"))
            or _date(determination.get("valid_from"))
            or _date(item.get("received_at"))
        )
        other_region = spine.region_group(other.get("spinal_region"), other.get("levels"))
        if when and (other_region is None or region is None or other_region == region):
            kind = "approved request" if approved else "open request"
            label = f"{kind} PA-{item['id']:08d}" if item.get("id") else kind
            out.append((when, list(other.get("target_levels") or other.get("levels") or []), label))
    return out


def repeat_interval(request: dict, facts: dict, history: list, review_date: date) -> list[Finding]:
    """ESI: at least 14 days between sessions in a region; ablation: at most every 6 months at the
    same levels. Counted from the dates, either way round (an approval planned ahead counts)."""
    family = request.get("procedure_family")
    service = _service(request)
    when = _date(service.get("planned_date")) or review_date
    findings = []
    for earlier, levels, source in _earlier_sessions(request, history, family):
        if family == ESI:
            gap = abs((when - earlier).days)
            if gap < ESI_MIN_INTERVAL_DAYS:
                findings.append(
                    _finding(
                        "repeat_interval",
                        f"This injection ({when.isoformat()}) is {gap} days from the {source} of "
                        f"{earlier.isoformat()}; injections in one region are at least "
                        f"{ESI_MIN_INTERVAL_DAYS} days apart.",
                        {
                            "service date": when.isoformat(),
                            "earlier session": earlier.isoformat(),
                            "source": source,
                            "days apart": gap,
                            "minimum days": ESI_MIN_INTERVAL_DAYS,
                        },
                    )
                )
        elif family == RFA and spine.overlap(levels, service.get("levels")) is not False:
            first, second = sorted([earlier, when])
            if add_months(first, RFA_MIN_INTERVAL_MONTHS) > second:
                findings.append(
                    _finding(
                        "repeat_interval",
                        f"This ablation ({when.isoformat()}) is less than "
                        f"{RFA_MIN_INTERVAL_MONTHS} months from the {source} of "
                        f"{earlier.isoformat()} at the same levels.",
                        {
                            "service date": when.isoformat(),
                            "earlier session": earlier.isoformat(),
                            "source": source,
                            "earlier levels": levels,
                            "minimum months": RFA_MIN_INTERVAL_MONTHS,
                        },
                    )
                )
    return findings


# --- scores (class 3) -------------------------------------------------------------------------


def relief_scores(request: dict, facts: dict, history: list, review_date: date) -> list[Finding]:
    """A stated relief percent against the percent its before/after scores on one scale give."""
    findings = []
    for entry in _clinical(request).get("prior_procedures") or []:
        stated = _number(entry.get("relief_percent"))
        before, after = _number(entry.get("baseline_score")), _number(entry.get("post_score"))
        if stated is None or entry.get("pain_scale") not in _SCALES or before is None:
            continue
        if after is None or before <= 0:
            continue
        computed = (before - after) / before * 100
        if abs(stated - computed) > RELIEF_TOLERANCE_POINTS:
            findings.append(
                _finding(
                    "relief_scores",
                    f"The procedure of {entry.get('date')} is said to have given {stated:g} % "
                    f"relief, but its scores ({before:g} before, {after:g} after on "
                    f"{entry.get('pain_scale')}) give {computed:.0f} %.",
                    {
                        "procedure": f"{entry.get('cpt_code')} on {entry.get('date')}",
                        "stated relief percent": stated,
                        "relief percent from scores": round(computed, 1),
                        "scale": entry.get("pain_scale"),
                    },
                )
            )
    return findings


CHECKS: dict[str, CheckFunction] = {
    "levels_imaging": levels_imaging,
    "levels_blocks": levels_blocks,
    "levels_fracture": levels_fracture,
    "region_codes": region_codes,
    "sides": sides,
    "relief_duration_elapsed": relief_duration_elapsed,
    "repeat_interval": repeat_interval,
    "relief_scores": relief_scores,
}


def consistency_run(
    entries: list[dict], *, request: dict, facts: dict, history: list, review_date: date
) -> list[Finding]:
    """Run the checks a policy version names, in its order; every finding carries its route."""
    findings: list[Finding] = []
    for entry in entries or []:
        name = entry["check"] if isinstance(entry, dict) else entry
        route = entry.get("route") if isinstance(entry, dict) else None
        for finding in CHECKS[name](request, facts, history, review_date):
            if finding["severity"] == "red_flag":
                finding["route"] = PHYSICIAN
            else:
                finding["route"] = route or CATALOGUE[name].route
            findings.append(finding)
    return findings
