from django.contrib import admin

from cxloop.core.admin import ReadOnlyInline
from cxloop.feedback.models import Answer, Invitation, Question, Response, Survey, Trigger


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


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    list_display = ("survey", "event_name", "delay_minutes", "frequency_cap_days", "active")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("survey", "customer", "status", "due_at", "sent_at", "reason")
    list_filter = ("status",)
    raw_id_fields = ("customer",)
