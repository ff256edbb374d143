"""URL routes of the text analytics pages (views in cxloop.web.views.text, text_themes and
text_teach)."""

from django.urls import path

from cxloop.web.views import text as views
from cxloop.web.views import text_teach, text_themes

urlpatterns: list = [
    path("text/", views.text_search, name="text-search"),
    path("text/<int:analysis_id>/", views.text_detail, name="text-detail"),
    path("text/teach/", text_teach.text_teach, name="text-teach"),
    path("text/themes/", text_themes.text_themes, name="text-themes"),
    path("text/themes/trends/", text_themes.text_theme_trends, name="text-theme-trends"),
    path("text/drivers/", views.text_key_drivers, name="text-key-drivers"),
    path("text/roadblocks/", views.text_roadblocks, name="text-roadblocks"),
    path("text/roadblocks/segment/", views.text_roadblock_segment, name="text-roadblock-segment"),
]
