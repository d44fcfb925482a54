"""Cases in review for the web tests: submitted through intake, evaluated, routed to a queue.

The evaluation is the real one: the shipped policies and the engine's own trace, reasons and
missing information, recorded as the evidence checks record it. The builder only chooses the queue
the case waits in. The request is the ESI example with two changes, so that every kind of result
shows: 20 days of conservative care (ESI-05 not met) and an MRI that does not say whether it
matches the symptoms (ESI-02 insufficient information).
"""

import copy
import uuid
from datetime import date, timedelta

from django.utils import timezone

from criteria.services import policies_load
from reviews.models import Evaluation, PriorAuthRequest, Status
from reviews.services import request_submit
from reviews.services.checks import (
    _evaluate_criteria,
    _note_conflicts,
    documentation_checks,
    history_checks,
)
from reviews.services.decide import decide
from reviews.transitions import request_transition
from tests.conftest import example

NOTE = (
    "55-year-old woman with right buttock and posterior leg pain for two months, radiating to the "
    "lateral foot. Three weeks of physical therapy (6 visits) and naproxen without lasting relief. "
    "Denies fever, weight loss, bowel or bladder changes. No history of cancer. Straight leg raise "
    "positive on the right at 45 degrees, ankle reflex diminished on the right, strength 5/5 "
    "throughout. MRI shows a right L5-S1 extrusion. Plan: right L5-S1 transforaminal epidural "
    "steroid injection under fluoroscopy with contrast; continue home exercise program."
)


def days_ago(days: int) -> str:
    return (timezone.localdate() - timedelta(days=days)).isoformat()


def clinical_changes(clinical: dict) -> None:
    """Two months of pain (under GEN-09's three), 20 days of failed therapy and medication (ESI-05
    asks for 28) then a home programme that goes on, and an MRI silent on concordance (ESI-02).

    Dates count back from today so that the engine gives the same answers on any day.
    """
    clinical["symptom_onset_date"] = days_ago(60)
    clinical["conservative_care"] = [
        {
            "modality": "physical_therapy",
            "start_date": days_ago(50),
            "end_date": days_ago(30),
            "visits": 6,
            "outcome": "failed",
        },
        {
            "modality": "nsaid",
            "start_date": days_ago(50),
            "end_date": days_ago(30),
            "outcome": "failed",
            "detail": "naproxen 500 mg twice daily",
        },
        {
            "modality": "home_exercise",
            "start_date": days_ago(30),
            "end_date": None,
            "outcome": "ongoing",
        },
    ]
    for imaging in clinical["imaging"]:
        imaging["date"] = days_ago(40)
        imaging.pop("concordant_with_symptoms")


def submission(**service_changes) -> dict:
    data = copy.deepcopy(example("esi-lumbar-radiculopathy"))
    data["member"]["member_id"] = f"T{uuid.uuid4().hex[:10].upper()}"
    data["member"]["birth_date"] = date.fromisoformat(data["member"]["birth_date"])
    data["service"].update(service_changes)
    clinical_changes(data["clinical"])
    data["attachments"][0].update(date=days_ago(5), text=NOTE)
    return data


def review_case(
    provider,
    *,
    status: str = Status.NURSE_REVIEW,
    urgency: str = "standard",
    **service_changes,
) -> PriorAuthRequest:
    """A request submitted by `provider`, evaluated, and waiting in the given review queue."""
    policies_load()  # idempotent: the shipped policies the engine reads
    data = submission(**service_changes)
    data["urgency"] = urgency
    pa_request = request_submit(actor=provider, data=data)
    review_date = timezone.localdate()
    conflicts = _note_conflicts(pa_request)
    version, facts, engine = _evaluate_criteria(pa_request, review_date)
    history = history_checks(pa_request)
    documentation = documentation_checks(pa_request)
    recommendation, reasons, missing = decide(engine, history, documentation, conflicts)
    Evaluation.objects.create(
        request=pa_request,
        round=pa_request.evaluation_round,
        policy_version=version,
        profile=version.profile,
        review_date=review_date,
        facts=facts,
        trace=engine["results"],
        history_checks=history,
        documentation=documentation,
        note_conflicts=conflicts,
        recommendation=recommendation,
        reasons=reasons,
        missing_information=missing,
    )
    return request_transition(pa_request=pa_request, to=status, actor="engine", reason="checks")
