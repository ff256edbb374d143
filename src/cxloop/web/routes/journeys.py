"""URL routes of the journeys pages (views in cxloop.web.views.journeys and .funnels)."""

from django.urls import path

from cxloop.web.views import funnels, saved
from cxloop.web.views import journeys as views

urlpatterns: list = [
    path("journeys/", views.journey_list, name="journey-list"),
    path("journeys/new/", views.journey_new, name="journey-new"),
    path(
        "journeys/editor/properties/",
        views.journey_editor_properties,
        name="journey-editor-properties",
    ),
    path("journeys/editor/count/", views.journey_editor_count, name="journey-editor-count"),
    path("journeys/funnel/", funnels.funnel, name="journey-funnel"),
    path("journeys/funnel/why/", funnels.funnel_why, name="journey-funnel-why"),
    path("journeys/saved/", saved.saved_analyses, name="saved-analyses"),
    path("journeys/saved/<int:saved_id>/pin/", saved.saved_analysis_pin, name="saved-analysis-pin"),
    path(
        "journeys/saved/<int:saved_id>/delete/",
        saved.saved_analysis_delete,
        name="saved-analysis-delete",
    ),
    path("journeys/<int:journey_id>/", views.journey_detail, name="journey-detail"),
    path("journeys/<int:journey_id>/edit/", views.journey_edit, name="journey-edit"),
    path("journeys/<int:journey_id>/recompute/", views.journey_recompute, name="journey-recompute"),
    path("journeys/<int:journey_id>/delete/", views.journey_delete, name="journey-delete"),
]
