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


ANSWER_WORDS = {
    "not_met": "not met",
    "insufficient_information": "insufficient information",
    "met": "engine found met",
    "not_applicable": "not applicable",
}


class _ReasonsMixin:
    """Reasons: criteria of the evaluated policy version (any answer; the physician's note says
    why), and a written reason with its source where no criterion fits. The service checks
    them again (reviews.services.decisions.reasons_validate)."""

    def _add_reason_fields(self, criteria: list[dict], sources: list[dict]) -> None:
        self.criteria = {c["id"]: c for c in criteria}
        self.fields["reasons"] = forms.MultipleChoiceField(
            label="Criteria not met",
            required=False,
            widget=forms.CheckboxSelectMultiple,
            choices=[
                (
                    c["id"],
                    f"{c['id']}: {c['statement']} ({ANSWER_WORDS.get(c.get('answer'), c.get('answer'))})",
                )
                for c in criteria
            ],
            help_text=(
                "Any criterion of the policy the case was evaluated under. If the engine found it "
                "met, say in the note below why you judge otherwise."
                if criteria
                else "No Lamina policy applied to this case: write the reason below."
            ),
        )
        self.fields["reason_note"] = forms.CharField(
            label="Your note on the criteria chosen (required for a criterion the engine found met)",
            required=False,
            max_length=2000,
            widget=forms.Textarea(attrs={"rows": 2}),
        )
        self.fields["written_reason"] = forms.CharField(
            label="Written reason, where no criterion fits (in words the member can read)",
            required=False,
            max_length=2000,
            widget=forms.Textarea(attrs={"rows": 2}),
        )
        self.fields["written_source"] = forms.ChoiceField(
            label="Source of the written reason",
            required=False,
            choices=[("", "Choose the evidence it rests on")]
            + [(s["key"], s["label"]) for s in sources],
        )
        for name in ("reasons", "reason_note", "written_reason", "written_source", "rationale"):
            self.fields[name] = self.fields.pop(name)

    def clean(self):
        data = super().clean()
        written = (data.get("written_reason") or "").strip()
        if not data.get("reasons") and not written:
            raise forms.ValidationError(
                "Name at least one reason: a criterion, or a written reason with its source."
            )
        if written and not data.get("written_source"):
            self.add_error("written_source", "Choose the evidence the written reason rests on.")
        return data

    def chosen_reasons(self) -> list[dict]:
        data = self.cleaned_data
        note = (data.get("reason_note") or "").strip()
        reasons = [
            {"criterion": cid, "statement": self.criteria[cid]["statement"], "note": note}
            for cid in data.get("reasons") or []
        ]
        written = (data.get("written_reason") or "").strip()
        if written:
            reasons.append(
                {"criterion": "", "statement": written, "source": data.get("written_source")}
            )
        return reasons

    def reason_lines(self) -> list[str]:
        lines = [
            f"{r['criterion']}: {r['statement']}" for r in self.chosen_reasons() if r["criterion"]
        ]
        note = (self.cleaned_data.get("reason_note") or "").strip()
        if note and lines:
            lines.append(f"Your note: {note}")
        written = (self.cleaned_data.get("written_reason") or "").strip()
        if written:
            source = dict(self.fields["written_source"].choices).get(
                self.cleaned_data.get("written_source"), ""
            )
            lines.append(f"{written} (source: {source})")
        return lines


class DenyForm(_ReasonsMixin, forms.Form):
    rationale = forms.CharField(
        label="Rationale, in words the member can read",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, criteria: list[dict], sources: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self._add_reason_fields(criteria, sources)


class PartialForm(_ReasonsMixin, forms.Form):
    approved_cpt_codes = forms.MultipleChoiceField(
        label="Codes approved", widget=forms.CheckboxSelectMultiple
    )
    approved_levels = forms.MultipleChoiceField(
        label="Levels approved", widget=forms.CheckboxSelectMultiple, required=False
    )
    approved_units = forms.IntegerField(label="Units approved", min_value=1)
    rationale = forms.CharField(
        label="Rationale, in words the member can read",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, criteria: list[dict], sources: list[dict], pa_request, **kwargs):
        super().__init__(*args, **kwargs)
        self._add_reason_fields(criteria, sources)
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
