"""What the auditors' API returns: a request's history, a page of determinations, the metrics.

The views render through these serializers and the OpenAPI schema is generated from them, so the
shape an auditor's client codes against is written once. Stored JSON (an event's data, an
evaluation's trace) is rendered as recorded.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reviews.api.fields import IsoDateTimeField, json_objects, strings
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
from reviews.selectors.audit import NO_FAMILY, letter_path
from reviews.selectors.metrics import ALL_FAMILIES


def decided_by(determination: Determination) -> str:
    user = determination.decided_by
    return user.get_username() if user is not None else "engine"


# --- A request's history -------------------------------------------------------------------------


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
    member_id = serializers.CharField(
        source="member.member_id", help_text="The member's identifier."
    )
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
    received_at = IsoDateTimeField(help_text="When Lamina received the request.")
    due_at = IsoDateTimeField(help_text="When the decision is due.")
    decided_at = IsoDateTimeField(
        allow_null=True, help_text="When the request was decided, if it was."
    )


class AuditEventOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The event's position in the audit chain.")
    occurred_at = IsoDateTimeField(help_text="When it happened.")
    actor = serializers.CharField(
        source="actor_label", help_text="Who acted: a username, `engine` or `system`."
    )
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


class AuditMissingInformationOutput(serializers.Serializer):
    """An item of missing information as recorded. The automated checks' items also name the
    fact the field answers, and the criteria engine's every criterion that needs it."""

    field = serializers.CharField(help_text="The request field to send, e.g. `clinical.imaging`.")
    fact = serializers.CharField(
        required=False,
        help_text="The fact the field answers, for the automated checks' items; absent otherwise.",
    )
    why = serializers.CharField(help_text="Why it is needed.")
    criterion = serializers.CharField(help_text="The criterion that needs it; empty when none.")
    criteria = strings(
        "Every criterion that needs it, for the criteria engine's items; absent otherwise.",
        required=False,
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
    missing_information = AuditMissingInformationOutput(
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
    created_at = IsoDateTimeField(help_text="When the evaluation ran.")


class AuditInformationRequestOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Lamina's id of the request for information.")
    requested_by = serializers.SerializerMethodField(
        help_text="The reviewer's username, or the role (`engine`) for automated requests."
    )
    role = serializers.ChoiceField(
        source="requested_by_role", choices=Role.choices, help_text="The requester's role."
    )
    items = AuditMissingInformationOutput(many=True, help_text="What was asked for.")
    requested_at = IsoDateTimeField(help_text="When it was asked.")
    answered_at = IsoDateTimeField(
        allow_null=True, help_text="When the provider answered, if it did."
    )
    answer = serializers.DictField(
        allow_null=True, help_text="The provider's answer as received, if any."
    )

    def get_requested_by(self, information_request) -> str:
        user = information_request.requested_by
        return user.get_username() if user is not None else information_request.requested_by_role


class AuditNoteOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Lamina's id of the note.")
    kind = serializers.ChoiceField(
        choices=ReviewNote.Kind.choices, help_text="escalation, peer_to_peer or note."
    )
    author = serializers.CharField(source="author.username", help_text="The reviewer's username.")
    role = serializers.ChoiceField(
        source="author_role", choices=Role.choices, help_text="The author's role."
    )
    counterpart = serializers.CharField(
        help_text="For a peer-to-peer talk: whom the physician spoke with; empty otherwise."
    )
    occurred_at = IsoDateTimeField(
        allow_null=True, help_text="For a peer-to-peer talk: when it took place."
    )
    created_at = IsoDateTimeField(help_text="When the note was written.")
    text = serializers.CharField(help_text="The note.")


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

    def to_representation(self, reason: dict) -> dict:
        # A criterion has no source and a written reason no answer: every key, empty when absent.
        return super().to_representation(
            {name: str(reason.get(name) or "") for name in self.fields}
        )


class AuditDeterminationOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Lamina's id of the determination.")
    kind = serializers.ChoiceField(
        choices=Determination.Kind.choices,
        help_text="initial determination or appeal decision.",
    )
    outcome = serializers.ChoiceField(choices=Outcome.choices, help_text="The decision.")
    decided_at = IsoDateTimeField(help_text="When it was decided.")
    decided_by = serializers.SerializerMethodField(
        help_text="The reviewer's username, or `engine`."
    )
    decided_by_role = serializers.ChoiceField(
        choices=Role.choices, help_text="Who decided: engine, nurse, physician or provider."
    )
    reasons = serializers.SerializerMethodField(
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
    letter = serializers.SerializerMethodField(
        help_text="Where the reviewers read the letter; null for a withdrawal."
    )

    def get_decided_by(self, determination) -> str:
        return decided_by(determination)

    @extend_schema_field(AuditReasonOutput(many=True))
    def get_reasons(self, determination) -> list[dict]:
        reasons = [r for r in determination.reasons or [] if isinstance(r, dict)]
        return AuditReasonOutput(reasons, many=True).data

    def get_letter(self, determination) -> str | None:
        if determination.outcome == Outcome.WITHDRAWN:
            return None
        return letter_path(determination.request_id, determination.pk)


class AuditAppealOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Lamina's id of the appeal.")
    original_determination_id = serializers.IntegerField(help_text="The determination appealed.")
    filed_by = serializers.CharField(
        source="filed_by.username", help_text="The provider user who filed it."
    )
    urgency = serializers.ChoiceField(choices=Urgency.choices, help_text="standard or expedited.")
    status = serializers.ChoiceField(
        choices=Appeal.AppealStatus.choices, help_text="open or decided."
    )
    filed_at = IsoDateTimeField(help_text="When it was filed.")
    due_at = IsoDateTimeField(help_text="When the appeal decision is due.")
    reason = serializers.CharField(help_text="The provider's reasons.")


class AuditHistoryOutput(serializers.Serializer):
    """Everything on record about one request, in order."""

    # Renders a reviews.selectors.audit.RequestHistory.

    request = AuditRequestOutput(help_text="The request.")
    timeline = AuditEventOutput(
        source="events",
        many=True,
        help_text="The request's audit events, oldest first, with their hashes.",
    )
    evaluations = AuditEvaluationOutput(many=True, help_text="Each evaluation round.")
    information_requests = AuditInformationRequestOutput(
        many=True, help_text="Each request for information and its answer."
    )
    notes = AuditNoteOutput(many=True, help_text="Reviewers' notes and peer-to-peer talks.")
    determinations = AuditDeterminationOutput(many=True, help_text="Each determination.")
    appeals = AuditAppealOutput(many=True, help_text="Each appeal.")


# --- Determination search ------------------------------------------------------------------------


class AuditDeterminationRowOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Lamina's id of the determination.")
    request_id = serializers.IntegerField(help_text="Lamina's id of the request.")
    reference = serializers.CharField(
        source="request.reference", help_text="The request's reference, e.g. `PA-00000012`."
    )
    kind = serializers.ChoiceField(
        choices=Determination.Kind.choices,
        help_text="initial determination or appeal decision.",
    )
    outcome = serializers.ChoiceField(choices=Outcome.choices, help_text="The decision.")
    decided_at = IsoDateTimeField(help_text="When it was decided.")
    decided_by = serializers.SerializerMethodField(
        help_text="The reviewer's username, or `engine`."
    )
    decided_by_role = serializers.ChoiceField(
        choices=Role.choices, help_text="Who decided: engine, nurse, physician or provider."
    )
    procedure_family = serializers.CharField(
        source="request.procedure_family",
        help_text="The request's procedure family; empty when no Lamina policy covers it.",
    )
    urgency = serializers.ChoiceField(
        source="request.urgency", choices=Urgency.choices, help_text="standard or expedited."
    )
    organization = serializers.CharField(
        source="request.organization.name", help_text="The provider organization's name."
    )
    policy_version = serializers.CharField(
        source="policy_version.label",
        allow_null=True,
        help_text="The criteria policy version label, if one was used.",
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

    def get_decided_by(self, determination) -> str:
        return decided_by(determination)


class AuditDeterminationPageOutput(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many determinations match.")
    next = serializers.URLField(allow_null=True, help_text="The next page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, if any.")
    results = AuditDeterminationRowOutput(
        many=True, help_text="This page of determinations, newest first."
    )


# --- Metrics -------------------------------------------------------------------------------------


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

    # Renders MetricsReport.as_dict(): the figures the CSV export writes too.

    start = serializers.DateField(help_text="The first day of the period.")
    end = serializers.DateField(help_text="The last day of the period (inclusive).")
    cohort = serializers.CharField(help_text="Which requests the figures count.")
    rows = MetricsRowOutput(
        many=True,
        help_text=f"Per urgency: first `{ALL_FAMILIES}` families, then each procedure family.",
    )
