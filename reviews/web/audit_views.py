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
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from reviews.audit import audit_record
from reviews.audit_params import DeterminationSearchForm, PeriodForm
from reviews.selectors.audit import (
    AUDIT_ROLES,
    NO_FAMILY,
    audit_request_get_for,
    audit_requests_matching,
    determination_search,
    letter_path,
    request_history,
)
from reviews.selectors.metrics import metrics_for_period
from reviews.web import charts
from reviews.web.audit_tasks import verify_audit_chain, verify_job_create, verify_job_get

SEARCH_PAGE_SIZE = 50


def _auditor(view, methods):
    @wraps(view)
    @login_required
    @require_http_methods(methods)
    def wrapper(request, *args, **kwargs):
        prefetch_related_objects([request.user], "groups")
        if request.user.role not in AUDIT_ROLES:
            raise PermissionDenied("The audit pages are for auditors and plan administrators.")
        return view(request, *args, **kwargs)

    return wrapper


def auditor_page(view):
    return _auditor(require_safe(view), ["GET", "HEAD"])


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
    return render(
        request,
        "audit/history.html",
        {
            "history": history,
            "pa_request": pa_request,
            "family_label": _family_label(pa_request.procedure_family or NO_FAMILY),
        },
    )


@auditor_page
def audit_search(request):
    form = DeterminationSearchForm(request.GET)
    page = None
    requests = []
    if form.is_valid():
        filters = form.filters()
        queryset = determination_search(filters=filters)
        page = Paginator(queryset, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
        for determination in page:
            determination.family_label = _family_label(determination.request.procedure_family)
        # A reference or member id also finds requests with no determination yet.
        requests = list(
            audit_requests_matching(request_id=filters.request_id, member_id=filters.member_id)[
                :SEARCH_PAGE_SIZE
            ]
        )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/search.html",
        {"form": form, "page": page, "requests": requests, "query": query.urlencode()},
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
    context = {"form": form, "query": data.urlencode()}
    if form.is_valid():
        start, end = form.period()
        report = metrics_for_period(start=start, end=end)
        context.update(metrics_display(report))
    return render(request, "audit/metrics.html", {**context, "report": report})


OUTCOME_KEYS = [
    ("approved", "Approved"),
    ("partially_approved", "Partially approved"),
    ("denied", "Denied"),
]


def _family_label(family: str) -> str:
    from reviews.selectors.metrics import ALL_FAMILIES
    from reviews.selectors.queue import family_label

    if family == ALL_FAMILIES:
        return "All procedures"
    return family_label("" if family == NO_FAMILY else family)


def metrics_display(report) -> dict:
    """The report in words a compliance officer reads, and its two charts."""
    rows = []
    for row in report.rows:
        figures = row.as_dict()
        rows.append(
            {
                **figures,
                "family_label": _family_label(row.procedure_family),
                "urgency_label": row.urgency.capitalize(),
                "total": row.procedure_family == "all",
            }
        )
    decided = [r for r in rows if r["decided"]]
    return {
        "rows": rows,
        "outcome_chart": charts.stacked_rows(
            [
                {
                    "label": f"{r['family_label']}, {r['urgency_label'].lower()}",
                    "counts": {k: r[k] for k, _ in OUTCOME_KEYS},
                }
                for r in decided
            ],
            OUTCOME_KEYS,
            width=900,
        ),
        "time_chart": charts.bar_rows(
            [
                (
                    f"{r['family_label']}, {r['urgency_label'].lower()}",
                    r["median_hours_to_decision"] or 0,
                )
                for r in decided
            ],
            unit="h",
            width=900,
        ),
    }


# --- Verify the chain ---------------------------------------------------------------------------


def _verify_context(job_id: str, job: dict) -> dict:
    total = job.get("total")
    percent = round(100 * job["count"] / total) if total else (100 if job["state"] == "done" else 0)
    return {"job_id": job_id, "job": job, "result": job.get("result"), "percent": percent}


def audit_verify(request):
    """GET: the page, and with ?job= the progress or result of one verification. POST: start a
    verification (a Celery task, sent on commit) and follow it."""
    if request.method == "POST":
        job_id = verify_job_create(actor=request.user)
        transaction.on_commit(lambda: verify_audit_chain.delay(job_id))
        return redirect(f"{reverse('audit_verify')}?job={job_id}")
    job_id = request.GET.get("job", "")
    if not job_id:
        return render(request, "audit/verify.html", {"job": None})
    job = verify_job_get(job_id)
    if job is None:
        raise Http404("No such verification (they are kept for a day).")
    context = _verify_context(job_id, job)
    if request.htmx and job["state"] != "done":
        return render(request, "audit/_verify_progress.html", context)
    response = render(request, "audit/verify.html", context)
    if request.htmx:
        response["HX-Refresh"] = "true"  # finished: load the whole result page once
    return response


audit_verify = _auditor(audit_verify, ["GET", "HEAD", "POST"])
