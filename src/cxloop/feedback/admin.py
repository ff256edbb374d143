from django.contrib import admin

from cxloop.core.admin import ReadOnlyAdmin, ReadOnlyInline
from cxloop.feedback import _responses, _rollup
from cxloop.feedback.models import (
    Answer,
    Invitation,
    Question,
    Response,
    ScoreDay,
    Survey,
    Trigger,
)


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 0
    fields = ("position", "key", "type", "required", "scale_min", "scale_max", "metric")


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace", "kind", "status", "closes_at", "created_at")
    list_filter = ("kind", "status", "workspace")
    search_fields = ("name", "public_token")
    inlines = [QuestionInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "csat_top_box" in form.changed_data:  # the rollup counts "satisfied"
            _rollup.score_days_for_survey(survey=obj)


class AnswerInline(ReadOnlyInline):
    model = Answer
    fields = ("question", "value")
    readonly_fields = fields


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ("survey", "customer", "completed", "submitted_at", "source", "channel")
    list_filter = ("completed", "source", "channel")
    raw_id_fields = ("customer", "invitation")
    search_fields = ("response_key", "comment")
    inlines = [AnswerInline]

    # corrections go through the services, which keep the daily score rollup in step
    def save_model(self, request, obj, form, change):
        _responses.response_save(response=obj)

    def delete_model(self, request, obj):
        _responses.responses_delete(responses=[obj])

    def delete_queryset(self, request, queryset):
        _responses.responses_delete(responses=list(queryset))


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    list_display = ("survey", "event_name", "delay_minutes", "frequency_cap_days", "active")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("survey", "customer", "status", "due_at", "sent_at", "reason")
    list_filter = ("status",)
    raw_id_fields = ("customer",)


@admin.register(ScoreDay)
class ScoreDayAdmin(ReadOnlyAdmin):
    """The daily score rollup, kept from the responses (``cxloop rollups rebuild`` repairs it)."""

    list_display = ("survey", "metric", "day", "channel", "n", "total")
    list_filter = ("metric", "workspace")
