"""Properties of the engine and the facts that no table of examples can pin down."""

import copy
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from criteria.engine import evaluate

from .conftest import (
    REVIEW_DATE,
    content_for,
    facet_block_body,
    facts_of,
    load_example,
    request_data,
    vertebral_augmentation_body,
)

MET, NOT_MET, UNKNOWN = "met", "not_met", "insufficient_information"
BODIES = {
    "esi": lambda: load_example("esi-lumbar-radiculopathy"),
    "rfa": lambda: load_example("rfa-lumbar-after-two-blocks"),
    "fusion": lambda: load_example("fusion-spondylolisthesis-short-therapy"),
    "va": vertebral_augmentation_body,
    "facet": facet_block_body,
}
PROFILES = ["baseline", "evidence_strict"]
_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def answers(body: dict, profile: str, facts: dict | None = None) -> dict[str, str]:
    family = request_data(body)["procedure_family"]
    facts = facts if facts is not None else facts_of(body)
    outcome = evaluate(content_for(family, profile), facts, review_date=REVIEW_DATE)
    return {r["id"]: r["answer"] for r in outcome.results}


failed_care = st.fixed_dictionaries(
    {
        "modality": st.sampled_from(
            [
                "physical_therapy",
                "home_exercise",
                "nsaid",
                "acetaminophen",
                "opioid",
                "chiropractic",
                "activity_modification",
            ]
        ),
        "start_date": st.integers(min_value=0, max_value=500).map(
            lambda d: (REVIEW_DATE - timedelta(days=d)).isoformat()
        ),
        "length": st.one_of(st.none(), st.integers(min_value=0, max_value=200)),
        "outcome": st.sampled_from(["failed", "not_tolerated", "partial_relief"]),
    }
)


def _episode(draw: dict) -> dict:
    start = date.fromisoformat(draw["start_date"])
    end = (
        None if draw["length"] is None else min(start + timedelta(days=draw["length"]), REVIEW_DATE)
    )
    return {
        "modality": draw["modality"],
        "start_date": draw["start_date"],
        "end_date": end and end.isoformat(),
        "outcome": draw["outcome"],
    }


@_settings
@given(
    name=st.sampled_from(sorted(BODIES)),
    profile=st.sampled_from(PROFILES),
    extra=st.lists(failed_care, min_size=1, max_size=4),
)
def test_more_failed_conservative_care_never_turns_met_into_not_met(name, profile, extra):
    body = BODIES[name]()
    before = answers(body, profile)
    more = copy.deepcopy(body)
    more["clinical"]["conservative_care"] = list(
        more["clinical"].get("conservative_care") or []
    ) + [_episode(e) for e in extra]
    after = answers(more, profile)
    for cid, answer in before.items():
        if answer == MET:
            assert after[cid] != NOT_MET, cid


@_settings
@given(
    name=st.sampled_from(sorted(BODIES)),
    profile=st.sampled_from(PROFILES),
    data=st.data(),
)
def test_removing_a_fact_never_turns_insufficient_information_into_met(name, profile, data):
    body = BODIES[name]()
    facts = facts_of(body)
    known = sorted(k for k, v in facts.items() if v is not None)
    first = data.draw(st.sets(st.sampled_from(known), max_size=12), label="first removal")
    more = data.draw(st.sets(st.sampled_from(known), max_size=12), label="further removal")
    fewer = {k: (None if k in first else v) for k, v in facts.items()}
    fewest = {k: (None if k in first | more else v) for k, v in facts.items()}
    before = answers(body, profile, fewer)
    after = answers(body, profile, fewest)
    for cid, answer in before.items():
        if answer == UNKNOWN:
            assert after[cid] != MET, cid


@_settings
@given(
    name=st.sampled_from(sorted(BODIES)),
    data=st.data(),
)
def test_a_pend_asks_only_for_facts_that_are_missing(name, data):
    body = BODIES[name]()
    facts = facts_of(body)
    removed = data.draw(st.sets(st.sampled_from(sorted(facts)), max_size=20))
    family = request_data(body)["procedure_family"]
    outcome = evaluate(
        content_for(family),
        {k: (None if k in removed else v) for k, v in facts.items()},
        review_date=REVIEW_DATE,
    )
    if outcome.recommendation == "pend_missing_information":
        assert outcome.missing_information
        assert all(
            m["fact"] in removed or facts[m["fact"]] is None for m in outcome.missing_information
        )
