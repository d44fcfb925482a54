"""Reading the stored note findings for display."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from notes.conflicts import NoteRead, conflicts_find
from notes.models import NoteFinding


def notes_for_request(*, pa_request, attachments=None) -> list[NoteRead]:
    """The request's attachments with their stored findings, in attachment order."""
    if attachments is None:
        attachments = list(pa_request.attachments.all())
    by_attachment: dict[int, list[NoteFinding]] = {a.pk: [] for a in attachments}
    for finding in NoteFinding.objects.filter(attachment__in=attachments):
        by_attachment[finding.attachment_id].append(finding)
    return [
        NoteRead(
            attachment_id=a.pk,
            title=a.title,
            date=a.date,
            text=a.text,
            findings=by_attachment[a.pk],
        )
        for a in attachments
    ]


def _values(finding) -> str:
    parts = []
    if finding.visits is not None:
        parts.append(f"{finding.visits} visits")
    if finding.duration_days is not None:
        parts.append(f"{finding.duration_days} days")
    if finding.percent is not None:
        parts.append(f"{finding.percent} % relief")
    return ": " + ", ".join(parts) if parts else ""


def highlight(text: str, findings, *, attachment_id: int, conflict_spans=frozenset()) -> SafeString:
    """The note text, escaped, with each finding wrapped in a <mark> naming it and its context."""
    out = []
    position = 0
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if finding.start < position or finding.end > len(text):
            continue  # overlapping or stale span: the text around it is still shown
        context = finding.context
        classes = f"finding finding-{context} finding-{finding.category}"
        if (finding.start, finding.end) in conflict_spans:
            classes += " finding-conflict"
        title = f"{finding.label} ({context}){_values(finding)}"
        out.append(escape(text[position : finding.start]))
        out.append(
            f'<mark id="finding-{attachment_id}-{finding.start}" class="{classes}" '
            f'title="{escape(title)}">{escape(text[finding.start : finding.end])}</mark>'
        )
        position = finding.end
    out.append(escape(text[position:]))
    # Every piece of note text went through escape() above; only our own tags are raw.
    return mark_safe("".join(out))  # noqa: S308


def findings_for_request(*, pa_request) -> dict:
    """{"conflicts": [...], "attachments": [{"attachment": Attachment, "findings": [...],
    "highlighted_html": str}]} for the case page (template notes/findings.html)."""
    attachments = list(pa_request.attachments.all())
    notes = notes_for_request(pa_request=pa_request, attachments=attachments)
    conflicts = conflicts_find(
        clinical=pa_request.clinical, family=pa_request.procedure_family, notes=notes
    )
    spans = {(c["attachment_id"], *c["span"]) for c in conflicts}
    return {
        "conflicts": conflicts,
        "attachments": [
            {
                "attachment": attachment,
                "findings": list(note.findings),
                "highlighted_html": highlight(
                    attachment.text,
                    note.findings,
                    attachment_id=attachment.pk,
                    conflict_spans={(s, e) for a, s, e in spans if a == attachment.pk},
                ),
            }
            for attachment, note in zip(attachments, notes, strict=True)
        ],
    }
