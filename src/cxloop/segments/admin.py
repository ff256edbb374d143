from django.contrib import admin

from cxloop.segments.models import Segment, SegmentCount, SegmentMember


class SegmentCountInline(admin.TabularInline):
    """The count the segments list shows (kept by the worker every few minutes): read-only."""

    model = SegmentCount
    fields = ("members", "counted_at")
    readonly_fields = fields
    can_delete = False
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    """The definition is checked by the segment builder, not here: edit it there."""

    list_display = ("name", "workspace", "created_by", "updated_at")
    list_filter = ("workspace",)
    search_fields = ("name", "description")
    readonly_fields = ("created_at", "updated_at")
    inlines = (SegmentCountInline,)


@admin.register(SegmentMember)
class SegmentMemberAdmin(admin.ModelAdmin):
    """Customers added to a segment besides its definition (by a rule or by hand). Added
    through ``segments.services.segment_member_add``; deleting a row here takes them out."""

    list_display = ("segment", "customer", "source", "added_at")
    list_filter = ("segment__workspace",)
    search_fields = ("segment__name", "source")
    raw_id_fields = ("segment", "customer")
    readonly_fields = ("segment", "customer", "source", "added_at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False
