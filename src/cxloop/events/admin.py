from django.contrib import admin

from cxloop.events.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "type", "name", "channel", "customer", "workspace", "message_id")
    list_filter = ("type", "channel", "workspace")
    search_fields = ("message_id", "name", "user_id", "anonymous_id")
    raw_id_fields = ("customer",)
    date_hierarchy = "occurred_at"
    show_full_result_count = False
