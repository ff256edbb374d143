"""URL routes of the segments pages (views in cxloop.web.views.segments and .personas)."""

from django.urls import path

from cxloop.web.views import personas
from cxloop.web.views import segments as views

urlpatterns: list = [
    path("segments/", views.segment_list, name="segment-list"),
    path("segments/new/", views.segment_new, name="segment-new"),
    path("segments/preview/", views.segment_preview, name="segment-preview"),
    path("segments/builder/", views.segment_builder, name="segment-builder"),
    path("segments/personas/", personas.personas, name="personas"),
    path("segments/<int:segment_id>/", views.segment_detail, name="segment-detail"),
    path("segments/<int:segment_id>/delete/", views.segment_delete, name="segment-delete"),
]
