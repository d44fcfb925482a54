"""The real path for the clinical suite: the provider API's intake, then the evidence checks."""

import json
from dataclasses import dataclass

import pytest

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


@pytest.fixture
def submit(api_a, policies, settings):
    """Submit a body under a profile through the API and run the evidence checks on it."""

    def run(body: dict, profile: str = "baseline") -> Outcome:
        settings.POLICY_PROFILES = {
            "commercial": profile,
            "medicare_advantage": profile,
            "medicaid": profile,
        }
        response = post_json(api_a, "/api/v1/requests/", body)
        assert response.status_code == 201, response.json()
        pa_request = PriorAuthRequest.objects.get(pk=response.json()["id"])
        evaluation = evidence_checks_run(pa_request=pa_request)
        assert evaluation is not None
        pa_request.refresh_from_db()
        assert evaluation.profile == profile
        return Outcome(pa_request, evaluation)

    return run
