"""Surveys and answers: templates, question validation, skip logic, partial and duplicate answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from cxloop.feedback import selectors, services
from cxloop.feedback.logic import AnswerInvalid, SurveyInvalid, SurveyUnavailable
from cxloop.feedback.models import Answer, Response, Survey
from cxloop.feedback.templates import TEMPLATE_KEYS


@pytest.fixture
def nps(workspace) -> Survey:
    return services.survey_create_from_template(workspace=workspace, template="nps")


def errors_of(exc_info) -> list[str]:
    return [str(e) for e in exc_info.value.errors]


def test_every_template_builds_an_active_survey_in_three_languages(workspace):
    # when
    surveys = {
        key: services.survey_create_from_template(workspace=workspace, template=key)
        for key in TEMPLATE_KEYS
    }
    # then
    assert {k: s.status for k, s in surveys.items()} == dict.fromkeys(TEMPLATE_KEYS, "active")
    assert surveys["nps"].languages == ["en", "fr", "de"]
    assert [q.key for q in surveys["nps"].questions.all()] == [
        "nps", "why_detractor", "why_passive", "why_promoter",
    ]  # fmt: skip
    metrics = {k: [(q.metric, q.scale_min, q.scale_max) for q in s.questions.all() if q.metric]
               for k, s in surveys.items()}  # fmt: skip
    assert metrics == {
        "nps": [("nps", 0, 10)],
        "csat": [("csat", 1, 5)],
        "ces": [("ces", 1, 7)],
        "post_purchase": [("csat", 1, 5)],
        "post_support": [("ces", 1, 7)],
    }


def test_template_in_chosen_languages_only(workspace):
    survey = services.survey_create_from_template(
        workspace=workspace, template="csat", languages=["de"]
    )
    question = survey.questions.get(key="csat")
    assert survey.languages == ["de"]
    assert question.text == {"de": "Wie zufrieden sind Sie insgesamt mit uns?"}
    assert question.scale_labels == {"de": ["Sehr unzufrieden", "Sehr zufrieden"]}


def test_bad_question_definitions_are_named_by_position_and_field(workspace):
    with pytest.raises(SurveyInvalid) as exc:
        services.survey_create(
            workspace=workspace,
            name="Broken",
            languages=["en", "fr"],
            questions=[
                {"key": "score", "type": "rating", "scale_min": 1, "scale_max": 5,
                 "metric": "nps", "text": {"en": "Score?"}},
                {"key": "score", "type": "text", "text": {"fr": "Pourquoi ?"}},
                {"key": "pick", "type": "single_choice", "text": "Pick", "choices": ["only"]},
                {"key": "why", "type": "text", "text": "Why?",
                 "show_if": {"question": "later", "op": "lte", "value": 3}},
            ],
        )  # fmt: skip
    assert errors_of(exc) == [
        "questions[0].metric: nps needs a 0–10 scale",
        "questions[1].key: 'score' is used by another question",
        "questions[1].text: text in the default language 'en' is required",
        "questions[2].choices: a choice question needs 2 or more choices",
        "questions[3].show_if.question: must name an earlier question of this survey",
    ]
    assert Survey.objects.count() == 0


def test_complete_answer_copies_metric_and_first_comment(nps, workspace):
    # when
    result = services.response_submit(
        survey=nps,
        answers={"nps": "3", "why_detractor": "  Parcel arrived 5 days late.  "},
        response_key="k1",
        language="fr",
        channel="web",
        touchpoint="Order Completed",
    )
    # then
    response = Response.objects.get()
    assert result.created and not result.duplicate
    assert (response.nps_score, response.comment, response.language) == (
        3, "Parcel arrived 5 days late.", "fr",
    )  # fmt: skip
    assert response.completed and response.submitted_at is not None
    assert (response.channel, response.touchpoint, response.workspace_id) == (
        "web", "Order Completed", workspace.pk,
    )  # fmt: skip
    assert selectors.response_answers(response=response) == {
        "nps": 3, "why_detractor": "Parcel arrived 5 days late.",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"nps": 11}, ["answers.nps: 11 is out of range 0–10"]),
        ({"nps": "nine"}, ["answers.nps: 'nine' is not a whole number"]),
        ({"nps": True}, ["answers.nps: True is not a whole number"]),
        ({}, ["answers.nps: an answer is required"]),
        ({"nps": 9, "colour": "red"}, ["answers.colour: no such question in this survey"]),
        (
            {"nps": 9, "why_detractor": "bad"},
            ["answers.why_detractor: skip logic hides this question (shown if nps ≤ 6)"],
        ),
        (
            {"nps": 7, "why_promoter": "x"},
            ["answers.why_promoter: skip logic hides this question (shown if nps ≥ 9)"],
        ),
    ],
)
def test_bad_answers_are_rejected_and_nothing_is_written(nps, answers, expected):
    with pytest.raises(AnswerInvalid) as exc:
        services.response_submit(survey=nps, answers=answers, response_key="k")
    assert errors_of(exc) == expected
    assert (Response.objects.count(), Answer.objects.count()) == (0, 0)


def test_required_question_hidden_by_skip_logic_is_not_required(workspace):
    survey = services.survey_create(
        workspace=workspace,
        name="Support",
        status="active",
        questions=[
            {"key": "solved", "type": "single_choice", "required": True, "text": "Solved?",
             "choices": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]},
            {"key": "why", "type": "text", "required": True, "text": "What is still wrong?",
             "show_if": {"question": "solved", "op": "eq", "value": "no"}},
        ],
    )  # fmt: skip
    ok = services.response_submit(survey=survey, answers={"solved": "yes"}, response_key="a")
    with pytest.raises(AnswerInvalid) as exc:
        services.response_submit(survey=survey, answers={"solved": "no"}, response_key="b")
    assert ok.response.completed
    assert errors_of(exc) == ["answers.why: an answer is required"]


def test_choice_answers_are_checked_against_their_values(workspace):
    survey = services.survey_create_from_template(workspace=workspace, template="post_purchase")
    with pytest.raises(AnswerInvalid) as exc:
        services.response_submit(
            survey=survey, answers={"csat": 5, "highlights": ["price", "free_lunch"]},
            response_key="x",
        )  # fmt: skip
    stored = services.response_submit(
        survey=survey, answers={"csat": 5, "highlights": ["staff", "price", "staff"]},
        response_key="y",
    )  # fmt: skip
    assert errors_of(exc) == [
        "answers.highlights: 'free_lunch' is not one of: delivery, quality, price, staff"
    ]
    assert selectors.response_answers(response=stored.response)["highlights"] == ["price", "staff"]


def test_partial_answers_are_kept_and_completed_later(nps):
    # given: the score only, saved as the customer clicks
    first = services.response_submit(
        survey=nps, answers={"nps": 10}, response_key="p1", complete=False
    )
    assert (first.response.completed, first.response.submitted_at) == (False, None)
    assert first.response.nps_score == 10
    # when: the follow-up arrives with the same key
    done = services.response_submit(
        survey=nps, answers={"why_promoter": "Friendly store staff"}, response_key="p1"
    )
    # then
    assert Response.objects.count() == 1
    assert done.response.completed and not done.created
    assert selectors.response_answers(response=done.response) == {
        "nps": 10, "why_promoter": "Friendly store staff",
    }  # fmt: skip


def test_changing_an_earlier_answer_drops_follow_ups_it_now_hides(nps):
    services.response_submit(
        survey=nps, answers={"nps": 2, "why_detractor": "slow"}, response_key="c", complete=False
    )
    done = services.response_submit(survey=nps, answers={"nps": 9}, response_key="c")
    assert selectors.response_answers(response=done.response) == {"nps": 9}
    assert done.response.comment == ""


def test_the_same_response_twice_is_stored_once(nps):
    first = services.response_submit(survey=nps, answers={"nps": 8}, response_key="same")
    again = services.response_submit(survey=nps, answers={"nps": 1}, response_key="same")
    assert (again.duplicate, again.response.pk) == (True, first.response.pk)
    assert list(Response.objects.values_list("nps_score", flat=True)) == [8]
    assert Answer.objects.count() == 1


def test_closed_expired_and_draft_surveys_take_no_answers(nps, workspace):
    nps.closes_at = timezone.now() - timedelta(minutes=1)
    nps.save()
    with pytest.raises(SurveyUnavailable) as expired:
        services.response_submit(survey=nps, answers={"nps": 9}, response_key="e")
    draft = services.survey_create_from_template(
        workspace=workspace, template="ces", status="draft"
    )
    with pytest.raises(SurveyUnavailable) as not_open:
        services.response_submit(survey=draft, answers={"ces": 5}, response_key="d")
    assert expired.value.gone and not not_open.value.gone
    assert str(not_open.value) == "This survey is not open yet."
    assert Response.objects.count() == 0


def test_questions_are_fixed_once_answers_exist(nps):
    services.response_submit(survey=nps, answers={"nps": 9}, response_key="r")
    with pytest.raises(SurveyInvalid) as exc:
        services.survey_update(survey=nps, questions=[])
    assert errors_of(exc) == ["questions: the survey has responses: its questions are fixed"]
    assert nps.questions.count() == 4


def test_builder_adds_and_removes_questions_with_skip_logic(workspace):
    survey = services.survey_create(workspace=workspace, name="Store visit", languages=["en", "fr"])
    services.question_add(
        survey=survey,
        spec={"key": "score", "type": "rating", "scale_min": 1, "scale_max": 5, "required": True,
              "text": {"en": "How was your visit?", "fr": "Comment était votre visite ?"}},
    )  # fmt: skip
    services.question_add(
        survey=survey,
        spec={"key": "why", "type": "text", "text": {"en": "What went wrong?"},
              "show_if": {"question": "score", "op": "lte", "value": 2}},
    )  # fmt: skip
    with pytest.raises(SurveyInvalid) as blocked:
        services.question_delete(survey=survey, key="score")
    assert errors_of(blocked) == ["question: why depend on 'score' (skip logic)"]
    assert [(q.key, q.position) for q in survey.questions.all()] == [("score", 0), ("why", 1)]


def test_language_is_picked_from_query_then_accept_language_then_default(nps):
    pick = selectors.pick_language
    assert pick(survey=nps, requested="de", accept_language="fr") == "de"
    assert pick(survey=nps, requested="", accept_language="es-ES,fr-CA;q=0.8,de;q=0.9") == "de"
    assert pick(survey=nps, requested="it", accept_language="") == "en"
    question = selectors.survey_localized(survey=nps, language="fr")[0]
    assert question.text == "Quelle est la probabilité que vous nous recommandiez à un proche ?"
    assert (question.scale[0], question.scale[-1], question.low_label) == (
        0, 10, "Pas du tout probable",
    )  # fmt: skip


def test_imported_time_is_kept(nps):
    when = datetime(2025, 1, 5, 10, 30, tzinfo=UTC)
    result = services.response_submit(
        survey=nps, answers={"nps": 6}, response_key="old", at=when, check_open=False
    )
    assert (result.response.submitted_at, result.response.started_at) == (when, when)


def test_questions_move_up_and_down_but_skip_logic_only_looks_back(workspace):
    survey = services.survey_create(workspace=workspace, name="Visit", languages=["en"])
    specs = [
        {"key": "score", "type": "rating", "scale_min": 1, "scale_max": 5, "text": {"en": "How?"}},
        {"key": "why", "type": "text", "text": {"en": "Why?"},
         "show_if": {"question": "score", "op": "lte", "value": 2}},
        {"key": "extra", "type": "text", "text": {"en": "Anything else?"}},
    ]  # fmt: skip
    for spec in specs:
        services.question_add(survey=survey, spec=spec)

    services.question_move(survey=survey, key="extra", offset=-1)
    assert list(survey.questions.values_list("key", flat=True)) == ["score", "extra", "why"]

    services.question_move(survey=survey, key="why", offset=-1)  # right after its condition
    assert list(survey.questions.values_list("key", flat=True)) == ["score", "why", "extra"]
    with pytest.raises(SurveyInvalid) as above_its_condition:
        services.question_move(survey=survey, key="why", offset=-1)
    with pytest.raises(SurveyInvalid) as first:
        services.question_move(survey=survey, key="score", offset=-1)
    assert errors_of(first) == ["question: 'score' is already the first question"]
    assert errors_of(above_its_condition) == [
        "question: 'why' depends on 'score' (skip logic), so it must stay after it"
    ]
    assert list(survey.questions.values_list("key", flat=True)) == ["score", "why", "extra"]


NO_QUESTIONS = (
    "status: a survey without questions cannot take answers: add a question, then publish it"
)


def test_a_survey_without_questions_cannot_take_answers(workspace, client):
    from factories import member_make

    # created open without questions: refused, nothing stored
    with pytest.raises(SurveyInvalid) as created:
        services.survey_create(workspace=workspace, name="Empty", status="active")
    assert errors_of(created) == [NO_QUESTIONS]
    assert not Survey.objects.filter(name="Empty").exists()
    # a draft without questions cannot be published; the survey is left as it was
    draft = services.survey_create(workspace=workspace, name="Empty")
    with pytest.raises(SurveyInvalid) as published:
        services.survey_update(survey=draft, status="active")
    assert errors_of(published) == [NO_QUESTIONS]
    assert draft.status == "draft" and Survey.objects.get(pk=draft.pk).status == "draft"
    services.survey_update(survey=draft, name="Still empty")  # a rename alone is fine
    # the pages offer the editor instead of Publish, and a post anyway is refused by name
    client.force_login(member_make(workspace=workspace, username="ana", role="analyst"))
    for url in (f"/surveys/{draft.pk}/", f"/surveys/{draft.pk}/questions/"):
        html = client.get(url).content.decode()
        assert 'id="publish-hint"' in html and 'value="active"' not in html, url
    refused = client.post(f"/surveys/{draft.pk}/status/", {"status": "active"})
    assert refused.status_code == 422 and NO_QUESTIONS in refused.content.decode()
    # with a question it opens, and then its only question cannot be removed
    services.question_add(survey=draft, spec={"key": "why", "type": "text", "text": {"en": "Why?"}})
    services.survey_update(survey=draft, status="active")
    assert Survey.objects.get(pk=draft.pk).status == "active"
    with pytest.raises(SurveyInvalid) as last:
        services.question_delete(survey=draft, key="why")
    assert errors_of(last) == [
        "question: 'why' is the only question of a survey that takes answers: add another first, "
        "or close the survey"
    ]
    # nor can an open survey's questions be replaced by none
    with pytest.raises(SurveyInvalid) as emptied:
        services.survey_update(survey=draft, questions=[])
    assert errors_of(emptied) == [NO_QUESTIONS]
    assert draft.questions.count() == 1
