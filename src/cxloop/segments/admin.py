from django.contrib import admin

from cxloop.segments.models import Segment


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    """The definition is checked by the segment builder, not here: edit it there."""

    list_display = ("name", "workspace", "created_by", "updated_at")
    list_filter = ("workspace",)
    search_fields = ("name", "description")
    readonly_fields = ("created_at", "updated_at")
