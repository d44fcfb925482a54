"""Policy impact simulation: a draft replayed over past requests, exact counts, nothing live touched.

The history is built through the real intake and evidence checks: ESI requests whose only
difference is how many days of failed conservative care they carry. Under the shipped policy
(ESI-05: at least 28 days) some are approved; the draft asks for 42, so exactly those between 28
and 41 days change, and only ESI-05's answer changes for them.
"""

import copy
import io
import json
from datetime import date, timedelta

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from criteria.models import PolicyVersion
from criteria.services import (
    policy_version_activate,
    policy_version_copy_as_draft,
    policy_version_draft_update,
)
from reviews.models import AuditEvent, Determination, Evaluation, PolicySimulation, PriorAuthRequest
from reviews.services import evidence_checks_run
from reviews.services.simulation import SimulationError, simulation_create, simulation_run
from tests.conftest import wait_for
from tests.factories import submit

REVIEW_DATE = date(2026, 11, 23)
# Days of failed physical therapy per request: 20 fails ESI-05 today; 30 and 35 pass today and
# fail under the draft's 42; 45 and 60 pass both.
DAYS = [20, 30, 35, 45, 60]
CHANGED_DAYS = {30, 35}


def _care(days: int) -> list[dict]:
    start = date(2026, 9, 1)
    return [
        {
            "modality": "physical_therapy",
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=days)).isoformat(),
            "outcome": "failed",
        },
        {"modality": "home_exercise", "start_date": "2026-10-20", "outcome": "ongoing"},
    ]


@pytest.fixture
def history(db, policies, provider_a):
    """{days of care: evaluated request}, each evaluated on REVIEW_DATE as the live checks do."""
    out = {}
    for days in DAYS:
        pa_request = submit(
            provider_a,
            clinical__conservative_care=_care(days),
            clinical__symptom_onset_date="2026-08-01",
        )
        evidence_checks_run(pa_request=pa_request, review_date=REVIEW_DATE)
        out[days] = pa_request
    return out


def _esi_baseline() -> PolicyVersion:
    return PolicyVersion.objects.get(
        policy__family="epidural_steroid_injection", profile="baseline", status="active"
    )


@pytest.fixture
def draft(history):
    """A draft of the ESI baseline version asking for 42 days of conservative care."""
    version = policy_version_copy_as_draft(version=_esi_baseline())
    content = copy.deepcopy(version.content)
    content["parameters"]["esi_conservative_min_days"]["value"] = 42
    return policy_version_draft_update(version=version, content=content)


def _live_state():
    return (
        list(PriorAuthRequest.objects.order_by("pk").values_list("pk", "status", "recommendation")),
        Evaluation.objects.count(),
        Determination.objects.count(),
        AuditEvent.objects.count(),
    )


def test_the_history_is_what_the_test_says(history):
    approved = {d for d, r in history.items() if r.evaluations.get().recommendation == "approve"}
    assert approved == {30, 35, 45, 60}


def test_a_draft_replay_counts_exactly_the_requests_it_changes(history, draft):
    live = _live_state()
    simulation = simulation_create(version=draft, since=date(2026, 1, 1), until=date.today())
    result = simulation_run(simulation=simulation)

    assert result["requests"] == len(DAYS)
    assert result["changed"] == len(CHANGED_DAYS)
    assert result["before"]["approve"] == 4
    assert result["after"]["approve"] == 2
    changed_ids = {c["id"] for c in result["changes"]}
    assert changed_ids == {history[d].pk for d in CHANGED_DAYS}
    for change in result["changes"]:
        assert change["from"] == "approve"
        assert change["to"] != "approve"
        assert change["criteria"] == [{"id": "ESI-05", "from": "met", "to": "not_met"}]
    assert result["approval_share"] == {"before": 0.8, "after": 0.4}
    after_tiers = sum(
        row["after_nurse_review"] + row["after_physician_review"] for row in result["workload"]
    )
    before_tiers = sum(
        row["before_nurse_review"] + row["before_physician_review"] for row in result["workload"]
    )
    assert (
        after_tiers - before_tiers
        == result["after"]["nurse_review"]
        - result["before"]["nurse_review"]
        + result["after"]["physician_review"]
        - result["before"]["physician_review"]
    )

    # Nothing of the live data moved, and nothing was audited as a decision.
    assert _live_state() == live
    simulation.refresh_from_db()
    assert simulation.state == PolicySimulation.State.DONE
    assert simulation.result["changed"] == 2


def test_the_same_content_changes_nothing(history):
    simulation = simulation_create(
        version=_esi_baseline(), since=date(2026, 1, 1), until=date.today()
    )
    result = simulation_run(simulation=simulation)
    assert result["requests"] == len(DAYS)
    assert result["changed"] == 0
    assert result["before"] == result["after"]


def test_the_period_chooses_the_requests(history, draft):
    tomorrow = date.today() + timedelta(days=1)
    simulation = simulation_create(version=draft, since=tomorrow, until=tomorrow)
    assert simulation_run(simulation=simulation)["requests"] == 0


def test_a_policy_file_is_simulated_as_loading_would_compile_it(history, tmp_path):
    from criteria.loader import POLICY_DIR

    data = yaml.safe_load((POLICY_DIR / "epidural_steroid_injection.yaml").read_text())
    data["parameters"]["esi_conservative_min_days"]["value"] = 42
    for name in ("general.yaml", "facet_joint.yaml"):
        if (POLICY_DIR / name).exists():
            (tmp_path / name).write_text((POLICY_DIR / name).read_text())
    path = tmp_path / "epidural_steroid_injection.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    out = io.StringIO()
    call_command("simulate_policy", str(path), "--since", "2026-01-01", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert {"requests", "changed", "before", "after", "changes"} <= set(result)
    assert result["requests"] == len(DAYS)
    assert {c["id"] for c in result["changes"]} == {history[d].pk for d in CHANGED_DAYS}


def test_a_file_that_would_not_load_is_refused(history, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("family: epidural_steroid_injection\ncriteria: [{id: X, rule: {fact: nope}}]\n")
    with pytest.raises(SimulationError):
        simulation_create(path=path, since=date(2026, 1, 1), until=date.today())


def test_the_command_prints_a_table_by_version_label(history, draft):
    out = io.StringIO()
    call_command("simulate_policy", draft.label, "--since", "2026-01-01", stdout=out)
    text = out.getvalue()
    assert "requests replayed: 5; recommendation changed: 2" in text


def test_an_unknown_target_is_a_clear_error(history):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="neither a policy file nor a stored version"):
        call_command("simulate_policy", "no-such-thing", "--since", "2026-01-01")


def test_activation_names_the_simulations_of_the_version_in_its_audit_event(history, draft):
    simulation = simulation_create(version=draft, since=date(2026, 1, 1), until=date.today())
    simulation_run(simulation=simulation)
    policy_version_activate(version=draft)
    event = AuditEvent.objects.filter(action="policy_version_activated").order_by("-id").first()
    assert event is not None
    assert event.data["simulations"] == [simulation.pk]


def test_facts_replayed_are_those_the_evaluation_recorded(history, draft):
    """Changing the request after its evaluation does not change what the replay reads."""
    pa_request = history[30]
    PriorAuthRequest.objects.filter(pk=pa_request.pk).update(
        clinical={**pa_request.clinical, "conservative_care": _care(90)}
    )
    simulation = simulation_create(version=draft, since=date(2026, 1, 1), until=date.today())
    result = simulation_run(simulation=simulation)
    assert pa_request.pk in {c["id"] for c in result["changes"]}


# --- the page -------------------------------------------------------------------------------


def test_nurses_and_providers_cannot_open_the_simulation_page(history, nurse, provider_a):
    for user in (nurse, provider_a):
        client = Client()
        client.force_login(user)
        assert client.get("/policy/simulations/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_an_admin_runs_a_simulation_through_a_real_worker(
    start_worker, policies, provider_a, admin_user
):
    for days in DAYS:
        pa_request = submit(
            provider_a,
            clinical__conservative_care=_care(days),
            clinical__symptom_onset_date="2026-08-01",
        )
        evidence_checks_run(pa_request=pa_request, review_date=REVIEW_DATE)
    version = policy_version_copy_as_draft(version=_esi_baseline())
    content = copy.deepcopy(version.content)
    content["parameters"]["esi_conservative_min_days"]["value"] = 42
    policy_version_draft_update(version=version, content=content)

    start_worker(concurrency=1)
    client = Client()
    client.force_login(admin_user)
    page = client.get("/policy/simulations/")
    assert page.status_code == 200
    response = client.post(
        "/policy/simulations/",
        {"version": version.pk, "since": "2026-01-01", "until": date.today().isoformat()},
    )
    assert response.status_code == 302, response.content[:500]
    simulation = PolicySimulation.objects.get()
    assert response["Location"].endswith(f"/policy/simulations/{simulation.pk}/")

    wait_for(lambda: PolicySimulation.objects.get(pk=simulation.pk).state == "done", timeout=120)
    detail = client.get(f"/policy/simulations/{simulation.pk}/")
    assert detail.status_code == 200
    assert b"ESI-05" in detail.content
    csv = client.get(f"/policy/simulations/{simulation.pk}.csv")
    assert csv.status_code == 200
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().strip().splitlines()
    assert len(lines) == 1 + len(CHANGED_DAYS)


def test_the_replay_engine_answers_as_the_live_one(history):
    """evaluate(explain=False), which the replay uses, gives the live evaluation's answers."""
    from criteria.engine import evaluate

    for pa_request in history.values():
        evaluation = pa_request.evaluations.get()
        content = evaluation.policy_version.content
        full = evaluate(content, evaluation.facts, review_date=evaluation.review_date)
        bare = evaluate(
            content, evaluation.facts, review_date=evaluation.review_date, explain=False
        )
        assert bare.recommendation == full.recommendation
        answers = [(r["id"], r["answer"]) for r in evaluation.trace]
        assert [(r["id"], r["answer"]) for r in full.results] == answers
        assert [(r["id"], r["answer"]) for r in bare.results] == answers
        assert bare.red_flags == full.red_flags
        assert [m["fact"] for m in bare.missing_information] == [
            m["fact"] for m in full.missing_information
        ]


def test_on_the_demo_data_the_policy_in_force_replays_to_the_live_recommendations(
    db, settings, policies
):
    """Every family's active version, replayed over the demo requests, changes nothing: the
    replay reproduces the live decision from what each evaluation recorded."""
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    replayed = 0
    for version in PolicyVersion.objects.filter(status="active", profile="baseline"):
        simulation = simulation_create(
            version=version, since=date(2000, 1, 1), until=date.today() + timedelta(days=1)
        )
        result = simulation_run(simulation=simulation)
        last = {}
        for evaluation in Evaluation.objects.filter(
            request__procedure_family=version.policy.family, profile="baseline"
        ).order_by("request_id", "round"):
            last[evaluation.request_id] = evaluation.recommendation
        assert result["requests"] == len(last)
        assert result["changed"] == 0, result["changes"]
        for recommendation in result["before"]:
            expected = sum(1 for r in last.values() if r == recommendation)
            assert result["before"][recommendation] == expected
        replayed += result["requests"]
    assert replayed > 0


def test_the_portable_reader_reads_what_the_postgresql_one_reads(history, draft):
    """The embedded SQLite default reads the rows in Python; both readers give the same rows."""
    from reviews.services.simulation import _rows, _rows_portable

    simulation = simulation_create(version=draft, since=date(2026, 1, 1), until=date.today())
    assert list(_rows_portable(simulation)) == list(_rows(simulation))
    assert len(list(_rows(simulation))) == len(DAYS)
