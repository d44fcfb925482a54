"""The adversarial suite: every case is a small change to an approvable base that must not be
approved, run through the provider API's intake and the evidence checks (tests/clinical/cases.py).
"""

import pytest

from tests.clinical.cases import BOUNDARIES_APPROVED, CASES
from tests.clinical.conftest import fresh_member

pytestmark = pytest.mark.django_db

RUNS = [
    pytest.param(case, profile, id=f"{case.id}-{profile}")
    for case in CASES
    for profile in case.under()
]


def test_the_suite_covers_every_class_family_and_profile():
    assert len(CASES) >= 80
    assert {case.cls for case in CASES} == set(range(1, 10))
    assert {case.family for case in CASES} == {
        "epidural_steroid_injection",
        "facet_injection",
        "radiofrequency_ablation",
        "vertebral_augmentation",
        "spinal_fusion",
    }
    assert {p for case in CASES for p in case.under()} == {"baseline", "evidence_strict"}
    assert len({case.id for case in CASES + BOUNDARIES_APPROVED}) == len(
        CASES + BOUNDARIES_APPROVED
    )


@pytest.mark.parametrize(("case", "profile"), RUNS)
def test_a_contradiction_is_never_approved(submit, case, profile):
    body = case.body()
    if case.earlier is not None:
        # the member's earlier request, evaluated first: this one's history
        first = case.__class__(case.id, case.family, case.cls, case.earlier).body()
        fresh_member(first)
        body["member"] = dict(first["member"])
        earlier = submit(first, profile, fresh=False)
        assert (earlier.recommendation == "approve") is case.earlier_approved, earlier.explanation
    outcome = submit(body, profile, fresh=case.earlier is None)

    assert outcome.recommendation != "approve", f"{case.id}: approved"
    assert outcome.status != "approved"
    assert not outcome.request.determinations.exists()
    if case.route:
        assert outcome.recommendation == case.route, outcome.explanation
    if case.named:
        assert any(word.lower() in outcome.explanation for word in case.named), (
            f"{case.id}: none of {case.named} in {outcome.explanation}"
        )


@pytest.mark.parametrize(
    ("case", "profile"),
    [
        pytest.param(case, profile, id=f"{case.id}-{profile}")
        for case in BOUNDARIES_APPROVED
        for profile in case.under()
    ],
)
def test_the_approvable_side_of_each_boundary_is_approved(submit, case, profile):
    outcome = submit(case.body(), profile)

    assert outcome.recommendation == "approve", outcome.explanation
    assert outcome.status == "approved"
