"""Rate limiting of the provider API, per token.

A provider's software that loops on a bug must not starve the other clinics or the evidence
checks: each provider user (one token each) gets REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
["provider"] requests per period, then 429 with Retry-After. Reviewers, auditors and
administrators are not throttled here: they are few, signed in, and accountable by name.

https://www.django-rest-framework.org/api-guide/throttling/
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from reviews.models import Role


class ProviderTokenThrottle(SimpleRateThrottle):
    scope = "provider"

    def get_rate(self) -> str | None:
        # Read at each request rather than once at import, so a changed setting (an operator's
        # environment, a test's override) takes effect without a restart of the class.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str | None:
        user = request.user
        if not (user and user.is_authenticated and user.has_role(Role.PROVIDER)):
            return None
        # Keyed by the user, which owns exactly one token: a re-issued token keeps its budget.
        return self.cache_format % {"scope": self.scope, "ident": user.pk}
