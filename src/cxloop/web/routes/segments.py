"""URL routes of the segments pages (views in cxloop.web.views.segments)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
