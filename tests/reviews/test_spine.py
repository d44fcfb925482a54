"""reviews/spine.py: one model of levels for validation, facts and the history checks."""

import pytest

from reviews import spine
from reviews.facts import build_facts


@pytest.mark.parametrize(
    ("text", "vertebrae"),
    [
        ("L4-L5", ["L4", "L5"]),
        ("L5-S1", ["L5", "S1"]),
        ("L5", ["L5"]),
        ("C5-C6", ["C5", "C6"]),
        ("C7-T1", ["C7", "T1"]),
        ("L4-S1", ["L4", "L5", "S1"]),
        ("L5-L6", ["L5", "L6"]),
        ("L6-S1", ["L6", "S1"]),
        ("L4-L6", ["L4", "L5", "L6"]),
    ],
)
def test_parse_accepts_vertebrae_segments_spans_and_the_transitional_l6(text, vertebrae):
    assert spine.parse(text).vertebrae() == vertebrae
    assert str(spine.parse(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("L7", "not a spinal level"),
        ("C8-T1", "not a spinal level"),
        ("T13", "not a spinal level"),
        ("L5-L4", "upper vertebra first"),
        ("S1-L5", "upper vertebra first"),
        ("L4-L4", "one vertebra twice"),
        ("L4-L5-S1", "not a spinal level"),
        ("", "not a spinal level"),
        ("L4/L5", "not a spinal level"),
    ],
)
def test_parse_refuses_what_is_not_a_level_with_the_reason(text, message):
    with pytest.raises(spine.LevelError, match=message):
        spine.parse(text)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (["L4-L5"], ["L5"], True),  # a vertebra of the segment
        (["L4-L5"], ["L4-L5"], True),
        (["L4-L5"], ["L5-S1"], False),  # adjacent segments share a vertebra, not a segment
        (["L4-S1"], ["L5-S1"], True),
        (["L5-S1"], ["L5-L6"], True),  # the same lowest lumbar segment with a transitional L6
        (["L5-S1"], ["L6-S1"], True),
        (["L4-L5"], ["L6-S1"], False),
        (["C5-C6"], ["L5-S1"], False),
        (["L5"], ["L5"], True),
        (["L4"], ["L5"], False),
        ([], ["L5"], None),
        (None, ["L5"], None),
    ],
)
def test_overlap(a, b, expected):
    assert spine.overlap(a, b) is expected
    assert spine.overlap(b, a) is expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("L4-L5", "L5-S1", True),
        ("L3-L4", "L5-S1", False),
        ("L3", "L4-L5", True),
        ("L4", "L5", True),
        ("L3", "L5", False),
        ("L4-L5", "L5", False),  # overlapping, not adjacent
        ("L5-L6", "L6-S1", True),
    ],
)
def test_adjacency(a, b, expected):
    assert spine.span_adjacent(spine.parse(a), spine.parse(b)) is expected


def test_segments_regions_and_region_groups():
    assert [str(s) for s in spine.parse("L3-S1").segments()] == ["L3-L4", "L4-L5", "L5-S1"]
    assert spine.parse("L5-S1").regions() == {"lumbar", "sacral"}
    assert spine.parse("C7-T1").regions() == {"cervical", "thoracic"}
    assert spine.region_group("sacral") == "lumbosacral"
    assert spine.region_group(None, ["L6-S1"]) == "lumbosacral"
    assert spine.within(["L6"], "T1", "L5") is False
    assert spine.within(["T12", "L1"], "T1", "L5") is True
    assert spine.cpt_regions("64483") == {"lumbar", "sacral"}


def _esi(levels, prior_levels):
    return {
        "service": {"cpt_codes": ["64483"], "spinal_region": "lumbar", "levels": levels},
        "clinical": {
            "prior_procedures": [],
            "imaging": [
                {
                    "modality": "mri",
                    "date": "2026-10-02",
                    "region": "lumbar",
                    "levels": prior_levels,
                    "concordant_with_symptoms": True,
                }
            ],
        },
        "diagnosis_codes": ["M51.17"],
        "procedure_family": "epidural_steroid_injection",
    }


@pytest.mark.parametrize(
    ("levels", "imaging", "at_level"),
    [(["L4-L5"], ["L5"], True), (["L5-L6"], ["L5-S1"], True), (["L4-L5"], ["L5-S1"], False)],
)
def test_facts_read_levels_through_the_model(levels, imaging, at_level):
    from datetime import date

    facts = build_facts(
        request_data=_esi(levels, imaging),
        review_date=date(2026, 11, 23),
        history=[],
        member={"birth_date": date(1970, 1, 1), "sex": "female"},
    )
    assert facts["imaging.advanced_at_level"] is at_level


@pytest.mark.parametrize("value", ["L4-L5", "L5-S1", "L5", "C5-C6", "L5-L6", "L6-S1", "T12-L1"])
def test_validation_accepts_what_the_model_accepts(value):
    from reviews.contract import validate_level

    validate_level(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [("L7", "not a spinal level"), ("L5-L4", "upper vertebra first"), ("l4-l5", "'L4-L5'")],
)
def test_validation_refuses_the_rest_with_the_reason(value, message):
    from rest_framework.exceptions import ValidationError

    from reviews.contract import validate_level

    with pytest.raises(ValidationError, match=message):
        validate_level(value)


def test_history_overlap_is_the_criteria_overlap():
    from reviews.services.checks import _levels_overlap

    assert _levels_overlap(["L4-L5"], ["L5"]) is True
    assert _levels_overlap(["L4-L5"], ["L5-S1"]) is False
    assert _levels_overlap(["L5-S1"], ["L5-L6"]) is True
