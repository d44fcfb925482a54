"""Reads of the FHIR interface, scoped like every read in Lamina: a provider sees its own
organization's requests and subscriptions only (another organization's is not found)."""

from django.db.models import Q

from pas.fhir import LAMINA_REQUEST
from pas.models import Subscription
from reviews.models import PriorAuthRequest
from reviews.selectors import request_list_for


def claim_inquire_match(*, user, keys: dict) -> PriorAuthRequest | None:
    """The request a $inquire names: by the Claim identifier (or Lamina's reference), for the same
    member, and for the same provider when the inquiry names one; the latest when several match."""
    requests = request_list_for(user=user).select_related("member")
    if keys.get("member_id"):
        requests = requests.filter(member__member_id=keys["member_id"])
    identifiers = keys.get("identifiers") or []
    if identifiers:
        by_identifier = Q()
        for system, value in identifiers:
            if system == LAMINA_REQUEST and value.startswith("PA-") and value[3:].isdigit():
                by_identifier |= Q(pk=int(value[3:]))
            elif system:
                by_identifier |= Q(
                    claim_record__identifier_system=system, claim_record__identifier_value=value
                )
            else:
                by_identifier |= Q(claim_record__identifier_value=value)
            by_identifier |= Q(claim_record__isnull=True, external_id=value)
        requests = requests.filter(by_identifier)
    if keys.get("provider_npi"):
        npi = keys["provider_npi"]
        requests = requests.filter(
            Q(requesting_provider_npi=npi)
            | Q(claim_record__requestor_npi=npi)
            | Q(organization__npi=npi)
        )
    matches = list(requests.order_by("-received_at", "-pk")[:20])
    codes = set(keys.get("cpt_codes") or [])
    if codes:
        matches = [m for m in matches if codes & set(m.cpt_codes)] or []
    return matches[0] if matches else None


def subscription_get_for(*, user, subscription_id) -> Subscription | None:
    if not getattr(user, "is_authenticated", False) or user.organization_id is None:
        return None
    try:
        pk = int(subscription_id)
    except (TypeError, ValueError):
        return None
    return Subscription.objects.filter(pk=pk, organization_id=user.organization_id).first()
