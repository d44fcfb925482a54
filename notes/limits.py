"""How much note text one submission may carry: the bound on the note reader's work per request.

Reading a note costs worker time roughly in proportion to its length (and more for long runs of
negated mentions in one sentence), so intake refuses what would cost too much, before anything is
stored. Two settings, both counted in characters of attachment text:

- NOTE_MAX_CHARS: one attachment's text.
- NOTE_MAX_SUBMISSION_CHARS: all the attachments of one submission together (a new request, or an
  answer to a request for information; each round reads only what that submission added).

NoteSizeLimits is the contract's hook: an input serializer with notes to read names it first in
its bases, so REST and FHIR intake (whose serializer derives from the REST one) refuse an
oversized note alike, with a 400 naming the note and the limit, before anything is stored.
"""

from django.conf import settings
from rest_framework import serializers


def note_limits() -> dict[str, int]:
    """The limits in force, as the API documentation and error messages state them."""
    return {
        "per_note": settings.NOTE_MAX_CHARS,
        "per_submission": settings.NOTE_MAX_SUBMISSION_CHARS,
    }


def validate_note_sizes(attachments) -> None:
    """Refuse a list of attachments ({"text": ...}) over either limit.

    Raises a ValidationError keyed like DRF's own list errors ({index: {"text": [...]}}), so
    the API names `attachments[2].text`; the submission total is an error on the list itself.
    """
    if not attachments:
        return
    per_note = settings.NOTE_MAX_CHARS
    per_submission = settings.NOTE_MAX_SUBMISSION_CHARS
    errors = {}
    for index, attachment in enumerate(attachments):
        length = len(attachment.get("text") or "")
        if length > per_note:
            errors[index] = {
                "text": [
                    f"A note holds at most {per_note:,} characters; this one holds {length:,}. "
                    "Send the relevant part, or split it into several attachments."
                ]
            }
    if errors:
        raise serializers.ValidationError(errors)
    total = sum(len(a.get("text") or "") for a in attachments)
    if total > per_submission:
        raise serializers.ValidationError(
            [
                f"The notes of one submission hold at most {per_submission:,} characters "
                f"together; these hold {total:,}. Send the notes the criteria need."
            ]
        )


class NoteSizeLimits:
    """Put first in an input serializer's bases whose `attachments` are notes to read:

        class RequestCreateInput(NoteSizeLimits, StrictInput): ...

    Its attachments are then refused over either limit, each error under its field path, after
    the fields themselves validated (so the shape is known) and before anything is stored.
    """

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            validate_note_sizes(value.get("attachments"))
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"attachments": exc.detail}) from exc
        return value
