"""factory_boy factories and builders of valid submissions."""

import copy
import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from reviews.models import Member, Organization, PriorAuthRequest, Status, User
from reviews.roles import ensure_role_groups
from tests.conftest import example


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Spine Clinic {n}")


class ProviderUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True  # the role hook adds a group; the user row is unchanged

    username = factory.Sequence(lambda n: f"provider{n}")
    organization = factory.SubFactory(OrganizationFactory)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create:
            self.groups.add(ensure_role_groups()["provider"])


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    member_id = factory.Sequence(lambda n: f"M{n:09d}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"Member{n}")
    birth_date = factory.Faker("date_of_birth", minimum_age=30, maximum_age=85)
    sex = "female"


class PriorAuthRequestFactory(factory.django.DjangoModelFactory):
    """A stored request row in a given status, without running intake (for queue and scale tests)."""

    class Meta:
        model = PriorAuthRequest

    organization = factory.SubFactory(OrganizationFactory)
    submitted_by = factory.SubFactory(
        ProviderUserFactory, organization=factory.SelfAttribute("..organization")
    )
    member = factory.SubFactory(MemberFactory)
    urgency = "standard"
    line_of_business = "commercial"
    requesting_provider_npi = "1679576722"
    requesting_provider_name = "Priya Raman, MD"
    procedure_family = "epidural_steroid_injection"
    service = factory.LazyFunction(
        lambda: {"cpt_codes": ["64483"], "spinal_region": "lumbar", "levels": ["L5-S1"]}
    )
    diagnosis_codes = factory.LazyFunction(lambda: ["M51.17"])
    clinical = factory.LazyFunction(dict)
    status = Status.NURSE_REVIEW
    received_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyAttribute(lambda o: o.received_at + timedelta(days=7))


def submission(
    name: str = "esi-lumbar-radiculopathy", *, member_id: str | None = None, **changes
) -> dict:
    """A shared example request as the intake service receives it, with a fresh member by default.

    `changes` replace top-level keys; `clinical__x=...` replaces one clinical key.
    """
    data = copy.deepcopy(example(name))
    data["member"]["member_id"] = member_id or f"T{uuid.uuid4().hex[:10].upper()}"
    for key, value in changes.items():
        if key.startswith("clinical__"):
            field = key.removeprefix("clinical__")
            if value is None:
                data["clinical"].pop(field, None)
            else:
                data["clinical"][field] = value
        elif key.startswith("service__"):
            data["service"][key.removeprefix("service__")] = value
        else:
            data[key] = value
    return data


def submit(actor, name: str = "esi-lumbar-radiculopathy", **changes) -> PriorAuthRequest:
    from reviews.services import request_submit

    return request_submit(actor=actor, data=submission(name, **changes))
