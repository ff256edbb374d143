from django.contrib import admin

from cxloop.core.models import Membership, Workspace, WriteKey


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
    list_display = ("label", "workspace", "key", "created_at", "revoked_at")
    list_filter = ("workspace",)
