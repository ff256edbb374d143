"""URL routes of the prediction pages (views in cxloop.web.views.predict)."""

from django.urls import path

from cxloop.web.views import predict as views

urlpatterns: list = [
    path("predictions/", views.value_at_risk, name="value-at-risk"),
    path("predictions/segment/", views.value_at_risk_segment, name="value-at-risk-segment"),
    path("predictions/workflow/", views.value_at_risk_workflow, name="value-at-risk-workflow"),
    path("predictions/health/", views.model_health, name="model-health"),
    path("predictions/settings/", views.prediction_settings, name="prediction-settings"),
]
