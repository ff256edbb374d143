"""URL routes of the feedback pages (views in cxloop.web.views.feedback)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
