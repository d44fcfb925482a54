"""The real path for the clinical suite: the provider API's intake, then the evidence checks."""

import itertools
import json
from dataclasses import dataclass

import pytest
from django.test import override_settings

from reviews.models import Evaluation, PriorAuthRequest
from reviews.services.checks import evidence_checks_run
from tests.conftest import post_json


@dataclass
class Outcome:
    request: PriorAuthRequest
    evaluation: Evaluation

    @property
    def recommendation(self) -> str:
        return self.evaluation.recommendation

    @property
    def status(self) -> str:
        return self.request.status

    @property
    def explanation(self) -> str:
        """Everything the evaluation gives a reviewer as the reason: reasons, findings, trace."""
        ev = self.evaluation
        parts = [ev.reasons, ev.note_conflicts, ev.missing_information]
        for name in ("consistency", "findings", "consistency_findings"):
            parts.append(getattr(ev, name, None))
        parts.append([r for r in ev.trace if r.get("answer") not in ("met", "not_applicable")])
        return json.dumps(parts, default=str).lower()


_members = itertools.count(1)


def fresh_member(body: dict) -> dict:
    """The body for a member of its own, so no earlier request of the suite is its history."""
    number = next(_members)
    body["member"]["member_id"] = f"ADV{number:06d}"
    body["external_id"] = f"ADV-{number:06d}"
    return body


@pytest.fixture
def submit(api_a, policies):
    """Submit a body under a profile through the API and run the evidence checks on it.

    Each body is a new member's unless `fresh=False` (a case that builds the member's history)."""

    def run(
        body: dict, profile: str = "baseline", *, fresh: bool = True, refused_ok: bool = False
    ) -> Outcome | None:
        if fresh:
            fresh_member(body)
        profiles = {"commercial": profile, "medicare_advantage": profile, "medicaid": profile}
        # One override per call, undone after it: many calls in one test (the properties) must
        # not stack overrides.
        with override_settings(POLICY_PROFILES=profiles):
            response = post_json(api_a, "/api/v1/requests/", body)
            if refused_ok and response.status_code == 400:
                assert not PriorAuthRequest.objects.filter(
                    external_id=body.get("external_id")
                ).exists()
                return None
            assert response.status_code == 201, response.json()
            pa_request = PriorAuthRequest.objects.get(pk=response.json()["id"])
            evaluation = evidence_checks_run(pa_request=pa_request)
        assert evaluation is not None
        pa_request.refresh_from_db()
        assert evaluation.profile == profile
        return Outcome(pa_request, evaluation)

    return run
