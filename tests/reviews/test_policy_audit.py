"""Policy versions on the audit trail: loading, drafting, activating, retiring."""

from criteria.models import PolicyVersion
from criteria.services import policies_load, policy_version_activate, policy_version_copy_as_draft
from reviews.models import AuditEvent


def test_loading_is_recorded_once_per_new_version(db):
    versions = policies_load()
    loaded = AuditEvent.objects.filter(action="policy_version_loaded")
    assert loaded.count() == len(versions) == 10
    assert {e.data["policy_version"] for e in loaded} == {v.label for v in versions}
    assert {e.actor_label for e in loaded} == {"system"}

    policies_load()  # nothing new: nothing recorded
    assert AuditEvent.objects.filter(action="policy_version_loaded").count() == 10


def test_an_admin_activating_a_new_version_is_on_the_record(db, admin_user):
    active = next(
        v for v in policies_load() if v.profile == "baseline" and v.policy.family == "spinal_fusion"
    )
    draft = policy_version_copy_as_draft(version=active, actor=admin_user)
    policy_version_activate(version=draft, actor=admin_user)

    events = list(
        AuditEvent.objects.filter(action__startswith="policy_version_")
        .exclude(action="policy_version_loaded")
        .order_by("id")
    )
    assert [e.action for e in events] == [
        "policy_version_drafted",
        "policy_version_retired",
        "policy_version_activated",
    ]
    assert events[0].actor == admin_user and events[2].actor == admin_user
    assert events[1].data["policy_version"] == active.label
    assert PolicyVersion.objects.get(pk=active.pk).status == "retired"
