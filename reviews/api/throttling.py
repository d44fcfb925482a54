"""Rate limiting of the provider API, per token.

A provider's software that loops on a bug must not starve the other clinics or the evidence
checks: each provider user (one token each) gets REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
["provider"] requests per period, then 429 with Retry-After. Reviewers, auditors and
administrators are not throttled here: they are few, signed in, and accountable by name.

The count is a fixed window kept in the cache (Redis) with one atomic increment per request
(`cache.add` then `cache.incr`: Redis INCR on a key that expires with its window), so concurrent
requests cannot lose counts the way a read-modify-write of a history list does. When the cache is
unreachable the request is not failed: the count falls back to this process's memory, with a
warning logged, so intake keeps accepting during a Redis outage (each process then counts alone).

https://www.django-rest-framework.org/api-guide/throttling/
"""

import logging
import threading
import time

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from reviews.models import Role

logger = logging.getLogger(__name__)

_local_lock = threading.Lock()
_local_counts: dict[str, int] = {}


def _local_incr(key: str) -> int:
    """The per-process fallback count: a dict of window keys, old windows dropped as it goes."""
    with _local_lock:
        if len(_local_counts) > 10_000:
            _local_counts.clear()
        _local_counts[key] = _local_counts.get(key, 0) + 1
        return _local_counts[key]


class ProviderTokenThrottle(SimpleRateThrottle):
    scope = "provider"
    timer = time.time

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

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        key = f"{self.key}:{window}"
        try:
            # add() is a no-op when the key exists; incr() is Redis INCR, atomic across processes.
            cache.add(key, 0, timeout=self.duration + 1)
            count = cache.incr(key)
        except ValueError:
            # The key expired between add() and incr(): this is the window's first request.
            cache.set(key, 1, timeout=self.duration + 1)
            count = 1
        except Exception:  # noqa: BLE001 - any cache failure: count locally, never fail intake
            logger.warning(
                "rate-limit cache unreachable; counting provider %s in this process only",
                request.user.pk,
                exc_info=True,
            )
            count = _local_incr(key)
        return count <= self.num_requests

    def wait(self) -> float | None:
        return max(self.window_end - self.timer(), 0.001)
