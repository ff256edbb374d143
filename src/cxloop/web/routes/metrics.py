"""URL routes of the metrics pages (views in cxloop.web.views.metrics)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
