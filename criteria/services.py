"""Writes to policies: loading the shipped files, drafting and activating new versions.

Each service owns its transaction and locks the Policy row, so two loaders (the run command started
twice) or two admins activating at once cannot leave two versions in force. An active version is
never edited: every change is a new version (DESIGN rule 6), enforced again by PolicyVersion.save().
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.db import transaction
from django.db.models import Max

from criteria.loader import PolicyError, checksum, compile_content, load_directory
from criteria.models import Family, Policy, PolicyVersion
from criteria.signals import policy_version_changed

S = PolicyVersion.Status


@dataclass
class LoadReport:
    versions: list[PolicyVersion] = field(default_factory=list)  # one per file and profile
    created: list[PolicyVersion] = field(default_factory=list)
    retired: list[PolicyVersion] = field(default_factory=list)


def _lock_policy(family: str, title: str = "") -> Policy:
    policy, _ = Policy.objects.get_or_create(
        family=family, defaults={"title": title or Family(family).label}
    )
    return Policy.objects.select_for_update().get(pk=policy.pk)


def _next_number(policy: Policy, profile: str) -> int:
    current = policy.versions.filter(profile=profile).aggregate(n=Max("version"))["n"]
    return (current or 0) + 1


def _retire_active(policy: Policy, profile: str, *, effective_from: date) -> PolicyVersion | None:
    active = policy.versions.filter(profile=profile, status=S.ACTIVE).first()
    if active is None:
        return None
    active.status = S.RETIRED
    # The old version stays in force for dates before its successor takes effect.
    active.effective_to = max(effective_from, active.effective_from)
    active.save(update_fields=["status", "effective_to"])
    policy_version_changed.send(sender=PolicyVersion, version=active, change="retired", actor=None)
    return active


@transaction.atomic
def policies_sync(*, directory: Path | str | None = None, actor=None) -> LoadReport:
    """Load the policy files; create a version only for content not stored before.

    1. Compile every file (a PolicyError aborts the whole load: nothing half-loaded).
    2. Per family and profile, look for a stored version with the same checksum: if one exists,
       nothing changes (running twice creates nothing).
    3. Otherwise create the next version as active and retire the one in force.
    """
    report = LoadReport()
    compiled = load_directory(directory)
    for item in compiled:
        policy = _lock_policy(item["family"], item["title"])
        if item["title"] and policy.title != item["title"]:
            policy.title = item["title"]
            policy.save(update_fields=["title"])
        digest = checksum(item["content"])
        existing = (
            policy.versions.filter(profile=item["profile"], checksum=digest)
            .exclude(status=S.DRAFT)
            .order_by("-version")
            .first()
        )
        if existing is not None:
            report.versions.append(existing)
            continue
        retired = _retire_active(policy, item["profile"], effective_from=item["effective_from"])
        if retired is not None:
            report.retired.append(retired)
        version = PolicyVersion.objects.create(
            policy=policy,
            version=_next_number(policy, item["profile"]),
            profile=item["profile"],
            status=S.ACTIVE,
            effective_from=item["effective_from"],
            content=item["content"],
            checksum=digest,
            source_file=item["source_file"],
            notes=f"Loaded from criteria/policies/{item['source_file']}"
            + (f" by {actor}" if actor else ""),
        )
        policy_version_changed.send(
            sender=PolicyVersion, version=version, change="loaded", actor=actor
        )
        report.versions.append(version)
        report.created.append(version)
    return report


def policies_load(*, directory: Path | str | None = None, actor=None) -> list[PolicyVersion]:
    """The shipped policy versions, loaded idempotently (one per family and profile)."""
    return policies_sync(directory=directory, actor=actor).versions


@transaction.atomic
def policy_version_copy_as_draft(*, version: PolicyVersion, actor=None) -> PolicyVersion:
    """A new draft version with the same content: where an admin edits criteria or numbers."""
    policy = Policy.objects.select_for_update().get(pk=version.policy_id)
    draft = PolicyVersion.objects.create(
        policy=policy,
        version=_next_number(policy, version.profile),
        profile=version.profile,
        status=S.DRAFT,
        effective_from=version.effective_from,
        content=copy.deepcopy(version.content),
        checksum=version.checksum,
        source_file=version.source_file,
        notes=f"Draft copied from v{version.version}" + (f" by {actor}" if actor else ""),
    )
    policy_version_changed.send(sender=PolicyVersion, version=draft, change="drafted", actor=actor)
    return draft


@transaction.atomic
def policy_version_draft_update(
    *,
    version: PolicyVersion,
    content: dict | None = None,
    effective_from: date | None = None,
    notes: str | None = None,
) -> PolicyVersion:
    """Edit a draft. Validation happens at activation, so a draft can be saved half-done."""
    version = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != S.DRAFT:
        raise PolicyError(version.label, "only a draft version can be edited")
    if content is not None:
        version.content = content
        version.checksum = checksum(content)
    if effective_from is not None:
        version.effective_from = effective_from
    if notes is not None:
        version.notes = notes
    version.save()
    return version


@transaction.atomic
def policy_version_activate(*, version: PolicyVersion, actor=None) -> PolicyVersion:
    """Validate a draft, put it in force from its effective date and retire its predecessor.

    Raises PolicyError (naming the criterion) when the content has an unknown fact, operator,
    parameter or reference, or belongs to another family or profile than the version.
    """
    policy = Policy.objects.select_for_update().get(pk=version.policy_id)
    version = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != S.DRAFT:
        raise PolicyError(
            version.label, f"only a draft can be activated (this one is {version.status})"
        )
    content = compile_content(version.content)
    if content["family"] != policy.family or content["profile"] != version.profile:
        raise PolicyError(
            version.label, "the content's family or profile does not match the version"
        )
    content["effective_from"] = version.effective_from.isoformat()
    _retire_active(policy, version.profile, effective_from=version.effective_from)
    version.content = content
    version.checksum = checksum(content)
    version.status = S.ACTIVE
    version.notes = (version.notes + "\n" if version.notes else "") + (
        f"Activated by {actor}" if actor else "Activated"
    )
    version.save()
    policy_version_changed.send(
        sender=PolicyVersion, version=version, change="activated", actor=actor
    )
    return version
