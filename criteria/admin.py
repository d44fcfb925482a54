"""Admin for policies: read-only record of active and retired versions, editable drafts.

Thin on purpose (STYLE principle 2): the actions call criteria.services, which validate, lock and
keep the one-active-version invariant.
"""

import json

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from criteria.loader import PolicyError
from criteria.models import Policy, PolicyVersion
from criteria.services import (
    policy_version_activate,
    policy_version_copy_as_draft,
    policy_version_draft_update,
)

S = PolicyVersion.Status


class PolicyVersionInline(admin.TabularInline):
    model = PolicyVersion
    fields = ("version", "profile", "status", "effective_from", "effective_to", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ("family", "title")
    readonly_fields = ("family", "title")
    inlines = [PolicyVersionInline]

    def has_add_permission(self, request):
        return False  # policies come from the shipped files

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    list_display = (
        "policy",
        "profile",
        "version",
        "status",
        "effective_from",
        "effective_to",
        "short_checksum",
        "created_at",
    )
    list_filter = ("policy__family", "profile", "status")
    actions = ["copy_as_draft", "activate"]
    readonly_fields = ("criteria_summary",)

    @admin.display(description="checksum")
    def short_checksum(self, obj):
        return obj.checksum[:12]

    @admin.display(description="criteria")
    def criteria_summary(self, obj):
        lines = []
        for crit in (obj.content or {}).get("criteria", []):
            kind = "decisive" if crit.get("decisive") else "advisory"
            lines.append(f"{crit.get('id')} ({kind}): {crit.get('statement')}")
        return "\n".join(lines)

    def get_fields(self, request, obj=None):
        base = ["policy", "version", "profile", "status", "effective_from", "effective_to"]
        return base + ["checksum", "source_file", "notes", "criteria_summary", "content"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status == S.DRAFT:
            editable = {"effective_from", "notes", "content"}
            return [f for f in self.get_fields(request, obj) if f not in editable]
        return self.get_fields(request, obj)  # active and retired versions are the record

    def has_add_permission(self, request):
        return False  # a new version starts as a copy ("copy as new draft version")

    def has_delete_permission(self, request, obj=None):
        return obj is None or obj.status == S.DRAFT

    def has_change_permission(self, request, obj=None):
        # Active and retired versions are the record: shown read-only, and a POST to one is a 403
        # rather than a save that the draft-only service refuses with an error page.
        return obj is None or obj.status == S.DRAFT

    def save_model(self, request, obj, form, change):
        content = obj.content
        if isinstance(content, str):
            content = json.loads(content)
        policy_version_draft_update(
            version=obj, content=content, effective_from=obj.effective_from, notes=obj.notes
        )

    @admin.action(description="Copy as new draft version")
    def copy_as_draft(self, request, queryset):
        for version in queryset:
            draft = policy_version_copy_as_draft(version=version, actor=request.user)
            self.message_user(request, f"Created draft {draft.label}.", messages.SUCCESS)

    @admin.action(description="Activate (validate, put in force, retire the predecessor)")
    def activate(self, request, queryset):
        for version in queryset:
            try:
                active = policy_version_activate(version=version, actor=request.user)
            except (PolicyError, ValidationError) as exc:
                self.message_user(request, f"{version.label}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Activated {active.label}.", messages.SUCCESS)
