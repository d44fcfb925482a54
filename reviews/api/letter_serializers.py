"""What the letters endpoints return as JSON: the list of a request's letters and one letter.

A letter is rendered from reviews.letters.letter_context(), the content the PDF and the
reviewers' letter page show too; the views render through these serializers and the OpenAPI
schema is generated from them.
"""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reviews.api.fields import IsoDateTimeField, strings
from reviews.api.serializers import LetterReasonOutput, PlanContactOutput
from reviews.models import Determination, Outcome, Role


def letter_links(request, request_id: int, determination_id: int) -> dict:
    url = reverse(
        "api-letter", kwargs={"request_id": request_id, "determination_id": determination_id}
    )
    return {
        "self": request.build_absolute_uri(url),
        "pdf": request.build_absolute_uri(url + "?format=pdf"),
    }


class LetterLinksOutput(serializers.Serializer):
    self = serializers.URLField(help_text="The letter as JSON.")
    pdf = serializers.URLField(help_text="The letter as a PDF (`?format=pdf`).")


class LetterSummaryOutput(serializers.Serializer):
    determination_id = serializers.IntegerField(
        source="pk", help_text="The determination the letter is for."
    )
    kind = serializers.ChoiceField(
        choices=Determination.Kind.choices,
        help_text="initial determination or appeal decision.",
    )
    outcome = serializers.ChoiceField(choices=Outcome.choices, help_text="The decision.")
    decided_at = IsoDateTimeField(help_text="When it was decided.")
    links = serializers.SerializerMethodField(help_text="Where to read the letter.")

    @extend_schema_field(LetterLinksOutput)
    def get_links(self, determination) -> dict:
        links = letter_links(self.context["request"], determination.request_id, determination.pk)
        return LetterLinksOutput(links).data


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
    by = IsoDateTimeField(help_text="The last moment an appeal may be filed.")
    window_days = serializers.IntegerField(help_text="Days after the decision to appeal.")
    how = serializers.CharField(help_text="How to appeal, in plain language.")


class LetterEligibleCriterionOutput(serializers.Serializer):
    criterion = serializers.CharField(help_text="The criterion (or timed check) time cures.")
    statement = serializers.CharField(help_text="What it asks.")


class LetterEligibleOutput(serializers.Serializer):
    date = serializers.DateField(help_text="The earliest date the request would qualify.")
    criteria = LetterEligibleCriterionOutput(many=True, help_text="What that date cures.")


class LetterOutput(serializers.Serializer):
    """The determination letter: the same content as the PDF and the reviewers' letter page."""

    # Renders reviews.letters.letter_context().

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
    decided_at = IsoDateTimeField(help_text="When it was decided.")
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
    plan = PlanContactOutput(help_text="How to reach the health plan.")
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
    generated_at = IsoDateTimeField(help_text="When this letter was rendered.")
    links = serializers.SerializerMethodField(help_text="Where to read the letter.")

    @extend_schema_field(LetterLinksOutput)
    def get_links(self, letter: dict) -> dict:
        links = letter_links(
            self.context["request"], letter["request_id"], letter["determination_id"]
        )
        return LetterLinksOutput(links).data
