"""Loading, selecting and versioning policies against PostgreSQL."""

import shutil
from datetime import date
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from criteria.loader import POLICY_DIR, PolicyError, checksum
from criteria.models import PolicyVersion
from criteria.selectors import policy_version_for
from criteria.services import (
    policies_load,
    policies_sync,
    policy_version_activate,
    policy_version_copy_as_draft,
    policy_version_draft_update,
)

pytestmark = pytest.mark.django_db
S = PolicyVersion.Status
ESI = "epidural_steroid_injection"


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target)
    return target


def test_loading_twice_creates_nothing_new():
    first = policies_load()
    assert len(first) == 10
    assert {(v.policy.family, v.profile) for v in first} == {
        (f, p)
        for f in (
            ESI,
            "facet_injection",
            "radiofrequency_ablation",
            "vertebral_augmentation",
            "spinal_fusion",
        )
        for p in ("baseline", "evidence_strict")
    }
    assert all(v.status == S.ACTIVE and v.version == 1 for v in first)
    second = policies_sync()
    assert second.created == [] and second.retired == []
    assert [v.pk for v in second.versions] == [v.pk for v in first]
    assert PolicyVersion.objects.count() == 10


def test_the_command_loads_idempotently(capsys):
    call_command("load_policies")
    call_command("load_policies")
    assert PolicyVersion.objects.count() == 10
    assert "10 policy versions in force, 0 new." in capsys.readouterr().out


def test_a_changed_file_creates_a_new_version_and_retires_the_old(policy_dir):
    policies_load(directory=policy_dir)
    old = PolicyVersion.objects.get(policy__family=ESI, profile="baseline", status=S.ACTIVE)
    old_content, old_checksum = old.content, old.checksum
    # when a plan moves ESI-04 from 4 weeks to 6 weeks and ships it from 2026-12-01
    path = policy_dir / "epidural_steroid_injection.yaml"
    text = path.read_text()
    text = text.replace("esi_pain_min_days: {value: 28", "esi_pain_min_days: {value: 42")
    text = text.replace("effective_from: 2025-01-01", "effective_from: 2026-12-01")
    path.write_text(text)
    report = policies_sync(directory=policy_dir)
    # then both ESI profiles get version 2; nothing else changes
    assert sorted((v.policy.family, v.profile, v.version) for v in report.created) == [
        (ESI, "baseline", 2),
        (ESI, "evidence_strict", 2),
    ]
    old.refresh_from_db()
    assert old.status == S.RETIRED and old.effective_to == date(2026, 12, 1)
    assert old.content == old_content and old.checksum == old_checksum
    new = PolicyVersion.objects.get(policy__family=ESI, profile="baseline", status=S.ACTIVE)
    esi04 = next(c for c in new.content["criteria"] if c["id"] == "ESI-04")
    assert esi04["threshold"].startswith("symptoms.duration_days >= 42")
    assert new.checksum == checksum(new.content)
    # a request dated before the new version takes effect is judged by the old one
    pick = lambda on: policy_version_for(family=ESI, line_of_business="commercial", on_date=on)  # noqa: E731
    assert pick(date(2026, 11, 30)) == old
    assert pick(date(2026, 12, 1)) == new
    assert policies_sync(directory=policy_dir).created == []


def test_an_unknown_fact_in_a_file_refuses_the_whole_load(policy_dir):
    path = policy_dir / "spinal_fusion.yaml"
    path.write_text(path.read_text().replace("conservative_care.physical_therapy_days", "pt.weeks"))
    with pytest.raises(PolicyError) as refused:
        policies_load(directory=policy_dir)
    assert refused.value.criterion == "FU-03"
    assert "unknown fact 'pt.weeks'" in str(refused.value)
    assert PolicyVersion.objects.count() == 0


def test_active_and_retired_versions_are_never_edited_or_deleted():
    version = policies_load()[0]
    version.content = {**version.content, "title": "edited"}
    with pytest.raises(ValidationError, match="cannot be edited"):
        version.save()
    version.refresh_from_db()
    with pytest.raises(ValidationError):
        version.delete()
    with pytest.raises(PolicyError):
        policy_version_draft_update(version=version, notes="nope")


def test_an_admin_copies_a_version_edits_the_draft_and_activates_it():
    policies_load()
    active = PolicyVersion.objects.get(policy__family=ESI, profile="baseline", status=S.ACTIVE)
    draft = policy_version_copy_as_draft(version=active, actor="admin")
    assert (draft.status, draft.version) == (S.DRAFT, 2)
    # drafts never apply
    assert (
        policy_version_for(family=ESI, line_of_business="commercial", on_date=date(2026, 11, 23))
        == active
    )
    content = draft.content
    content["parameters"]["esi_max_sessions_12_months"]["value"] = 3
    policy_version_draft_update(version=draft, content=content, effective_from=date(2026, 1, 1))
    activated = policy_version_activate(version=draft, actor="admin")
    assert activated.status == S.ACTIVE
    esi10 = next(c for c in activated.content["criteria"] if c["id"] == "ESI-10")
    assert esi10["rule"]["value"] == 3  # the parameter reached the rule on activation
    active.refresh_from_db()
    assert active.status == S.RETIRED
    assert (
        policy_version_for(family=ESI, line_of_business="commercial", on_date=date(2026, 11, 23))
        == activated
    )
    # the file is unchanged, so loading again does not undo the admin's version
    assert policies_sync().created == []


def test_activation_refuses_an_invalid_draft_and_keeps_the_active_version():
    policies_load()
    active = PolicyVersion.objects.get(policy__family=ESI, profile="baseline", status=S.ACTIVE)
    draft = policy_version_copy_as_draft(version=active)
    content = draft.content
    next(c for c in content["criteria"] if c["id"] == "ESI-05")["rule"]["op"] = "roughly"
    policy_version_draft_update(version=draft, content=content)
    with pytest.raises(PolicyError, match="ESI-05: unknown operator 'roughly'"):
        policy_version_activate(version=draft)
    active.refresh_from_db()
    draft.refresh_from_db()
    assert (active.status, draft.status) == (S.ACTIVE, S.DRAFT)


def test_the_profile_follows_the_line_of_business(settings):
    policies_load()
    settings.POLICY_PROFILES = {"commercial": "baseline", "medicaid": "evidence_strict"}
    on = date(2026, 11, 23)
    assert (
        policy_version_for(family=ESI, line_of_business="commercial", on_date=on).profile
        == "baseline"
    )
    assert (
        policy_version_for(family=ESI, line_of_business="medicaid", on_date=on).profile
        == "evidence_strict"
    )
    assert (
        policy_version_for(family=ESI, line_of_business="unknown_lob", on_date=on).profile
        == "baseline"
    )
    assert (
        policy_version_for(
            family=ESI, line_of_business="commercial", on_date=on, profile="evidence_strict"
        ).profile
        == "evidence_strict"
    )
    assert (
        policy_version_for(family=ESI, line_of_business="commercial", on_date=date(2024, 12, 31))
        is None
    )
    assert policy_version_for(family="general", line_of_business="commercial", on_date=on) is None
