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


def _with_findings(build, *found):
    def body():
        made = build()
        for study in made["clinical"]["imaging"]:
            study["findings"] = study.get("findings", []) + list(found)
        return made

    return body


def _scored_zero(build):
    def body():
        made = build()
        made["clinical"].update(pain_score_nrs=0, function_scale={"instrument": "odi", "score": 0})
        return made

    return body


def _short_block():
    made = facet_block_body()
    made["service"]["block_intent"] = "diagnostic"
    made["clinical"]["prior_procedures"] = [
        {
            "cpt_code": "64493",
            "date": "2026-10-20",
            "region": "lumbar",
            "levels": ["L4-L5", "L5-S1"],
            "agent": "bupivacaine",
            "pain_scale": "nrs",
            "baseline_score": 8,
            "post_score": 1,
            "relief_duration_hours": 0.5,
        }
    ]
    return made


def _two_levels():
    made = BODIES["fusion"]()
    made["service"]["levels"] = ["L3-L4", "L4-L5"]
    return made


# Requests a criterion of issue 13 refuses: an imaging red flag in each family, a score of 0, a
# block's relief shorter than its anaesthetic, a second fused level without trauma or deformity.
REFUSED = {
    "esi-metastasis": _with_findings(BODIES["esi"], "osseous_metastasis"),
    "facet-cord-compression": _with_findings(BODIES["facet"], "cord_compression"),
    "rfa-infection": _with_findings(BODIES["rfa"], "infection"),
    "va-epidural-tumour": _with_findings(BODIES["va"], "epidural_tumor"),
    "fusion-unstable-fracture": _with_findings(BODIES["fusion"], "compression_fracture"),
    "esi-normal-and-herniation": _with_findings(BODIES["esi"], "normal"),
    "rfa-scores-zero": _scored_zero(BODIES["rfa"]),
    "facet-short-block": _short_block,
    "fusion-two-levels": _two_levels,
}


@_settings
@given(
    name=st.sampled_from(sorted(REFUSED)),
    profile=st.sampled_from(PROFILES),
    data=st.data(),
)
def test_removing_facts_never_meets_what_a_refused_request_did_not_meet(name, profile, data):
    body = REFUSED[name]()
    facts = facts_of(body)
    family = request_data(body)["procedure_family"]
    outcome = evaluate(content_for(family, profile), facts, review_date=REVIEW_DATE)
    before = {r["id"]: r["answer"] for r in outcome.results}
    # the facts the refusing criteria read, so the removals aim at what refused the request
    aimed = sorted(
        {
            fact
            for r in outcome.results
            if r["answer"] == NOT_MET
            for fact in r["facts"]
            if facts.get(fact) is not None
        }
    )
    assert aimed, "the request is refused by some criterion"
    known = sorted(k for k, v in facts.items() if v is not None)
    removed = data.draw(st.sets(st.sampled_from(aimed), min_size=1, max_size=3), label="aimed")
    removed |= data.draw(st.sets(st.sampled_from(known), max_size=3), label="others")
    after = answers(body, profile, {k: (None if k in removed else v) for k, v in facts.items()})
    for cid, answer in before.items():
        if answer == NOT_MET:
            assert after[cid] != MET, (cid, sorted(removed))
