"""Bulk loader: fill the bench database with requests as a year of a plan's work leaves them.

Rows are cloned from templates made by the real services (the shared examples submitted and
checked by the engine), so JSON sizes, evaluation traces and foreign keys are what production
writes; only the volume is synthetic. Requests go in with bulk_create in batches of 5,000; audit
events go in with COPY and form a valid hash chain that continues from the last event on file,
so `verify_audit` walks the whole trail as it would in production.

The audit table's trigger refuses UPDATE, DELETE and TRUNCATE: the bench starts from a freshly
created database instead of cleaning one.
"""

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from tqdm import tqdm

from reviews.audit import CONTENT_COLUMNS, audit_seal, canonical
from reviews.models import (
    Appeal,
    AuditEvent,
    Determination,
    Evaluation,
    InformationRequest,
    LineOfBusiness,
    Member,
    Organization,
    PriorAuthRequest,
    Recommendation,
    Role,
    ServiceLine,
    Status,
    Urgency,
)

BATCH = 5_000

# The share of each status among a year of requests. Decided requests dominate, but the open
# review statuses are deliberately generous (a fifth of everything) so the queue page is measured
# against a long queue, not a short one.
STATUS_WEIGHTS: dict[str, float] = {
    Status.APPROVED: 0.52,
    Status.PARTIALLY_APPROVED: 0.03,
    Status.DENIED: 0.06,
    Status.WITHDRAWN: 0.04,
    Status.PENDING_INFORMATION: 0.10,
    Status.NURSE_REVIEW: 0.12,
    Status.PHYSICIAN_REVIEW: 0.07,
    Status.APPEAL: 0.01,
    Status.EVALUATING: 0.03,
    Status.RECEIVED: 0.02,
}
OPEN = {
    Status.RECEIVED,
    Status.EVALUATING,
    Status.PENDING_INFORMATION,
    Status.NURSE_REVIEW,
    Status.PHYSICIAN_REVIEW,
    Status.APPEAL,
}
RECOMMENDATION_OF = {
    Status.APPROVED: Recommendation.APPROVE,
    Status.PARTIALLY_APPROVED: Recommendation.PHYSICIAN_REVIEW,
    Status.DENIED: Recommendation.PHYSICIAN_REVIEW,
    Status.WITHDRAWN: Recommendation.NURSE_REVIEW,
    Status.PENDING_INFORMATION: Recommendation.PEND_MISSING_INFORMATION,
    Status.NURSE_REVIEW: Recommendation.NURSE_REVIEW,
    Status.PHYSICIAN_REVIEW: Recommendation.PHYSICIAN_REVIEW,
    Status.APPEAL: Recommendation.PHYSICIAN_REVIEW,
}

# Every column of an unsealed event but its id: what the chain covers, as the sealer reads it.
AUDIT_COLUMNS = CONTENT_COLUMNS[1:]


class RawJson(str):
    """A JSON document serialized once and written by COPY as is (jsonb parses it)."""


EVALUATION_JSON = (
    "facts",
    "trace",
    "history_checks",
    "documentation",
    "note_conflicts",
    "reasons",
    "missing_information",
)


@dataclass
class Template:
    """One real request and its real evaluation, as the services wrote them."""

    request: PriorAuthRequest
    evaluation: Evaluation | None
    lines: list[ServiceLine]
    # The evaluation's JSON columns serialized once: a trace is ~18 KB, written 100,000 times.
    raw: dict[str, RawJson] = field(default_factory=dict)

    def json(self, name: str) -> RawJson:
        if name not in self.raw:
            self.raw[name] = RawJson(json.dumps(getattr(self.evaluation, name)))
        return self.raw[name]

    def request_json(self, name: str) -> RawJson:
        key = f"request:{name}"
        if key not in self.raw:
            self.raw[key] = RawJson(json.dumps(getattr(self.request, name)))
        return self.raw[key]

    def snapshot(self, recommendation: str) -> RawJson:
        key = f"snapshot:{recommendation}"
        if key not in self.raw:
            self.raw[key] = RawJson(
                json.dumps({"recommendation": recommendation, "trace": self.evaluation.trace})
            )
        return self.raw[key]

    def not_met(self) -> list[dict]:
        trace = self.evaluation.trace if self.evaluation else []
        return [r for r in trace if r.get("answer") == "not_met"]


@dataclass
class Cast:
    organizations: list[Organization]
    providers: list  # one provider user per organization, same order
    nurses: list
    physicians: list
    templates: list[Template]
    by_recommendation: dict[str, list[Template]] = field(default_factory=dict)


class AuditChain:
    """Writes events with COPY, unsealed as audit_record() writes them; the sealer chains them."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.roles: dict[int, str] = {}

    def add(
        self,
        *,
        at: datetime,
        actor,
        action: str,
        subject_type: str,
        subject_id,
        request_id,
        data: dict,
        ip: str | None,
    ) -> None:
        if actor is None:
            actor_id, label, role = None, "engine", Role.ENGINE.value
        else:
            # User.role reads the user's groups: once per user, not once per event.
            if actor.pk not in self.roles:
                self.roles[actor.pk] = actor.role
            actor_id, label, role = actor.pk, actor.username, self.roles[actor.pk]
        self.rows.append(
            (
                at,
                actor_id,
                label,
                role,
                ip,
                action,
                subject_type,
                str(subject_id),
                request_id,
                canonical(json.loads(canonical(data))),
            )
        )

    def flush(self) -> int:
        """COPY the pending events in order, then seal them (ids follow COPY order, and so does
        the chain)."""
        written = len(self.rows)
        if not written:
            return 0
        table = AuditEvent._meta.db_table
        columns = ", ".join(AUDIT_COLUMNS)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as pipe,  # noqa: S608
        ):
            for row in self.rows:
                pipe.write_row(row)
        self.rows = []
        audit_seal()
        return written


def copy_insert(model, objects: list) -> list:
    """Insert model instances with COPY, their ids drawn from the table's sequence first.

    bulk_create on PostgreSQL sends each column as an array parameter (UNNEST), which psycopg
    escapes character by character: minutes for 100,000 evaluations with their traces. COPY
    streams the same values in seconds.
    """
    if not objects:
        return objects
    meta = model._meta
    fields = list(meta.concrete_fields)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objects)],
        )
        for obj, (pk,) in zip(objects, cursor.fetchall(), strict=True):
            obj.pk = pk
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        with cursor.cursor.copy(f"COPY {meta.db_table} ({columns}) FROM STDIN") as pipe:  # noqa: S608
            for obj in objects:
                pipe.write_row([_db_value(f, obj) for f in fields])
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objects


def _db_value(model_field, obj):
    value = getattr(obj, model_field.attname)
    if isinstance(value, RawJson):
        return str(value)
    return model_field.get_db_prep_save(model_field.pre_save(obj, True), connection)


def _user_ip(user) -> str:
    return f"10.20.{user.pk % 250}.{(user.pk * 7) % 250 + 1}"


def _pick_template(cast: Cast, recommendation: str, rng: random.Random) -> Template:
    pool = cast.by_recommendation.get(recommendation) or cast.templates
    return rng.choice(pool)


def _status_sequence(count: int, rng: random.Random) -> list[str]:
    statuses = list(STATUS_WEIGHTS)
    weights = [STATUS_WEIGHTS[s] for s in statuses]
    return rng.choices(statuses, weights=weights, k=count)


def load_requests(
    count: int, *, cast: Cast, now: datetime, seed: int = 7, label: str = "requests"
) -> int:
    """Insert `count` requests with their lines, evaluations, determinations and audit events."""
    rng = random.Random(seed)
    chain = AuditChain()
    done = 0
    member_base = Member.objects.count()
    with tqdm(total=count, desc=f"loading {label}", unit="req", mininterval=1.0) as bar:
        while done < count:
            size = min(BATCH, count - done)
            with transaction.atomic():
                _load_batch(
                    size, cast=cast, now=now, rng=rng, chain=chain, member_base=member_base + done
                )
                chain.flush()
            done += size
            bar.update(size)
    return done


def _load_batch(
    size: int, *, cast: Cast, now: datetime, rng: random.Random, chain: AuditChain, member_base: int
) -> None:
    # Members: about two requests per member, as a plan's repeat injections and staged care give.
    members = copy_insert(
        Member,
        [
            Member(
                member_id=f"BM{member_base + i:09d}",
                first_name="Bench",
                last_name=f"Member{member_base + i}",
                birth_date=date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 60)),
                sex=rng.choice(["female", "male"]),
            )
            for i in range((size + 1) // 2)
        ],
    )
    statuses = _status_sequence(size, rng)
    plans = []
    for status in statuses:
        org_index = 0 if rng.random() < 0.25 else rng.randrange(1, len(cast.organizations))
        template = _pick_template(cast, RECOMMENDATION_OF.get(status, ""), rng)
        urgency = Urgency.EXPEDITED if rng.random() < 0.15 else Urgency.STANDARD
        window = timedelta(hours=72 if urgency == Urgency.EXPEDITED else 7 * 24)
        if status == Status.APPEAL:
            # Denied a few weeks ago, appealed a day after: the appeal's own 30-day clock runs.
            received_at = now - timedelta(days=rng.uniform(5, 29))
            plans.append((status, org_index, template, urgency, received_at, timedelta(days=33)))
            continue
        if status in OPEN:
            # Open cases arrived within their window (a tenth of them are already overdue).
            age = window * (rng.random() * (1.3 if rng.random() < 0.1 else 0.95))
        else:
            age = timedelta(days=rng.uniform(1, 365))
        received_at = now - age
        plans.append((status, org_index, template, urgency, received_at, window))

    requests = []
    for i, (status, org_index, template, urgency, received_at, window) in enumerate(plans):
        src = template.request
        reviewer = (
            rng.choice(cast.nurses)
            if status == Status.NURSE_REVIEW
            else rng.choice(cast.physicians)
            if status in {Status.PHYSICIAN_REVIEW, Status.APPEAL}
            else None
        )
        decided = status not in OPEN or status == Status.APPEAL
        requests.append(
            PriorAuthRequest(
                organization=cast.organizations[org_index],
                submitted_by=cast.providers[org_index],
                member=members[i // 2],
                external_id=f"EXT-{rng.randrange(10**8):08d}",
                urgency=urgency,
                line_of_business=rng.choice(LineOfBusiness.values),
                channel="rest" if rng.random() < 0.8 else "fhir",
                requesting_provider_npi=src.requesting_provider_npi,
                requesting_provider_name=src.requesting_provider_name,
                requesting_provider_specialty=src.requesting_provider_specialty,
                procedure_family=src.procedure_family,
                service=template.request_json("service"),
                diagnosis_codes=list(src.diagnosis_codes),
                clinical=template.request_json("clinical"),
                status=status,
                evaluation_round=0 if status == Status.RECEIVED else 1,
                recommendation=RECOMMENDATION_OF.get(status, ""),
                missing_information=(
                    template.evaluation.missing_information
                    if status == Status.PENDING_INFORMATION and template.evaluation
                    else []
                ),
                received_at=received_at,
                due_at=received_at + window,
                enqueued_at=received_at if status != Status.RECEIVED else None,
                # A third of the review queue is held by a reviewer.
                assigned_to=reviewer if reviewer is not None and rng.random() < 0.33 else None,
                decided_at=(
                    received_at + timedelta(days=2)
                    if status == Status.APPEAL
                    else received_at + window * rng.uniform(0.05, 0.9)
                    if decided
                    else None
                ),
            )
        )
    requests = copy_insert(PriorAuthRequest, requests)

    lines = []
    evaluations = []
    for pa_request, (_status, _o, template, _u, _r, _w) in zip(requests, plans, strict=True):
        for line in template.lines:
            lines.append(
                ServiceLine(
                    request=pa_request,
                    sequence=line.sequence,
                    cpt_code=line.cpt_code,
                    family=line.family,
                    description=line.description,
                    is_add_on=line.is_add_on,
                )
            )
        src = template.evaluation
        if pa_request.status not in {Status.RECEIVED, Status.EVALUATING} and src is not None:
            evaluations.append(
                Evaluation(
                    request=pa_request,
                    round=1,
                    policy_version_id=src.policy_version_id,
                    profile=src.profile,
                    review_date=pa_request.received_at.date(),
                    **{name: template.json(name) for name in EVALUATION_JSON},
                    recommendation=pa_request.recommendation or src.recommendation,
                )
            )
    copy_insert(ServiceLine, lines)
    evaluations = copy_insert(Evaluation, evaluations)
    evaluation_of = {e.request_id: e for e in evaluations}

    determinations = []
    information = []
    template_of = {r.pk: plan[2] for r, plan in zip(requests, plans, strict=True)}
    for pa_request in requests:
        evaluation = evaluation_of.get(pa_request.pk)
        template = template_of[pa_request.pk]
        status = pa_request.status
        if status == Status.PENDING_INFORMATION:
            information.append(
                InformationRequest(
                    request=pa_request,
                    requested_by=None,
                    requested_by_role=Role.ENGINE,
                    items=pa_request.missing_information,
                    message="Lamina needs the information listed to finish the review.",
                    requested_at=pa_request.received_at + timedelta(seconds=5),
                )
            )
        outcome = {
            Status.APPROVED: "approved",
            Status.PARTIALLY_APPROVED: "partially_approved",
            Status.DENIED: "denied",
            Status.APPEAL: "denied",
            Status.WITHDRAWN: "withdrawn",
        }.get(status)
        if outcome is None:
            continue
        by_engine = outcome == "approved" and rng.random() < 0.7
        if outcome == "withdrawn":
            decider, role = pa_request.submitted_by, Role.PROVIDER
        elif by_engine:
            decider, role = None, Role.ENGINE
        elif outcome == "approved":
            decider, role = rng.choice(cast.nurses), Role.NURSE
        else:
            decider, role = rng.choice(cast.physicians), Role.PHYSICIAN
        decided_at = pa_request.decided_at or pa_request.received_at + timedelta(hours=1)
        favourable = outcome in {"approved", "partially_approved"}
        not_met = template.not_met() if evaluation else []
        determinations.append(
            Determination(
                request=pa_request,
                outcome=outcome,
                decided_by=decider,
                decided_by_role=role,
                reasons=[
                    {"criterion": r.get("id", ""), "statement": r.get("statement", "")}
                    for r in not_met
                ]
                if outcome in {"denied", "partially_approved"}
                else [],
                rationale="" if by_engine else "Reviewed against the policy criteria.",
                policy_version_id=evaluation.policy_version_id if evaluation else None,
                evaluation=evaluation,
                evaluation_snapshot=template.snapshot(evaluation.recommendation)
                if evaluation
                else {},
                authorization_number=f"LAM-{pa_request.pk:08d}-1" if favourable else None,
                approved_cpt_codes=template.request.cpt_codes if favourable else [],
                approved_units=template.request.service.get("units") or 1 if favourable else None,
                approved_levels=template.request.service.get("levels", []) if favourable else [],
                valid_from=decided_at.date() if favourable else None,
                valid_to=decided_at.date() + timedelta(days=90) if favourable else None,
                decided_at=decided_at,
            )
        )
    copy_insert(InformationRequest, information)
    determinations = copy_insert(Determination, determinations)
    determination_of = {d.request_id: d for d in determinations}
    appeals = [
        Appeal(
            request=pa_request,
            original_determination=determination_of[pa_request.pk],
            filed_by=pa_request.submitted_by,
            reason="The member failed the therapy the policy asks for; notes attached.",
            urgency=pa_request.urgency,
            filed_at=pa_request.decided_at + timedelta(days=1),
            due_at=pa_request.due_at,
        )
        for pa_request in requests
        if pa_request.status == Status.APPEAL
    ]
    copy_insert(Appeal, appeals)

    for pa_request in requests:
        _audit_history(
            chain,
            pa_request,
            evaluation_of.get(pa_request.pk),
            template_of[pa_request.pk],
            determination_of.get(pa_request.pk),
            cast,
            rng,
        )


def _audit_history(
    chain: AuditChain,
    pa_request: PriorAuthRequest,
    evaluation,
    template: Template,
    determination,
    cast: Cast,
    rng: random.Random,
) -> None:
    """The events the services would have written for this request's path, in order."""
    provider = pa_request.submitted_by
    at = pa_request.received_at
    rid = pa_request.pk
    chain.add(
        at=at,
        actor=provider,
        action="request_submitted",
        subject_type="priorauthrequest",
        subject_id=rid,
        request_id=rid,
        ip=_user_ip(provider),
        data={
            "channel": pa_request.channel,
            "external_id": pa_request.external_id,
            "cpt_codes": template.request.cpt_codes,
            "procedure_family": pa_request.procedure_family,
            "urgency": pa_request.urgency,
            "line_of_business": pa_request.line_of_business,
            "due_at": pa_request.due_at.isoformat(),
            "attachments": 1,
        },
    )
    if pa_request.status == Status.RECEIVED:
        return
    chain.add(
        at=at + timedelta(milliseconds=3),
        actor=provider,
        action="status_changed",
        subject_type="priorauthrequest",
        subject_id=rid,
        request_id=rid,
        ip=_user_ip(provider),
        data={"from": "received", "to": "evaluating", "reason": "submitted"},
    )
    if evaluation is None:
        return
    at = at + timedelta(seconds=rng.uniform(0.3, 4))
    chain.add(
        at=at,
        actor=None,
        action="evaluation_recorded",
        subject_type="evaluation",
        subject_id=evaluation.pk,
        request_id=rid,
        ip=None,
        data={
            "round": 1,
            "recommendation": evaluation.recommendation,
            "not_met": [r.get("id") for r in template.not_met()],
            "missing": [m.get("field") for m in template.evaluation.missing_information],
            "note_conflicts": 0,
        },
    )
    first_stop = {
        Recommendation.APPROVE: Status.APPROVED,
        Recommendation.PEND_MISSING_INFORMATION: Status.PENDING_INFORMATION,
        Recommendation.NURSE_REVIEW: Status.NURSE_REVIEW,
    }.get(evaluation.recommendation, Status.PHYSICIAN_REVIEW)
    if pa_request.status == Status.WITHDRAWN:
        first_stop = Status.NURSE_REVIEW
    chain.add(
        at=at + timedelta(milliseconds=2),
        actor=None,
        action="status_changed",
        subject_type="priorauthrequest",
        subject_id=rid,
        request_id=rid,
        ip=None,
        data={"from": "evaluating", "to": first_stop, "reason": evaluation.recommendation},
    )
    reviewer = pa_request.assigned_to
    if reviewer is not None:
        at = at + timedelta(minutes=rng.uniform(5, 600))
        chain.add(
            at=at,
            actor=reviewer,
            action="request_claimed",
            subject_type="priorauthrequest",
            subject_id=rid,
            request_id=rid,
            ip=_user_ip(reviewer),
            data={},
        )
    if determination is None:
        return
    decider = determination.decided_by
    at = max(at, determination.decided_at)
    if pa_request.status != first_stop:
        chain.add(
            at=at,
            actor=decider,
            action="status_changed",
            subject_type="priorauthrequest",
            subject_id=rid,
            request_id=rid,
            ip=_user_ip(decider) if decider else None,
            data={
                "from": first_stop,
                "to": "denied" if pa_request.status == Status.APPEAL else pa_request.status,
                "reason": determination.outcome,
            },
        )
    chain.add(
        at=at + timedelta(milliseconds=2),
        actor=decider,
        action="determination_recorded",
        subject_type="determination",
        subject_id=determination.pk,
        request_id=rid,
        ip=_user_ip(decider) if decider else None,
        data={
            "outcome": determination.outcome,
            "kind": "initial",
            "authorization_number": determination.authorization_number,
            "reasons": [r["criterion"] for r in determination.reasons],
        },
    )
    if pa_request.status == Status.APPEAL:
        chain.add(
            at=at + timedelta(days=1),
            actor=provider,
            action="status_changed",
            subject_type="priorauthrequest",
            subject_id=rid,
            request_id=rid,
            ip=_user_ip(provider),
            data={"from": "denied", "to": "appeal", "reason": "appeal filed"},
        )


def load_views(total: int, *, cast: Cast, now: datetime, seed: int = 11) -> int:
    """Top the audit trail up to `total` events with reviewers' case views (DESIGN rule 5).

    Returns how many events were added.
    """
    existing = AuditEvent.objects.count()
    wanted = max(0, total - existing)
    if not wanted:
        return 0
    rng = random.Random(seed)
    low, high = _request_id_range()
    readers = cast.nurses + cast.physicians
    chain = AuditChain()
    start = now - timedelta(days=365)
    step = timedelta(days=365) / wanted
    added = 0
    with tqdm(total=wanted, desc="loading audit events", unit="ev", mininterval=1.0) as bar:
        while added < wanted:
            size = min(BATCH * 10, wanted - added)
            for i in range(size):
                reader = rng.choice(readers)
                rid = rng.randint(low, high)
                chain.add(
                    at=(start + step * (added + i)).replace(tzinfo=UTC),
                    actor=reader,
                    action="request_viewed",
                    subject_type="priorauthrequest",
                    subject_id=rid,
                    request_id=rid,
                    ip=_user_ip(reader),
                    data={},
                )
            with transaction.atomic():
                chain.flush()
            added += size
            bar.update(size)
    return added


def _request_id_range() -> tuple[int, int]:
    ids = PriorAuthRequest.objects.order_by("pk").values_list("pk", flat=True)
    low = ids.first() or 1
    high = PriorAuthRequest.objects.order_by("-pk").values_list("pk", flat=True).first() or 1
    return low, high
