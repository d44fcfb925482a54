"""The auditors' read-only pages: a request's history, determination search, metrics.

Auditors and plan administrators only; every page is GET (anything else is a 405). Opening a
request's history is itself an audit event. The CSV downloads are the API's streaming exports,
which accept the same signed-in session.
"""

from datetime import date
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import prefetch_related_objects
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from reviews.audit import audit_record
from reviews.selectors.audit import (
    AUDIT_ROLES,
    audit_request_get_for,
    determination_search,
    letter_path,
    request_history,
)
from reviews.selectors.metrics import metrics_for_period
from reviews.web.audit_forms import DeterminationSearchForm, PeriodForm

SEARCH_PAGE_SIZE = 50


def auditor_page(view):
    @wraps(view)
    @login_required
    @require_safe
    def wrapper(request, *args, **kwargs):
        prefetch_related_objects([request.user], "groups")
        if request.user.role not in AUDIT_ROLES:
            raise PermissionDenied("The audit pages are for auditors and plan administrators.")
        return view(request, *args, **kwargs)

    return wrapper


@auditor_page
def audit_history(request, request_id: int):
    pa_request = audit_request_get_for(user=request.user, request_id=request_id)
    audit_record(
        action="history_viewed", subject=pa_request, actor=request.user, data={"via": "web"}
    )
    history = request_history(pa_request=pa_request)
    # Pairs prepared here: in a template, `data.items` would read a key named "items".
    for event in history.events:  # each loop evaluates (and caches) its queryset
        event.data_pairs = sorted(event.data.items()) if isinstance(event.data, dict) else []
    for evaluation in history.evaluations:
        evaluation.trace_rows = [
            {**row, "fact_pairs": sorted((row.get("facts") or {}).items())}
            for row in evaluation.trace or []
        ]
    for determination in history.determinations:
        determination.letter_url = letter_path(pa_request.pk, determination.pk)
    return render(request, "audit/history.html", {"history": history, "pa_request": pa_request})


@auditor_page
def audit_search(request):
    form = DeterminationSearchForm(request.GET)
    page = None
    if form.is_valid():
        queryset = determination_search(filters=form.filters())
        page = Paginator(queryset, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "audit/search.html", {"form": form, "page": page, "query": query.urlencode()}
    )


@auditor_page
def audit_metrics(request):
    # The year to date unless a period is chosen.
    today = timezone.localdate()
    data = request.GET.copy()
    data.setdefault("start", date(today.year, 1, 1).isoformat())
    data.setdefault("end", today.isoformat())
    form = PeriodForm(data)
    report = None
    if form.is_valid():
        start, end = form.period()
        report = metrics_for_period(start=start, end=end)
    return render(
        request, "audit/metrics.html", {"form": form, "report": report, "query": data.urlencode()}
    )
