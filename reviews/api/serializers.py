"""The provider API's output shapes: the request, its criteria, determinations and links.

The input side, the intake contract, is reviews.contract (REST and FHIR share it).
"""

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reviews.models import (
    OPEN_STATUSES,
    ClockState,
    Determination,
    LineOfBusiness,
    Outcome,
    PriorAuthRequest,
    Role,
    Status,
    Urgency,
)
from reviews.services.appeals import APPEALABLE, appeal_window_closes_at


class ErrorOutput(serializers.Serializer):
    code = serializers.CharField(help_text="A machine-readable error code, e.g. `invalid`.")
    message = serializers.CharField(help_text="What went wrong, in plain language.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Errors per field path, e.g. `clinical.pain_score_nrs` or "
        "`clinical.imaging[0].date`.",
    )


class ServiceLineOutput(serializers.Serializer):
    sequence = serializers.IntegerField(help_text="The line's position in the request, from 1.")
    cpt_code = serializers.CharField(help_text="The CPT code.")
    description = serializers.CharField(help_text="Lamina's own short description of the code.")
    family = serializers.CharField(
        help_text="The procedure family of the code; empty when no Lamina policy covers it."
    )
    is_add_on = serializers.BooleanField(help_text="An add-on code (needs its primary code).")


class CitationOutput(serializers.Serializer):
    sources = serializers.ListField(
        child=serializers.CharField(),
        help_text="Ids of the policies and guidelines the criterion comes from (e.g. `L39240`).",
    )
    location = serializers.CharField(help_text="Where in the sources, when given.")
    quote = serializers.CharField(help_text="The words of the source, when quoted.")


class CriterionResultOutput(serializers.Serializer):
    id = serializers.CharField(help_text="The criterion id, e.g. `ESI-05`.")
    answer = serializers.CharField(
        help_text="met, not_met, insufficient_information (a fact it needs is unknown) or "
        "not_applicable (waived by another criterion)."
    )
    decisive = serializers.BooleanField(
        help_text="Whether the criterion decides the outcome (advisory ones only inform)."
    )
    statement = serializers.CharField(help_text="The criterion in plain language.")
    citation = CitationOutput(help_text="Where the criterion comes from.")
    explanation = serializers.CharField(help_text="Why it answered as it did, in one line.")


class ConsistencyFindingOutput(serializers.Serializer):
    check = serializers.CharField(help_text="The consistency check, e.g. `levels_imaging`.")
    statement = serializers.CharField(help_text="The contradiction, in plain words.")
    compared = serializers.DictField(help_text="The values compared, by what they are.")
    severity = serializers.CharField(
        help_text="`red_flag` (a physician reviews) or `review` (a reviewer reads it)."
    )


class EligibleReasonOutput(serializers.Serializer):
    criterion = serializers.CharField(help_text="The criterion (or timed check) time cures.")
    statement = serializers.CharField(help_text="What it asks.")
    facts = serializers.DictField(help_text="The facts it read at the evaluation.")
    threshold = serializers.CharField(help_text="The threshold, in the engine's notation.")


class MissingInformationOutput(serializers.Serializer):
    field = serializers.CharField(help_text="The request field to send, e.g. `clinical.imaging`.")
    why = serializers.CharField(help_text="Why it is needed.")
    criterion = serializers.CharField(help_text="The criterion that needs it, when one does.")


class InformationAnswerOutput(serializers.Serializer):
    message = serializers.CharField(help_text="The provider's message with the answer.")
    clinical_fields = serializers.ListField(
        child=serializers.CharField(), help_text="The clinical fields the answer changed."
    )
    attachments = serializers.IntegerField(help_text="How many documents the answer sent.")


class InformationRequestOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The request for information's id.")
    requested_at = serializers.DateTimeField(help_text="When it was asked.")
    requested_by_role = serializers.ChoiceField(
        choices=Role.choices,
        help_text="Who asked: engine (the automated checks), nurse or physician reviewer.",
    )
    message = serializers.CharField(
        help_text="The reviewer's message to the provider, in their words; empty when none."
    )
    items = MissingInformationOutput(many=True, help_text="What was asked for.")
    answered_at = serializers.DateTimeField(
        allow_null=True, help_text="When the provider answered; null while open."
    )
    answer = InformationAnswerOutput(
        allow_null=True, help_text="The provider's answer, once given."
    )


class DeterminationReasonOutput(serializers.Serializer):
    criterion = serializers.CharField(
        help_text="The criterion the decision rests on, e.g. `FU-03`; empty for a reason written "
        "by the physician where no criterion fits."
    )
    statement = serializers.CharField(
        help_text="The criterion in plain language, or the physician's written reason."
    )
    note = serializers.CharField(
        help_text="The physician's note on the criterion (why a criterion the checks found met "
        "is not); empty when none."
    )
    source = serializers.CharField(
        help_text="For a written reason: the evidence it rests on (a note conflict, a history "
        "check, the records, or no policy covering the codes); empty for a criterion."
    )


def determination_reasons(determination) -> list[dict]:
    """A determination's reasons as the API shows them (DeterminationReasonOutput)."""
    return [
        {
            "criterion": str(r.get("criterion") or ""),
            "statement": str(r.get("statement") or ""),
            "note": str(r.get("note") or ""),
            "source": str(r.get("source_label") or ""),
        }
        for r in determination.reasons or []
        if isinstance(r, dict)
    ]


class LetterFindingOutput(serializers.Serializer):
    fact = serializers.CharField(help_text="What the criterion looked at, in words.")
    found = serializers.CharField(help_text="What the records showed.")
    required = serializers.CharField(help_text="What the criterion asks for; empty when unknown.")


class LetterDocumentOutput(serializers.Serializer):
    id = serializers.CharField(help_text="The source's id, e.g. the LCD `L39240`.")
    title = serializers.CharField(help_text="The source's title.")
    url = serializers.URLField(help_text="Where to read the source.")


class LetterReasonOutput(serializers.Serializer):
    criterion = serializers.CharField(
        help_text="The criterion, e.g. `ESI-05`; empty for a reason the physician wrote."
    )
    statement = serializers.CharField(
        help_text="The criterion in plain language, or the physician's written reason."
    )
    note = serializers.CharField(help_text="The physician's note on it; empty when none.")
    findings = LetterFindingOutput(
        many=True, help_text="For a criterion: each fact read, what was found, what is required."
    )
    documents = LetterDocumentOutput(
        many=True, help_text="For a criterion: the public sources it comes from, LCDs first."
    )
    location = serializers.CharField(help_text="Where in the sources; empty when not given.")
    source = serializers.CharField(
        help_text="For a written reason: where its evidence is, in words; empty for a criterion."
    )


class PlanContactOutput(serializers.Serializer):
    name = serializers.CharField(help_text="The health plan's name.")
    phone = serializers.CharField(help_text="The phone number to call.")
    tty = serializers.CharField(help_text="The TTY number for the deaf and hard of hearing.")
    address = serializers.CharField(help_text="Where to write.")


class DeterminationOutput(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[("initial", "initial"), ("appeal", "appeal")],
        help_text="initial determination or appeal decision.",
    )
    outcome = serializers.ChoiceField(choices=Outcome.choices, help_text="The decision.")
    authorization_number = serializers.CharField(
        allow_null=True, help_text="The authorization number when something was approved."
    )
    approved_cpt_codes = serializers.ListField(
        child=serializers.CharField(), help_text="The CPT codes approved."
    )
    approved_levels = serializers.ListField(
        child=serializers.CharField(), help_text="The levels approved."
    )
    approved_units = serializers.IntegerField(allow_null=True, help_text="The units approved.")
    valid_from = serializers.DateField(
        allow_null=True, help_text="First day the authorization is valid."
    )
    valid_to = serializers.DateField(
        allow_null=True, help_text="Last day the authorization is valid."
    )
    reasons = serializers.SerializerMethodField(
        help_text="For a denial or partial approval: the criteria not met and the written reasons."
    )
    rationale = serializers.CharField(help_text="The reviewer's explanation in plain language.")
    policy_version = serializers.SerializerMethodField(
        help_text="The criteria policy version the decision used, e.g. `spinal_fusion/baseline/v1`."
    )
    decided_by_role = serializers.ChoiceField(
        choices=Role.choices, help_text="Who decided: engine, nurse, physician or provider."
    )
    decided_at = serializers.DateTimeField(help_text="When it was decided.")
    appeal_result = serializers.CharField(
        help_text="For an appeal decision: upheld or overturned; empty otherwise."
    )

    @extend_schema_field(DeterminationReasonOutput(many=True))
    def get_reasons(self, determination) -> list[dict]:
        return determination_reasons(determination)

    def get_policy_version(self, determination) -> str | None:
        return determination.evaluation_snapshot.get("policy_version") or (
            determination.policy_version.label if determination.policy_version_id else None
        )


class RequestLinksOutput(serializers.Serializer):
    self = serializers.URLField(help_text="This request.")
    information = serializers.URLField(
        allow_null=True,
        help_text="Where to answer the request for information (while pending_information).",
    )
    withdraw = serializers.URLField(
        allow_null=True, help_text="Where to withdraw the request (while it is open)."
    )
    letter = serializers.URLField(
        allow_null=True,
        help_text="The letter of the latest determination (JSON; add `?format=pdf` for the PDF), "
        "once the request is decided.",
    )
    appeal = serializers.URLField(
        allow_null=True,
        help_text="Where to appeal (POST) a denial or partial approval, while the appeal window "
        "is open and no appeal was decided.",
    )


def _url(context: dict, name: str, pk: int, **kwargs) -> str:
    path = reverse(name, kwargs={"request_id": pk, **kwargs})
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


def _latest_determination(pa_request: PriorAuthRequest) -> Determination | None:
    # Read from the prefetched determinations when the list prefetched them: no query per row.
    determinations = list(pa_request.determinations.all())
    return max(determinations, key=lambda d: (d.decided_at, d.pk), default=None)


def _appealable(pa_request: PriorAuthRequest, determination: Determination | None) -> bool:
    """The rule appeal_file applies: an initial adverse determination inside its window."""
    return (
        pa_request.status in APPEALABLE
        and determination is not None
        and determination.outcome in {Outcome.DENIED, Outcome.PARTIALLY_APPROVED}
        and determination.kind == Determination.Kind.INITIAL
        and timezone.now() <= appeal_window_closes_at(determination)
    )


def request_links(pa_request: PriorAuthRequest, context: dict) -> dict:
    determination = _latest_determination(pa_request)
    return {
        "self": _url(context, "api-request-detail", pa_request.pk),
        "information": (
            _url(context, "api-request-information", pa_request.pk)
            if pa_request.status == Status.PENDING_INFORMATION
            else None
        ),
        "withdraw": (
            _url(context, "api-request-withdraw", pa_request.pk)
            if pa_request.status in OPEN_STATUSES
            else None
        ),
        "letter": (
            _url(context, "api-letter", pa_request.pk, determination_id=determination.pk)
            if determination is not None
            else None
        ),
        "appeal": (
            _url(context, "api-request-appeal", pa_request.pk)
            if _appealable(pa_request, determination)
            else None
        ),
    }


class RequestListOutput(serializers.Serializer):
    """One line of the provider's list: where each request stands, without clinical data."""

    id = serializers.IntegerField(help_text="Lamina's id of the request.")
    reference = serializers.CharField(help_text="The request's reference, e.g. `PA-00000012`.")
    external_id = serializers.CharField(help_text="The provider's own reference.")
    status = serializers.ChoiceField(choices=Status.choices, help_text="Where the request stands.")
    urgency = serializers.ChoiceField(choices=Urgency.choices, help_text="standard or expedited.")
    procedure_family = serializers.CharField(
        help_text="The procedure family; empty when no Lamina policy covers the codes."
    )
    recommendation = serializers.CharField(
        help_text="The engine's recommendation once the checks ran; empty before."
    )
    received_at = serializers.DateTimeField(help_text="When Lamina received the request.")
    due_at = serializers.DateTimeField(help_text="When the decision is due.")
    clock_state = serializers.ChoiceField(
        choices=ClockState.choices, help_text="on_time, at_risk or overdue."
    )
    decided_at = serializers.DateTimeField(
        allow_null=True, help_text="When the request was decided, if it was."
    )
    links = serializers.SerializerMethodField(help_text="Where to go next.")

    @extend_schema_field(RequestLinksOutput)
    def get_links(self, pa_request) -> dict:
        return request_links(pa_request, self.context)


class RequestListPageOutput(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many requests match.")
    next = serializers.URLField(allow_null=True, help_text="The next page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, if any.")
    results = RequestListOutput(many=True, help_text="This page of requests, newest first.")


def _citation(value) -> dict:
    value = value if isinstance(value, dict) else {"location": str(value or "")}
    sources = value.get("sources") or []
    return {
        "sources": [str(s) for s in (sources if isinstance(sources, list) else [sources])],
        "location": str(value.get("location") or ""),
        "quote": str(value.get("quote") or ""),
    }


class RequestDetailOutput(RequestListOutput):
    """The request as the provider may see it: status, what the engine found, the decision."""

    line_of_business = serializers.ChoiceField(
        choices=LineOfBusiness.choices, help_text="The line of business."
    )
    member_id = serializers.CharField(
        source="member.member_id", help_text="The member's identifier."
    )
    requesting_provider_npi = serializers.CharField(help_text="The requesting clinician's NPI.")
    service_lines = ServiceLineOutput(
        source="lines", many=True, help_text="The CPT lines with Lamina's descriptions."
    )
    levels = serializers.SerializerMethodField(help_text="The levels requested.")
    diagnosis_codes = serializers.ListField(
        child=serializers.CharField(), help_text="The ICD-10-CM codes."
    )
    criteria = serializers.SerializerMethodField(
        help_text="The criteria results of the latest evaluation (empty before the checks ran)."
    )
    consistency = serializers.SerializerMethodField(
        help_text="Contradictions the consistency checks found among the request's facts "
        "(levels, sides, regions, dates, scores); any one keeps the request from automatic "
        "approval (empty before the checks ran)."
    )
    missing_information = serializers.SerializerMethodField(
        help_text="What the provider must send: the field, why, and the criterion; the reviewer's "
        "message is in `information_requests`."
    )
    information_requests = serializers.SerializerMethodField(
        help_text="Every request for information on this request, oldest first: what was asked, "
        "the reviewer's message, and the provider's answer once given."
    )
    determination = serializers.SerializerMethodField(
        help_text="The latest determination, or null while there is none."
    )
    eligible_on = serializers.SerializerMethodField(
        help_text="When only time keeps the request from approval (days of care, months of pain, "
        "the interval since the last procedure): the earliest date it would qualify if its facts "
        "stay as they are. Null otherwise. Ask for a recheck on that date with POST "
        "`recheck/`."
    )
    eligible_on_reasons = serializers.SerializerMethodField(
        help_text="The criteria (or timed checks) that date cures, each with the facts read and "
        "the threshold."
    )

    def _latest_evaluation(self, pa_request):
        cache = self.context.setdefault("_latest_evaluation", {})
        if pa_request.pk not in cache:
            cache[pa_request.pk] = pa_request.evaluations.order_by("-round").first()
        return cache[pa_request.pk]

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_eligible_on(self, pa_request) -> str | None:
        evaluation = self._latest_evaluation(pa_request)
        if evaluation is None or evaluation.eligible_on is None:
            return None
        return evaluation.eligible_on.isoformat()

    @extend_schema_field(EligibleReasonOutput(many=True))
    def get_eligible_on_reasons(self, pa_request) -> list[dict]:
        evaluation = self._latest_evaluation(pa_request)
        if evaluation is None:
            return []
        return [
            {
                "criterion": str(item.get("criterion") or item.get("check") or ""),
                "statement": str(item.get("statement") or ""),
                "facts": dict(item.get("facts") or {}),
                "threshold": str(item.get("threshold") or ""),
            }
            for item in evaluation.eligible_on_reasons or []
            if isinstance(item, dict)
        ]

    def get_levels(self, pa_request) -> list[str]:
        return list(pa_request.service.get("levels") or [])

    @extend_schema_field(CriterionResultOutput(many=True))
    def get_criteria(self, pa_request) -> list[dict]:
        evaluation = self._latest_evaluation(pa_request)
        if evaluation is None:
            return []
        return [
            {
                "id": str(item.get("id") or ""),
                "answer": str(item.get("answer") or ""),
                "decisive": bool(item.get("decisive")),
                "statement": str(item.get("statement") or ""),
                "citation": _citation(item.get("citation")),
                "explanation": str(item.get("explanation") or ""),
            }
            for item in evaluation.trace or []
            if isinstance(item, dict)
        ]

    @extend_schema_field(ConsistencyFindingOutput(many=True))
    def get_consistency(self, pa_request) -> list[dict]:
        evaluation = self._latest_evaluation(pa_request)
        if evaluation is None:
            return []
        return [
            {
                "check": str(item.get("check") or ""),
                "statement": str(item.get("statement") or ""),
                "compared": dict(item.get("compared") or {}),
                "severity": str(item.get("severity") or ""),
            }
            for item in evaluation.consistency or []
            if isinstance(item, dict)
        ]

    @extend_schema_field(MissingInformationOutput(many=True))
    def get_missing_information(self, pa_request) -> list[dict]:
        return [
            {
                "field": str(item.get("field") or ""),
                "why": str(item.get("why") or ""),
                "criterion": str(item.get("criterion") or ""),
            }
            for item in pa_request.missing_information or []
            if isinstance(item, dict)
        ]

    @extend_schema_field(InformationRequestOutput(many=True))
    def get_information_requests(self, pa_request) -> list[dict]:
        rows = []
        for info in pa_request.information_requests.order_by("requested_at", "pk"):
            answer = info.answer if isinstance(info.answer, dict) else None
            rows.append(
                {
                    "id": info.pk,
                    "requested_at": info.requested_at,
                    "requested_by_role": info.requested_by_role,
                    "message": info.message or "",
                    "items": [
                        {
                            "field": str(item.get("field") or ""),
                            "why": str(item.get("why") or ""),
                            "criterion": str(item.get("criterion") or ""),
                        }
                        for item in info.items or []
                        if isinstance(item, dict)
                    ],
                    "answered_at": info.answered_at,
                    "answer": (
                        {
                            "message": str(answer.get("message") or ""),
                            "clinical_fields": [
                                str(f) for f in answer.get("clinical_fields") or []
                            ],
                            "attachments": int(answer.get("attachments") or 0),
                        }
                        if info.answered_at and answer is not None
                        else None
                    ),
                }
            )
        return InformationRequestOutput(rows, many=True).data

    @extend_schema_field(DeterminationOutput(allow_null=True))
    def get_determination(self, pa_request) -> dict | None:
        determination = (
            pa_request.determinations.select_related("policy_version__policy")
            .order_by("-decided_at", "-pk")
            .first()
        )
        return DeterminationOutput(determination).data if determination else None
