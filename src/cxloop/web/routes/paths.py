"""URL routes of the path-analysis pages (views in cxloop.web.views.paths)."""

from django.urls import path

from cxloop.web.views import paths as views

urlpatterns: list = [
    path("paths/", views.paths, name="paths"),
    path("paths/before/", views.paths_before, name="paths-before"),
]
