"""Policy impact simulation: what a policy version would have done to past requests.

`simulation_create` records what is simulated (a stored version, or a policy file's content);
`simulation_run` replays it (criteria.simulation, pure) over the last evaluation of every request
of the family and profile received in the period, reading the facts and review date that
evaluation recorded. Nothing of the live data changes and nothing is audited as a decision: the
only rows written are the simulation's own. Activating the version later names its simulations
in the audit event (reviews.signals).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

from django.db import connection, transaction
from django.db.models import JSONField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from criteria.loader import checksum, compile_content
from criteria.models import PolicyVersion
from criteria.simulation import Replay, ReplayRow, content_from_path
from reviews.models import Evaluation, PolicySimulation

logger = logging.getLogger(__name__)

State = PolicySimulation.State
PROGRESS_EVERY_SECONDS = 0.5


class SimulationError(ValueError):
    """A simulation that cannot be set up (an unknown version, a file that does not load)."""


def _version_named(name: str) -> PolicyVersion | None:
    """A version by id (`12`) or label (`epidural_steroid_injection/baseline/v3`)."""
    versions = PolicyVersion.objects.select_related("policy")
    if name.isdigit():
        return versions.filter(pk=int(name)).first()
    parts = name.split("/")
    if len(parts) == 3 and parts[2].lstrip("v").isdigit():
        return versions.filter(
            policy__family=parts[0], profile=parts[1], version=int(parts[2].lstrip("v"))
        ).first()
    return None


def simulation_create(
    *,
    since: date,
    until: date,
    version: PolicyVersion | None = None,
    path: str | Path | None = None,
    profile: str = "baseline",
    family: str | None = None,
    actor=None,
) -> PolicySimulation:
    """Record a simulation of a stored version or of a policy file (validated as loading would)."""
    from criteria.loader import PolicyError

    if since > until:
        raise SimulationError("The period's start is after its end.")
    if (version is None) == (path is None):
        raise SimulationError("Simulate either a stored version or a policy file.")
    try:
        if version is not None:
            content = compile_content(version.content)
            source = version.label
        else:
            content = content_from_path(path, profile=profile, family=family)
            source = str(path)
    except PolicyError as exc:
        raise SimulationError(str(exc)) from exc
    return PolicySimulation.objects.create(
        version=version,
        source=source[:300],
        family=content["family"],
        profile=content["profile"],
        content=content,
        content_checksum=checksum(content),
        since=since,
        until=until,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )


def simulation_for_name(name: str, **kwargs) -> PolicySimulation:
    """`simulate_policy`'s argument: a policy file or directory, else a stored version."""
    if Path(name).exists():
        return simulation_create(path=name, **kwargs)
    version = _version_named(name)
    if version is None:
        raise SimulationError(
            f"{name!r} is neither a policy file nor a stored version (an id, or a label such as "
            "epidural_steroid_injection/baseline/v2)."
        )
    kwargs.pop("profile", None)
    kwargs.pop("family", None)
    return simulation_create(version=version, **kwargs)


def _requests(simulation: PolicySimulation):
    return Evaluation.objects.filter(
        policy_version__isnull=False,
        profile=simulation.profile,
        request__procedure_family=simulation.family,
        request__received_at__date__gte=simulation.since,
        request__received_at__date__lte=simulation.until,
    )


_CHECK_COLUMNS = (
    "recommendation",
    "history_checks",
    "documentation",
    "note_conflicts",
    "consistency",
)


def _rows(simulation: PolicySimulation) -> Iterator[ReplayRow]:
    """The last evaluation of each request, streamed in request order.

    On PostgreSQL the database picks the last round (DISTINCT ON) and reduces the trace to its
    answers and the facts to those the version reads, so only what the replay reads crosses the
    wire; elsewhere (the embedded SQLite default) the same is done here.
    """
    if connection.vendor != "postgresql":
        yield from _rows_portable(simulation)
        return
    answers = RawSQL(
        "(SELECT coalesce(jsonb_object_agg(r->>'id', coalesce(r->>'answer', '')), '{}'::jsonb)"
        " FROM jsonb_array_elements(reviews_evaluation.trace) r WHERE r ? 'id')",
        [],
        output_field=JSONField(),
    )
    # Only the facts the simulated content reads (its compiled "facts"): a tenth of the record.
    facts = RawSQL(
        "(SELECT coalesce(jsonb_object_agg(f.key, f.value), '{}'::jsonb)"
        " FROM jsonb_each(reviews_evaluation.facts) f WHERE f.key = ANY(%s))",
        [sorted(simulation.content.get("facts") or [])],
        output_field=JSONField(),
    )
    queryset = (
        _requests(simulation)
        .annotate(answers=answers, read_facts=facts)
        .order_by("request_id", "-round")
        .distinct("request_id")
        .values_list(
            "request_id",
            "request__received_at",
            "review_date",
            "read_facts",
            "answers",
            "recommendation",
            "history_checks",
            "documentation",
            "note_conflicts",
            "consistency",
        )
    )
    for row in queryset.iterator(chunk_size=5000):
        yield _row(row)


def _rows_portable(simulation: PolicySimulation) -> Iterator[ReplayRow]:
    read = set(simulation.content.get("facts") or [])
    queryset = (
        _requests(simulation)
        .order_by("request_id", "-round")
        .values_list(
            "request_id", "request__received_at", "review_date", "facts", "trace", *_CHECK_COLUMNS
        )
    )
    last_id = None
    for request_id, received_at, review_date, facts, trace, *checks in queryset.iterator(
        chunk_size=2000
    ):
        if request_id == last_id:
            continue  # an earlier round of the same request
        last_id = request_id
        answers = {
            r["id"]: r.get("answer") or ""
            for r in trace or []
            if isinstance(r, dict) and r.get("id")
        }
        facts = {k: v for k, v in (facts or {}).items() if k in read}
        yield _row((request_id, received_at, review_date, facts, answers, *checks))


def _row(values: tuple) -> ReplayRow:
    request_id, received_at, review_date, facts, answers, recommendation, *checks = values
    return ReplayRow(
        request_id=request_id,
        reference=f"PA-{request_id:08d}",
        received_on=timezone.localtime(received_at).date(),
        review_date=review_date,
        facts=facts,
        answers=answers,
        recommendation=recommendation,
        checks=dict(
            zip(
                ("history_checks", "documentation", "note_conflicts", "consistency"),
                checks,
                strict=True,
            )
        ),
    )


def replay_decide(outcome: dict, checks: dict) -> str:
    """The live decision's rules over a replayed engine answer and the recorded other checks.

    The consistency findings are those the evaluation recorded: a contradiction among a request's
    facts stays one whatever the criteria say, so it still keeps the request from approval.
    """
    from reviews.services.decide import decide

    recommendation, _, _ = decide(
        outcome,
        checks["history_checks"],
        checks["documentation"],
        checks["note_conflicts"],
        checks.get("consistency") or [],
    )
    return recommendation


def simulation_run(
    *, simulation: PolicySimulation, progress: Callable[[int, int], None] | None = None
) -> dict:
    """Replay the simulation and store its result; `progress(done, total)` is called as it goes."""
    total = _requests(simulation).values("request_id").distinct().count()
    PolicySimulation.objects.filter(pk=simulation.pk).update(
        state=State.RUNNING, total=total, done=0, error=""
    )
    replay = Replay(content=simulation.content, decide=replay_decide)
    last_report = time.monotonic()
    try:
        for row in _rows(simulation):
            replay.add(row)
            now = time.monotonic()
            if now - last_report >= PROGRESS_EVERY_SECONDS:
                last_report = now
                PolicySimulation.objects.filter(pk=simulation.pk).update(done=replay.requests)
                if progress:
                    progress(replay.requests, total)
        result = replay.result()
    except Exception as exc:
        PolicySimulation.objects.filter(pk=simulation.pk).update(
            state=State.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        logger.exception("simulation %s failed", simulation.pk)
        raise
    with transaction.atomic():
        PolicySimulation.objects.filter(pk=simulation.pk).update(
            state=State.DONE,
            done=replay.requests,
            total=max(total, replay.requests),
            result=result,
            finished_at=timezone.now(),
        )
    if progress:
        progress(replay.requests, total)
    simulation.refresh_from_db()
    return result
