"""Cases in review for the web tests: submitted through intake, evaluated, routed to a queue.

The evaluation is recorded with a fixed trace (criteria results as the engine writes them) so
that these tests read the reviewer's pages, not the engine's current answers.
"""

import copy
import uuid
from datetime import date

from django.utils import timezone

from criteria.models import Policy, PolicyVersion
from reviews.models import Evaluation, PriorAuthRequest, Recommendation, Status
from reviews.services import request_submit
from reviews.services.checks import documentation_checks, history_checks
from reviews.transitions import request_transition
from tests.conftest import example

CITATION = {"source": "seed 002", "quote": "at least 4 weeks of conservative care"}
TRACE = [
    {
        "id": "ESI-01",
        "answer": "met",
        "decisive": True,
        "statement": "Radicular pain in a dermatomal distribution.",
        "citation": {"source": "seed 002", "quote": "radicular pain"},
        "facts": {"pain.type": "radicular"},
        "explanation": "Met: the pain is radicular.",
    },
    {
        "id": "ESI-03",
        "answer": "not_met",
        "decisive": True,
        "statement": "At least 4 weeks of conservative care in the current episode, failed.",
        "citation": CITATION,
        "facts": {"conservative_care.days": 20},
        "explanation": "Not met: 20 days of conservative care, 28 needed.",
    },
    {
        "id": "ESI-05",
        "answer": "insufficient_information",
        "decisive": True,
        "statement": "Imaging shows a finding that explains the symptoms.",
        "citation": {"source": "seed 002", "quote": "concordant imaging"},
        "facts": {"imaging.concordant": None},
        "explanation": "Unknown: whether the imaging is concordant.",
    },
]
MISSING = [
    {
        "field": "clinical.imaging[].concordant_with_symptoms",
        "fact": "imaging.concordant",
        "why": "Say whether the MRI findings match the symptoms.",
        "criterion": "ESI-05",
    }
]


def policy_version() -> PolicyVersion:
    policy, _ = Policy.objects.get_or_create(
        family="epidural_steroid_injection", defaults={"title": "Epidural steroid injections"}
    )
    version, _ = PolicyVersion.objects.get_or_create(
        policy=policy,
        profile="baseline",
        version=7,
        defaults={
            "status": PolicyVersion.Status.ACTIVE,
            "effective_from": date(2026, 1, 1),
            "content": {"criteria": TRACE},
            "checksum": "3f9a1c2be4d5" + "0" * 52,
        },
    )
    return version


def submission(**service_changes) -> dict:
    data = copy.deepcopy(example("esi-lumbar-radiculopathy"))
    data["member"]["member_id"] = f"T{uuid.uuid4().hex[:10].upper()}"
    data["member"]["birth_date"] = date.fromisoformat(data["member"]["birth_date"])
    data["service"].update(service_changes)
    return data


def review_case(
    provider,
    *,
    status: str = Status.NURSE_REVIEW,
    urgency: str = "standard",
    trace: list[dict] | None = None,
    **service_changes,
) -> PriorAuthRequest:
    """A request submitted by `provider`, evaluated, and waiting in the given review queue."""
    data = submission(**service_changes)
    data["urgency"] = urgency
    pa_request = request_submit(actor=provider, data=data)
    version = policy_version()
    Evaluation.objects.create(
        request=pa_request,
        round=pa_request.evaluation_round,
        policy_version=version,
        profile=version.profile,
        review_date=timezone.localdate(),
        facts={"conservative_care.days": 20},
        trace=TRACE if trace is None else trace,
        history_checks=history_checks(pa_request),
        documentation=documentation_checks(pa_request),
        recommendation=Recommendation.NURSE_REVIEW,
        reasons=[
            {"criterion": "ESI-03", "statement": TRACE[1]["statement"], "explanation": "20 < 28"}
        ],
        missing_information=MISSING,
    )
    return request_transition(pa_request=pa_request, to=status, actor="engine", reason="checks")
