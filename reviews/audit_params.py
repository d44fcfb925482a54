"""Query parameters of the auditor views, shared by the web pages and the API."""

from datetime import date

from django import forms

from reviews.errors import ValidationFailed
from reviews.models import Determination, Organization, Outcome
from reviews.selectors.audit import DeterminationFilters, request_id_from_reference
from reviews.selectors.metrics import NO_FAMILY

# Periods are whole days with an end bound one day later: keep them far from date.max.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


class DayField(forms.DateField):
    """A calendar day, picked with the browser's date picker (an ISO yyyy-mm-dd value)."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

    def validate(self, value):
        super().validate(value)
        if value and not EARLIEST <= value <= LATEST:
            raise forms.ValidationError(
                f"Between {EARLIEST.isoformat()} and {LATEST.isoformat()}.", code="out_of_range"
            )


def _families() -> list[tuple[str, str]]:
    from criteria.models import Family

    return [(v, label) for v, label in Family.choices if v != Family.GENERAL] + [
        (NO_FAMILY, "No Lamina policy")
    ]


class DeterminationSearchForm(forms.Form):
    request = forms.CharField(
        required=False,
        max_length=30,
        label="Request reference",
        widget=forms.TextInput(attrs={"placeholder": "PA-00000012"}),
    )
    member_id = forms.CharField(required=False, max_length=64, label="Member id")
    date_from = DayField(required=False, label="Decided from")
    date_to = DayField(required=False, label="to")
    outcome = forms.ChoiceField(required=False, choices=[("", "Any outcome"), *Outcome.choices])
    kind = forms.ChoiceField(
        required=False, choices=[("", "Initial and appeal"), *Determination.Kind.choices]
    )
    procedure_family = forms.ChoiceField(required=False, label="Procedure family")
    reviewer = forms.CharField(required=False, max_length=150, label="Reviewer (username)")
    organization = forms.ModelChoiceField(
        required=False,
        queryset=Organization.objects.order_by("name"),
        empty_label="Any provider organization",
        label="Provider organization",
    )
    provider_npi = forms.RegexField(
        required=False, regex=r"^\d{10}$", label="Requesting provider NPI"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["procedure_family"].choices = [("", "Any family"), *_families()]

    def clean_request(self):
        text = (self.cleaned_data.get("request") or "").replace("\x00", "").strip()
        if text and request_id_from_reference(text) is None:
            raise forms.ValidationError("A reference looks like PA-00000012 (or just 12).")
        return text

    def clean_member_id(self):
        return (self.cleaned_data.get("member_id") or "").replace("\x00", "").strip()

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end of the range is before its start.")
        return data

    def filters(self) -> DeterminationFilters:
        data = self.cleaned_data
        organization = data.get("organization")
        return DeterminationFilters(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            outcome=data.get("outcome") or "",
            kind=data.get("kind") or "",
            procedure_family=data.get("procedure_family") or "",
            reviewer=(data.get("reviewer") or "").strip(),
            organization=organization.pk if organization else None,
            provider_npi=data.get("provider_npi") or "",
            request_id=request_id_from_reference(data.get("request") or ""),
            member_id=data.get("member_id") or "",
        )


class PeriodForm(forms.Form):
    start = DayField(label="From")
    end = DayField(label="to (inclusive)")

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", "The end of the period is before its start.")
        return data

    def period(self) -> tuple[date, date]:
        return self.cleaned_data["start"], self.cleaned_data["end"]


def form_errors(form: forms.Form) -> dict[str, list[str]]:
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


def valid_or_400(form: forms.Form) -> forms.Form:
    """The API's use of these forms: invalid parameters are a 400 with field errors."""
    if not form.is_valid():
        raise ValidationFailed("The query has invalid parameters.", fields=form_errors(form))
    return form
