"""Demo organizations, users of every role and a few dozen requests in varied states.

Every request is made the way a real one is: the shared example requests, varied (another member,
side or urgency) and with their dates moved so they stand relative to today, validated through the
API's own serializer and submitted with request_submit; reviewers then act through the same
services the web queue calls. Running it again creates nothing: users are matched by username and
requests by their organization and external id.

Demo passwords are printed and fixed, so the command refuses to run with DEBUG off unless --force.
"""

import copy
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from rest_framework.authtoken.models import Token

from reviews.contract import RequestCreateInput
from reviews.models import OPEN_STATUSES, Organization, PriorAuthRequest, Role, Status, User
from reviews.roles import user_create
from reviews.services import (
    determination_record,
    evidence_checks_run,
    request_answer_information,
    request_claim,
    request_escalate,
    request_information_ask,
    request_submit,
    request_withdraw,
)

# The shared examples are written as of this day; their dates move by (today - ANCHOR).
ANCHOR = date(2026, 11, 22)
# The three provider requests of the intake contract (docs/api/examples/, the same files the tests
# and the bench read).
SHARED_EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "api" / "examples"
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

ORGANIZATIONS = {
    "a": ("Northside Spine Clinic", "1679576722"),
    "b": ("Lakeview Pain Center", "1497758544"),
}
USERS = [
    # username, role, organization key, password
    ("provider_a", Role.PROVIDER, "a", "demo-provider-a"),
    ("provider_b", Role.PROVIDER, "b", "demo-provider-b"),
    ("nurse", Role.NURSE, None, "demo-nurse"),
    ("physician", Role.PHYSICIAN, None, "demo-physician"),
    ("physician2", Role.PHYSICIAN, None, "demo-physician2"),
    ("auditor", Role.AUDITOR, None, "demo-auditor"),
    ("admin", Role.ADMIN, None, "demo-admin"),
]
# Who gets an API token: the providers' software, and the auditor's reads of /api/v1/audit/.
TOKEN_ROLES = frozenset({Role.PROVIDER, Role.AUDITOR})
MEMBERS = [
    ("Avery", "Nolan", "1968-03-14", "female"),
    ("Bruno", "Castillo", "1959-07-02", "male"),
    ("Chen", "Wei", "1975-11-23", "male"),
    ("Dolores", "Fitz", "1949-01-30", "female"),
    ("Emeka", "Obi", "1981-05-09", "male"),
    ("Farah", "Haddad", "1972-09-17", "female"),
    ("Gustav", "Lind", "1956-12-04", "male"),
    ("Hana", "Sato", "1964-06-21", "female"),
    ("Ivan", "Petrov", "1970-02-11", "male"),
    ("June", "Okoro", "1978-08-08", "female"),
    ("Kofi", "Mensah", "1961-04-27", "male"),
    ("Lena", "Brandt", "1983-10-15", "female"),
    ("Mateo", "Ruiz", "1966-01-19", "male"),
    ("Nadia", "Karim", "1958-05-30", "female"),
    ("Oscar", "Lund", "1973-03-03", "male"),
    ("Priya", "Das", "1969-12-12", "female"),
    ("Quinn", "Avery", "1977-07-07", "other"),
    ("Rosa", "Marin", "1952-09-09", "female"),
]


@dataclass
class Plan:
    """One demo request: which example, how it differs, and the state to bring it to."""

    org: str
    number: int
    example: str
    target: str
    member: int
    changes: dict = field(default_factory=dict)
    urgency: str = "standard"
    drop_clinical: tuple[str, ...] = ()

    @property
    def external_id(self) -> str:
        return f"DEMO-{self.org.upper()}-{self.number:03d}"


ESI, RFA, FUSION = (
    "esi-lumbar-radiculopathy",
    "rfa-lumbar-after-two-blocks",
    "fusion-spondylolisthesis-short-therapy",
)
# A CPT code no Lamina policy covers (endoscopic decompression): accepted, decided by a human.
UNCOVERED = {"service": {"cpt_codes": ["62380"], "spinal_region": "lumbar", "levels": ["L4-L5"]}}
TWO_LEVEL_FUSION = {"service": {"levels": ["L4-L5", "L5-S1"], "units": 2}}
LEFT = {"service": {"laterality": "left"}}

PLANS = [
    Plan("a", 1, ESI, "approved", 0),
    Plan("a", 2, ESI, "approved", 1, LEFT),
    Plan("a", 3, ESI, "approved", 2, urgency="expedited"),
    Plan("a", 4, ESI, "approved", 3),
    Plan("a", 5, RFA, "approved", 4),
    Plan("a", 6, RFA, "approved", 5),
    Plan("a", 7, RFA, "approved", 6),
    Plan("a", 8, ESI, "pending_information", 7, drop_clinical=("imaging",)),
    Plan("a", 9, ESI, "pending_information", 8, drop_clinical=("conservative_care",)),
    Plan("a", 10, ESI, "answered", 9, drop_clinical=("imaging",)),
    Plan("a", 11, ESI, "nurse_review", 10, UNCOVERED),
    Plan("a", 12, ESI, "nurse_review", 11, UNCOVERED, urgency="expedited"),
    Plan("a", 13, FUSION, "physician_review", 12),
    Plan("a", 14, FUSION, "physician_review", 13, urgency="expedited"),
    Plan("a", 15, FUSION, "denied", 14),
    Plan("a", 16, FUSION, "denied", 15),
    Plan("a", 17, FUSION, "partially_approved", 16, TWO_LEVEL_FUSION),
    Plan("a", 18, FUSION, "appeal", 17),
    Plan("a", 19, FUSION, "withdrawn", 0, {"service": {"levels": ["L3-L4"]}}),
    Plan("a", 20, ESI, "withdrawn", 1, drop_clinical=("imaging",)),
    Plan("b", 1, ESI, "approved", 2, {"service": {"levels": ["L4-L5"]}}),
    Plan("b", 2, ESI, "approved", 3, LEFT),
    Plan("b", 3, ESI, "approved", 4),
    Plan("b", 4, RFA, "approved", 7),
    Plan("b", 5, ESI, "pending_information", 5, drop_clinical=("imaging",)),
    Plan("b", 6, ESI, "nurse_review", 6, UNCOVERED),
    Plan("b", 7, FUSION, "physician_review", 8),
    Plan("b", 8, FUSION, "denied", 9),
    Plan("b", 9, FUSION, "partially_approved", 10, TWO_LEVEL_FUSION),
    Plan("b", 10, ESI, "withdrawn", 11, drop_clinical=("imaging",)),
]

FUSION_REASONS = [
    {
        "criterion": "FU-03",
        "statement": "At least 6 weeks of formal physical therapy in the current episode, failed.",
    }
]


def _deep_update(target: dict, changes: dict) -> dict:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def _shift_dates(value, days: int, key: str = ""):
    """Move every clinical date by `days`; birth dates stay, ages are the member's own."""
    if isinstance(value, dict):
        return {k: _shift_dates(v, days, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift_dates(v, days, key) for v in value]
    if isinstance(value, str) and key != "birth_date" and ISO_DATE.match(value):
        return (date.fromisoformat(value) + timedelta(days=days)).isoformat()
    return value


def _example(name: str) -> dict:
    return json.loads((SHARED_EXAMPLES / f"{name}.json").read_text())


def _body(plan: Plan, today: date) -> dict:
    body = copy.deepcopy(_example(plan.example))
    body = _shift_dates(body, (today - ANCHOR).days)
    first, last, birth, sex = MEMBERS[plan.member]
    body["external_id"] = plan.external_id
    body["urgency"] = plan.urgency
    body["member"] = {
        "member_id": f"DEMO{plan.org.upper()}{plan.member:04d}",
        "first_name": first,
        "last_name": last,
        "birth_date": birth,
        "sex": sex,
    }
    _deep_update(body, plan.changes)
    for name in plan.drop_clinical:
        body["clinical"].pop(name, None)
    return body


def _policies_loaded() -> bool:
    from criteria.models import PolicyVersion

    return PolicyVersion.objects.filter(status=PolicyVersion.Status.ACTIVE).exists()


class Command(BaseCommand):
    help = "Create demo organizations, users of every role and requests in varied states."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="run even with DEBUG off (the demo users have printed, well-known passwords)",
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates users with well-known passwords; run it with DEBUG=1 "
                "(./lamina run does) or pass --force."
            )
        self.today = timezone.localdate()
        self.checks = _policies_loaded()
        if not self.checks:
            self.stdout.write(
                self.style.WARNING(
                    "No criteria policies are loaded (run `manage.py load_policies`): demo "
                    "requests are stored but left for the evidence checks to pick up."
                )
            )
        organizations = {
            key: Organization.objects.get_or_create(name=name, defaults={"npi": npi})[0]
            for key, (name, npi) in ORGANIZATIONS.items()
        }
        self.users = {
            username: self._user(username, role, organizations.get(org), password)
            for username, role, org, password in USERS
        }
        created = 0
        plans = PLANS
        if not SHARED_EXAMPLES.is_dir():
            self.stdout.write(
                self.style.WARNING(
                    f"The shared example requests are not at {SHARED_EXAMPLES}: users only."
                )
            )
            plans = []
        for plan in plans:
            provider = self.users[f"provider_{plan.org}"]
            if PriorAuthRequest.objects.filter(
                organization=provider.organization, external_id=plan.external_id
            ).exists():
                continue
            self._make(plan, provider)
            created += 1
        self._report(created)

    # --- users ----------------------------------------------------------------------------------

    def _user(self, username: str, role: str, organization, password: str) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = user_create(
                username=username, password=password, role=role, organization=organization
            )
        if role in TOKEN_ROLES:
            Token.objects.get_or_create(user=user)
        return user

    # --- requests -------------------------------------------------------------------------------

    def _make(self, plan: Plan, provider: User) -> None:
        body = _body(plan, self.today)
        serializer = RequestCreateInput(data=body)
        if not serializer.is_valid():
            raise CommandError(f"{plan.external_id} is not a valid request: {serializer.errors}")
        pa_request = request_submit(actor=provider, data=serializer.validated_data)
        pa_request = self._checked(pa_request)
        drive = getattr(self, f"_to_{plan.target}")
        drive(pa_request, provider, plan)

    def _checked(self, pa_request: PriorAuthRequest) -> PriorAuthRequest:
        """Run the evidence checks now if no worker did yet (eager mode already has)."""
        pa_request.refresh_from_db()
        if self.checks and pa_request.status == Status.EVALUATING:
            evidence_checks_run(pa_request=pa_request)
            pa_request.refresh_from_db()
        return pa_request

    @staticmethod
    def _held(pa_request: PriorAuthRequest, reviewer: User) -> PriorAuthRequest:
        """A reviewer acts only on a case they hold: claim it first, as the queue page does."""
        if pa_request.assigned_to_id != reviewer.pk:
            pa_request = request_claim(pa_request=pa_request, actor=reviewer)
        return pa_request

    def _to_physician(self, pa_request: PriorAuthRequest) -> PriorAuthRequest:
        if pa_request.status == Status.NURSE_REVIEW:
            pa_request = self._held(pa_request, self.users["nurse"])
            pa_request = request_escalate(
                pa_request=pa_request,
                actor=self.users["nurse"],
                note="Criteria not met on the documentation sent; needs a physician's review.",
            )
        return pa_request

    def _to_approved(self, pa_request, provider, plan) -> None:
        if pa_request.status == Status.NURSE_REVIEW:
            pa_request = self._held(pa_request, self.users["nurse"])
            determination_record(
                pa_request=pa_request, outcome="approved", actor=self.users["nurse"]
            )
        elif pa_request.status == Status.PHYSICIAN_REVIEW:
            pa_request = self._held(pa_request, self.users["physician"])
            determination_record(
                pa_request=pa_request, outcome="approved", actor=self.users["physician"]
            )

    def _to_pending_information(self, pa_request, provider, plan) -> None:
        if pa_request.status in {Status.NURSE_REVIEW, Status.PHYSICIAN_REVIEW}:
            reviewer = self.users[
                "nurse" if pa_request.status == Status.NURSE_REVIEW else "physician"
            ]
            pa_request = self._held(pa_request, reviewer)
            request_information_ask(
                pa_request=pa_request,
                actor=reviewer,
                items=[
                    {
                        "field": f"clinical.{name}",
                        "why": "The criteria read it and the request does not say.",
                        "criterion": "",
                    }
                    for name in plan.drop_clinical or ("imaging",)
                ],
                message="Please send the missing documentation.",
            )

    def _to_answered(self, pa_request, provider, plan) -> None:
        self._to_pending_information(pa_request, provider, plan)
        pa_request.refresh_from_db()
        if pa_request.status != Status.PENDING_INFORMATION:
            return
        full = RequestCreateInput(data=_body(replace(plan, drop_clinical=()), self.today))
        full.is_valid(raise_exception=True)
        clinical = full.validated_data["clinical"]
        request_answer_information(
            pa_request=pa_request,
            actor=provider,
            clinical={name: clinical[name] for name in plan.drop_clinical},
            message="The MRI report is attached to the facts.",
        )
        self._checked(pa_request)

    def _to_nurse_review(self, pa_request, provider, plan) -> None:
        """Left in the nurse's queue as the checks put it."""

    def _to_physician_review(self, pa_request, provider, plan) -> None:
        self._to_physician(pa_request)

    def _adverse(self, pa_request, outcome: str, **kwargs):
        pa_request = self._to_physician(pa_request)
        if pa_request.status != Status.PHYSICIAN_REVIEW:
            return None
        pa_request = self._held(pa_request, self.users["physician"])
        evaluation = pa_request.evaluations.order_by("-round").first()
        reasons = [
            {"criterion": r["id"], "statement": r["statement"]}
            for r in (evaluation.trace if evaluation else [])
            if r.get("answer") == "not_met" and r.get("decisive")
        ] or FUSION_REASONS
        return determination_record(
            pa_request=pa_request,
            outcome=outcome,
            actor=self.users["physician"],
            reasons=reasons,
            rationale="The documentation does not meet the criteria named; "
            + "; ".join(r["criterion"] for r in reasons)
            + ". A peer-to-peer conversation is available on request.",
            **kwargs,
        )

    def _to_denied(self, pa_request, provider, plan) -> None:
        self._adverse(pa_request, "denied")

    def _to_partially_approved(self, pa_request, provider, plan) -> None:
        levels = list(pa_request.service.get("levels") or [])
        self._adverse(
            pa_request, "partially_approved", approved_levels=levels[:1], approved_units=1
        )

    def _to_appeal(self, pa_request, provider, plan) -> None:
        try:
            from reviews.services.appeals import appeal_file
        except ImportError:
            return  # no appeal service in this build: leave the denial standing
        if self._adverse(pa_request, "denied") is None:
            return
        appeal_file(
            pa_request=pa_request,
            actor=provider,
            reason="Physical therapy was interrupted by a family emergency; the patient has "
            "since completed 6 weeks. Records attached.",
        )

    def _to_withdrawn(self, pa_request, provider, plan) -> None:
        pa_request.refresh_from_db()
        if pa_request.status in OPEN_STATUSES:
            request_withdraw(
                pa_request=pa_request, actor=provider, reason="The patient chose to wait."
            )

    # --- report ---------------------------------------------------------------------------------

    def _report(self, created: int) -> None:
        out = self.stdout
        out.write(self.style.SUCCESS(f"Demo data ready ({created} new requests)."))
        out.write("")
        out.write("Users (username / password / role):")
        for username, role, org, password in USERS:
            where = f"  {ORGANIZATIONS[org][0]}" if org else ""
            out.write(f"  {username:<12} {password:<18} {role}{where}")
        out.write("")
        out.write("API tokens (Authorization: Token <key>):")
        for username, role, _, _ in USERS:
            if role in TOKEN_ROLES:
                key = Token.objects.get(user=self.users[username]).key
                out.write(f"  {username:<12} {key}")
        counts = Counter(
            PriorAuthRequest.objects.filter(external_id__startswith="DEMO-").values_list(
                "status", flat=True
            )
        )
        out.write("")
        out.write(
            "Demo requests by status: "
            + ", ".join(f"{status} {count}" for status, count in sorted(counts.items()))
        )
