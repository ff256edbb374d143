from django.contrib import admin

from cxloop.core.admin import ReadOnlyAdmin
from cxloop.predict.models import CustomerScore, PredictionRun, PredictionSettings


@admin.register(PredictionSettings)
class PredictionSettingsAdmin(admin.ModelAdmin):
    list_display = ("workspace", "purchase_event", "churn_days", "horizon_days")


@admin.register(PredictionRun)
class PredictionRunAdmin(ReadOnlyAdmin):
    list_display = ("workspace", "model_version", "as_of", "customers", "seconds", "created_at")
    list_filter = ("workspace",)


@admin.register(CustomerScore)
class CustomerScoreAdmin(ReadOnlyAdmin):
    list_display = ("customer", "as_of", "p_alive", "clv", "churn_risk", "model_version")
    list_filter = ("workspace",)
    raw_id_fields = ("customer", "run")
    show_full_result_count = False
