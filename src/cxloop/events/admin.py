from django.contrib import admin

from cxloop.core.admin import ReadOnlyAdmin
from cxloop.events.models import Event, EventOutbox


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "type", "name", "channel", "customer", "workspace", "message_id")
    list_filter = ("type", "channel", "workspace")
    search_fields = ("message_id", "name", "user_id", "anonymous_id")
    raw_id_fields = ("customer",)
    date_hierarchy = "occurred_at"
    show_full_result_count = False


@admin.register(EventOutbox)
class EventOutboxAdmin(ReadOnlyAdmin):
    """Event batches the analytics engine has not copied yet (written and drained by the system)."""

    list_display = ("workspace", "first_event_id", "last_event_id", "created_at")
    list_filter = ("workspace",)
