"""Properties over the adversarial suite, with hypothesis.

1. Mutating an approvable request by any contradiction of the suite, or by several at once,
   never yields an approval (through the API's intake and the evidence checks).
2. Removing any fact never turns a `not_met` into `met` and never turns a referral into an
   approval: the facts the evaluation recorded, one or more of them removed, evaluated again
   under the same policy version and decided with the same history, documentation, notes and
   consistency findings.
3. Removing from a request that was not approved any field its contradiction left as it was
   never gets it approved: leaving evidence out does not remove a contradiction.
"""

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from criteria.engine import evaluate
from reviews.services.decide import decide
from tests.clinical.bases import APPROVABLE_UNDER, BASES
from tests.clinical.cases import CASES

pytestmark = pytest.mark.django_db

PAIRS = [(family, profile) for family, profiles in APPROVABLE_UNDER.items() for profile in profiles]
BY_FAMILY = {
    family: [c for c in CASES if c.earlier is None and c.family == family] for family in BASES
}
SLOW = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
REFERRALS = {"nurse_review", "physician_review", "pend_missing_information"}


@st.composite
def contradicted(draw):
    """(family, profile, body, case ids): an approvable base with one to three of its family's
    contradictions applied in turn."""
    family, profile = draw(st.sampled_from(PAIRS))
    chosen = draw(
        st.lists(
            st.sampled_from(BY_FAMILY[family]), min_size=1, max_size=3, unique_by=lambda c: c.id
        )
    )
    body = BASES[family]()
    for case in chosen:
        case.change(body)
    return family, profile, body, [case.id for case in chosen]


@SLOW
@given(contradicted())
def test_any_contradiction_never_yields_an_approval(submit, drawn):
    family, profile, body, ids = drawn

    outcome = submit(body, profile, refused_ok=True)

    if outcome is None:
        return  # two changes the intake refuses together (400, nothing stored)
    assert outcome.recommendation != "approve", ids
    assert not outcome.request.determinations.exists(), ids


def _answers(outcome) -> dict[str, str]:
    return {r["id"]: r["answer"] for r in outcome["results"]}


def _again(evaluation, facts: dict) -> tuple[dict, str]:
    """The engine outcome and the recommendation for `facts`, everything else as recorded."""
    engine = evaluate(
        evaluation.policy_version.content, facts, review_date=evaluation.review_date
    ).to_dict()
    recommendation, _reasons, _missing = decide(
        engine,
        evaluation.history_checks,
        evaluation.documentation,
        evaluation.note_conflicts,
        evaluation.consistency,
    )
    return engine, recommendation


@pytest.fixture
def evaluations(submit):
    """The evaluation of every base under each profile that approves it, and of one case of
    each class in each family (the first the suite lists)."""
    out = [submit(BASES[family](), profile).evaluation for family, profile in PAIRS]
    seen = set()
    for case in CASES:
        if case.earlier is None and (case.family, case.cls) not in seen:
            seen.add((case.family, case.cls))
            out.append(submit(case.body(), case.under()[-1]).evaluation)
    return out


def _removals(evaluations):
    """(evaluation, facts with one to four of the known ones removed, the removed names)."""

    @st.composite
    def removal(draw):
        evaluation = draw(st.sampled_from(evaluations))
        present = sorted(k for k, v in evaluation.facts.items() if v is not None)
        removed = draw(st.lists(st.sampled_from(present), min_size=1, max_size=4, unique=True))
        facts = {k: v for k, v in evaluation.facts.items() if k not in removed}
        return evaluation, facts, removed

    return removal()


def test_removing_facts_never_meets_a_criterion_that_was_not_met(evaluations):
    @settings(max_examples=400, deadline=None, derandomize=True)
    @given(_removals(evaluations))
    def removing(drawn):
        evaluation, facts, removed = drawn

        engine, _recommendation = _again(evaluation, facts)

        after = _answers(engine)
        for result in evaluation.trace:
            if result["answer"] == "not_met":
                assert after.get(result["id"]) != "met", (result["id"], removed)

    removing()


def test_removing_facts_never_turns_a_referral_into_an_approval(evaluations):
    @settings(max_examples=400, deadline=None, derandomize=True)
    @given(_removals(evaluations))
    def removing(drawn):
        evaluation, facts, removed = drawn

        _engine, recommendation = _again(evaluation, facts)

        if evaluation.recommendation != "approve":
            assert recommendation != "approve", (evaluation.recommendation, removed)

    removing()


def test_the_recorded_evaluations_replay_as_recorded(evaluations):
    """The harness of the property above: the recorded facts give the recorded answers."""
    for evaluation in evaluations:
        engine, recommendation = _again(evaluation, dict(evaluation.facts))
        assert _answers(engine) == {r["id"]: r["answer"] for r in evaluation.trace}
        assert recommendation == evaluation.recommendation


def _leaves(value, path=()):
    """Every removable field of a request body: dict keys at any depth, list items."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*path, index)
            yield from _leaves(item, (*path, index))


def _without(body: dict, path: tuple) -> dict:
    body = copy.deepcopy(body)
    *parents, last = path
    holder = body
    for step in parents:
        holder = holder[step]
    del holder[last]
    return body


# What an intake must have to accept a request at all, and what identifies it: removing these
# is refused (400) or changes nothing clinical.
_NOT_CLINICAL = {"member", "requesting_provider", "external_id", "urgency", "line_of_business"}


def _at(body, path):
    for step in path:
        try:
            body = body[step]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return body


_MISSING = object()
# Removing a treated level or a code changes what is asked for; it removes no fact.
_THE_ASK = {("service", "levels"), ("service", "target_levels"), ("service", "cpt_codes")}


@st.composite
def referral_without_a_field(draw):
    """A case's request without one field the case did not change (removing the contradiction
    itself gives the base back, which is approvable)."""
    case = draw(st.sampled_from([c for c in CASES if c.earlier is None]))
    body, base = case.body(), BASES[case.family]()
    paths = [
        p
        for p in _leaves(body)
        if p[0] not in _NOT_CLINICAL
        and p != ("service",)
        and tuple(p[:2]) not in _THE_ASK
        and _at(body, p) == _at(base, p)
    ]
    path = draw(st.sampled_from(paths))
    return case, _without(body, path), path


@SLOW
@given(referral_without_a_field())
def test_removing_a_field_from_a_referred_request_never_approves_it(submit, drawn):
    case, body, path = drawn

    outcome = submit(body, case.under()[0], refused_ok=True)

    # a request the intake refuses without the field (400, nothing stored) is not approved either
    if outcome is not None:
        assert outcome.recommendation != "approve", (case.id, path)
