"""Filters of the provider's request list."""

import django_filters

from reviews import reference
from reviews.models import PriorAuthRequest, Status, Urgency


class RequestFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    procedure_family = django_filters.ChoiceFilter(
        choices=[(family, family) for family in reference.FAMILIES]
    )
    urgency = django_filters.ChoiceFilter(choices=Urgency.choices)
    # Whole days, both ends included: "received between the 1st and the 7th".
    received_after = django_filters.DateFilter(field_name="received_at", lookup_expr="date__gte")
    received_before = django_filters.DateFilter(field_name="received_at", lookup_expr="date__lte")

    class Meta:
        model = PriorAuthRequest
        fields = ["status", "procedure_family", "urgency", "received_after", "received_before"]
