"""Journey maps in the Django admin. Structure edited here skips the editor's checks and takes
effect at the next recompute; the journey editor (web) is the usual place to change a map."""

from django.contrib import admin

from cxloop.core.admin import ReadOnlyAdmin
from cxloop.journeys.models import (
    CustomerStage,
    JourneyMap,
    JourneyProgress,
    JourneyRewalk,
    MapWindow,
    Rule,
    SavedAnalysis,
    Stage,
    Touchpoint,
)


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    fields = ("position", "name", "description", "feedback")
    show_change_link = True


@admin.register(JourneyMap)
class JourneyMapAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace", "computed_at", "updated_at")
    list_filter = ("workspace",)
    search_fields = ("name",)
    readonly_fields = (
        "created_at", "updated_at", "computed_at", "metrics", "definition_key",
        "event_position", "event_position_before", "rewalk_position",
    )  # fmt: skip
    inlines = [StageInline]


class TouchpointInline(admin.TabularInline):
    model = Touchpoint
    extra = 0
    fields = ("position", "name", "channel")
    show_change_link = True


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ("name", "journey", "position")
    list_filter = ("journey__workspace",)
    search_fields = ("name", "journey__name")
    inlines = [TouchpointInline]


class RuleInline(admin.TabularInline):
    model = Rule
    extra = 0
    fields = ("position", "event", "channel", "conditions")


@admin.register(Touchpoint)
class TouchpointAdmin(admin.ModelAdmin):
    list_display = ("name", "stage", "channel", "position")
    search_fields = ("name", "stage__name", "stage__journey__name")
    inlines = [RuleInline]


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ("event", "channel", "touchpoint", "position")
    search_fields = ("event", "touchpoint__name")


@admin.register(MapWindow)
class MapWindowAdmin(ReadOnlyAdmin):
    """The default ranges' metrics the journey job keeps (``journeys.mapperiod``); recomputed
    whenever stale, so there is nothing to edit."""

    list_display = ("journey", "since", "until", "computed_at")
    list_filter = ("journey",)
    list_select_related = ("journey",)


@admin.register(CustomerStage)
class CustomerStageAdmin(ReadOnlyAdmin):
    """Computed by the journey job (``journeys._progress``); edits would be overwritten."""

    list_display = ("customer", "journey", "stage", "reached_at")
    list_filter = ("journey",)
    raw_id_fields = ("customer",)
    list_select_related = ("journey", "stage", "customer")


@admin.register(JourneyProgress)
class JourneyProgressAdmin(ReadOnlyAdmin):
    """Each customer's progress through a map, kept by the journey job (read-only)."""

    list_display = ("customer", "journey", "kind", "ref", "events", "first_at", "gap_seconds")
    list_filter = ("journey", "kind")
    raw_id_fields = ("customer",)


@admin.register(JourneyRewalk)
class JourneyRewalkAdmin(ReadOnlyAdmin):
    """Customers the journey job walks again at its next run (after merges and erasures)."""

    list_display = ("customer_id", "workspace")


@admin.register(SavedAnalysis)
class SavedAnalysisAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "workspace", "pinned", "created_by")
    list_filter = ("workspace", "kind", "pinned")
    search_fields = ("name",)
