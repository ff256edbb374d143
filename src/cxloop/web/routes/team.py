"""URL routes of the admin pages (views in cxloop.web.views.team)."""

from django.urls import path

from cxloop.web.views import team as views

urlpatterns: list = [
    path("team/", views.team, name="team"),
    path("team/<int:user_id>/role/", views.member_role, name="member-role"),
    path("team/<int:user_id>/remove/", views.member_remove, name="member-remove"),
    path("sources/keys/", views.key_create, name="key-create"),
    path("sources/keys/<int:key_id>/revoke/", views.key_revoke, name="key-revoke"),
    path("audit/", views.audit_log, name="audit-log"),
]
