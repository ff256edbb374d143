from django.contrib import admin
from django.urls import include, path, re_path

from cxloop.api.rest import api
from cxloop.api.tracking import track_endpoint

urlpatterns = [
    re_path(
        r"^v1/(?P<kind>identify|track|page|screen|group|alias|batch|import)/?$",
        track_endpoint,
        name="track",
    ),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    path("", include("cxloop.web.urls")),
]
