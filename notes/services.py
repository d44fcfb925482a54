"""Reading attached clinical notes for evidence that disagrees with the attestation.

Reading is the costly part (notes/limits.py bounds it at intake) and runs outside the request's
row lock, as a task of its own (reviews.tasks.read_notes): each attachment's findings are stored
in their own short transaction. The evidence checks then compare the stored findings with the
request's facts under the lock, which costs little.
"""

from django.db import IntegrityError, transaction

from notes.conflicts import conflicts_find
from notes.models import NoteFinding, NoteReading
from notes.reader import Finding, notes_read
from notes.rules import RULES_VERSION
from notes.selectors import notes_for_request


def _findings_store(*, attachment, findings: list[Finding]) -> None:
    """Replace what an attachment was found to say with a fresh reading under RULES_VERSION."""
    with transaction.atomic():
        NoteFinding.objects.filter(attachment=attachment).delete()
        NoteFinding.objects.bulk_create(
            [
                NoteFinding(
                    attachment=attachment,
                    concept=f.concept,
                    category=f.category,
                    start=f.start,
                    end=f.end,
                    text=f.text[:300],
                    sentence_start=f.sentence_start,
                    sentence_end=f.sentence_end,
                    is_negated=f.is_negated,
                    is_historical=f.is_historical,
                    is_hypothetical=f.is_hypothetical,
                    is_family=f.is_family,
                    is_uncertain=f.is_uncertain,
                    visits=f.visits,
                    duration_days=f.duration_days,
                    percent=f.percent,
                )
                for f in findings
            ],
            ignore_conflicts=True,
        )
        try:
            with transaction.atomic():
                NoteReading.objects.update_or_create(
                    attachment=attachment,
                    defaults={"rules_version": RULES_VERSION, "finding_count": len(findings)},
                )
        except IntegrityError:
            # Two readers of one attachment (a redelivered task): the other recorded it first,
            # under the same rules, with the same findings.
            pass


def notes_unread(*, pa_request) -> list:
    """The request's attachments not yet read under the current rules, in attachment order."""
    return list(
        pa_request.attachments.exclude(note_reading__rules_version=RULES_VERSION).order_by("pk")
    )


def notes_read_pending(*, pa_request) -> int:
    """Read each attachment not yet read under the current rules and store its findings.

    Call it outside any lock on the request: a long note holds no row a provider or reviewer
    waits for. An attachment added with an answer to a request for information is read in the
    next round; the others are not read twice. Returns how many attachments were read.
    """
    unread = notes_unread(pa_request=pa_request)
    for attachment in unread:
        (findings,) = notes_read([attachment.text])
        _findings_store(attachment=attachment, findings=findings)
    return len(unread)


def note_conflicts(*, pa_request) -> list[dict]:
    """The conflicts between the stored findings and the request's current attested facts.

    Each conflict: {"kind", "concept", "criterion", "explanation", "attachment_id", "span",
    "text"}. Reads nothing: notes_read_pending has stored the findings before.
    """
    return conflicts_find(
        clinical=pa_request.clinical,
        family=pa_request.procedure_family,
        notes=notes_for_request(pa_request=pa_request),
    )


def notes_read_for_request(*, pa_request) -> list[dict]:
    """Read the request's unread notes, store findings, return the conflicts with the facts."""
    notes_read_pending(pa_request=pa_request)
    return note_conflicts(pa_request=pa_request)
