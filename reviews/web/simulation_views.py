"""The policy team's simulation pages: replay past requests against a version before go-live.

Plan administrators (who create and activate policy versions in the admin) start a simulation
here; the replay runs as a Celery task and the page follows its progress.
"""

import csv
from datetime import timedelta

from django import forms
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from criteria.models import PolicyVersion
from reviews.models import PolicySimulation, Role
from reviews.services.simulation import SimulationError, simulation_create
from reviews.web import charts
from reviews.web.access import _web_user

LABELS = {
    "approve": "Approve",
    "pend_missing_information": "Pend for information",
    "nurse_review": "Nurse review",
    "physician_review": "Physician review",
}
CHART_KEYS = [
    ("approved", "Approve"),
    ("pended", "Pend for information"),
    ("in_review", "Nurse review"),
    ("physician_review", "Physician review"),
]
_CHART_KEY = dict(zip(LABELS, (k for k, _ in CHART_KEYS), strict=True))


def policy_team(view):
    return _web_user(
        view,
        {Role.ADMIN},
        "Policy simulations are for the plan's administrators, who manage the criteria versions.",
    )


class SimulationForm(forms.Form):
    version = forms.ModelChoiceField(
        queryset=PolicyVersion.objects.select_related("policy").exclude(
            status=PolicyVersion.Status.RETIRED
        ),
        label="Policy version",
        help_text="A draft (made in the admin with “Copy as new draft version”) or the active one.",
    )
    since = forms.DateField(label="Received from", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="Received to", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("The period's start is after its end.")
        return data


@policy_team
@require_http_methods(["GET", "POST"])
def simulations(request):
    today = timezone.localdate()
    form = SimulationForm(
        request.POST or None,
        initial={"since": today - timedelta(days=90), "until": today},
    )
    if request.method == "POST" and form.is_valid():
        from reviews.tasks import run_policy_simulation

        try:
            with transaction.atomic():
                simulation = simulation_create(
                    version=form.cleaned_data["version"],
                    since=form.cleaned_data["since"],
                    until=form.cleaned_data["until"],
                    actor=request.user,
                )
                transaction.on_commit(lambda: run_policy_simulation.delay(simulation.pk))
        except SimulationError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("simulation", simulation_id=simulation.pk)
    status = 400 if request.method == "POST" else 200
    recent = PolicySimulation.objects.select_related("version__policy")[:25]
    return render(
        request,
        "reviews/simulation/list.html",
        {"form": form, "simulations": recent},
        status=status,
    )


def _simulation(simulation_id: int) -> PolicySimulation:
    simulation = PolicySimulation.objects.filter(pk=simulation_id).first()
    if simulation is None:
        raise Http404("No such simulation.")
    return simulation


def _context(simulation: PolicySimulation) -> dict:
    context = {"simulation": simulation, "labels": LABELS}
    result = simulation.result
    if simulation.total:
        context["percent"] = round(100 * simulation.done / simulation.total)
    if result:
        context["rows"] = [
            {
                "key": key,
                "label": label,
                "before": result["before"][key],
                "after": result["after"][key],
            }
            for key, label in LABELS.items()
        ]
        context["table"] = [
            {**cell, "from_label": LABELS[cell["from"]], "to_label": LABELS[cell["to"]]}
            for cell in result["table"]
        ]
        context["chart"] = charts.stacked_rows(
            [
                {
                    "label": f"{when.capitalize()} ({result[when]['approve']} approved)",
                    "counts": {_CHART_KEY[k]: v for k, v in result[when].items()},
                }
                for when in ("before", "after")
            ],
            CHART_KEYS,
            width=900,
        )
        context["changes"] = [
            {**c, "from_label": LABELS[c["from"]], "to_label": LABELS[c["to"]]}
            for c in result["changes"][:500]
        ]
    return context


@policy_team
def simulation(request, simulation_id: int):
    simulation = _simulation(simulation_id)
    template = (
        "reviews/simulation/_progress.html"
        if request.htmx
        and simulation.state in {PolicySimulation.State.QUEUED, PolicySimulation.State.RUNNING}
        else "reviews/simulation/detail.html"
    )
    response = render(request, template, _context(simulation))
    if request.htmx and simulation.state not in {
        PolicySimulation.State.QUEUED,
        PolicySimulation.State.RUNNING,
    }:
        response["HX-Refresh"] = "true"  # finished: load the whole result page once
    return response


@policy_team
def simulation_csv(request, simulation_id: int):
    simulation = _simulation(simulation_id)
    if not simulation.result:
        raise Http404("The simulation has not finished.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="simulation-{simulation.pk}.csv"'
    writer = csv.writer(response)
    writer.writerow(["request", "received_on", "from", "to", "criteria_changed"])
    for change in simulation.result["changes"]:
        writer.writerow(
            [
                change["reference"],
                change["received_on"],
                change["from"],
                change["to"],
                "; ".join(f"{c['id']}: {c['from']} -> {c['to']}" for c in change["criteria"]),
            ]
        )
    return response
