"""Why a case is in review, on one screen: the case page's summary above the fold.

Each reason a reviewer must weigh becomes one line in plain words with links to its evidence:
a criterion not met or lacking information (with the policy's sources), a criterion the engine
found met but the notes contradict (with the note span), a consistency finding (with the
imaging report, the service or the earlier request it compares against), a history flag (with
the earlier request), and missing documentation. An open appeal and the provider's latest answer
to a request for information come first, since they are what the reviewer acts on now.
"""

from django.urls import reverse

from reviews.models import Appeal, Attachment, InformationRequest, PriorAuthRequest
from reviews.web.clinical import label, plain_engine_text

# Which part of the case each consistency check compares against.
_IMAGING_CHECKS = {"levels_imaging", "levels_fracture", "sides"}
_SERVICE_CHECKS = {"region_codes", "levels_blocks"}
_HISTORY_CHECKS = {"repeat_interval"}

ANSWER_WORDS = {
    "not_met": "Not met",
    "insufficient_information": "Not enough information",
    "met": "Met",
    "not_applicable": "Not applicable",
}


def source_links(citation: dict | None, sources: dict) -> list[dict]:
    """[{"id", "title", "href"}] for a criterion's citation; href is "" when the register gives
    no web address for the source."""
    if not citation:
        return []
    ids = citation.get("sources") or ([citation["source"]] if citation.get("source") else [])
    out = []
    for source_id in ids:
        entry = sources.get(source_id) or {}
        where = str(entry.get("where") or "")
        out.append(
            {
                "id": source_id,
                "title": str(entry.get("title") or source_id),
                "href": where if where.startswith(("https://", "http://")) else "",
            }
        )
    return out


def _policy_sources(evaluation) -> dict:
    version = getattr(evaluation, "policy_version", None)
    if version is None:
        return {}
    return (version.content or {}).get("sources") or {}


def criteria_display(evaluation, contradicted: dict[str, list[dict]]) -> list[dict]:
    """The trace as the case page lists it: each result with its source links and, when the
    notes contradict a criterion the engine found met, those contradictions."""
    if evaluation is None:
        return []
    sources = _policy_sources(evaluation)
    rows = []
    for result in evaluation.trace:
        criterion = result.get("id") or ""
        rows.append(
            {
                **result,
                "answer_words": ANSWER_WORDS.get(result.get("answer"), result.get("answer")),
                "explanation_words": plain_engine_text(result.get("explanation") or ""),
                "sources": source_links(result.get("citation"), sources),
                "contradictions": contradicted.get(criterion, []),
            }
        )
    return rows


def _imaging_report(attachments: list[Attachment]) -> Attachment | None:
    reports = [a for a in attachments if a.kind == Attachment.Kind.IMAGING_REPORT]
    return reports[-1] if reports else None


def _case_link(request_id: int) -> dict:
    return {"href": reverse("case", args=[request_id]), "label": f"PA-{request_id:08d}"}


def earlier_requests(pa_request: PriorAuthRequest) -> list[PriorAuthRequest]:
    """The member's other requests in Lamina, newest first: what a history finding points to."""
    return list(
        PriorAuthRequest.objects.filter(member_id=pa_request.member_id)
        .exclude(pk=pa_request.pk)
        .order_by("-received_at", "-pk")[:10]
    )


def case_summary(
    *,
    pa_request: PriorAuthRequest,
    evaluation,
    note_findings: dict,
    attachments: list[Attachment],
    earlier: list[PriorAuthRequest],
) -> dict:
    """{"reasons": [...], "contradicted": {criterion: [conflict]}, "appeal", "answer"}.

    Each reason: {"kind", "title", "text", "links": [{"href", "label"}], "severity"}.
    """
    reasons: list[dict] = []
    contradicted: dict[str, list[dict]] = {}
    sources = _policy_sources(evaluation)
    trace = {r.get("id"): r for r in (evaluation.trace if evaluation else []) if r.get("id")}

    # Notes that disagree with the attestation: from the stored findings, with the span.
    for conflict in note_findings.get("conflicts") or []:
        criterion = conflict.get("criterion") or ""
        if criterion:
            contradicted.setdefault(criterion, []).append(conflict)
        result = trace.get(criterion) or {}
        title = "The notes disagree with the request"
        if criterion and result.get("answer") == "met":
            title = f"{criterion} was found met from the attested facts, but the notes disagree"
        elif criterion:
            title = f"The notes disagree with the facts {criterion} reads"
        span = conflict.get("span") or [0]
        reasons.append(
            {
                "kind": "note_conflict",
                "severity": "bad",
                "title": title,
                "text": conflict.get("explanation", ""),
                "links": [
                    {
                        "href": f"#finding-{conflict.get('attachment_id')}-{span[0]}",
                        "label": "The passage in the note",
                    },
                    *(
                        [{"href": f"#criterion-{criterion}", "label": criterion}]
                        if criterion
                        else []
                    ),
                ],
            }
        )
    if evaluation is not None and not note_findings.get("conflicts"):
        # Recorded at evaluation time; shown when the stored findings no longer hold them.
        for conflict in evaluation.note_conflicts or []:
            criterion = conflict.get("criterion") or ""
            if criterion:
                contradicted.setdefault(criterion, []).append(conflict)
            reasons.append(
                {
                    "kind": "note_conflict",
                    "severity": "bad",
                    "title": "The notes disagree with the request",
                    "text": conflict.get("explanation", ""),
                    "links": [{"href": "#notes", "label": "The clinical notes"}]
                    + (
                        [{"href": f"#criterion-{criterion}", "label": criterion}]
                        if criterion
                        else []
                    ),
                }
            )

    if evaluation is not None:
        report = _imaging_report(attachments)
        for finding in evaluation.consistency or []:
            check = str(finding.get("check") or "")
            links = []
            compared = " ".join(str(k) for k in (finding.get("compared") or {}))
            if check in _IMAGING_CHECKS:
                if report is not None:
                    links.append({"href": f"#note-{report.pk}", "label": "The imaging report"})
                links.append({"href": "#clinical", "label": "Imaging in the clinical facts"})
                if "note" in compared:
                    links.append({"href": "#notes", "label": "The clinical notes"})
            elif check in _SERVICE_CHECKS:
                links.append({"href": "#service", "label": "The service requested"})
            elif check in _HISTORY_CHECKS:
                links.extend(_case_link(r.pk) for r in earlier[:3])
                links.append({"href": "#clinical", "label": "Prior procedures"})
            else:
                links.append({"href": "#clinical", "label": "The clinical facts"})
            red_flag = finding.get("severity") == "red_flag"
            reasons.append(
                {
                    "kind": "consistency",
                    "severity": "bad" if red_flag else "warn",
                    "title": ("Red flag: " if red_flag else "")
                    + "The request contradicts itself ("
                    + label(check).lower()
                    + ")",
                    "text": finding.get("statement", ""),
                    "links": links,
                }
            )

        for result in evaluation.trace:
            answer = result.get("answer")
            if answer not in {"not_met", "insufficient_information"}:
                continue
            criterion = result.get("id") or ""
            links = [{"href": f"#criterion-{criterion}", "label": "The criterion and its facts"}]
            links += [
                {"href": s["href"], "label": s["id"], "external": True}
                for s in source_links(result.get("citation"), sources)
                if s["href"]
            ]
            reasons.append(
                {
                    "kind": answer,
                    "severity": "bad" if answer == "not_met" else "warn",
                    "title": f"{criterion} {ANSWER_WORDS[answer].lower()}"
                    + ("" if result.get("decisive", True) else " (advisory)"),
                    "text": result.get("statement", ""),
                    "detail": plain_engine_text(result.get("explanation") or ""),
                    "links": links,
                }
            )

        for check in evaluation.history_checks or []:
            if check.get("result") != "flag":
                continue
            reasons.append(
                {
                    "kind": "history",
                    "severity": "bad",
                    "title": label(str(check.get("check", ""))),
                    "text": check.get("detail", ""),
                    "links": [_case_link(int(r)) for r in check.get("requests") or []],
                }
            )
        for item in evaluation.documentation or []:
            if item.get("present"):
                continue
            reasons.append(
                {
                    "kind": "documentation",
                    "severity": "warn",
                    "title": f"Missing: {label(str(item.get('item', ''))).lower()}",
                    "text": item.get("detail", ""),
                    "links": [{"href": "#notes", "label": "Documents on file"}],
                }
            )
        if evaluation.policy_version_id is None:
            reasons.append(
                {
                    "kind": "no_policy",
                    "severity": "warn",
                    "title": "No Lamina policy covers this service",
                    "text": "A reviewer decides it on the records; a denial takes a written "
                    "reason with its source.",
                    "links": [{"href": "#service", "label": "The service requested"}],
                }
            )
    elif pa_request.status != "appeal":
        reasons.append(
            {
                "kind": "pending",
                "severity": "warn",
                "title": "Not evaluated yet",
                "text": "The evidence checks have not run for this request.",
                "links": [],
            }
        )

    return {
        "reasons": reasons,
        "contradicted": contradicted,
        "appeal": open_appeal(pa_request, attachments),
        "answer": latest_answer(pa_request, attachments),
    }


def open_appeal(pa_request: PriorAuthRequest, attachments: list[Attachment]) -> dict | None:
    """The appeal being decided (or the last one filed), with the documents sent with it."""
    appeal = (
        Appeal.objects.filter(request=pa_request)
        .select_related("filed_by", "original_determination")
        .order_by("-filed_at", "-pk")
        .first()
    )
    if appeal is None:
        return None
    return {
        "appeal": appeal,
        "open": appeal.status == Appeal.AppealStatus.OPEN,
        "documents": [a for a in attachments if a.source == "appeal"],
    }


def latest_answer(pa_request: PriorAuthRequest, attachments: list[Attachment]) -> dict | None:
    """The provider's last answer to a request for information: its message and what it sent."""
    answered = (
        InformationRequest.objects.filter(request=pa_request, answered_at__isnull=False)
        .order_by("-answered_at", "-pk")
        .first()
    )
    if answered is None:
        return None
    answer = answered.answer or {}
    return {
        "information_request": answered,
        "message": str(answer.get("message") or ""),
        "clinical_fields": [label(str(f)) for f in answer.get("clinical_fields") or []],
        "documents": [a for a in attachments if a.source == "information"],
    }
