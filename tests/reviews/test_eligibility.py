"""Eligible on: the first day only time stood in the way of, and null whenever anything else does.

Pure tests build the request data from the shipped examples and call reviews.eligibility with the
shipped policy versions and the live decision rule; the stored-request tests go through intake,
the evidence checks, the API and a real worker.
"""

import copy
import json
from datetime import date, timedelta

import pytest
import time_machine

from criteria.loader import load_directory
from reviews.eligibility import eligible_on
from reviews.models import Evaluation, PriorAuthRequest, Recheck, Status
from reviews.services import evidence_checks_run
from reviews.services.decide import decide
from reviews.services.rechecks import rechecks_run_due
from tests.conftest import example, post_json, wait_for
from tests.factories import submit

VERSIONS = {(v["family"], v["profile"]): v["content"] for v in load_directory()}
NO_CHECKS = {
    "history_checks": [],
    "documentation": [{"item": "any_documentation", "present": True}],
    "note_conflicts": [],
    "consistency": [],
}


def _decide(outcome: dict, checks: dict) -> str:
    return decide(
        outcome,
        checks["history_checks"],
        checks["documentation"],
        checks["note_conflicts"],
        checks["consistency"],
    )[0]


def _data(body: dict, family: str) -> tuple[dict, dict]:
    request_data = {
        "service": body["service"],
        "clinical": body["clinical"],
        "diagnosis_codes": body["diagnosis_codes"],
        "procedure_family": family,
        "urgency": body["urgency"],
        "line_of_business": body.get("line_of_business", "commercial"),
        "attachments": [
            {"kind": a["kind"], "date": a.get("date"), "title": a.get("title", "")}
            for a in body.get("attachments", [])
        ],
    }
    member = {"birth_date": date.fromisoformat(body["member"]["birth_date"]), "sex": "female"}
    return request_data, member


def _eligible(body: dict, family: str, review_date: date, checks=NO_CHECKS, profile="baseline"):
    request_data, member = _data(body, family)
    return eligible_on(
        content=VERSIONS[(family, profile)],
        request_data=request_data,
        history=[],
        member=member,
        review_date=review_date,
        checks=checks,
        decide=_decide,
    )


# --- Days: ESI-05, at least 28 days of failed conservative care ---------------------------------

ESI = "epidural_steroid_injection"


def _esi(care_start: date) -> dict:
    """The ESI example with one failed, still ongoing medication course from care_start."""
    body = copy.deepcopy(example("esi-lumbar-radiculopathy"))
    body["clinical"]["conservative_care"] = [
        {"modality": "nsaid", "start_date": care_start.isoformat(), "outcome": "failed"},
        {"modality": "home_exercise", "start_date": care_start.isoformat(), "outcome": "ongoing"},
    ]
    return body


START = date(2026, 10, 26)  # 28 days later: 2026-11-23


@pytest.mark.parametrize("days_in", [1, 20, 27])
def test_the_date_is_the_first_day_the_care_reaches_28_days(days_in):
    day, reasons = _eligible(_esi(START), ESI, START + timedelta(days=days_in))
    assert day == START + timedelta(days=28)
    assert [r["criterion"] for r in reasons] == ["ESI-05"]
    assert reasons[0]["facts"]["conservative_care.failed_days"] == days_in
    assert "28" in reasons[0]["threshold"] or reasons[0]["threshold"]


def test_on_the_day_itself_the_request_qualifies_and_needs_no_date():
    assert _eligible(_esi(START), ESI, START + timedelta(days=28)) == (None, [])


def test_the_day_before_does_not_qualify():
    from criteria.engine import evaluate
    from reviews.facts import build_facts

    request_data, member = _data(_esi(START), ESI)
    day_before = START + timedelta(days=27)
    facts = build_facts(
        request_data=request_data, review_date=day_before, history=[], member=member
    )
    outcome = evaluate(VERSIONS[(ESI, "baseline")], facts, review_date=day_before)
    assert outcome.recommendation != "approve"


def test_a_finished_course_does_not_grow_with_time():
    body = _esi(START)
    body["clinical"]["conservative_care"][0]["end_date"] = (START + timedelta(days=20)).isoformat()
    assert _eligible(body, ESI, START + timedelta(days=25)) == (None, [])


# --- Calendar months: FJ pain for at least 3 months, month ends and a leap year ----------------

RFA = "radiofrequency_ablation"


def _rfa(onset: date) -> dict:
    """The RFA example on a timeline that starts at `onset`: care, imaging and two blocks after."""
    body = copy.deepcopy(example("rfa-lumbar-after-two-blocks"))
    clinical = body["clinical"]

    def at(days: int) -> str:
        return (onset + timedelta(days=days)).isoformat()

    clinical["symptom_onset_date"] = onset.isoformat()
    clinical["conservative_care"] = [
        {
            "modality": "physical_therapy",
            "start_date": at(3),
            "end_date": at(45),
            "visits": 8,
            "outcome": "failed",
        },
        {"modality": "nsaid", "start_date": at(1), "outcome": "failed"},
        {"modality": "home_exercise", "start_date": at(45), "outcome": "ongoing"},
    ]
    clinical["imaging"][0]["date"] = at(10)
    blocks = clinical["prior_procedures"]
    blocks[0]["date"] = at(50)
    blocks[1]["date"] = at(70)
    for attachment in body.get("attachments", []):
        attachment["date"] = at(72)
    return body


@pytest.mark.parametrize(
    ("onset", "first_day"),
    [
        (date(2026, 8, 31), date(2026, 11, 30)),  # 31 August + 3 months: 30 November
        (date(2026, 11, 30), date(2027, 2, 28)),  # a month end into a short February
        (date(2027, 11, 30), date(2028, 2, 29)),  # the same into a leap year's February
        (date(2027, 12, 15), date(2028, 3, 15)),
    ],
)
def test_months_count_by_the_calendar(onset, first_day):
    body = _rfa(onset)
    review = onset + timedelta(days=75)
    assert review < first_day
    day, reasons = _eligible(body, RFA, review)
    assert day == first_day, reasons
    assert all(r["facts"].get("symptoms.onset_date") for r in reasons)
    day_before, _ = _eligible(body, RFA, first_day - timedelta(days=1))
    assert day_before == first_day
    assert _eligible(body, RFA, first_day) == (None, [])


# --- Never a date when something time does not cure fails -----------------------------------


def test_no_date_when_a_red_flag_is_present():
    body = _esi(START)
    body["clinical"]["red_flags"] = {**body["clinical"].get("red_flags", {}), "fever": True}
    assert _eligible(body, ESI, START + timedelta(days=20)) == (None, [])


def test_no_date_when_information_is_missing():
    body = _esi(START)
    body["clinical"].pop("imaging")
    assert _eligible(body, ESI, START + timedelta(days=20)) == (None, [])


def test_no_date_when_a_criterion_time_does_not_cure_fails():
    body = _esi(START)
    body["service"]["image_guidance"] = "none"  # ESI-06 is not met, whatever the date
    assert _eligible(body, ESI, START + timedelta(days=20)) == (None, [])


def test_no_date_when_a_contradiction_was_found():
    finding = {
        "check": "sides",
        "statement": "The side treated is not the side of the pathology.",
        "compared": {"service": "right", "imaging": "left"},
        "severity": "review",
        "route": "nurse_review",
    }
    checks = {**NO_CHECKS, "consistency": [finding]}
    assert _eligible(_esi(START), ESI, START + timedelta(days=20), checks=checks) == (None, [])


def test_no_date_when_documentation_is_missing():
    checks = {**NO_CHECKS, "documentation": [{"item": "any_documentation", "present": False}]}
    assert _eligible(_esi(START), ESI, START + timedelta(days=20), checks=checks) == (None, [])


def test_no_date_when_a_note_disagrees():
    checks = {**NO_CHECKS, "note_conflicts": [{"criterion": "ESI-05", "explanation": "x"}]}
    assert _eligible(_esi(START), ESI, START + timedelta(days=20), checks=checks) == (None, [])


# --- Stored requests: the evaluation, the API, the recheck ------------------------------------


def _submitted(provider, care_start: date):
    body = _esi(care_start)
    return submit(provider, clinical__conservative_care=body["clinical"]["conservative_care"])


def test_the_evaluation_records_the_date_and_the_audit_says_it(policies, provider_a):
    today = date.today()
    pa_request = _submitted(provider_a, today - timedelta(days=20))
    evaluation = evidence_checks_run(pa_request=pa_request)
    assert evaluation.recommendation == "physician_review"
    assert evaluation.eligible_on == today + timedelta(days=8)
    assert [r["criterion"] for r in evaluation.eligible_on_reasons] == ["ESI-05"]
    from reviews.models import AuditEvent

    event = AuditEvent.objects.filter(action="evaluation_recorded", request_id_ref=pa_request.pk)
    assert event.get().data["eligible_on"] == (today + timedelta(days=8)).isoformat()


def test_an_approved_request_has_no_date(policies, provider_a):
    pa_request = submit(provider_a)
    evaluation = evidence_checks_run(pa_request=pa_request)
    assert evaluation.recommendation == "approve"
    assert evaluation.eligible_on is None


def test_the_provider_asks_a_recheck_and_it_approves_on_the_day(policies, provider_a, api_a):
    today = date.today()
    pa_request = _submitted(provider_a, today - timedelta(days=20))
    evaluation = evidence_checks_run(pa_request=pa_request)
    eligible = evaluation.eligible_on
    url = f"/api/v1/requests/{pa_request.pk}/recheck/"

    detail = api_a.get(f"/api/v1/requests/{pa_request.pk}/").json()
    assert detail["eligible_on"] == eligible.isoformat()
    assert [r["criterion"] for r in detail["eligible_on_reasons"]] == ["ESI-05"]
    assert detail["eligible_on_reasons"][0]["facts"]["conservative_care.failed_days"] == 20

    first = post_json(api_a, url, {"date": eligible.isoformat()}, key="recheck-1")
    assert first.status_code == 201, first.content
    again = post_json(api_a, url, {"date": eligible.isoformat()}, key="recheck-1")
    assert again.status_code == 201 and again.json() == first.json()
    same_date = post_json(api_a, url, {"date": eligible.isoformat()}, key="recheck-2")
    assert same_date.status_code == 200
    assert same_date.json()["id"] == first.json()["id"]
    assert Recheck.objects.count() == 1

    # Not due yet: nothing happens the day before.
    assert rechecks_run_due(today=eligible - timedelta(days=1))["run"] == 0
    with time_machine.travel(eligible.isoformat() + " 09:00 +0000", tick=False):
        assert rechecks_run_due() == {"run": 1, "skipped": 0, "taken": 0}
    pa_request.refresh_from_db()
    assert pa_request.status == Status.EVALUATING
    with time_machine.travel(eligible.isoformat() + " 09:05 +0000", tick=False):
        again = evidence_checks_run(pa_request=pa_request)
    assert again.round == 2
    assert again.recommendation == "approve"
    pa_request.refresh_from_db()
    assert pa_request.status == Status.APPROVED
    assert Recheck.objects.get().state == "done"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"date": "2020-01-01"}, 400),
        ({"date": "not a date"}, 400),
        ({}, 400),
        ({"date": "2026-12-31", "extra": 1}, 400),
    ],
)
def test_bad_recheck_bodies_are_refused_and_store_nothing(
    policies, provider_a, api_a, body, status
):
    pa_request = _submitted(provider_a, date.today() - timedelta(days=20))
    evidence_checks_run(pa_request=pa_request)
    response = post_json(api_a, f"/api/v1/requests/{pa_request.pk}/recheck/", body)
    assert response.status_code == status, response.content
    assert Recheck.objects.count() == 0


def test_a_decided_request_cannot_be_rechecked(policies, provider_a, api_a):
    pa_request = submit(provider_a)
    evidence_checks_run(pa_request=pa_request)  # approved
    response = post_json(
        api_a,
        f"/api/v1/requests/{pa_request.pk}/recheck/",
        {"date": date.today().isoformat()},
    )
    assert response.status_code == 409
    assert Recheck.objects.count() == 0


def test_another_organization_cannot_recheck(policies, provider_a, api_b):
    pa_request = _submitted(provider_a, date.today() - timedelta(days=20))
    evidence_checks_run(pa_request=pa_request)
    response = post_json(
        api_b, f"/api/v1/requests/{pa_request.pk}/recheck/", {"date": date.today().isoformat()}
    )
    assert response.status_code == 404
    assert Recheck.objects.count() == 0


def test_a_recheck_of_a_case_decided_meanwhile_is_skipped_and_says_why(policies, provider_a):
    from reviews.services import request_withdraw
    from reviews.services.rechecks import recheck_schedule

    pa_request = _submitted(provider_a, date.today() - timedelta(days=20))
    evidence_checks_run(pa_request=pa_request)
    recheck, _ = recheck_schedule(pa_request=pa_request, actor=provider_a, on_date=date.today())
    request_withdraw(pa_request=pa_request, actor=provider_a)
    assert rechecks_run_due() == {"run": 0, "skipped": 1, "taken": 0}
    recheck.refresh_from_db()
    assert recheck.state == "skipped" and "withdrawn" in recheck.outcome


@pytest.mark.django_db(transaction=True)
def test_beat_runs_a_due_recheck_through_a_real_worker(start_worker, policies, provider_a):
    from reviews.services.rechecks import recheck_schedule
    from reviews.tasks import run_due_rechecks

    pa_request = _submitted(provider_a, date.today() - timedelta(days=20))
    evidence_checks_run(pa_request=pa_request)
    recheck_schedule(pa_request=pa_request, actor=provider_a, on_date=date.today())
    start_worker(concurrency=1)
    run_due_rechecks.delay()
    second = wait_for(
        lambda: Evaluation.objects.filter(request=pa_request, round=2).first(), timeout=120
    )
    # The facts have not changed today: evaluated again, still for a physician, with its date.
    assert second.recommendation == "physician_review"
    assert second.eligible_on == date.today() + timedelta(days=8)
    assert PriorAuthRequest.objects.get(pk=pa_request.pk).status == Status.PHYSICIAN_REVIEW
    assert Recheck.objects.get().state == "done"


def test_the_examples_keep_their_answers():
    """Both approvable examples need no date; the fusion example fails on smoking: no date."""
    body = json.loads(json.dumps(example("fusion-spondylolisthesis-short-therapy")))
    day, _ = _eligible(body, "spinal_fusion", date(2026, 11, 23))
    assert day is None


def test_the_fhir_answer_and_the_letter_say_the_date(policies, provider_a, physician):
    from pas.responses import response_bundle
    from reviews.letters import letter_context
    from reviews.services import determination_record
    from reviews.services.assignments import request_claim

    today = date.today()
    pa_request = _submitted(provider_a, today - timedelta(days=20))
    evaluation = evidence_checks_run(pa_request=pa_request)
    pa_request.refresh_from_db()
    bundle = response_bundle(pa_request, base="http://testserver/fhir")
    notes = [
        n["text"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "ClaimResponse"
        for n in e["resource"].get("processNote", [])
    ]
    assert any(evaluation.eligible_on.isoformat() in text for text in notes), notes

    request_claim(pa_request=pa_request, actor=physician)
    determination = determination_record(
        pa_request=pa_request,
        outcome="denied",
        actor=physician,
        reasons=[{"criterion": "ESI-05"}],
        rationale="Four weeks of conservative care have not yet failed.",
    )
    context = letter_context(determination)
    assert context["eligible_on"]["date"] == evaluation.eligible_on
    assert [c["criterion"] for c in context["eligible_on"]["criteria"]] == ["ESI-05"]


def test_the_case_page_says_the_date(policies, provider_a, physician):
    from django.test import Client

    pa_request = _submitted(provider_a, date.today() - timedelta(days=20))
    evaluation = evidence_checks_run(pa_request=pa_request)
    client = Client()
    client.force_login(physician)
    page = client.get(f"/requests/{pa_request.pk}/").content.decode()
    assert 'id="eligible-on"' in page
    assert evaluation.eligible_on.strftime("%b %-d, %Y") in page
    assert "ESI-05" in page[page.index('id="eligible-on"') :]


# --- More duration criteria: pain days (ESI-04) and nicotine-free days (FU-06) ------------------


@pytest.mark.parametrize("days_in", [1, 20, 27])
def test_pain_days_esi_04_first_qualifying_day(days_in):
    review = START + timedelta(days=40)
    onset = review - timedelta(days=days_in)
    body = _esi(START)  # 40 days of failed care by the review date: ESI-05 met
    body["clinical"]["symptom_onset_date"] = onset.isoformat()
    day, reasons = _eligible(body, ESI, review)
    assert day == onset + timedelta(days=28)
    assert [r["criterion"] for r in reasons] == ["ESI-04"]
    assert _eligible(body, ESI, onset + timedelta(days=28)) == (None, [])


@pytest.mark.parametrize("days_free", [1, 30, 41])
def test_nicotine_free_days_fu_06_first_qualifying_day(days_free):
    from tests.clinical.bases import fusion, today

    body = fusion()
    body["clinical"]["smoking_status"] = "former"
    quit_on = today() - timedelta(days=days_free)
    body["clinical"]["nicotine_free_since"] = quit_on.isoformat()
    body["attachments"][0]["text"] = body["attachments"][0]["text"].replace(
        "Never smoked.", f"Stopped smoking on {quit_on.isoformat()}."
    )
    day, reasons = _eligible(body, "spinal_fusion", today())
    assert day == quit_on + timedelta(days=42), reasons
    assert [r["criterion"] for r in reasons] == ["FU-06"]
    assert _eligible(body, "spinal_fusion", quit_on + timedelta(days=42)) == (None, [])
