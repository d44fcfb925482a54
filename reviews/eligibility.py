"""Eligible on: the earliest date a request would qualify if its facts stay as they are.

Many referrals on duration criteria are a matter of time: four weeks of therapy where six are
needed, pain for ten weeks where three months are, five months since the last ablation where six
are. `eligible_on` answers with the first day on which the same request, its facts derived again
on that day (an ongoing episode of care keeps going, the symptoms keep lasting, the last procedure
moves further back), would be approved by the same policy version and the same decision rule.

It never gives a date when something other than time stands in the way:
- the request already qualifies, or the engine is missing information (a pend: a missing document
  is not cured by waiting);
- a red flag, a consistency finding, a note conflict, a history flag or missing documentation
  (the decision rule would refer the request whatever the criteria said);
- a criterion that fails reads no fact that changes with the date (a code, a finding, a level)
  and still fails at the end of the search.

Pure: no database, no clock (the caller passes what the evidence checks read). The search walks
day by day up to HORIZON_DAYS after the review date, because not every criterion moves one way
with time (a fracture can become too old for augmentation while a therapy becomes long enough);
the date-dependence test above keeps the walk to the requests time can change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from criteria.engine import evaluate
from reviews.facts import build_facts

APPROVE = "approve"
PEND = "pend_missing_information"
# Long enough for the longest duration the policies count (12 months of a rolling window, six
# months between ablations, three to six months of symptoms), with room for a month's end.
HORIZON_DAYS = 400

# decide(engine outcome dict, recorded checks) -> recommendation, as reviews.services.decide
Decide = Callable[[dict, dict], str]
# (day, facts on that day) -> the consistency findings on that day
Findings = Callable[[date, dict], list[dict]]
# Consistency checks that compare a date with the review date: waiting cures them (a repeat
# injection or ablation too soon after the last one). Every other finding is a contradiction
# among the facts, which no date cures.
TIME_CHECKS = frozenset({"repeat_interval"})


def _failing(outcome) -> list[dict]:
    """The criteria that keep the request from approval: decisive ones not met."""
    return [
        r
        for r in outcome.results
        if r.get("answer") == "not_met" and r.get("decisive") and r.get("kind") != "red_flag"
    ]


def eligible_on(
    *,
    content: dict,
    request_data: dict,
    history: list[dict],
    member: dict,
    review_date: date,
    checks: dict,
    decide: Decide,
    findings_on: Findings | None = None,
    horizon_days: int = HORIZON_DAYS,
) -> tuple[date | None, list[dict]]:
    """(the earliest date the request would be approved, the criteria time cures) or (None, []).

    `checks` are the recorded non-criteria checks (history_checks, documentation,
    note_conflicts, consistency); `findings_on` recomputes the consistency findings on another
    day, of which only the TIME_CHECKS are taken from that day.
    """
    if content is None:
        return None, []

    def facts_on(day: date) -> dict:
        return build_facts(
            request_data=request_data, review_date=day, history=history, member=member
        )

    lasting = [f for f in checks.get("consistency") or [] if f.get("check") not in TIME_CHECKS]

    def checks_on(day: date, facts: dict) -> dict:
        if findings_on is None:
            return checks
        timed = [f for f in findings_on(day, facts) if f.get("check") in TIME_CHECKS]
        return {**checks, "consistency": lasting + timed}

    today = evaluate(content, facts_on(review_date), review_date=review_date)
    if today.red_flags or today.recommendation in {APPROVE, PEND}:
        return None, []
    # What the other checks would do to an approval: a referral there is not cured by time.
    clean = {"recommendation": APPROVE, "reasons": [], "missing_information": [], "red_flags": []}
    if decide(clean, {**checks, "consistency": lasting}) != APPROVE:
        return None, []
    timed_today = [f for f in checks.get("consistency") or [] if f.get("check") in TIME_CHECKS]
    failing = _failing(today)
    if not failing and not timed_today:
        return None, []  # referred for a reason other than a criterion not met (a close call)

    # Only what changes with the date can be cured by waiting: a criterion reading a fact whose
    # value moves with the review date (days of care, a rolling count), or one whose answer moves
    # while its facts stay (calendar months since a date).
    horizon = review_date + timedelta(days=horizon_days)
    now_facts = facts_on(review_date)
    later_facts = facts_on(horizon)
    moving = {name for name, value in now_facts.items() if later_facts.get(name) != value}
    later = {
        r["id"]: r["answer"]
        for r in evaluate(content, later_facts, review_date=horizon, explain=False).results
    }
    for result in failing:
        if not set(result.get("facts") or {}) & moving and later.get(result["id"]) == "not_met":
            return None, []

    for offset in range(1, horizon_days + 1):
        day = review_date + timedelta(days=offset)
        facts = facts_on(day)
        outcome = evaluate(content, facts, review_date=day, explain=False)
        if outcome.red_flags:
            return None, []
        if decide(vars(outcome), checks_on(day, facts)) == APPROVE:
            return day, [
                {
                    "criterion": r["id"],
                    "statement": r.get("statement", ""),
                    "facts": r.get("facts") or {},
                    "threshold": r.get("threshold", ""),
                }
                for r in failing
            ] + [
                {
                    "criterion": "",
                    "check": f["check"],
                    "statement": f.get("statement", ""),
                    "facts": f.get("compared") or {},
                    "threshold": "",
                }
                for f in timed_today
            ]
    return None, []
