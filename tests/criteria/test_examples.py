"""The three shared examples give the recommendations of docs/api/examples/EXPECTED.md."""

from datetime import date

import pytest

from .conftest import evaluate_body, load_example, result

# Any review date after 2026-11-22 (EXPECTED.md).
REVIEW_DATES = [date(2026, 11, 23), date(2026, 12, 15)]
EXPECTED = [
    ("esi-lumbar-radiculopathy", "baseline", "approve", []),
    ("rfa-lumbar-after-two-blocks", "baseline", "approve", []),
    ("fusion-spondylolisthesis-short-therapy", "baseline", "physician_review", ["FU-03", "FU-06"]),
    ("esi-lumbar-radiculopathy", "evidence_strict", "physician_review", ["GEN-09"]),
    ("rfa-lumbar-after-two-blocks", "evidence_strict", "physician_review", ["GEN-09"]),
    (
        "fusion-spondylolisthesis-short-therapy",
        "evidence_strict",
        "physician_review",
        ["FU-03", "FU-06"],
    ),
]


@pytest.mark.parametrize("review_date", REVIEW_DATES)
@pytest.mark.parametrize(("name", "profile", "recommendation", "reasons"), EXPECTED)
def test_example(name, profile, recommendation, reasons, review_date):
    outcome = evaluate_body(load_example(name), profile, review_date)
    assert outcome.recommendation == recommendation
    assert [r["criterion"] for r in outcome.reasons] == reasons
    assert outcome.red_flags == []


@pytest.mark.parametrize(
    ("name", "met"),
    [
        (
            "esi-lumbar-radiculopathy",
            ["ESI-01", "ESI-02", "ESI-04", "ESI-05", "ESI-06", "ESI-07", "ESI-10", "ESI-12"],
        ),
        (
            "rfa-lumbar-after-two-blocks",
            ["FJ-01", "FJ-02", "FJ-03", "FJ-05", "FJ-06", "FJ-10", "FJ-11"],
        ),
        ("fusion-spondylolisthesis-short-therapy", ["FU-01", "FU-05"]),
    ],
)
def test_example_criteria_named_in_expected_md_are_met(name, met):
    outcome = evaluate_body(load_example(name))
    assert {cid: result(outcome, cid)["answer"] for cid in met} == dict.fromkeys(met, "met")


def test_esi_example_shows_the_guideline_as_an_advisory_note():
    outcome = evaluate_body(load_example("esi-lumbar-radiculopathy"))
    assert [a["criterion"] for a in outcome.advisories] == ["GEN-09"]
    assert result(outcome, "ESI-10")["facts"] == {"esi.sessions_rolling_12_months": 1}


def test_fusion_example_reasons_say_why():
    outcome = evaluate_body(load_example("fusion-spondylolisthesis-short-therapy"))
    fu03 = result(outcome, "FU-03")
    assert fu03["answer"] == "not_met"
    assert fu03["facts"]["conservative_care.physical_therapy_days"] == 21
    assert "21" in fu03["explanation"] and "42" in fu03["explanation"]
    assert result(outcome, "FU-06")["facts"]["smoking.status"] == "current"
    assert result(outcome, "FU-04")["answer"] == "not_met"  # no red flag waives either


def test_rfa_example_relief_is_computed_from_scores_for_the_first_block():
    outcome = evaluate_body(load_example("rfa-lumbar-after-two-blocks"))
    facts = result(outcome, "FJ-06")["facts"]
    assert facts["facet.diagnostic_blocks_prior"] == 2
    # The second block states 86 % and scores 7 -> 1: the scores win (85.7 %).
    assert facts["facet.last_block_relief_percent"] == pytest.approx(600 / 7)
    assert facts["facet.previous_block_relief_percent"] == pytest.approx(600 / 7)
