"""Importing past results and reviews: identical rows are distinct answers, re-imports add nothing."""

from __future__ import annotations

from cxloop.feedback import services
from cxloop.feedback.importing import responses_import, reviews_import
from cxloop.feedback.models import Response


def test_identical_score_rows_are_all_kept_and_a_reimport_adds_nothing(workspace):
    survey = services.survey_create_from_template(workspace=workspace, template="nps")
    export = "nps,date\n10,2025-01-02\n10,2025-01-02\n10,2025-01-02\n3,2025-01-02\n"
    mapping = {"nps": "q:nps", "date": "submitted_at"}

    first = responses_import(survey=survey, text=export, mapping=mapping)
    again = responses_import(survey=survey, text=export, mapping=mapping)

    assert (first.imported, first.duplicates) == (4, 0)
    assert (again.imported, again.duplicates) == (0, 4)
    scores = sorted(Response.objects.filter(survey=survey).values_list("nps_score", flat=True))
    assert scores == [3, 10, 10, 10]


def test_identical_review_rows_are_both_kept(workspace):
    reviews = "rating,text,source\n5,Great,google\n5,Great,google\n"

    first = reviews_import(workspace=workspace, text=reviews)
    again = reviews_import(workspace=workspace, text=reviews)

    assert (first.imported, first.duplicates) == (2, 0)
    assert (again.imported, again.duplicates) == (0, 2)
