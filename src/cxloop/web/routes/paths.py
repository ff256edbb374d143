"""URL routes of the path-analysis pages (views in cxloop.web.views.paths)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
