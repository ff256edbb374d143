from django.contrib import admin

from cxloop.core.models import AuditEntry, Membership, Workspace, WriteKey


class WriteKeyInline(admin.TabularInline):
    model = WriteKey
    extra = 0
    readonly_fields = ("created_at",)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "default_phone_region", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (MembershipInline, WriteKeyInline)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "workspace", "role", "created_at")
    list_filter = ("role", "workspace")
    autocomplete_fields = ("user",)


@admin.register(WriteKey)
class WriteKeyAdmin(admin.ModelAdmin):
    list_display = ("label", "workspace", "kind", "key", "created_at", "revoked_at")
    list_filter = ("workspace",)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit log is written by services, never edited."""

    list_display = ("at", "workspace", "actor_label", "action", "target")
    list_filter = ("action", "workspace")
    search_fields = ("target", "actor_label")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows the system writes (computed stages, scores, deliveries): shown, never edited."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
