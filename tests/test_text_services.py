"""Text analyses stored as text arrives (the feedback hook) and in bulk for history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from cxloop.customers.merging import customers_merge, customers_unmerge
from cxloop.customers.models import CustomerMerge
from cxloop.customers.privacy import customer_erase
from cxloop.feedback import services as feedback_services
from cxloop.text import embeddings, selectors, services
from cxloop.text.models import TextAnalysis
from factories import customer_id, identify, ingest, response_make, survey_make

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
AT = datetime(2025, 3, 1, 12, tzinfo=UTC)
VADER = SentimentIntensityAnalyzer()


@pytest.fixture
def customer(workspace):
    ingest(workspace, [identify("u-1", {"email": "ann@example.com"}, AT)])
    return workspace.customer_set.get(pk=customer_id(workspace, "u-1"))


@pytest.fixture
def lexicon_only(settings):
    """No sentence embeddings, so the lexicon scores (test_text_sentiment_head covers the
    learned head)."""
    settings.TEXT_EMBEDDINGS = "lsa"
    embeddings.engine.cache_clear()
    yield
    embeddings.engine.cache_clear()


def test_a_completed_comment_is_analysed_in_the_background(
    workspace, customer, settings, django_capture_on_commit_callbacks, lexicon_only
):
    # given
    settings.TASKS = IMMEDIATE
    survey = feedback_services.survey_create_from_template(workspace=workspace, template="nps")
    text = "The courier was rude and the parcel arrived damaged."
    # when
    with django_capture_on_commit_callbacks(execute=True):
        result = feedback_services.response_submit(
            survey=survey,
            answers={"nps": 2, "why_detractor": text},
            response_key="r1",
            customer=customer,
        )
    # then
    analysis = selectors.analysis_for_response(workspace=workspace, response_id=result.response.pk)
    assert analysis is not None
    assert analysis.customer_id == customer.pk
    assert analysis.nps_score == 2
    assert analysis.source == "survey"
    assert analysis.score == round(VADER.polarity_scores(text)["compound"], 4)
    assert analysis.label == "negative"
    assert "rude" in [d["word"] for d in analysis.drivers]


def test_a_score_without_comment_gets_no_analysis(
    workspace, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    survey = feedback_services.survey_create_from_template(workspace=workspace, template="nps")
    with django_capture_on_commit_callbacks(execute=True):
        feedback_services.response_submit(survey=survey, answers={"nps": 9}, response_key="r1")
    assert not selectors.workspace_texts(workspace=workspace).exists()


def test_reviews_are_analysed_as_they_are_imported(
    workspace, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    with django_capture_on_commit_callbacks(execute=True):
        feedback_services.review_add(
            workspace=workspace, rating=5, text="Love it, thanks!", site="trustpilot",
            review_id="a1", at=AT,
        )  # fmt: skip
    analysis = selectors.workspace_texts(workspace=workspace).get()
    assert (analysis.source, analysis.channel, analysis.csat_score) == ("review", "review", 5)
    assert analysis.label == "positive"
    assert analysis.emotions == ["joy", "gratitude"]


def test_history_is_analysed_in_bulk_with_progress_and_again_idempotently(workspace):
    # given: three comments, one empty, one partial response
    survey = survey_make(workspace)
    for i, comment in enumerate(["great", "awful service", "", "it came on Tuesday"]):
        response_make(workspace, survey, AT, nps=i, comment=comment)
    response_make(workspace, survey, AT, completed=False, comment="half way")
    seen = []
    # when
    stored = services.texts_analyse_workspace(
        workspace=workspace, on_progress=lambda done, total: seen.append((done, total))
    )
    again = services.texts_analyse_workspace(workspace=workspace)
    missing = services.texts_analyse_workspace(workspace=workspace, missing_only=True)
    # then
    assert (stored, again, missing) == (3, 3, 0)
    assert seen == [(0, 3), (3, 3)]
    texts = selectors.workspace_texts(workspace=workspace)
    assert texts.count() == 3
    assert selectors.sentiment_counts(texts=texts) == {"positive": 1, "neutral": 1, "negative": 1}


def test_a_comment_emptied_later_loses_its_analysis(workspace):
    survey = survey_make(workspace)
    response = response_make(workspace, survey, AT, comment="terrible")
    services.text_analyse_responses(responses=[response])
    response.comment = "   "
    services.text_analyse_responses(responses=[response])
    assert not TextAnalysis.objects.exists()


def test_analyses_follow_merges_and_go_with_erasure(workspace, customer):
    # given
    ingest(workspace, [identify("u-2", {"email": "bob@example.com"}, AT)])
    other = workspace.customer_set.get(pk=customer_id(workspace, "u-2"))
    survey = survey_make(workspace)
    response = response_make(workspace, survey, AT, comment="so slow", customer=other)
    services.text_analyse_responses(responses=[response])
    # when
    customers_merge(survivor_id=customer.pk, merged_ids=[other.pk], reason="test")
    # then
    assert TextAnalysis.objects.get().customer_id == customer.pk
    # when
    customer_erase(customer=customer, actor="test")
    # then
    assert not TextAnalysis.objects.exists()


def test_a_missing_response_or_workspace_is_ignored(workspace):
    assert services.text_analyse_response(workspace_id=workspace.pk, response_id=999) is None
    assert services.text_analyse_response(workspace_id=999, response_id=1) is None


def test_stored_text_sentences_and_drivers_hold_no_personal_data(workspace):
    # given
    survey = survey_make(workspace)
    comment = "Terrible. Email me at ann@example.com or call +1 415 555 2671!"
    response = response_make(workspace, survey, AT, comment=comment)
    # when
    services.text_analyse_responses(responses=[response])
    # then
    analysis = TextAnalysis.objects.get()
    assert analysis.text == "Terrible. Email me at [email] or call [phone]!"
    assert analysis.pii == ["email", "phone"]
    assert "ann@" not in str(analysis.sentences)
    assert analysis.label == "negative"


def test_an_unmerge_gives_analyses_back_with_their_responses(workspace, customer):
    # given: bob's comment, then bob merged into ann
    ingest(workspace, [identify("u-2", {"email": "bob@example.com"}, AT)])
    bob = workspace.customer_set.get(pk=customer_id(workspace, "u-2"))
    survey = survey_make(workspace)
    mine = response_make(workspace, survey, AT, comment="lovely", customer=customer)
    his = response_make(workspace, survey, AT, comment="so slow", customer=bob)
    services.text_analyse_responses(responses=[mine, his])
    customers_merge(survivor_id=customer.pk, merged_ids=[bob.pk], reason="test")
    # when
    customers_unmerge(merge=CustomerMerge.objects.get(merged_id=bob.pk), unmerged_by="test")
    # then
    owners = dict(TextAnalysis.objects.values_list("response_id", "customer_id"))
    assert owners == {mine.pk: customer.pk, his.pk: bob.pk}


def test_a_huge_odd_comment_is_analysed_on_its_first_20000_characters(workspace):
    survey = survey_make(workspace)
    comment = "Awful \u202e service 😠 e\u0301 " + "blah " * 40_000
    response = response_make(workspace, survey, AT, comment=comment)
    services.text_analyse_responses(responses=[response])
    analysis = TextAnalysis.objects.get()
    assert analysis.truncated is True
    assert len(analysis.text) == 20_000
    assert analysis.label == "negative"
