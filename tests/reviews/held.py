"""Builders for tests of reviewers' actions: a reviewer acts only on a case they hold, so each
builder claims the case (reviews.services.request_claim) before acting, as the web page does."""

from criteria.services import policies_load
from reviews.models import PriorAuthRequest
from reviews.services import determination_record, request_claim

# A criterion of the shipped fusion policy: the service checks reasons against the policy version.
FUSION_REASONS = [{"criterion": "FU-03"}]


def held(pa_request: PriorAuthRequest, reviewer) -> PriorAuthRequest:
    """The case, claimed by `reviewer`."""
    return request_claim(pa_request=pa_request, actor=reviewer)


def decided(pa_request: PriorAuthRequest, reviewer, outcome: str, **kwargs):
    """`reviewer` claims the case and records `outcome` on it."""
    held(pa_request, reviewer)
    return determination_record(pa_request=pa_request, outcome=outcome, actor=reviewer, **kwargs)


def denied_by(pa_request: PriorAuthRequest, physician, **kwargs) -> PriorAuthRequest:
    """The case denied by `physician` for FU-03 of the shipped fusion policy."""
    policies_load()
    decided(
        pa_request,
        physician,
        "denied",
        reasons=kwargs.pop("reasons", FUSION_REASONS),
        rationale=kwargs.pop("rationale", "Only four weeks of physical therapy are documented."),
        **kwargs,
    )
    return PriorAuthRequest.objects.get(pk=pa_request.pk)
