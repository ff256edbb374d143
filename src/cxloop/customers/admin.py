from django.contrib import admin

from cxloop.customers.models import Consent, Customer, CustomerMerge, Identity


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ("kind", "value", "first_seen_at")


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "display_name",
        "workspace",
        "first_seen_at",
        "last_seen_at",
        "merged_into",
    )
    list_filter = ("workspace",)
    search_fields = ("display_name", "search_text")
    readonly_fields = ("search_text", "created_at")
    raw_id_fields = ("merged_into",)
    inlines = (IdentityInline, ConsentInline)


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ("kind", "value", "customer", "workspace", "first_seen_at")
    list_filter = ("kind", "workspace")
    search_fields = ("value",)
    raw_id_fields = ("customer",)


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("customer", "channel", "status", "changed_at", "source")
    list_filter = ("channel", "status", "workspace")
    raw_id_fields = ("customer",)


@admin.register(CustomerMerge)
class CustomerMergeAdmin(admin.ModelAdmin):
    list_display = ("survivor", "merged", "reason", "merged_by", "merged_at", "rows_moved")
    list_filter = ("workspace",)
    raw_id_fields = ("survivor", "merged")
