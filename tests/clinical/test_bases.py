"""Each family's base request approves, under every profile that can approve it."""

import pytest

from tests.clinical.bases import APPROVABLE_UNDER, BASES, PROFILES

pytestmark = pytest.mark.django_db

CASES = [(family, profile) for family, profiles in APPROVABLE_UNDER.items() for profile in profiles]


@pytest.mark.parametrize(("family", "profile"), CASES)
def test_base_approves(submit, family, profile):
    outcome = submit(BASES[family](), profile)
    assert outcome.request.procedure_family == family
    assert outcome.recommendation == "approve", outcome.explanation
    assert outcome.status == "approved"


@pytest.mark.parametrize(
    "family", [f for f, p in APPROVABLE_UNDER.items() if len(p) < len(PROFILES)]
)
def test_chronic_facet_pain_goes_to_a_physician_under_evidence_strict(submit, family):
    """FJ-02 needs 3 months of pain; evidence_strict's decisive GEN-09 refers exactly that."""
    outcome = submit(BASES[family](), "evidence_strict")
    assert outcome.recommendation == "physician_review"
    assert "gen-09" in outcome.explanation
