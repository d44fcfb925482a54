"""Criteria policies as versioned data.

A Policy is one procedure family (or the cross-cutting red flags); a PolicyVersion is an immutable
set of criteria with parameters and citations, for one profile, effective from a date. A change to
an active version is always a new version (DESIGN rule 6): determinations pin the version they used.
"""

from django.core.exceptions import ValidationError
from django.db import models


class Family(models.TextChoices):
    EPIDURAL_STEROID_INJECTION = "epidural_steroid_injection", "Epidural steroid injection"
    FACET_INJECTION = "facet_injection", "Facet injection (medial branch block or intra-articular)"
    RADIOFREQUENCY_ABLATION = "radiofrequency_ablation", "Radiofrequency ablation"
    VERTEBRAL_AUGMENTATION = "vertebral_augmentation", "Vertebral augmentation"
    SPINAL_FUSION = "spinal_fusion", "Spinal fusion"
    # Cross-cutting criteria (GEN-01..GEN-09) shared by every family.
    GENERAL = "general", "Cross-cutting (red flags, imaging, scales)"


class Profile(models.TextChoices):
    BASELINE = "baseline", "Baseline (payer coverage criteria)"
    EVIDENCE_STRICT = "evidence_strict", "Evidence strict (GEN-09 decisive)"


class Policy(models.Model):
    family = models.CharField(max_length=40, choices=Family.choices, unique=True)
    title = models.CharField(max_length=200)

    class Meta:
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.title


class PolicyVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"  # editable, never used for a determination
        ACTIVE = "active", "Active"  # in force from effective_from; frozen
        RETIRED = "retired", "Retired"  # superseded; kept forever for the record

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    profile = models.CharField(max_length=30, choices=Profile.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    # The criteria list as loaded and validated: ids, statements, citations, rules, parameters.
    content = models.JSONField()
    # sha256 of the canonical content: the version's identity in letters and audit events.
    checksum = models.CharField(max_length=64)
    source_file = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "profile", "version"], name="policy_version_unique"
            ),
            # At most one active version per family and profile: two concurrent activations
            # cannot both win (the second fails on this index instead of leaving two in force).
            models.UniqueConstraint(
                fields=["policy", "profile"],
                condition=models.Q(status="active"),
                name="policy_one_active_per_profile",
            ),
        ]
        ordering = ["policy__family", "profile", "-version"]

    def __str__(self) -> str:
        return f"{self.policy.family} {self.profile} v{self.version}"

    # Fields an active or retired version never changes: determinations pin them (DESIGN rule 6).
    FROZEN_FIELDS = ("policy_id", "version", "profile", "effective_from", "content", "checksum")

    def save(self, *args, **kwargs):
        if self.pk is not None:
            stored = (
                type(self)
                .objects.filter(pk=self.pk)
                .values("status", "effective_to", *self.FROZEN_FIELDS)
                .first()
            )
            if stored is not None and stored["status"] != self.Status.DRAFT:
                changed = [f for f in self.FROZEN_FIELDS if getattr(self, f) != stored[f]]
                if changed:
                    raise ValidationError(
                        f"Policy version {self.label} is {stored['status']} and cannot be edited "
                        f"({', '.join(changed)}); copy it as a new draft version instead."
                    )
                if stored["status"] == self.Status.RETIRED and self.status != self.Status.RETIRED:
                    raise ValidationError(f"Policy version {self.label} is retired for good.")
                if self.status == self.Status.DRAFT:
                    raise ValidationError(f"Policy version {self.label} cannot return to draft.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.status != self.Status.DRAFT:
            raise ValidationError(f"Policy version {self.label} is on the record and is kept.")
        return super().delete(*args, **kwargs)

    @property
    def label(self) -> str:
        return f"{self.policy.family}/{self.profile}/v{self.version}"
