from django.contrib import admin

from cxloop.core.admin import ReadOnlyAdmin
from cxloop.workflows.models import (
    BusinessCalendar,
    HistoryEntry,
    Notice,
    Rule,
    RuleFiring,
    RuleMember,
    StepInstance,
    TemplateVersion,
    WebhookDelivery,
    WorkflowRun,
    WorkflowTemplate,
)


class VersionInline(admin.TabularInline):
    model = TemplateVersion
    extra = 0
    fields = ("number", "created_by", "created_at")
    readonly_fields = fields


@admin.register(WorkflowTemplate)
class WorkflowTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace", "current", "intake_public", "archived", "created_at")
    list_filter = ("workspace", "archived")
    search_fields = ("name",)
    inlines = [VersionInline]


class StepInline(admin.TabularInline):
    model = StepInstance
    extra = 0
    fields = ("position", "title", "status", "assignee", "role", "due_at", "completed_at")
    raw_id_fields = ("assignee",)


@admin.register(WorkflowRun)
class WorkflowRunAdmin(admin.ModelAdmin):
    list_display = ("title", "template", "status", "source", "started_at", "closed_at")
    list_filter = ("status", "template")
    raw_id_fields = ("customer", "started_by")
    inlines = [StepInline]


@admin.register(HistoryEntry)
class HistoryEntryAdmin(admin.ModelAdmin):
    list_display = ("run", "actor_label", "action", "at")
    raw_id_fields = ("run", "step", "actor")


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace", "trigger", "active", "updated_at")
    list_filter = ("trigger", "active")


@admin.register(RuleMember)
class RuleMemberAdmin(ReadOnlyAdmin):
    """Who a segment rule last saw inside or outside its segment (the cycle's memory)."""

    list_display = ("rule", "customer", "inside", "changes", "changed_at")
    list_filter = ("inside",)
    raw_id_fields = ("rule", "customer")


@admin.register(RuleFiring)
class RuleFiringAdmin(admin.ModelAdmin):
    list_display = ("rule", "subject", "status", "at")
    list_filter = ("status",)
    raw_id_fields = ("customer",)


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ("user", "text", "created_at", "read_at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("url", "status", "attempts", "last_status", "created_at", "delivered_at")
    list_filter = ("status", "workspace")


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ("workspace", "updated_at")
