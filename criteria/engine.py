"""The criteria engine: a pure, three-valued evaluator of one policy version against one set of facts.

Pure on purpose (DESIGN, STYLE principle 5): no database, no ORM, no clock. The review date is an
argument, so an evaluation can be replayed years later from the pinned version and stored facts.

Content is a compiled policy version (criteria.loader.compile_content): a dict with "criteria",
"parameters" and "facts". Each criterion's `rule` is a tree of:

- leaves `{"fact": name, "op": op, "value": v}` (a `param` key names the version parameter the
  value came from; `if_unknown: "not_met"` marks optional evidence whose absence is not missing
  information, e.g. labs inside a red-flag detector);
- `{"all": [...]}`, `{"any": [...]}`, `{"not": rule}`, `{"at_least": n, "of": [...]}`, combined
  with Kleene's strong three-valued logic (any of met and unknown is met; all of not_met and
  unknown is not_met);
- `{"criterion": id}` (the answer of another criterion) and `{"flag": id}` (whether a red-flag
  criterion's flag is present).

Answers: "met", "not_met", "insufficient_information" and "not_applicable" (the criterion's
`applies_when` is not met, e.g. VA-05 for an osteoporotic fracture, or a waiver applies, e.g. FU-03
when FU-04 is met). A `red_flag` criterion's rule detects the flag; its answer is phrased as the
safety requirement ("no such red flag"): met when absent, not_met when present.

Precedence (criteria.md section 0, GEN-08), over decisive criteria only:
1. a red flag present (any red flag: a present one is decisive in every family; `decisive` on a
   red flag says only whether its being unknown pends the request), a decisive criterion not met,
   or a met criterion whose `refer_when` holds (a value too close to its threshold to decide by
   rule) -> physician_review;
2. any decisive criterion with insufficient information -> pend_missing_information, listing
   exactly which facts are missing and which criterion needs each;
3. a decisive criterion not met whose `on_not_met` is nurse_review (a documentation gap a nurse can
   settle), or a met criterion with `confirm: nurse_review` (a document a nurse must read)
   -> nurse_review;
4. otherwise approve.
Advisory criteria never change the recommendation; they are listed in `advisories`. The engine
never produces a denial: only a physician reviewer may deny.
"""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

MET = "met"
NOT_MET = "not_met"
UNKNOWN = "insufficient_information"
NOT_APPLICABLE = "not_applicable"

APPROVE = "approve"
PEND = "pend_missing_information"
NURSE = "nurse_review"
PHYSICIAN = "physician_review"

_NEGATE = {MET: NOT_MET, NOT_MET: MET, UNKNOWN: UNKNOWN}


def add_months(start: date, months: int) -> date:
    """Calendar arithmetic: the same day N months later, clamped to the month's last day."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _as_date(value: Any) -> date:
    # Facts replayed from stored JSON carry ISO strings; freshly built ones carry dates.
    return value if isinstance(value, date) else date.fromisoformat(value)


def _contains_any(value: list, expected: list) -> bool:
    return any(item in value for item in expected)


def _any_prefix(value: list, expected: list) -> bool:
    return any(str(code).startswith(tuple(expected)) for code in value)


# Each operator: (fact value, expected, review date) -> bool. Unknown values never reach these.
OPERATORS = {
    "eq": lambda v, e, r: v == e,
    "ne": lambda v, e, r: v != e,
    "gt": lambda v, e, r: v > e,
    "gte": lambda v, e, r: v >= e,
    "lt": lambda v, e, r: v < e,
    "lte": lambda v, e, r: v <= e,
    "in": lambda v, e, r: v in e,
    "not_in": lambda v, e, r: v not in e,
    "is_true": lambda v, e, r: v is True,
    "is_false": lambda v, e, r: v is False,
    "documented": lambda v, e, r: True,
    "contains": lambda v, e, r: e in v,
    "contains_any": lambda v, e, r: _contains_any(v, e),
    "any_prefix": lambda v, e, r: _any_prefix(v, e),
    "none_prefix": lambda v, e, r: not _any_prefix(v, e),
    # "N months" is calendar arithmetic (criteria.md section 0): start + N months <= review date.
    "months_since_gte": lambda v, e, r: add_months(_as_date(v), e) <= r,
    "months_since_gt": lambda v, e, r: add_months(_as_date(v), e) < r,
    "months_since_lt": lambda v, e, r: add_months(_as_date(v), e) > r,
    "months_since_lte": lambda v, e, r: add_months(_as_date(v), e) >= r,
}

# How a threshold reads in a trace.
OP_TEXT = {
    "eq": "=",
    "ne": "!=",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "in": "in",
    "not_in": "not in",
    "is_true": "is true",
    "is_false": "is false",
    "documented": "is documented",
    "contains": "contains",
    "contains_any": "contains any of",
    "any_prefix": "has a code starting with",
    "none_prefix": "has no code starting with",
    "months_since_gte": "+ N months <= review date",
    "months_since_gt": "+ N months < review date",
    "months_since_lt": "+ N months > review date",
    "months_since_lte": "+ N months >= review date",
}
COMBINATORS = frozenset({"all", "any", "not", "at_least"})
KINDS = frozenset({"requirement", "red_flag", "waiver"})
# Kinds whose rule detects something (a red flag, a waiver) rather than requires it.
DETECTOR_KINDS = frozenset({"red_flag", "waiver"})


class EngineError(Exception):
    """Content the engine cannot evaluate (the loader refuses such content before it is stored)."""


@dataclass
class EngineOutcome:
    recommendation: str
    results: list[dict] = field(default_factory=list)
    missing_information: list[dict] = field(default_factory=list)
    reasons: list[dict] = field(default_factory=list)
    red_flags: list[str] = field(default_factory=list)
    advisories: list[dict] = field(default_factory=list)
    family: str = ""
    profile: str = ""
    review_date: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_value(v) for v in value]
    return value


def describe_leaf(leaf: dict) -> str:
    """The threshold of one leaf in plain notation, e.g. `symptoms.duration_days >= 28`."""
    op = leaf["op"]
    if op in {"is_true", "is_false", "documented"}:
        return f"{leaf['fact']} {OP_TEXT[op]}"
    if op.startswith("months_since_"):
        return f"{leaf['fact']} {OP_TEXT[op].replace('N', str(leaf['value']))}"
    return f"{leaf['fact']} {OP_TEXT[op]} {json_value(leaf['value'])}"


class _Run:
    """One evaluation: memoises criterion answers so `criterion`/`flag` references are cheap."""

    __slots__ = ("by_id", "facts", "review_date", "memo")

    def __init__(self, content: dict, facts: dict, review_date: date):
        self.by_id = {c["id"]: c for c in content["criteria"]}
        self.facts = facts
        self.review_date = review_date
        # id -> (detector answer, leaves); the detector of a red flag is "present" when met.
        self.memo: dict[str, tuple[str, list]] = {}

    # A leaf record is (label, value, threshold, answer, missing fact or None).
    def node(self, node: dict) -> tuple[str, list]:
        fact = node.get("fact")
        if fact is not None:
            value = self.facts.get(fact)
            if value is None:
                answer = node.get("if_unknown", UNKNOWN)
                missing = fact if answer == UNKNOWN else None
                return answer, [(fact, None, node, answer, missing)]
            ok = OPERATORS[node["op"]](value, node.get("value"), self.review_date)
            answer = MET if ok else NOT_MET
            return answer, [(fact, value, node, answer, None)]
        if "all" in node:
            return self._combine(node["all"], want=NOT_MET, other=MET)
        if "any" in node:
            return self._combine(node["any"], want=MET, other=NOT_MET)
        if "not" in node:
            answer, leaves = self.node(node["not"])
            return _NEGATE[answer], leaves
        if "at_least" in node:
            return self._at_least(node["at_least"], node["of"])
        if "criterion" in node:
            cid = node["criterion"]
            answer = self.answer_of(cid)
            if answer == NOT_APPLICABLE:
                answer = MET  # a requirement that does not apply blocks nothing
            return answer, [(cid, answer, None, answer, ("criterion", cid))]
        if "flag" in node:
            cid = node["flag"]
            detector, _ = self.criterion(cid)
            label = f"{cid} flag"
            return detector, [(label, detector, None, detector, ("criterion", cid))]
        raise EngineError(f"unknown rule node: {sorted(node)}")

    def _combine(self, children: list, *, want: str, other: str) -> tuple[str, list]:
        # Kleene: `want` (not_met for all, met for any) decides at once; else unknown beats `other`.
        decided: list = []
        unknown: list = []
        passed: list = []
        for child in children:
            answer, leaves = self.node(child)
            if answer == want:
                decided.extend(leaves)
            elif answer == UNKNOWN:
                unknown.extend(leaves)
            else:
                passed.extend(leaves)
        if decided:
            return want, decided
        if unknown:
            return UNKNOWN, unknown
        return other, passed

    def _at_least(self, n: int, children: list) -> tuple[str, list]:
        met: list = []
        unknown: list = []
        failed: list = []
        count_met = count_unknown = 0
        for child in children:
            answer, leaves = self.node(child)
            if answer == MET:
                count_met += 1
                met.extend(leaves)
            elif answer == UNKNOWN:
                count_unknown += 1
                unknown.extend(leaves)
            else:
                failed.extend(leaves)
        if count_met >= n:
            return MET, met
        if count_met + count_unknown < n:
            return NOT_MET, failed
        return UNKNOWN, unknown

    def criterion(self, cid: str) -> tuple[str, list]:
        """(detector answer, deciding leaves); applies_when is Kleene implication."""
        cached = self.memo.get(cid)
        if cached is not None:
            return cached
        crit = self.by_id.get(cid)
        if crit is None:
            raise EngineError(f"reference to a criterion not in this version: {cid}")
        self.memo[cid] = (UNKNOWN, [])  # cycle guard; the loader refuses cycles anyway
        applies = crit.get("applies_when")
        if applies is not None:
            app_answer, app_leaves = self.node(applies)
            if app_answer == NOT_MET:
                result = (NOT_APPLICABLE, app_leaves)
                self.memo[cid] = result
                return result
            answer, leaves = self.node(crit["rule"])
            # A requirement is the implication "applies -> rule" (met whenever the rule is met);
            # a detector (red flag, waiver) is the conjunction "applies and detected" (absent
            # whenever nothing is detected). Either way unknown applicability stays unknown.
            settled = NOT_MET if crit.get("kind") in DETECTOR_KINDS else MET
            if app_answer == UNKNOWN and answer != settled:
                answer, leaves = UNKNOWN, app_leaves + (leaves if answer == UNKNOWN else [])
        else:
            answer, leaves = self.node(crit["rule"])
        result = (answer, leaves)
        self.memo[cid] = result
        return result

    def answer_of(self, cid: str) -> str:
        detector, _ = self.criterion(cid)
        if self.by_id[cid].get("kind") == "red_flag" and detector != NOT_APPLICABLE:
            return _NEGATE[detector]
        return detector

    def missing_of(self, leaves: list, seen: set | None = None) -> list[str]:
        """The unknown facts among deciding leaves, following criterion references."""
        seen = set() if seen is None else seen
        out: list[str] = []
        for _label, _value, _node, answer, missing in leaves:
            if answer != UNKNOWN or missing is None:
                continue
            if isinstance(missing, tuple):
                cid = missing[1]
                if cid not in seen:
                    seen.add(cid)
                    out.extend(self.missing_of(self.criterion(cid)[1], seen))
            elif missing not in out:
                out.append(missing)
        return out


def _display(value: Any) -> Any:
    # Computed percentages carry float noise; the trace rounds them, the facts keep them exact.
    return round(value, 2) if isinstance(value, float) else json_value(value)


def _leaf_text(record: tuple, verb: str = "needs") -> str:
    label, value, node, answer, missing = record
    if node is None:  # a criterion or flag reference
        if label.endswith(" flag"):
            state = {MET: "present", NOT_MET: "absent", UNKNOWN: "unknown"}.get(value, value)
            return f"{label} {state}"
        return f"{label} {value}"
    if value is None:
        return f"{label} unknown" + (" (counts as absent)" if answer == NOT_MET else "")
    return f"{label} = {_display(value)} ({verb} {describe_leaf(node)})"


_PREFIX = {
    MET: "Met",
    NOT_MET: "Not met",
    UNKNOWN: "Insufficient information",
    NOT_APPLICABLE: "Not applicable",
}
_FLAG_PREFIX = {MET: "Red flag present", NOT_MET: "No red flag", UNKNOWN: "Red flag unknown"}


def _explain(prefix: str, leaves: list, verb: str = "needs") -> str:
    parts = []
    for record in leaves:
        text = _leaf_text(record, verb)
        if text not in parts:
            parts.append(text)
    return f"{prefix}: " + "; ".join(parts) if parts else prefix + "."


def evaluate(
    content: dict, facts: dict, *, review_date: date, explain: bool = True
) -> EngineOutcome:
    """Evaluate a compiled policy version against facts on a review date.

    Steps: 1. every criterion's answer with its deciding leaves; 2. waivers turn the criteria they
    waive into not_applicable; 3. the precedence in the module docstring gives the recommendation.
    `explain=False` leaves out the trace's explanations and fact values (same answers and
    recommendation): a policy simulation replaying many requests reads only those.
    """
    run = _Run(content, facts, review_date)
    criteria = content["criteria"]
    fact_info = content.get("facts", {})

    # 1. answers (a red flag's detector is kept to report the flag itself)
    answers: dict[str, str] = {}
    details: dict[str, tuple[str, list]] = {}
    for crit in criteria:
        cid = crit["id"]
        details[cid] = run.criterion(cid)
        answers[cid] = run.answer_of(cid)

    # 2. waivers: a waiver criterion that is met lifts the criteria it waives
    waived: dict[str, str] = {}
    for crit in criteria:
        for waiver in crit.get("waived_by", ()):
            if answers.get(waiver) == MET:
                waived[crit["id"]] = waiver
                break

    results: list[dict] = []
    physician: list[dict] = []
    nurse: list[dict] = []
    advisories: list[dict] = []
    red_flags: list[str] = []
    missing: dict[str, dict] = {}

    for crit in criteria:
        cid = crit["id"]
        detector, leaves = details[cid]
        answer = answers[cid]
        is_flag = crit.get("kind") == "red_flag"
        if cid in waived:
            answer = NOT_APPLICABLE
        if not explain:
            explanation = ""
        elif cid in waived:
            explanation = f"Not applicable: waived by {waived[cid]}"
            if leaves:
                explanation += " (" + _explain(_PREFIX[answers[cid]].lower(), leaves) + ")"
        elif is_flag and detector != NOT_APPLICABLE:
            explanation = _explain(_FLAG_PREFIX[detector], leaves, "flag if")
        else:
            explanation = _explain(_PREFIX[answer], leaves)
        decisive = bool(crit.get("decisive"))
        reads = crit.get("reads", ())
        result = {
            "id": cid,
            "answer": answer,
            "decisive": decisive,
            "kind": crit.get("kind", "requirement"),
            "statement": crit["statement"],
            "citation": crit["citation"],
            "facts": {name: json_value(facts.get(name)) for name in reads} if explain else {},
            "threshold": crit.get("threshold", ""),
            "explanation": explanation,
        }
        if cid in waived:
            result["waived_by"] = waived[cid]
        if is_flag:
            result["flag"] = {MET: "present", NOT_MET: "absent", UNKNOWN: "unknown"}.get(
                detector, "not_applicable"
            )
            if detector == MET:
                red_flags.append(cid)
        results.append(result)

        note = {"criterion": cid, "statement": crit["statement"], "explanation": explanation}
        if is_flag and detector == MET:
            # A red flag present is decisive in every family, whatever `decisive` says: nothing
            # is approved while one is listed, and a physician reads it.
            physician.append(note)
            continue
        if not decisive:
            if answer == NOT_MET:
                advisories.append(note)
            continue
        if answer == NOT_MET:
            if not is_flag and crit.get("on_not_met") == NURSE:
                nurse.append(note)
            else:
                physician.append(note)
        elif answer == UNKNOWN:
            for fact in run.missing_of(leaves):
                item = missing.get(fact)
                if item is None:
                    info = fact_info.get(fact, {})
                    missing[fact] = {
                        "field": info.get("field", fact),
                        "fact": fact,
                        "why": f"Needed to check {cid}: {info.get('why', fact)}.",
                        "criterion": cid,
                        "criteria": [cid],
                    }
                elif cid not in item["criteria"]:
                    item["criteria"].append(cid)
        elif answer == MET:
            refer = crit.get("refer_when")
            if refer is not None:
                refer_answer, refer_leaves = run.node(refer)
                if refer_answer == MET:
                    physician.append(
                        {
                            **note,
                            "explanation": _explain("Too close to decide by rule", refer_leaves),
                        }
                    )
            if crit.get("confirm") == NURSE:
                nurse.append({**note, "explanation": crit.get("confirm_note", explanation)})

    # 3. precedence: red flags first among the reasons a physician reads
    physician.sort(key=lambda n: 0 if n["criterion"] in red_flags else 1)
    if physician:
        recommendation, reasons = PHYSICIAN, physician + nurse
    elif missing:
        recommendation, reasons = PEND, []
    elif nurse:
        recommendation, reasons = NURSE, nurse
    else:
        recommendation, reasons = APPROVE, []
    return EngineOutcome(
        recommendation=recommendation,
        results=results,
        missing_information=list(missing.values()),
        reasons=reasons,
        red_flags=red_flags,
        advisories=advisories,
        family=content.get("family", ""),
        profile=content.get("profile", ""),
        review_date=review_date.isoformat(),
    )


def no_policy_outcome(*, cpt_codes: list[str], review_date: date) -> EngineOutcome:
    """A request whose CPT codes no Lamina policy covers goes to a nurse with that reason."""
    codes = ", ".join(cpt_codes) or "none"
    return EngineOutcome(
        recommendation=NURSE,
        reasons=[
            {
                "criterion": "",
                "statement": "No Lamina policy covers the requested procedure codes.",
                "explanation": f"CPT codes {codes} belong to no procedure family with a policy.",
            }
        ],
        review_date=review_date.isoformat(),
    )
