"""Forms for the reviewers' actions. They parse what was typed; the services decide what is
allowed (roles, statuses, reasons), and their errors are shown on the same form."""

from django import forms
from django.core.validators import MaxValueValidator
from django.utils import timezone


class ApproveForm(forms.Form):
    rationale = forms.CharField(
        label="Note for the record (optional)",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class EscalateForm(forms.Form):
    note = forms.CharField(
        label="Why does this case need a physician?",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class InformationForm(forms.Form):
    items = forms.MultipleChoiceField(
        label="What the provider must send", widget=forms.CheckboxSelectMultiple
    )
    extra = forms.CharField(
        label="Anything else (optional, one item)",
        required=False,
        max_length=300,
        help_text="For example: the radiologist's report of the October MRI.",
    )
    message = forms.CharField(
        label="Message to the provider",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, choices: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.choice_items = {c["key"]: c["item"] for c in choices}
        self.fields["items"].choices = [(c["key"], c["label"]) for c in choices]
        self.fields["items"].required = False

    def clean(self):
        data = super().clean()
        if not data.get("items") and not (data.get("extra") or "").strip():
            raise forms.ValidationError("Pick at least one item the provider must send.")
        return data

    def chosen_items(self) -> list[dict]:
        items = [self.choice_items[key] for key in self.cleaned_data.get("items") or []]
        extra = (self.cleaned_data.get("extra") or "").strip()
        if extra:
            items.append({"field": "other", "why": extra, "criterion": ""})
        return items


class _ReasonsMixin:
    def _set_reasons(self, criteria: list[dict]) -> None:
        self.criteria = {c["id"]: c for c in criteria}
        self.fields["reasons"].choices = [
            (
                c["id"],
                f"{c['id']}: {c['statement']}"
                + (" (insufficient information)" if c["answer"] != "not_met" else ""),
            )
            for c in criteria
        ]

    def chosen_reasons(self) -> list[dict]:
        return [
            {"criterion": cid, "statement": self.criteria[cid]["statement"]}
            for cid in self.cleaned_data.get("reasons") or []
        ]


class DenyForm(_ReasonsMixin, forms.Form):
    reasons = forms.MultipleChoiceField(
        label="Criteria not met (at least one)", widget=forms.CheckboxSelectMultiple
    )
    rationale = forms.CharField(
        label="Rationale, in words the member can read",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, criteria: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self._set_reasons(criteria)


class PartialForm(_ReasonsMixin, forms.Form):
    approved_cpt_codes = forms.MultipleChoiceField(
        label="Codes approved", widget=forms.CheckboxSelectMultiple
    )
    approved_levels = forms.MultipleChoiceField(
        label="Levels approved", widget=forms.CheckboxSelectMultiple, required=False
    )
    approved_units = forms.IntegerField(label="Units approved", min_value=1)
    reasons = forms.MultipleChoiceField(
        label="Criteria not met for the part not approved (at least one)",
        widget=forms.CheckboxSelectMultiple,
    )
    rationale = forms.CharField(
        label="Rationale, in words the member can read",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, criteria: list[dict], pa_request, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_reasons(criteria)
        self.fields["approved_cpt_codes"].choices = [(c, c) for c in pa_request.cpt_codes]
        levels = list(pa_request.service.get("levels") or [])
        self.fields["approved_levels"].choices = [(lv, lv) for lv in levels]
        units = int(pa_request.service.get("units") or 1)
        self.fields["approved_units"].validators.append(MaxValueValidator(units))
        self.fields["approved_units"].widget.attrs["max"] = units
        self.fields["approved_units"].help_text = f"Requested: {units}."
        if not self.is_bound:
            self.initial.setdefault("approved_units", units)
            self.initial.setdefault("approved_cpt_codes", pa_request.cpt_codes)
            self.initial.setdefault("approved_levels", levels)


class PeerToPeerForm(forms.Form):
    counterpart = forms.CharField(label="Spoke with (name and role)", max_length=200)
    occurred_at = forms.DateTimeField(
        label="When",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    text = forms.CharField(
        label="Summary of the conversation",
        max_length=8000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault(
                "occurred_at", timezone.localtime().replace(second=0, microsecond=0)
            )
