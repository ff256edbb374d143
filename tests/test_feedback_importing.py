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


def test_dates_outside_1970_to_tomorrow_are_line_errors_and_the_rest_kept(workspace):
    reviews = (
        "rating,text,source,date\n5,ok,google,2025-03-01\n5,late,google,9999-12-31\n"
        "5,early,google,0001-01-01\n4,fine,google,1970-01-01\n"
    )
    survey = services.survey_create_from_template(workspace=workspace, template="nps")
    results = "nps,date\n9,2025-01-02\n9,9999-12-31T00:00:00\n"

    report = reviews_import(workspace=workspace, text=reviews)
    scores = responses_import(
        survey=survey, text=results, mapping={"nps": "q:nps", "date": "submitted_at"}
    )

    assert report.imported == 2
    where = [(e.field, e.message.split(":")[0]) for e in report.errors]
    assert where == [("line 3", "date"), ("line 4", "date")]
    assert "outside 1970-01-01" in report.errors[0].message
    assert scores.imported == 1
    assert [(e.field, e.message.split(":")[0]) for e in scores.errors] == [
        ("line 3", "submitted_at")
    ]


# Every quoted passage holds a comma or a line break: the kind of file on which guessing the
# dialect from a sample (csv.Sniffer) decided quotes were not doubled and cut the texts.
REVIEW_TEXTS = [
    'They said "sorry, we are closed" at 5pm',
    "Line one\nline two, with a comma",
    'He wrote "late\nagain"; semicolon too',
    "Plain text",
    'A tab\there, "quotes, commas" and\r\na Windows line break',
]
SITES = ["google", "trust, pilot", "google", "yelp", "google"]


def _pandas_reviews(sep: str = ",") -> str:
    """A reviews file exactly as pandas writes one (RFC 4180: quotes doubled inside quotes)."""
    import pandas

    frame = pandas.DataFrame(
        {
            "id": [f"r{i}" for i in range(len(REVIEW_TEXTS))],
            "rating": [5, 4, 3, 2, 1],
            "text": REVIEW_TEXTS,
            "source": SITES,
        }
    )
    return frame.to_csv(index=False, sep=sep)


def test_a_file_written_by_pandas_reads_back_exactly(workspace):
    # given: quotes, commas, semicolons, tabs and line breaks inside quoted text
    text = _pandas_reviews()

    report = reviews_import(workspace=workspace, text=text.encode())

    assert (report.imported, report.errors) == (5, [])
    rows = Response.objects.order_by("pk").values_list("comment", "touchpoint", "csat_score")
    assert list(rows) == list(zip(REVIEW_TEXTS, SITES, [5, 4, 3, 2, 1], strict=True))


def test_the_user_chooses_a_semicolon_or_tab_delimiter(workspace):
    semicolon = reviews_import(
        workspace=workspace, text=_pandas_reviews(";"), delimiter="semicolon"
    )
    survey = services.survey_create_from_template(workspace=workspace, template="nps")
    tab = responses_import(
        survey=survey,
        text='nps\twhy_detractor\n3\t"late; ""very"", late"\n',
        mapping={"nps": "q:nps", "why_detractor": "q:why_detractor"},
        delimiter="tab",
    )

    assert (semicolon.imported, tab.imported) == (5, 1)
    assert Response.objects.get(survey=survey).comment == 'late; "very", late'


def test_an_unknown_delimiter_is_a_clear_error(workspace):
    import pytest

    from cxloop.feedback.importing import ImportFileError

    with pytest.raises(ImportFileError, match="delimiter: choose one of comma, semicolon, tab"):
        reviews_import(workspace=workspace, text="rating,text\n5,ok\n", delimiter="pipe")


def test_text_without_a_rating_is_feedback_matched_by_email_or_user_id(
    workspace, settings, django_capture_on_commit_callbacks
):
    # given two known customers, one by email and one by the user id of our systems
    from cxloop.text import selectors as text_selectors
    from factories import customer_id, identify, ingest

    at = "2025-03-01T10:00:00Z"
    ingest(workspace, [identify("u-1", {"email": "ann@example.com"}, _when(at))])
    ingest(workspace, [identify("u-2", {"name": "Bob"}, _when(at))])
    tweets = (
        "tweet,channel,created_at,author_email,customer_id,message_id\n"
        "Your app keeps logging me out,twitter,2025-03-02,ann@example.com,,t1\n"
        "Chat: the agent fixed it fast,chat,2025-03-03,,u-2,c9\n"
        "Who are you people,twitter,2025-03-04,nobody@example.com,,t2\n"
        ",twitter,2025-03-05,,,t3\n"
    )
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    # when
    with django_capture_on_commit_callbacks(execute=True):
        first = reviews_import(workspace=workspace, text=tweets)
    again = reviews_import(workspace=workspace, text=tweets)
    # then: three texts kept without a rating, the empty row named, nothing twice
    assert (first.imported, first.duplicates, first.unmatched_customers) == (3, 0, 1)
    assert [(e.field, e.message) for e in first.errors] == [
        ("line 5", "text: give a text or a rating")
    ]
    assert (again.imported, again.duplicates) == (0, 3)
    stored = {r.comment: r for r in Response.objects.filter(workspace=workspace)}
    assert stored["Your app keeps logging me out"].customer_id == customer_id(workspace, "u-1")
    assert stored["Chat: the agent fixed it fast"].customer_id == customer_id(workspace, "u-2")
    assert stored["Who are you people"].customer_id is None
    assert {r.csat_score for r in stored.values()} == {None}
    assert {r.touchpoint for r in stored.values()} == {"twitter", "chat"}
    # and every text is analysed as it arrives
    texts = text_selectors.workspace_texts(workspace=workspace)
    assert sorted(t.text for t in texts) == sorted(stored)


def _when(text):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))
