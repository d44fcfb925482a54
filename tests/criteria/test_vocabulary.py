"""The fact vocabulary is one contract between the policies, the loader and reviews/facts.py."""

from datetime import date

from criteria.loader import fact_names_used
from criteria.vocabulary import FACTS
from reviews.facts import FACT_FIELDS, FACT_VOCABULARY, build_facts

from .conftest import compiled_versions, facts_of, load_example


def test_shipped_policies_use_exactly_the_vocabulary():
    used = set().union(*(fact_names_used(c) for c in compiled_versions().values()))
    assert used == FACT_VOCABULARY


def test_build_facts_produces_exactly_the_vocabulary_even_from_an_empty_request():
    empty = build_facts(request_data={}, review_date=date(2026, 11, 23), history=[], member={})
    assert set(empty) == FACT_VOCABULARY
    assert all(value is None for name, value in empty.items() if name not in _ALWAYS_KNOWN)
    for name in ("esi-lumbar-radiculopathy", "rfa-lumbar-after-two-blocks"):
        assert set(facts_of(load_example(name))) == FACT_VOCABULARY


# Facts that are counts or code checks over what was sent: zero or false, never unknown.
_ALWAYS_KNOWN = {
    "service.without_image_guidance_code",
    "service.third_level_addon",
    "diagnosis.codes",
    "esi.sessions_rolling_12_months",
    "esi.is_repeat",
    "facet.diagnostic_blocks_prior",
    "facet.diagnostic_sessions_rolling_12_months",
    "facet.therapeutic_sessions_rolling_12_months",
    "facet.prior_therapeutic_count",
    "facet.block_at_successful_rfa_level",
    "rfa.prior_count",
    "rfa.sessions_rolling_12_months",
    "oncology.metastatic_indication",
    "nicotine.cotinine_reported",
    "pain.score_reported",
    "function.reported",
    "oncology.neoplasm_declared",
}


def test_every_fact_names_a_request_field_for_missing_information():
    assert set(FACT_FIELDS) == FACT_VOCABULARY
    for name, fact in FACTS.items():
        assert fact.field.split(".")[0] in {
            "service",
            "clinical",
            "member",
            "diagnosis_codes",
            "attachments",
        }, name
        assert fact.why, name
