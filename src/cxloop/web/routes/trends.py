"""URL routes of the trends pages (views in cxloop.web.views.trends)."""

from django.urls import path

from cxloop.web.views import changes, sessions
from cxloop.web.views import trends as views

urlpatterns: list = [
    path("trends/", views.trends_page, name="trends"),
    path("trends/conversion/", views.conversion_page, name="trends-conversion"),
    path("trends/changes/", views.changes_page, name="trends-changes"),
    path("trends/sessions/", sessions.session_settings, name="session-settings"),
    path("trends/changes/funnel/", changes.funnel_change_page, name="trends-changes-funnel"),
    path("trends/changes/nps/", changes.nps_change_page, name="trends-changes-nps"),
]
