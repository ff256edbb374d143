from django.contrib.auth import views as auth_views
from django.urls import path

from cxloop.web.routes import (
    feedback,
    journeys,
    metrics,
    paths,
    predict,
    privacy,
    segments,
    team,
    text,
    trends,
    workflows,
)
from cxloop.web.views import customers as views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("workspace/", views.switch_workspace, name="switch-workspace"),
    path("customers/", views.customer_list, name="customer-list"),
    path("customers/<int:customer_id>/", views.customer_detail, name="customer-detail"),
    path(
        "customers/<int:customer_id>/timeline/",
        views.customer_timeline,
        name="customer-timeline",
    ),
    path("sources/", views.sources, name="sources"),
    *feedback.urlpatterns,
    *metrics.urlpatterns,
    *journeys.urlpatterns,
    *paths.urlpatterns,
    *segments.urlpatterns,
    *team.urlpatterns,
    *privacy.urlpatterns,
    *predict.urlpatterns,
    *workflows.urlpatterns,
    *text.urlpatterns,
    *trends.urlpatterns,
]
