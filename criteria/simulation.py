"""Policy impact simulation: replay past evaluations against another policy version.

Pure: no database, no clock. The caller (reviews.services.simulation) streams one `ReplayRow` per
request, holding what that request's last evaluation recorded: the facts, the review date, the
criteria answers (id -> answer, from its trace), the recommendation and the checks that are not criteria (history flags, note
conflicts, consistency findings, documentation). `Replay.add` evaluates the facts under the
candidate content on the same review date, lets the non-criteria checks act on the new engine
answer exactly as the live decision does (`decide` is passed in), and tallies:

- the from -> to table of recommendations;
- each changed request with the criteria whose answer changed;
- the reviewer workload per ISO week (Monday) by tier, before and after;
- the share of automatic approvals before and after.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from criteria.engine import evaluate

RECOMMENDATIONS = ("approve", "pend_missing_information", "nurse_review", "physician_review")
TIERS = ("nurse_review", "physician_review")


@dataclass(frozen=True)
class ReplayRow:
    request_id: int
    reference: str
    received_on: date
    review_date: date
    facts: dict
    # The recorded answer of each criterion, by id (the evaluation's trace, reduced).
    answers: dict[str, str]
    recommendation: str
    # The recorded non-criteria checks, handed to `decide` with the new engine outcome.
    checks: dict = field(default_factory=dict)


# decide(engine outcome dict, recorded checks) -> recommendation
Decide = Callable[[dict, dict], str]


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _answers(trace: list[dict]) -> dict[str, str]:
    return {r["id"]: r.get("answer", "") for r in trace if r.get("id")}


@dataclass
class Replay:
    content: dict
    decide: Decide
    requests: int = 0
    table: Counter = field(default_factory=Counter)
    before: Counter = field(default_factory=Counter)
    after: Counter = field(default_factory=Counter)
    changes: list[dict] = field(default_factory=list)
    workload: dict = field(default_factory=lambda: defaultdict(Counter))
    # Requests whose criteria answers changed while the recommendation stayed the same.
    criteria_only: int = 0

    def add(self, row: ReplayRow) -> dict | None:
        """Replay one request; its change when the recommendation changed, else None."""
        # A shallow view of the outcome: `decide` only reads it, and EngineOutcome.to_dict's deep
        # copy would cost more than the evaluation itself.
        outcome = vars(
            evaluate(self.content, row.facts, review_date=row.review_date, explain=False)
        )
        to = self.decide(outcome, row.checks)
        old = row.answers
        new = _answers(outcome["results"])
        changed_criteria = [
            {"id": cid, "from": old.get(cid, "absent"), "to": new.get(cid, "absent")}
            for cid in sorted(set(old) | set(new))
            if old.get(cid) != new.get(cid)
        ]
        self.requests += 1
        self.table[(row.recommendation, to)] += 1
        self.before[row.recommendation] += 1
        self.after[to] += 1
        week = week_of(row.received_on)
        counts = self.workload[week]  # every week with a request has a row, even an empty one
        for when, rec in (("before", row.recommendation), ("after", to)):
            if rec in TIERS:
                counts[(when, rec)] += 1
        if to == row.recommendation:
            if changed_criteria:
                self.criteria_only += 1
            return None
        change = {
            "id": row.request_id,
            "reference": row.reference,
            "received_on": row.received_on.isoformat(),
            "from": row.recommendation,
            "to": to,
            "criteria": changed_criteria,
        }
        self.changes.append(change)
        return change

    def result(self) -> dict[str, Any]:
        """The JSON-ready summary: counts, the table, changes, weekly workload, approval shares."""

        def share(counter: Counter) -> float | None:
            return round(counter["approve"] / self.requests, 4) if self.requests else None

        return {
            "requests": self.requests,
            "changed": len(self.changes),
            "criteria_changed_only": self.criteria_only,
            "before": {r: self.before.get(r, 0) for r in RECOMMENDATIONS},
            "after": {r: self.after.get(r, 0) for r in RECOMMENDATIONS},
            "table": [
                {"from": f, "to": t, "count": self.table[(f, t)]}
                for f in RECOMMENDATIONS
                for t in RECOMMENDATIONS
                if self.table[(f, t)]
            ],
            "approval_share": {"before": share(self.before), "after": share(self.after)},
            "workload": [
                {
                    "week": week.isoformat(),
                    **{
                        f"{when}_{tier}": counts[(when, tier)]
                        for when in ("before", "after")
                        for tier in TIERS
                    },
                }
                for week, counts in sorted(self.workload.items())
            ],
            "changes": self.changes,
        }


def content_from_path(path, *, profile: str, family: str | None = None) -> dict:
    """The compiled content of one profile from a policy file or a policy directory.

    A file is compiled with the libraries beside it (general.yaml, facet_joint.yaml) when they are
    there, else with the shipped ones; a directory (a changed library, say) needs the family.
    Raises PolicyError as loading does: a draft that would not load is not simulated.
    """
    from pathlib import Path

    import yaml

    from criteria.loader import POLICY_DIR, PolicyError, compile_policy_file, read_directory

    path = Path(path)
    if path.is_dir():
        library, policies = read_directory(path)
        chosen = [(p, d) for p, d in policies if d.get("family") == family]
        if not chosen:
            raise PolicyError(str(path), f"no policy file for family {family!r} in the directory")
        source, data = chosen[0]
    else:
        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        if not isinstance(data, dict) or not data.get("family"):
            raise PolicyError(path.name, "not a policy file (no family); pass its directory")
        beside = path.parent / "general.yaml"
        library, _ = read_directory(path.parent if beside.exists() else POLICY_DIR)
        source = path
    compiled = compile_policy_file(data, library, source=Path(source).name)
    if profile not in compiled:
        raise PolicyError(str(path), f"no profile {profile!r}")
    return compiled[profile]
