"""The catalogue of consistency checks a policy may name (`consistency:` in a family file).

A consistency check compares facts that must agree with each other (the service's levels with the
imaging's, a stated relief percent with the scores it came from, a claimed relief duration with
the time since the procedure ...). Any finding blocks approval and names the contradiction.

The catalogue lives in `criteria` so the loader refuses an unknown check name without importing
`reviews` (dependencies point one way, as for the fact vocabulary); the checks themselves are pure
functions in `reviews/consistency.py`, and a test holds the two together.

`route` is where a finding sends the case by default (a policy entry may say
`{check: name, route: physician_review}`); a finding of severity `red_flag` always goes to a
physician.
"""

from dataclasses import dataclass

NURSE = "nurse_review"
PHYSICIAN = "physician_review"
ROUTES = frozenset({NURSE, PHYSICIAN})
SEVERITIES = frozenset({"review", "red_flag"})


@dataclass(frozen=True)
class Check:
    what: str
    route: str = NURSE


CHECKS: dict[str, Check] = {
    "levels_imaging": Check(
        "The treated levels agree with the levels of the imaging concordant with the symptoms "
        "(a service naming no level does not), and a study marked concordant lists the findings "
        "it rests on."
    ),
    "levels_blocks": Check(
        "The levels of an ablation or a repeat block are levels the diagnostic blocks tested (a "
        "service naming no level is not)."
    ),
    "levels_fracture": Check(
        "The treated levels include the fractured vertebra named in the request and on imaging "
        "(a service naming no level does not)."
    ),
    "region_codes": Check(
        "The CPT codes' region, the stated spinal region and the levels name the same region."
    ),
    "sides": Check(
        "The side treated agrees with the side of the pathology (blocks, diagnosis codes, "
        "imaging report and notes); a one-sided procedure names its side where they name one."
    ),
    "relief_duration_elapsed": Check(
        "No relief lasted longer than the time elapsed since the procedure.", PHYSICIAN
    ),
    "repeat_interval": Check(
        "A repeat injection or ablation respects the minimum interval since the last one "
        "(ESI 14 days; ablation of a region at most every 6 months), counted from the dates.",
        PHYSICIAN,
    ),
    "relief_scores": Check(
        "A stated relief percent agrees with the before and after scores on the same scale "
        "(within 10 points)."
    ),
}


def normalise(entries: object) -> list[dict]:
    """A policy's `consistency:` list -> [{"check", "route"}]; ValueError names what is wrong."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ValueError("'consistency' must be a list of check names")
    out: list[dict] = []
    seen: set[str] = set()
    for entry in entries:
        if isinstance(entry, str):
            entry = {"check": entry}
        if not isinstance(entry, dict) or set(entry) - {"check", "route"}:
            raise ValueError(f"a consistency entry is a name or {{check, route}}: {entry!r}")
        name = entry.get("check")
        if name not in CHECKS:
            raise ValueError(f"unknown consistency check {name!r}")
        if name in seen:
            raise ValueError(f"consistency check {name!r} listed twice")
        seen.add(name)
        route = entry.get("route", CHECKS[name].route)
        if route not in ROUTES:
            raise ValueError(f"consistency check {name!r}: route must be one of {sorted(ROUTES)}")
        out.append({"check": name, "route": route})
    return out
