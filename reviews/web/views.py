"""The reviewers' web pages: thin views over the queue selectors and the workflow services."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from criteria.models import Family
from notes.selectors import findings_for_request
from reviews import reference, services
from reviews.audit import audit_record
from reviews.errors import LaminaError
from reviews.letters import letter_context, letter_filename, letter_pdf, letter_viewed
from reviews.models import Determination, Status, Urgency
from reviews.selectors import dashboard as dashboard_selectors
from reviews.selectors.queue import (
    ACTING_ROLES,
    ANSWER_GROUPS,
    QueueFilters,
    case_get_for,
    case_related,
    latest_evaluation,
    queue_page_for,
    queue_row,
    queue_statuses_for,
)
from reviews.web import charts
from reviews.web.access import acting_reviewer, forbidden, reviewer_page
from reviews.web.actions import ACTIONS, actions_for, build_form, perform, summary
from reviews.web.case_summary import case_summary, criteria_display, earlier_requests
from reviews.web.clinical import clinical_sections, label

FAMILY_CHOICES = [(f.value, f.label) for f in Family if f != Family.GENERAL] + [
    ("none", "No Lamina policy")
]


# --- Queue --------------------------------------------------------------------------------------


@require_GET
@reviewer_page
def queue(request):
    filters = QueueFilters.from_query(request.GET)
    page = queue_page_for(user=request.user, filters=filters)
    statuses = queue_statuses_for(user=request.user)
    context = {
        "page": page,
        "filters": filters,
        "filter_query": filters.as_query(),
        "status_choices": [(s, Status(s).label) for s in statuses],
        "family_choices": FAMILY_CHOICES,
        "urgency_choices": Urgency.choices,
        "acting": request.user.role in ACTING_ROLES,
    }
    if request.htmx and request.htmx.target == "queue-results":
        return render(request, "reviews/_queue_results.html", context)
    return render(request, "reviews/queue.html", context)


def _back(request, fallback: str):
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback)


def _claim_or_release(request, request_id: int, service, done: str):
    pa_request = case_get_for(user=request.user, request_id=request_id)
    error = ""
    try:
        pa_request = service(pa_request=pa_request, actor=request.user)
    except LaminaError as exc:
        error = exc.message
    if request.htmx:
        pa_request = case_get_for(user=request.user, request_id=request_id)
        row = queue_row(pa_request=pa_request, user=request.user, error=error)
        return render(request, "reviews/_queue_row.html", {"row": row})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done.format(ref=pa_request.reference))
    return _back(request, reverse("queue"))


@require_POST
@acting_reviewer
def claim(request, request_id: int):
    return _claim_or_release(request, request_id, services.request_claim, "You hold {ref}.")


@require_POST
@acting_reviewer
def release(request, request_id: int):
    return _claim_or_release(request, request_id, services.request_release, "Released {ref}.")


# --- Case page ----------------------------------------------------------------------------------


def _case_context(request, pa_request) -> dict:
    evaluation = latest_evaluation(pa_request=pa_request)
    related = case_related(pa_request=pa_request)
    user = request.user
    attachments = list(pa_request.attachments.all())
    note_findings = findings_for_request(pa_request=pa_request)
    earlier = earlier_requests(pa_request)
    why = case_summary(
        pa_request=pa_request,
        evaluation=evaluation,
        note_findings=note_findings,
        attachments=attachments,
        earlier=earlier,
    )
    criteria = criteria_display(evaluation, why["contradicted"])
    row = queue_row(pa_request=pa_request, user=user)
    return {
        "pa_request": pa_request,
        "member": pa_request.member,
        "row": row,
        "diagnoses": [
            {"code": code, "description": reference.icd10_description(code)}
            for code in pa_request.diagnosis_codes
        ],
        "clinical": clinical_sections(pa_request.clinical),
        "service": clinical_sections(
            {k: v for k, v in (pa_request.service or {}).items() if k != "cpt_codes"}
        ),
        "evaluation": evaluation,
        "why": why,
        # Not met and insufficient information open; met and not applicable collapse to one
        # line each unless the notes contradict them.
        "criteria_groups": [
            {
                "answer": answer,
                "label": group_label,
                "results": [c for c in criteria if c.get("answer") == answer],
            }
            for answer, group_label in ANSWER_GROUPS
        ],
        "history_checks": [
            {**h, "label": label(str(h.get("check", "")))}
            for h in (evaluation.history_checks if evaluation else [])
        ],
        "documentation_checks": [
            {**d, "label": label(str(d.get("item", "")))}
            for d in (evaluation.documentation if evaluation else [])
        ],
        "note_findings": note_findings,
        "earlier": earlier,
        "actions": actions_for(user=user, pa_request=pa_request),
        "acting": user.role in ACTING_ROLES,
        "held_by_you": pa_request.assigned_to_id == user.pk,
        "held_by_other": bool(pa_request.assigned_to_id and pa_request.assigned_to_id != user.pk),
        **related,
    }


@require_GET
@reviewer_page
def case(request, request_id: int):
    pa_request = case_get_for(user=request.user, request_id=request_id)
    # DESIGN rule 5: every view of a patient's case is on the record, with where it came from.
    audit_record(
        action="request_viewed",
        subject=pa_request,
        actor=request.user,
        data={"page": "case"},
    )
    return render(request, "reviews/case.html", _case_context(request, pa_request))


# --- Actions ------------------------------------------------------------------------------------


def _posted_pairs(request) -> list[tuple[str, str]]:
    """The submitted fields, carried through the confirmation page as hidden inputs."""
    skip = {"csrfmiddlewaretoken", "confirmed"}
    return [(k, v) for k in request.POST if k not in skip for v in request.POST.getlist(k)]


@require_http_methods(["GET", "POST"])
@acting_reviewer
def action(request, request_id: int, name: str):
    chosen = ACTIONS.get(name)
    if chosen is None:
        raise Http404("No such action.")
    if request.user.role not in chosen.roles:
        return forbidden(request, f"Your role may not {chosen.label.lower()} a case.")
    pa_request = case_get_for(user=request.user, request_id=request_id)
    evaluation = latest_evaluation(pa_request=pa_request)
    context = {"pa_request": pa_request, "action": chosen, "evaluation": evaluation}
    if request.method == "GET":
        form = build_form(chosen, pa_request=pa_request, evaluation=evaluation)
        return render(request, "reviews/action.html", {**context, "form": form})

    form = build_form(chosen, pa_request=pa_request, evaluation=evaluation, data=request.POST)
    if not form.is_valid():
        return render(request, "reviews/action.html", {**context, "form": form}, status=400)
    if request.POST.get("confirmed") != "yes":
        return render(
            request,
            "reviews/confirm.html",
            {
                **context,
                "summary": [
                    {"label": label, "items": value, "text": ""}
                    if isinstance(value, list)
                    else {"label": label, "items": None, "text": str(value)}
                    for label, value in summary(chosen, form)
                ],
                "pairs": _posted_pairs(request),
            },
        )
    try:
        # A case held by another reviewer is refused by the services (request_transition).
        done = perform(chosen, form, pa_request=pa_request, actor=request.user)
    except LaminaError as exc:
        # Someone else decided first, the case moved on, or the service refused: say so plainly.
        for field, problems in exc.fields.items():
            if field in form.fields:
                for problem in problems:
                    form.add_error(field, problem)
        return render(
            request,
            "reviews/action.html",
            {**context, "form": form, "error": exc.message},
            status=exc.status,
        )
    messages.success(request, done)
    return redirect("case", request_id=pa_request.pk)


# --- Letters ------------------------------------------------------------------------------------


def _letter_determination(request, request_id: int, determination_id: int) -> Determination:
    pa_request = case_get_for(user=request.user, request_id=request_id)
    return get_object_or_404(
        Determination.objects.select_related(
            "request__member", "request__organization", "policy_version__policy"
        ),
        pk=determination_id,
        request=pa_request,
    )


@require_GET
@reviewer_page
def letter(request, request_id: int, determination_id: int):
    determination = _letter_determination(request, request_id, determination_id)
    letter_viewed(determination=determination, actor=request.user, fmt="html", channel="web")
    return render(
        request,
        "reviews/letter.html",
        {"letter": letter_context(determination), "pa_request": determination.request},
    )


@require_GET
@reviewer_page
def letter_download(request, request_id: int, determination_id: int):
    determination = _letter_determination(request, request_id, determination_id)
    context = letter_context(determination)
    body = letter_pdf(context)
    letter_viewed(determination=determination, actor=request.user, fmt="pdf", channel="web")
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{letter_filename(context)}"'
    return response


# --- Dashboard ----------------------------------------------------------------------------------


@require_GET
@reviewer_page
def dashboard(request):
    data = dashboard_selectors.dashboard_data()
    received = data["received"]
    compliance_rows = [
        {
            "label": f"{row['urgency'].capitalize()} ({row['percent_on_time']} % on time)"
            if row["percent_on_time"] is not None
            else f"{row['urgency'].capitalize()} (no decisions yet)",
            "counts": {"on_time": row["on_time"], "late": row["late"]},
        }
        for row in data["compliance"]
    ]
    context = {
        "data": data,
        "received_chart": charts.column_chart(
            [(d["day"].strftime("%b %d"), d["count"]) for d in received],
            width=1200,
            height=240,
            label_every=3,
        ),
        "shares_chart": charts.stacked_rows(
            data["shares"], list(dashboard_selectors.SHARES), width=1200
        ),
        "decision_chart": charts.column_chart(
            [(b["label"], b["count"]) for b in data["decision_times"]], height=200
        ),
        "compliance_chart": charts.stacked_rows(
            compliance_rows,
            [("on_time", "Decided on time"), ("late", "Decided late")],
            width=1200,
        ),
        "status_chart": charts.column_chart(
            [(s["label"], s["count"]) for s in data["by_status"]], height=200
        ),
        "received_total": sum(d["count"] for d in received),
    }
    return render(request, "reviews/dashboard.html", context)


# --- Sign-in ------------------------------------------------------------------------------------


def locked_out(request, original_response=None, credentials=None):
    """django-axes' lockout response (AXES_LOCKOUT_CALLABLE): a plain page, not a bare 429."""
    from django.conf import settings

    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request,
        "registration/locked_out.html",
        {"failure_limit": settings.AXES_FAILURE_LIMIT, "cooloff_minutes": minutes},
        status=429,
    )
