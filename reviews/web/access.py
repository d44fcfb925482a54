"""Who may use the reviewers' web pages.

Anonymous users go to the sign-in page. A signed-in user without a reviewer or auditor role
(a provider, say) gets a plain 403 page: providers work through the API. Every write still goes
through a service that checks the role again; these checks only decide what a page offers.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.db.models import prefetch_related_objects
from django.shortcuts import render

from reviews.selectors.queue import ACTING_ROLES, WEB_ROLES


def forbidden(request, message: str):
    return render(request, "reviews/forbidden.html", {"message": message}, status=403)


def _web_user(view, roles, message):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        # One query for the role, however many times the page asks for it.
        prefetch_related_objects([user], "groups")
        if user.role not in roles:
            return forbidden(request, message)
        return view(request, *args, **kwargs)

    return wrapper


def reviewer_page(view):
    """Reviewers, auditors and administrators read these pages; only reviewers may POST."""

    @wraps(view)
    def inner(request, *args, **kwargs):
        if request.method not in {"GET", "HEAD"} and request.user.role not in ACTING_ROLES:
            return forbidden(request, "Your role may read cases but not act on them.")
        return view(request, *args, **kwargs)

    return _web_user(
        inner,
        WEB_ROLES,
        "The review queue is for the plan's nurse and physician reviewers and its auditors. "
        "Providers follow their requests through Lamina's API.",
    )


def acting_reviewer(view):
    """Nurse and physician reviewers only: the action pages."""
    return _web_user(
        view,
        ACTING_ROLES,
        "Only nurse and physician reviewers act on cases; your role may read them.",
    )
