from django.contrib import admin

from cxloop.core.admin import ReadOnlyAdmin
from cxloop.customers import privacy
from cxloop.customers.models import Consent, Customer, CustomerMerge, Identity, Suppression


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

    # deleting is erasure: absorbed profiles, free text and every app's rows go too, the
    # identifiers are suppressed and the audit log records it (customers.privacy)
    def delete_model(self, request, obj) -> None:
        privacy.customer_erase(customer=obj, actor=request.user)

    def log_deletions(self, request, queryset) -> list:
        return []  # the admin log would keep the name; the erasure's audit entry keeps the id

    def delete_queryset(self, request, queryset) -> None:
        for customer in queryset.filter(merged_into__isnull=True):
            privacy.customer_erase(customer=customer, actor=request.user)
        for customer in queryset.exclude(merged_into__isnull=True):  # absorbed, not yet erased
            if Customer.objects.filter(pk=customer.pk).exists():
                privacy.customer_erase(customer=customer, actor=request.user)


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


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdmin):
    """Digests of erased identifiers (never the identifiers). Their salt (SuppressionSalt) is a
    secret and stays out of the admin."""

    list_display = ("digest", "workspace", "created_at")
    list_filter = ("workspace",)
