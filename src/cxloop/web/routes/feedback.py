"""URL routes of the feedback pages (views in cxloop.web.views.feedback; the public survey
pages, no login, in cxloop.web.views.public_survey)."""

from django.urls import path

from cxloop.web.views import feedback as views
from cxloop.web.views import public_survey, survey_editor

urlpatterns: list = [
    path("surveys/", views.survey_list, name="survey-list"),
    path("surveys/new/", views.survey_new, name="survey-new"),
    path("surveys/reviews/import/", views.review_import, name="review-import"),
    path("surveys/<int:survey_id>/", views.survey_detail, name="survey-detail"),
    path("surveys/<int:survey_id>/questions/", survey_editor.survey_build, name="survey-build"),
    path("surveys/<int:survey_id>/preview/", survey_editor.survey_preview, name="survey-preview"),
    path("surveys/<int:survey_id>/status/", views.survey_status, name="survey-status"),
    path("surveys/<int:survey_id>/triggers/", views.trigger_add, name="trigger-add"),
    path(
        "surveys/<int:survey_id>/triggers/<int:trigger_id>/toggle/",
        views.trigger_toggle,
        name="trigger-toggle",
    ),
    path("surveys/<int:survey_id>/export.csv", views.survey_export, name="survey-export"),
    path("surveys/<int:survey_id>/import/", views.survey_import, name="survey-import"),
    # public, no login
    path("s/<str:token>/", public_survey.survey_answer, name="survey-answer"),
    path("s/<str:token>/save/", public_survey.survey_save, name="survey-save"),
    path("s/<str:token>/embed.js", public_survey.survey_embed, name="survey-embed"),
]
