"""The sign-in page: Django's LoginView with the username's length checked before anything else.

Django's AuthenticationForm sets the username field's max_length after the field is built, so
the length is only an HTML attribute and an over-long name reaches authenticate(), django-axes
and the audit trail (whose columns hold 255 characters): a server error. Here the length is
validated first, so a name longer than the user model allows is a 400 that stores nothing.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.validators import MaxLengthValidator

logger = logging.getLogger(__name__)


class SignInForm(AuthenticationForm):
    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        limit = get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD).max_length
        self.fields["username"].validators.append(MaxLengthValidator(limit))


def _address_key(request) -> str:
    return f"signin-failures:{request.META.get('REMOTE_ADDR', '')}"


def _address_failures(request) -> int:
    try:
        return int(cache.get(_address_key(request)) or 0)
    except Exception:  # noqa: BLE001 - the cache down must not stop sign-in; axes still locks
        logger.warning("sign-in rate-limit cache unreachable", exc_info=True)
        return 0


def _address_failed(request) -> None:
    key, timeout = _address_key(request), int(settings.AXES_COOLOFF_TIME.total_seconds())
    try:
        cache.add(key, 0, timeout=timeout)
        cache.incr(key)
    except Exception:  # noqa: BLE001 - see _address_failures
        logger.warning("sign-in rate-limit cache unreachable", exc_info=True)


class SignInView(LoginView):
    """Lockout is per username and address together (django-axes, AXES_LOCKOUT_PARAMETERS), so
    nobody can lock a reviewer out from elsewhere; an address is also limited on its own, to
    SIGNIN_ADDRESS_FAILURE_LIMIT failed sign-ins per cool-off period, across all usernames. That
    limit also bounds the failed sign-in events an anonymous client can write to the audit trail:
    at most that many per address per period (attempts on a locked pair count towards it too).
    """

    form_class = SignInForm
    template_name = "registration/login.html"

    def post(self, request, *args, **kwargs):
        from reviews.web.views import locked_out

        if _address_failures(request) >= settings.SIGNIN_ADDRESS_FAILURE_LIMIT:
            # Refused before authenticate(): nothing more is written to the audit trail.
            return locked_out(request)
        response = super().post(request, *args, **kwargs)
        if response.status_code != 302:
            _address_failed(request)
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        # A malformed field (not wrong credentials) is a bad request.
        if form.has_error("username") or form.has_error("password"):
            response.status_code = 400
        return response
