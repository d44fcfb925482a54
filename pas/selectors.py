"""Reads of the FHIR interface, scoped like every read in Lamina: a provider sees its own
organization's requests and subscriptions only (another organization's is not found), and, for
Claim/$inquire, another organization's request that names the provider's organization."""

from django.db.models import Q

from pas.models import Subscription
from reviews.models import PriorAuthRequest
from reviews.selectors import request_list_for

MAX_INQUIRY_RESULTS = 20


def claim_inquire_matches(*, user, keys: dict) -> list[PriorAuthRequest]:
    """The requests a $inquire asks about (PAS 2.2.1, query by example), latest first, 0..*.

    Every key the inquiry gives must match: the member id; the provider NPI (the request's
    requesting provider, the Claim's provider, or the submitting organization); a service code
    (CPT, or the code of an item no CPT coded); an item trace number. Besides the provider's own
    organization's requests, another organization's request for the member is open to the
    organization it names as the requesting provider (the guide lets a provider of the member
    other than the submitter inquire)."""
    organization = getattr(user, "organization", None)
    own = request_list_for(user=user)
    requests = PriorAuthRequest.objects.filter(member__member_id=keys["member_id"])
    named = Q(pk__in=own.values("pk"))
    if organization is not None and organization.npi:
        named |= Q(requesting_provider_npi=organization.npi) | Q(
            claim_record__provider_npi=organization.npi
        )
    requests = requests.filter(named)
    references = [
        r for r in keys.get("references") or [] if r.startswith("PA-") and r[3:].isdigit()
    ]
    if references:
        requests = requests.filter(pk__in=[int(r[3:]) for r in references])
    npi = keys.get("provider_npi")
    if npi:
        requests = requests.filter(
            Q(requesting_provider_npi=npi)
            | Q(claim_record__requestor_npi=npi)
            | Q(claim_record__provider_npi=npi)
            | Q(organization__npi=npi)
        )
    candidates = list(
        requests.select_related("member", "organization")
        .distinct()
        .order_by("-received_at", "-pk")[: MAX_INQUIRY_RESULTS * 5]
    )
    codes = set(keys.get("codes") or [])
    traces = set(keys.get("trace_numbers") or [])
    out = []
    for pa_request in candidates:
        record = getattr(pa_request, "claim_record", None) if _has_record(pa_request) else None
        items = list(record.items) if record is not None else []
        if codes:
            sent = set(pa_request.cpt_codes) | {str(i.get("code")) for i in items if i.get("code")}
            if not codes & sent:
                continue
        if traces:
            sent = {
                str((i.get("trace_number") or {}).get("value"))
                for i in items
                if isinstance(i.get("trace_number"), dict)
            }
            if not traces & sent:
                continue
        out.append(pa_request)
    return out[:MAX_INQUIRY_RESULTS]


def _has_record(pa_request: PriorAuthRequest) -> bool:
    from pas.models import ClaimRecord

    try:
        return pa_request.claim_record is not None
    except ClaimRecord.DoesNotExist:
        return False


def subscription_get_for(*, user, subscription_id) -> Subscription | None:
    if not getattr(user, "is_authenticated", False) or user.organization_id is None:
        return None
    try:
        pk = int(subscription_id)
    except (TypeError, ValueError):
        return None
    return Subscription.objects.filter(pk=pk, organization_id=user.organization_id).first()
