"""URL routes of the journeys pages (views in cxloop.web.views.journeys)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
