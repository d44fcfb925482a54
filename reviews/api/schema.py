"""OpenAPI shapes of the letters, appeal and audit endpoints, which render plain dicts.

These serializers only describe what reviews/api/{letters,appeals,audit}.py return; nothing
validates or renders through them. Each names every key the view writes, so the schema at
/api/schema/ is the contract an integrator codes against.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from reviews import reference
from reviews.api.serializers import (
    ErrorOutput,
    LetterReasonOutput,
    MissingInformationOutput,
    PlanContactOutput,
)
from reviews.models import (
    Appeal,
    Determination,
    LineOfBusiness,
    Outcome,
    Recommendation,
    ReviewNote,
    Role,
    Status,
    Urgency,
)
from reviews.selectors.audit import EXPORT_HEADER, NO_FAMILY
from reviews.selectors.metrics import ALL_FAMILIES, CSV_HEADER

CSV = "text/csv"
PDF = "application/pdf"
JSON = "application/json"


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorOutput, description=description)


def json_objects(help_text: str, **kwargs) -> serializers.ListField:
    """A list of JSON objects stored as the engine or reviewer wrote them."""
    return serializers.ListField(child=serializers.DictField(), help_text=help_text, **kwargs)


def strings(help_text: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(), help_text=help_text)


# --- Letters --------------------------------------------------------------------------------------


class LetterLinksOutput(serializers.Serializer):
    self = serializers.URLField(help_text="The letter as JSON.")
    pdf = serializers.URLField(help_text="The letter as a PDF (`?format=pdf`).")


class LetterSummaryOutput(serializers.Serializer):
    determination_id = serializers.IntegerField(help_text="The determination the letter is for.")
    kind = serializers.ChoiceField(
        choices=Determination.Kind.choices,
        help_text="initial determination or appeal decision.",
    )
    outcome = serializers.ChoiceField(choices=Outcome.choices, help_text="The decision.")
    decided_at = serializers.DateTimeField(help_text="When it was decided.")
    links = LetterLinksOutput(help_text="Where to read the letter.")


class LetterListOutput(serializers.Serializer):
    request_id = serializers.IntegerField(help_text="Lamina's id of the request.")
    reference = serializers.CharField(help_text="The request's reference, e.g. `PA-00000012`.")
    results = LetterSummaryOutput(
        many=True, help_text="One letter per determination, oldest first."
    )


class LetterMemberOutput(serializers.Serializer):
    name = serializers.CharField(help_text="The member's given and family name.")
    member_id = serializers.CharField(help_text="The health plan's member identifier.")


class LetterProviderOutput(serializers.Serializer):
    name = serializers.CharField(help_text="The requesting clinician's name.")
    npi = serializers.CharField(help_text="The requesting clinician's NPI.")
    organization = serializers.CharField(help_text="The provider organization's name.")


class LetterServiceOutput(serializers.Serializer):
    code = serializers.CharField(help_text="A CPT code of the request.")
    description = serializers.CharField(
        help_text="Lamina's description of the code, or `Service not covered by a policy`."
    )
    approved = serializers.BooleanField(help_text="Whether this code is authorized.")


class LetterRequestedOutput(serializers.Serializer):
    region = serializers.CharField(help_text="The spinal region requested; empty when not sent.")
    levels = strings("The levels requested.")
    units = serializers.IntegerField(help_text="The units requested (1 when not sent).")


class LetterAuthorizationOutput(serializers.Serializer):
    number = serializers.CharField(help_text="The authorization number to bill against.")
    cpt_codes = strings("The CPT codes authorized.")
    levels = strings("The levels authorized.")
    units = serializers.IntegerField(allow_null=True, help_text="The units authorized.")
    valid_from = serializers.DateField(
        allow_null=True, help_text="First day the authorization is valid."
    )
    valid_to = serializers.DateField(
        allow_null=True, help_text="Last day the authorization is valid."
    )


class LetterPolicyOutput(serializers.Serializer):
    label = serializers.CharField(
        help_text="The criteria policy version, e.g. `spinal_fusion/baseline/v1`."
    )
    title = serializers.CharField(help_text="The policy's title; empty when not on record.")
    version = serializers.IntegerField(
        allow_null=True, help_text="The policy's version number, when on record."
    )
    checksum_prefix = serializers.CharField(
        help_text="The first 12 characters of the policy version's checksum."
    )


class LetterAppealOutput(serializers.Serializer):
    by = serializers.DateTimeField(help_text="The last moment an appeal may be filed.")
    window_days = serializers.IntegerField(help_text="Days after the decision to appeal.")
    how = serializers.CharField(help_text="How to appeal, in plain language.")


class AuditReasonOutput(serializers.Serializer):
    """A reason as the determination recorded it; a key the kind of reason has not is empty."""

    criterion = serializers.CharField(
        help_text="The criterion, e.g. `FU-03`; empty for a written reason."
    )
    statement = serializers.CharField(help_text="The criterion's statement, or the written reason.")
    answer = serializers.CharField(
        help_text="The engine's answer for the criterion when it was decided; empty otherwise."
    )
    note = serializers.CharField(help_text="The physician's note; empty when none.")
    source = serializers.CharField(
        help_text="A written reason's source key (`records`, `conflict:0` ...); empty otherwise."
    )
    source_label = serializers.CharField(help_text="The source in words; empty otherwise.")


class LetterEligibleCriterionOutput(serializers.Serializer):
    criterion = serializers.CharField(help_text="The criterion (or timed check) time cures.")
    statement = serializers.CharField(help_text="What it asks.")


class LetterEligibleOutput(serializers.Serializer):
    date = serializers.DateField(help_text="The earliest date the request would qualify.")
    criteria = LetterEligibleCriterionOutput(many=True, help_text="What that date cures.")


class LetterOutput(serializers.Serializer):
    """The determination letter: the same content as the PDF and the reviewers' letter page."""

    determination_id = serializers.IntegerField(help_text="The determination the letter is for.")
    request_id = serializers.IntegerField(help_text="Lamina's id of the request.")
    reference = serializers.CharField(help_text="The request's reference, e.g. `PA-00000012`.")
    kind = serializers.ChoiceField(
        choices=Determination.Kind.choices,
        help_text="initial determination or appeal decision.",
    )
    kind_label = serializers.CharField(help_text="The kind in words.")
    outcome = serializers.ChoiceField(choices=Outcome.choices, help_text="The decision.")
    outcome_label = serializers.CharField(help_text="The decision in words.")
    headline = serializers.CharField(help_text="The letter's headline, e.g. `Your request is …`.")
    summary = serializers.CharField(help_text="What the decision means, in plain language.")
    appeal_result = serializers.CharField(
        help_text="For an appeal decision: upheld or overturned; empty otherwise."
    )
    decided_at = serializers.DateTimeField(help_text="When it was decided.")
    member = LetterMemberOutput(help_text="The member the request is for.")
    provider = LetterProviderOutput(help_text="The requesting clinician and organization.")
    services = LetterServiceOutput(many=True, help_text="Each CPT code and whether it is approved.")
    requested = LetterRequestedOutput(help_text="The region, levels and units requested.")
    authorization = LetterAuthorizationOutput(
        allow_null=True, help_text="What is authorized; null when nothing is."
    )
    reasons = LetterReasonOutput(
        many=True,
        help_text="For a denial or partial approval: each reason with the facts, the threshold "
        "and the sources, or the physician's written reason with its evidence; empty otherwise.",
    )
    rationale = serializers.CharField(
        help_text="The reviewer's explanation in plain language; empty for a withdrawal."
    )
    policy = LetterPolicyOutput(
        allow_null=True, help_text="The criteria policy the decision used, when one did."
    )
    reviewer_role = serializers.ChoiceField(
        choices=Role.choices, help_text="Who decided: engine, nurse, physician or provider."
    )
    reviewer_role_words = serializers.CharField(help_text="Who decided, in words.")
    appeal = LetterAppealOutput(
        allow_null=True,
        help_text="For an initial denial or partial approval: the appeal rights; null otherwise.",
    )
    eligible_on = LetterEligibleOutput(
        allow_null=True,
        help_text="For a denial or partial approval when only time stood in the way: the date "
        "the request would qualify if its facts stay as they are; null otherwise.",
    )
    plan = PlanContactOutput(help_text="How to reach the health plan.")
    generated_at = serializers.DateTimeField(help_text="When this letter was rendered.")
    links = LetterLinksOutput(help_text="Where to read the letter.")


class LetterDetailSchema(AutoSchema):
    """The letter has two addresses: `/letters/{id}/` (JSON, or the PDF with `?format=pdf` or
    `Accept: application/pdf`) and `/letters/{id}.pdf` (always the PDF); each is its own
    operation."""

    def _is_pdf_route(self) -> bool:
        return self.path.endswith(".pdf")

    def get_operation_id(self) -> str:
        return "letters_pdf" if self._is_pdf_route() else "letters_retrieve"

    def get_summary(self) -> str:
        if self._is_pdf_route():
            return "Download a determination letter as a PDF"
        return "Read a determination letter (JSON or PDF)"

    def _get_format_parameters(self) -> list:
        # The .pdf route fixes the format itself; a ?format there changes nothing.
        return [] if self._is_pdf_route() else super()._get_format_parameters()

    def get_override_parameters(self) -> list:
        parameters = super().get_override_parameters()
        if self._is_pdf_route():
            return parameters
        return [
            *parameters,
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=["json", "pdf"],
                description="`pdf` for the PDF (as `Accept: application/pdf` does); JSON "
                "otherwise.",
            ),
        ]

    def get_response_serializers(self) -> dict:
        pdf = OpenApiResponse(
            OpenApiTypes.BINARY,
            description="The letter as a PDF, sent as an attachment "
            "(`lamina-PA-00000012-determination-7.pdf`).",
        )
        responses = {} if self._is_pdf_route() else {(200, JSON): LetterOutput}
        return {
            **responses,
            (200, PDF): pdf,
            (401, JSON): error("No or an invalid token."),
            (404, JSON): error(
                "No such request in your organization, or no such determination of it."
            ),
        }


# --- Appeals ---------------------------------------------------------------------------------------


class AppealOriginalDeterminationOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The determination appealed.")
    outcome = serializers.ChoiceField(
        choices=Outcome.choices, help_text="Its outcome: denied or partially_approved."
    )
    decided_at = serializers.DateTimeField(help_text="When it was decided.")


# --- Audit ---------------------------------------------------------------------------------------


class AuditOrganizationOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Lamina's id of the provider organization.")
    name = serializers.CharField(help_text="The organization's name.")


class PolicyVersionOutput(serializers.Serializer):
    label = serializers.CharField(
        help_text="The criteria policy version, e.g. `spinal_fusion/baseline/v1`."
    )
    checksum = serializers.CharField(help_text="The SHA-256 checksum of the version's content.")
    id = serializers.IntegerField(help_text="Lamina's id of the policy version.")


class AuditRequestOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Lamina's id of the request.")
    reference = serializers.CharField(help_text="The request's reference, e.g. `PA-00000012`.")
    organization = AuditOrganizationOutput(help_text="The provider organization that sent it.")
    member_id = serializers.CharField(help_text="The member's identifier.")
    requesting_provider_npi = serializers.CharField(help_text="The requesting clinician's NPI.")
    urgency = serializers.ChoiceField(choices=Urgency.choices, help_text="standard or expedited.")
    line_of_business = serializers.ChoiceField(
        choices=LineOfBusiness.choices, help_text="The line of business."
    )
    channel = serializers.ChoiceField(
        choices=[("rest", "rest"), ("fhir", "fhir")],
        help_text="How it arrived: the REST API or FHIR Claim/$submit.",
    )
    procedure_family = serializers.CharField(
        help_text="The procedure family; empty when no Lamina policy covers the codes."
    )
    cpt_codes = strings("The CPT codes requested.")
    status = serializers.ChoiceField(choices=Status.choices, help_text="Where the request stands.")
    received_at = serializers.DateTimeField(help_text="When Lamina received the request.")
    due_at = serializers.DateTimeField(help_text="When the decision is due.")
    decided_at = serializers.DateTimeField(
        allow_null=True, help_text="When the request was decided, if it was."
    )


class AuditEventOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The event's position in the audit chain.")
    occurred_at = serializers.DateTimeField(help_text="When it happened.")
    actor = serializers.CharField(help_text="Who acted: a username, `engine` or `system`.")
    role = serializers.CharField(help_text="The actor's role then; empty for system events.")
    source_ip = serializers.IPAddressField(
        allow_null=True, help_text="The client address, for events that came over HTTP."
    )
    action = serializers.CharField(help_text="What happened, e.g. `request_submitted`.")
    subject_type = serializers.CharField(help_text="The kind of record acted on.")
    subject_id = serializers.CharField(help_text="The id of the record acted on.")
    data = serializers.DictField(help_text="The event's details, as recorded.")
    prev_hash = serializers.CharField(
        allow_null=True,
        help_text="The hash of the previous event in the chain; null until the event is sealed.",
    )
    hash = serializers.CharField(
        allow_null=True,
        help_text=(
            "This event's hash over its canonical content; null until the sealer has chained it "
            "(about a second after it was written)."
        ),
    )


class AuditEvaluationOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Lamina's id of the evaluation.")
    round = serializers.IntegerField(help_text="The evaluation round, from 1.")
    policy_version = PolicyVersionOutput(
        allow_null=True, help_text="The criteria policy version applied, if any."
    )
    profile = serializers.CharField(help_text="The policy profile applied, e.g. `baseline`.")
    review_date = serializers.DateField(help_text="The date the criteria were applied as of.")
    recommendation = serializers.ChoiceField(
        choices=Recommendation.choices, help_text="The engine's recommendation."
    )
    reasons = json_objects("Why the engine recommended as it did.")
    missing_information = MissingInformationOutput(
        many=True, help_text="What the provider was asked to send."
    )
    trace = json_objects(
        "Per criterion: id, answer, decisive, the facts read with their values, threshold, "
        "explanation, statement and citation."
    )
    history_checks = json_objects("The checks against the member's earlier requests.")
    documentation = json_objects("What the attached notes were found to document.")
    note_conflicts = json_objects(
        "Findings in attached notes that disagree with the attested facts."
    )
    created_at = serializers.DateTimeField(help_text="When the evaluation ran.")


class AuditInformationRequestOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Lamina's id of the request for information.")
    requested_by = serializers.CharField(
        help_text="The reviewer's username, or the role (`engine`) for automated requests."
    )
    role = serializers.ChoiceField(choices=Role.choices, help_text="The requester's role.")
    items = MissingInformationOutput(many=True, help_text="What was asked for.")
    requested_at = serializers.DateTimeField(help_text="When it was asked.")
    answered_at = serializers.DateTimeField(
        allow_null=True, help_text="When the provider answered, if it did."
    )
    answer = serializers.DictField(
        allow_null=True, help_text="The provider's answer as received, if any."
    )


class AuditNoteOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Lamina's id of the note.")
    kind = serializers.ChoiceField(
        choices=ReviewNote.Kind.choices, help_text="escalation, peer_to_peer or note."
    )
    author = serializers.CharField(help_text="The reviewer's username.")
    role = serializers.ChoiceField(choices=Role.choices, help_text="The author's role.")
    counterpart = serializers.CharField(
        help_text="For a peer-to-peer talk: whom the physician spoke with; empty otherwise."
    )
    occurred_at = serializers.DateTimeField(
        allow_null=True, help_text="For a peer-to-peer talk: when it took place."
    )
    created_at = serializers.DateTimeField(help_text="When the note was written.")
    text = serializers.CharField(help_text="The note.")


class AuditDeterminationOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Lamina's id of the determination.")
    kind = serializers.ChoiceField(
        choices=Determination.Kind.choices,
        help_text="initial determination or appeal decision.",
    )
    outcome = serializers.ChoiceField(choices=Outcome.choices, help_text="The decision.")
    decided_at = serializers.DateTimeField(help_text="When it was decided.")
    decided_by = serializers.CharField(help_text="The reviewer's username, or `engine`.")
    decided_by_role = serializers.ChoiceField(
        choices=Role.choices, help_text="Who decided: engine, nurse, physician or provider."
    )
    reasons = AuditReasonOutput(
        many=True,
        help_text="For a denial or partial approval: the reasons as recorded (a criterion with "
        "the engine's answer and the physician's note, or a written reason with its source).",
    )
    rationale = serializers.CharField(help_text="The reviewer's explanation.")
    policy_version = PolicyVersionOutput(
        allow_null=True, help_text="The criteria policy version the decision used, if any."
    )
    evaluation_id = serializers.IntegerField(
        allow_null=True, help_text="The evaluation the decision rests on, if any."
    )
    evaluation_snapshot = serializers.DictField(
        help_text="The evaluation as it stood when decided (recommendation, trace)."
    )
    authorization_number = serializers.CharField(
        allow_null=True, help_text="The authorization number when something was approved."
    )
    approved_cpt_codes = strings("The CPT codes approved.")
    approved_units = serializers.IntegerField(allow_null=True, help_text="The units approved.")
    approved_levels = strings("The levels approved.")
    valid_from = serializers.DateField(
        allow_null=True, help_text="First day the authorization is valid."
    )
    valid_to = serializers.DateField(
        allow_null=True, help_text="Last day the authorization is valid."
    )
    appeal_id = serializers.IntegerField(
        allow_null=True, help_text="For an appeal decision: the appeal it decides."
    )
    appeal_result = serializers.CharField(
        help_text="For an appeal decision: upheld or overturned; empty otherwise."
    )
    review_extended = serializers.BooleanField(
        help_text="Whether the review time was extended (information was asked) before it."
    )
    letter = serializers.CharField(
        allow_null=True, help_text="Where the reviewers read the letter; null for a withdrawal."
    )


class AuditAppealOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Lamina's id of the appeal.")
    original_determination_id = serializers.IntegerField(help_text="The determination appealed.")
    filed_by = serializers.CharField(help_text="The provider user who filed it.")
    urgency = serializers.ChoiceField(choices=Urgency.choices, help_text="standard or expedited.")
    status = serializers.ChoiceField(
        choices=Appeal.AppealStatus.choices, help_text="open or decided."
    )
    filed_at = serializers.DateTimeField(help_text="When it was filed.")
    due_at = serializers.DateTimeField(help_text="When the appeal decision is due.")
    reason = serializers.CharField(help_text="The provider's reasons.")


class AuditHistoryOutput(serializers.Serializer):
    """Everything on record about one request, in order."""

    request = AuditRequestOutput(help_text="The request.")
    timeline = AuditEventOutput(
        many=True, help_text="The request's audit events, oldest first, with their hashes."
    )
    evaluations = AuditEvaluationOutput(many=True, help_text="Each evaluation round.")
    information_requests = AuditInformationRequestOutput(
        many=True, help_text="Each request for information and its answer."
    )
    notes = AuditNoteOutput(many=True, help_text="Reviewers' notes and peer-to-peer talks.")
    determinations = AuditDeterminationOutput(many=True, help_text="Each determination.")
    appeals = AuditAppealOutput(many=True, help_text="Each appeal.")


class AuditDeterminationRowOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Lamina's id of the determination.")
    request_id = serializers.IntegerField(help_text="Lamina's id of the request.")
    reference = serializers.CharField(help_text="The request's reference, e.g. `PA-00000012`.")
    kind = serializers.ChoiceField(
        choices=Determination.Kind.choices,
        help_text="initial determination or appeal decision.",
    )
    outcome = serializers.ChoiceField(choices=Outcome.choices, help_text="The decision.")
    decided_at = serializers.DateTimeField(help_text="When it was decided.")
    decided_by = serializers.CharField(help_text="The reviewer's username, or `engine`.")
    decided_by_role = serializers.ChoiceField(
        choices=Role.choices, help_text="Who decided: engine, nurse, physician or provider."
    )
    procedure_family = serializers.CharField(
        help_text="The request's procedure family; empty when no Lamina policy covers it."
    )
    urgency = serializers.ChoiceField(choices=Urgency.choices, help_text="standard or expedited.")
    organization = serializers.CharField(help_text="The provider organization's name.")
    policy_version = serializers.CharField(
        allow_null=True, help_text="The criteria policy version label, if one was used."
    )
    authorization_number = serializers.CharField(
        allow_null=True, help_text="The authorization number when something was approved."
    )
    appeal_result = serializers.CharField(
        help_text="For an appeal decision: upheld or overturned; empty otherwise."
    )
    review_extended = serializers.BooleanField(
        help_text="Whether the review time was extended before the decision."
    )


class AuditDeterminationPageOutput(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many determinations match.")
    next = serializers.URLField(allow_null=True, help_text="The next page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, if any.")
    results = AuditDeterminationRowOutput(
        many=True, help_text="This page of determinations, newest first."
    )


def _share(what: str) -> serializers.FloatField:
    return serializers.FloatField(
        allow_null=True,
        help_text=f"{what} as a percentage of `decided`, one decimal; null when none decided.",
    )


class MetricsRowOutput(serializers.Serializer):
    procedure_family = serializers.CharField(
        help_text=f"A procedure family, `{NO_FAMILY}` (no Lamina policy) or `{ALL_FAMILIES}`."
    )
    urgency = serializers.ChoiceField(choices=Urgency.choices, help_text="standard or expedited.")
    decided = serializers.IntegerField(help_text="Initial determinations made in the period.")
    approved = serializers.IntegerField(help_text="Of those, approved.")
    approved_pct = _share("Approved")
    partially_approved = serializers.IntegerField(help_text="Of those, partially approved.")
    partially_approved_pct = _share("Partially approved")
    denied = serializers.IntegerField(help_text="Of those, denied.")
    denied_pct = _share("Denied")
    approved_after_appeal = serializers.IntegerField(
        help_text="Of those, overturned by an appeal decided by the end of the period."
    )
    approved_after_appeal_pct = _share("Approved after appeal")
    approved_after_extension = serializers.IntegerField(
        help_text="Of those, approved after the review time was extended."
    )
    approved_after_extension_pct = _share("Approved after extension")
    average_hours_to_decision = serializers.FloatField(
        allow_null=True, help_text="Average hours from receipt to decision; null when none."
    )
    median_hours_to_decision = serializers.FloatField(
        allow_null=True, help_text="Median hours from receipt to decision; null when none."
    )


class MetricsOutput(serializers.Serializer):
    """CMS-0057-F prior-authorization metrics for a period."""

    start = serializers.DateField(help_text="The first day of the period.")
    end = serializers.DateField(help_text="The last day of the period (inclusive).")
    cohort = serializers.CharField(help_text="Which requests the figures count.")
    rows = MetricsRowOutput(
        many=True,
        help_text=f"Per urgency: first `{ALL_FAMILIES}` families, then each procedure family.",
    )


AUDIT_ERRORS = {
    401: error("No or an invalid token (or session)."),
    403: error("The user is not an auditor or plan administrator."),
}
CSV_ERRORS = {(status, JSON): response for status, response in AUDIT_ERRORS.items()}

DETERMINATION_FILTERS = [
    OpenApiParameter(
        "date_from", OpenApiTypes.DATE, description="Decided on or after this day (YYYY-MM-DD)."
    ),
    OpenApiParameter(
        "date_to", OpenApiTypes.DATE, description="Decided on or before this day (YYYY-MM-DD)."
    ),
    OpenApiParameter(
        "outcome", OpenApiTypes.STR, enum=Outcome.values, description="Only this outcome."
    ),
    OpenApiParameter(
        "kind",
        OpenApiTypes.STR,
        enum=Determination.Kind.values,
        description="Only initial determinations or only appeal decisions.",
    ),
    OpenApiParameter(
        "procedure_family",
        OpenApiTypes.STR,
        enum=[*reference.FAMILIES, NO_FAMILY],
        description=f"Only this procedure family; `{NO_FAMILY}` for requests no Lamina policy "
        "covers.",
    ),
    OpenApiParameter("reviewer", OpenApiTypes.STR, description="Only decisions by this username."),
    OpenApiParameter(
        "organization", OpenApiTypes.INT, description="Only this provider organization's (id)."
    ),
    OpenApiParameter(
        "provider_npi",
        OpenApiTypes.STR,
        pattern=r"^\d{10}$",
        description="Only requests from this requesting provider NPI.",
    ),
]
PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, description="The page number, from 1."),
    OpenApiParameter(
        "page_size", OpenApiTypes.INT, description="Determinations per page (50; at most 500)."
    ),
]
PERIOD_PARAMETERS = [
    OpenApiParameter(
        "start",
        OpenApiTypes.DATE,
        required=True,
        description="The first day of the period (YYYY-MM-DD).",
    ),
    OpenApiParameter(
        "end",
        OpenApiTypes.DATE,
        required=True,
        description="The last day of the period, inclusive (YYYY-MM-DD).",
    ),
]


def csv_response(description: str, header) -> OpenApiResponse:
    return OpenApiResponse(
        OpenApiTypes.STR,
        description=f"{description} Columns: {', '.join(f'`{c}`' for c in header)}.",
    )


DETERMINATIONS_CSV = csv_response(
    "Every matching determination, one row each, sent as an attachment.", EXPORT_HEADER
)
METRICS_CSV = csv_response("The metrics rows, sent as an attachment.", CSV_HEADER)
