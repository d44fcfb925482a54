"""Reading attached clinical notes for evidence that disagrees with the attestation."""

from django.db import transaction

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
        NoteReading.objects.update_or_create(
            attachment=attachment,
            defaults={"rules_version": RULES_VERSION, "finding_count": len(findings)},
        )


def notes_read_for_request(*, pa_request) -> list[dict]:
    """Read the request's notes, store findings, return the conflicts with the attested facts.

    1. Read each attachment not yet read under the current rules (an attachment added with an
       answer to a request for information is read in the next round; the others are not read
       twice), and store its findings.
    2. Compare every attachment's findings with the request's current attested facts.

    Each conflict: {"kind", "concept", "criterion", "explanation", "attachment_id", "span",
    "text"}. Runs inside the evidence checks' transaction, with the request row locked.
    """
    attachments = list(pa_request.attachments.select_related("note_reading"))
    unread = [
        a
        for a in attachments
        if not hasattr(a, "note_reading") or a.note_reading.rules_version != RULES_VERSION
    ]
    for attachment, findings in zip(unread, notes_read(a.text for a in unread), strict=True):
        _findings_store(attachment=attachment, findings=findings)
    return conflicts_find(
        clinical=pa_request.clinical,
        family=pa_request.procedure_family,
        notes=notes_for_request(pa_request=pa_request, attachments=attachments),
    )
