"""Determination letters: one plain-language letter per determination, to provider and member.

letter_context() is the single source of a letter's content; the web page, the PDF and the
provider API all render what it returns, so the three never disagree.
"""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from reviews import reference
from reviews.audit import audit_record
from reviews.models import Determination, Outcome, Role
from reviews.services.appeals import appeal_window_closes_at

ROLE_WORDS = {
    Role.ENGINE: "Lamina's automated criteria review (approvals only; no automated denials)",
    Role.NURSE: "a registered nurse reviewer",
    Role.PHYSICIAN: "a physician reviewer (medical director)",
    Role.PROVIDER: "the requesting provider",
}

HEADLINES = {
    Outcome.APPROVED: "Your request is approved",
    Outcome.PARTIALLY_APPROVED: "Your request is partly approved",
    Outcome.DENIED: "Your request is not approved",
    Outcome.WITHDRAWN: "Your request was withdrawn",
}

SUMMARIES = {
    Outcome.APPROVED: (
        "The health plan reviewed the request and agrees the service is medically necessary. "
        "It is authorized as described below."
    ),
    Outcome.PARTIALLY_APPROVED: (
        "The health plan reviewed the request and authorizes part of it. The part that is not "
        "authorized did not meet the coverage criteria listed below."
    ),
    Outcome.DENIED: (
        "The health plan reviewed the request and cannot authorize it, because it did not meet "
        "the coverage criteria listed below. A physician reviewer made this decision."
    ),
    Outcome.WITHDRAWN: (
        "The requesting provider withdrew this request before a decision was made. "
        "Nothing was decided about the service."
    ),
}

ADVERSE = frozenset({Outcome.DENIED, Outcome.PARTIALLY_APPROVED})


def _policy(determination: Determination) -> dict | None:
    version = determination.policy_version
    snapshot = determination.evaluation_snapshot or {}
    if version is not None:
        return {
            "label": version.label,
            "title": version.policy.title,
            "version": version.version,
            "checksum_prefix": version.checksum[:12],
        }
    if snapshot.get("policy_version"):
        return {
            "label": snapshot["policy_version"],
            "title": "",
            "version": None,
            "checksum_prefix": (snapshot.get("policy_checksum") or "")[:12],
        }
    return None


def _services(determination: Determination) -> list[dict]:
    pa_request = determination.request
    approved = set(determination.approved_cpt_codes or [])
    rows = []
    for code in pa_request.cpt_codes:
        entry = reference.cpt_lookup(code)
        rows.append(
            {
                "code": code,
                "description": entry.description if entry else "Service not covered by a policy",
                "approved": code in approved,
            }
        )
    return rows


def letter_context(determination: Determination) -> dict:
    """Everything a letter says, as plain data (JSON-ready except the datetimes)."""
    pa_request = determination.request
    member = pa_request.member
    outcome = determination.outcome
    adverse = outcome in ADVERSE
    appeal_by = appeal_window_closes_at(determination) if adverse else None
    service = pa_request.service or {}
    return {
        "determination_id": determination.pk,
        "request_id": pa_request.pk,
        "reference": pa_request.reference,
        "kind": determination.kind,
        "kind_label": determination.get_kind_display(),
        "outcome": outcome,
        "outcome_label": determination.get_outcome_display(),
        "headline": HEADLINES.get(outcome, determination.get_outcome_display()),
        "summary": SUMMARIES.get(outcome, ""),
        "appeal_result": determination.appeal_result,
        "decided_at": determination.decided_at,
        "member": {
            "name": f"{member.first_name} {member.last_name}",
            "member_id": member.member_id,
        },
        "provider": {
            "name": pa_request.requesting_provider_name,
            "npi": pa_request.requesting_provider_npi,
            "organization": pa_request.organization.name,
        },
        "services": _services(determination),
        "requested": {
            "region": service.get("spinal_region") or "",
            "levels": list(service.get("levels") or []),
            "units": int(service.get("units") or 1),
        },
        "authorization": (
            {
                "number": determination.authorization_number,
                "cpt_codes": list(determination.approved_cpt_codes or []),
                "levels": list(determination.approved_levels or []),
                "units": determination.approved_units,
                "valid_from": determination.valid_from,
                "valid_to": determination.valid_to,
            }
            if determination.authorization_number
            else None
        ),
        # The criteria not met, in the policy's own plain-language statements.
        "reasons": [
            {"criterion": r.get("criterion", ""), "statement": r.get("statement", "")}
            for r in (determination.reasons or [])
        ]
        if adverse
        else [],
        "rationale": determination.rationale if outcome != Outcome.WITHDRAWN else "",
        "policy": _policy(determination),
        "reviewer_role": determination.decided_by_role,
        "reviewer_role_words": ROLE_WORDS.get(
            determination.decided_by_role, determination.get_decided_by_role_display()
        ),
        "appeal": (
            {
                "by": appeal_by,
                "window_days": settings.APPEAL_WINDOW_DAYS,
                "how": (
                    "The provider, or the member with the provider's help, may appeal by sending "
                    "the plan the reasons the decision should change and any records that show "
                    "the criteria are met; the provider files it through Lamina's provider API, "
                    f"quoting {pa_request.reference}. A physician who took no "
                    "part in this decision reviews the appeal. If waiting could seriously harm "
                    "the member's life, health or ability to function, ask for an expedited "
                    "appeal: it is decided within "
                    f"{settings.APPEAL_WINDOWS_HOURS['expedited']} hours."
                ),
            }
            if adverse and determination.kind == Determination.Kind.INITIAL
            else None
        ),
        # When only time stood in the way: the date the request would qualify as it stands.
        "eligible_on": _eligible_on(pa_request) if adverse else None,
        "generated_at": timezone.now(),
    }


def _eligible_on(pa_request) -> dict | None:
    evaluation = pa_request.evaluations.order_by("-round").first()
    if evaluation is None or evaluation.eligible_on is None:
        return None
    return {
        "date": evaluation.eligible_on,
        "criteria": [
            {
                "criterion": r.get("criterion") or r.get("check") or "",
                "statement": r.get("statement", ""),
            }
            for r in evaluation.eligible_on_reasons or []
        ],
    }


def letter_json(context: dict) -> dict:
    """The letter context with dates as ISO strings, for the API."""

    def convert(value):
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return value

    return convert(context)


def _refuse_fetch(url, *args, **kwargs):
    # A letter is self-contained: WeasyPrint must not reach out to any URL while rendering.
    raise ValueError(f"letters load no external resources ({url})")


def letter_pdf(context: dict) -> bytes:
    """The letter as a PDF, rendered by WeasyPrint from the print template."""
    from weasyprint import HTML

    html = render_to_string("reviews/letter_print.html", {"letter": context})
    return HTML(string=html, url_fetcher=_refuse_fetch).write_pdf()


def letter_filename(context: dict) -> str:
    return f"lamina-{context['reference']}-determination-{context['determination_id']}.pdf"


def letter_viewed(*, determination: Determination, actor, fmt: str, channel: str) -> None:
    """Reading a letter is reading a patient's case: on the record, with where it came from."""
    audit_record(
        action="letter_viewed",
        subject=determination,
        actor=actor,
        request=determination.request,
        data={"determination_id": determination.pk, "format": fmt, "channel": channel},
    )
