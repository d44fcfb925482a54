"""Notes against attested facts, read from text (no database): relief figures measured against
the criterion's threshold, and trauma the reader must not invent."""

import pytest

from notes.conflicts import (
    RELIEF_THRESHOLD_PARAMETER,
    NoteRead,
    conflicts_find,
    relief_thresholds,
)
from notes.reader import note_read
from tests.factories import submission

RFA = submission("rfa-lumbar-after-two-blocks")
VA_CLINICAL = {
    "red_flags": {"significant_trauma": False, "osteoporosis_or_chronic_steroids": True},
    "fracture": {"level": "L1", "etiology": "osteoporotic"},
}


def conflicts(clinical: dict, family: str, text: str, **kwargs) -> list[dict]:
    note = NoteRead(1, "Spine clinic visit", "2026-11-20", text, note_read(text))
    return conflicts_find(clinical=clinical, family=family, notes=[note], **kwargs)


def test_the_thresholds_are_the_shipped_policies_parameters():
    from criteria.loader import read_directory

    library, policies = read_directory()
    parameters = dict(library["parameters"])
    for _path, policy in policies:
        parameters.update(policy.get("parameters") or {})

    assert relief_thresholds() == {
        family: parameters[name]["value"] for family, name in RELIEF_THRESHOLD_PARAMETER.items()
    }
    assert relief_thresholds()["facet_injection"] == 80


@pytest.mark.parametrize("percent", [72, 79])
def test_a_note_relief_below_the_threshold_the_attested_relief_meets_is_a_conflict(percent):
    # given blocks attested at 86 % (scores 7 -> 1), within the old 15-point tolerance of 72
    text = f"Two diagnostic medial branch blocks at L4-L5 and L5-S1 each gave about {percent} % relief."

    found = conflicts(RFA["clinical"], "radiofrequency_ablation", text)

    assert [(c["kind"], c["criterion"]) for c in found] == [("prior_procedure", "FJ-06")]
    assert f"{percent} % relief" in found[0]["explanation"]
    assert "the criterion needs 80 %" in found[0]["explanation"]


@pytest.mark.parametrize("percent", [80, 85, 90])
def test_a_note_relief_at_or_above_the_threshold_and_near_the_attested_one_agrees(percent):
    text = f"Two diagnostic medial branch blocks at L4-L5 and L5-S1 each gave about {percent} % relief."

    assert conflicts(RFA["clinical"], "radiofrequency_ablation", text) == []


def test_the_threshold_is_the_one_given_not_a_constant():
    text = "Two diagnostic medial branch blocks each gave about 72 % relief."
    thresholds = {"facet_injection": 70}

    assert conflicts(RFA["clinical"], "radiofrequency_ablation", text, thresholds=thresholds) == []


def test_the_scores_are_the_attested_relief_when_they_disagree_with_the_stated_percent():
    # the blocks' scores give 50 %, the stated percent says 86: a note saying 55 % agrees with
    # the scores, which the criteria read
    clinical = {
        "prior_procedures": [
            {
                "cpt_code": "64493",
                "date": "2026-10-08",
                "pain_scale": "nrs",
                "baseline_score": 8,
                "post_score": 4,
                "relief_percent": 86,
            }
        ]
    }
    text = "A diagnostic medial branch block gave about 55 % relief."

    assert conflicts(clinical, "radiofrequency_ablation", text) == []


@pytest.mark.parametrize(
    "text",
    [
        "The pain began after a fall from standing height at home.",
        "Ground-level fall in the kitchen two weeks ago.",
        "She fell out of bed last week and has had mid-back pain since.",
        "Mechanical fall at home; osteoporosis on alendronate.",
        "Fell from her chair while reaching for a cup.",
    ],
)
def test_a_low_energy_fall_is_not_significant_trauma(text):
    assert [f for f in note_read(text) if f.concept == "significant_trauma"] == []
    assert conflicts(VA_CLINICAL, "vertebral_augmentation", text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Slipped and fell down two steps at home; denies significant trauma.",
        "Fell down in the garden. No significant trauma.",
        "Tripped and fell off the curb. No major trauma.",
    ],
)
def test_a_note_that_denies_significant_trauma_is_not_a_conflict(text):
    assert conflicts(VA_CLINICAL, "vertebral_augmentation", text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Fell from a ladder about 10 feet onto his back.",
        "Back pain since a motor vehicle collision last week.",
        "Fell down a flight of stairs yesterday. No trauma to the head.",
    ],
)
def test_significant_trauma_in_a_note_is_still_a_conflict(text):
    found = conflicts(VA_CLINICAL, "vertebral_augmentation", text)

    assert [(c["kind"], c["concept"]) for c in found] == [("red_flag", "significant_trauma")]


def test_no_significant_trauma_reads_as_a_denial():
    (finding,) = note_read("No significant trauma.")

    assert (finding.concept, finding.context) == ("significant_trauma", "negated")
