"""Determination letters: one plain-language letter per determination, to provider and member.

letter_context() is the single source of a letter's content; the web page, the PDF and the
provider API all render what it returns, so the three never disagree.
"""

import re

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from reviews import reference
from reviews.audit import audit_record
from reviews.models import Determination, Outcome, Role
from reviews.services.appeals import appeal_window_closes_at

ROLE_WORDS = {
    Role.ENGINE: (
        "the plan's automated check of the coverage criteria, which can only approve: "
        "every denial is made by a physician"
    ),
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


def _public_title(title: str) -> str:
    """A policy title without the parenthesis naming where its internal guidance came from."""
    return re.sub(r"\s*\([^)]*\bseed\b[^)]*\)", "", title or "", flags=re.IGNORECASE).strip()


def _policy(determination: Determination) -> dict | None:
    version = determination.policy_version
    snapshot = determination.evaluation_snapshot or {}
    if version is not None:
        return {
            "label": version.label,
            "title": _public_title(version.policy.title),
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
                "description": entry.description
                if entry
                else "A service the plan's written criteria do not cover",
                "approved": code in approved,
            }
        )
    return rows


# --- Reasons in plain language -------------------------------------------------------------------

# How a rule compares a fact, in words: "the policy asks for {words} {value}".
OP_WORDS = {
    "gte": "at least",
    "gt": "more than",
    "lte": "at most",
    "lt": "less than",
    "eq": "",
    "ne": "anything but",
    "in": "one of",
    "contains": "a finding of",
    "contains_any": "one of these findings:",
    "any_prefix": "a diagnosis code starting with",
    "months_since_lte": "dated no more than this many months before the review:",
    "days_since_lte": "dated no more than this many days before the review:",
}
BOOLEAN_OPS = {"is_true": "yes", "is_false": "no"}
# Where a written reason's evidence is, in the member's words (reviews.services.decisions sources).
SOURCE_WORDS = {
    "no_policy": "None of the plan's written coverage criteria apply to the requested service; "
    "a physician reviewed the records themselves.",
    "conflict": "What the clinical notes sent with the request say.",
    "history": "The member's earlier requests and authorizations with the plan.",
    "records": "The clinical records sent with the request.",
}
INTERNAL_SOURCE = re.compile(r"^(SEED|RUBRIC)-", re.IGNORECASE)


def _words(value) -> str:
    if value is None or value == "" or value == []:
        return "not stated in the records"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list):
        return ", ".join(str(v).replace("_", " ") for v in value)
    return str(value).replace("_", " ")


def _leaves(rule) -> list[dict]:
    if not isinstance(rule, dict):
        return []
    if "fact" in rule:
        return [rule]
    found = []
    for key in ("all", "any"):
        for part in rule.get(key) or []:
            found += _leaves(part)
    if "not" in rule:
        found += _leaves(rule["not"])
    return found


def _requirement(leaf: dict, parameters: dict) -> str:
    op = str(leaf.get("op") or "")
    if op in BOOLEAN_OPS:
        return BOOLEAN_OPS[op]
    value = leaf.get("value")
    unit = ""
    if leaf.get("param"):
        parameter = parameters.get(leaf["param"]) or {}
        value = parameter.get("value", value)
        unit = str(parameter.get("unit") or "")
    text = " ".join(p for p in (OP_WORDS.get(op, op.replace("_", " ")), _words(value)) if p)
    if unit and not isinstance(value, list) and unit not in {"imaging findings"}:
        text += f" {unit}"
    return text


def _findings(result: dict, content: dict) -> list[dict]:
    """Each fact the criterion read: what it is, what the records showed, what the policy asks."""
    criterion = next(
        (c for c in content.get("criteria") or [] if c.get("id") == result.get("id")), {}
    )
    facts_read = result.get("facts") if isinstance(result.get("facts"), dict) else {}
    descriptions = content.get("facts") or {}
    parameters = content.get("parameters") or {}
    leaves = _leaves(criterion.get("rule"))
    rows = []
    for name, value in facts_read.items():
        about = str((descriptions.get(name) or {}).get("why") or name.replace("_", " "))
        mine = [leaf for leaf in leaves if leaf.get("fact") == name]
        asks = [_requirement(leaf, parameters) for leaf in mine]
        found = _words(value)
        units = {str((parameters.get(leaf.get("param")) or {}).get("unit") or "") for leaf in mine}
        if isinstance(value, int | float) and not isinstance(value, bool) and len(units) == 1:
            found = f"{found} {units.pop()}".strip()
        rows.append(
            {
                "fact": about[:1].upper() + about[1:],
                "found": found,
                "required": " or ".join(dict.fromkeys(a for a in asks if a)),
            }
        )
    return rows


def _sources(citation, content: dict) -> dict:
    """The public documents a criterion comes from (LCDs first) and where in them."""
    citation = citation if isinstance(citation, dict) else {}
    known = content.get("sources") or {}
    documents = []
    for source in citation.get("sources") or []:
        source = str(source)
        entry = known.get(source) or {}
        where = str(entry.get("where") or "")
        if INTERNAL_SOURCE.match(source) or not where.startswith(("http://", "https://")):
            continue
        documents.append({"id": source, "title": str(entry.get("title") or source), "url": where})
    documents.sort(key=lambda d: not re.match(r"^L\d+$", d["id"]))
    location = "; ".join(
        part.strip()
        for part in str(citation.get("location") or "").split(";")
        if part.strip() and "seed" not in part.lower() and "rubric" not in part.lower()
    )
    return {"documents": documents, "location": location}


def _reasons(determination: Determination) -> list[dict]:
    """Each reason of an adverse determination in plain language: the criterion with the facts
    the checks read, the threshold and its sources, from the evaluation as it stood when decided;
    or the physician's written reason with where its evidence is."""
    snapshot = determination.evaluation_snapshot or {}
    trace = {r.get("id"): r for r in snapshot.get("trace") or [] if isinstance(r, dict)}
    version = determination.policy_version
    content = version.content if version is not None else {}
    reasons = []
    for reason in determination.reasons or []:
        criterion = str(reason.get("criterion") or "")
        base = {
            "criterion": criterion,
            "statement": str(reason.get("statement") or ""),
            "note": str(reason.get("note") or ""),
        }
        if criterion:
            result = trace.get(criterion) or {"id": criterion}
            reasons.append(
                {
                    **base,
                    "findings": _findings(result, content),
                    **_sources(result.get("citation"), content),
                    "source": "",
                }
            )
        else:
            key = str(reason.get("source") or "").split(":", 1)[0]
            reasons.append(
                {
                    **base,
                    "findings": [],
                    "documents": [],
                    "location": "",
                    "source": SOURCE_WORDS.get(key, SOURCE_WORDS["records"]),
                }
            )
    return reasons


def plan_contact() -> dict:
    """How the member and the provider reach the plan (settings PLAN_*)."""
    return {
        "name": settings.PLAN_NAME,
        "phone": settings.PLAN_PHONE,
        "tty": settings.PLAN_TTY,
        "address": settings.PLAN_ADDRESS,
    }


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
        # The criteria not met in the policy's own words, with the facts, the threshold and the
        # sources; and the physician's written reasons with their evidence.
        "reasons": _reasons(determination) if adverse else [],
        "plan": plan_contact(),
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
                    "the criteria are met. The provider files the appeal electronically with the "
                    f"plan; the member may call {settings.PLAN_PHONE} (TTY {settings.PLAN_TTY}) "
                    f"or write to {settings.PLAN_ADDRESS}. Quote {pa_request.reference}. "
                    "A physician who took no part in this decision reviews the appeal. If "
                    "waiting could seriously harm the member's life, health or ability to "
                    "function, ask for an expedited appeal: it is decided within "
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
