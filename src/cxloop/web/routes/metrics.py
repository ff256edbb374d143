"""URL routes of the metrics pages (views in cxloop.web.views.metrics)."""

from django.urls import path

from cxloop.web.views import metrics as views

urlpatterns: list = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/panel/", views.dashboard_panel, name="dashboard-panel"),
]
