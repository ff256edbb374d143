"""Editing surveys in place: unique names, NPS by default, safe and unsafe edits of a live
survey, reordering under skip logic, and the editor page's answers (where errors show)."""

from __future__ import annotations

import pytest
from django.test import Client

from cxloop.feedback import selectors, services
from cxloop.feedback.logic import SurveyInvalid
from cxloop.feedback.models import Survey


@pytest.fixture
def app(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


def messages(exc_info) -> list[str]:
    return [e.message for e in exc_info.value.errors]


@pytest.fixture
def store(workspace) -> Survey:
    """A live survey with one complete answer: score 4, reason 'queue', comment."""
    survey = services.survey_create(
        workspace=workspace,
        name="Store visit",
        status="active",
        questions=[
            {"key": "score", "type": "rating", "metric": "nps", "text": "Recommend us?",
             "required": True},
            {"key": "reason", "type": "single_choice", "text": "Why?",
             "choices": ["Queue", "Prices", "Staff"]},
            {"key": "more", "type": "text", "text": "Tell us more",
             "show_if": {"question": "score", "op": "lte", "value": 6}},
        ],
    )  # fmt: skip
    services.response_submit(
        survey=survey,
        answers={"score": 4, "reason": "queue", "more": "Too slow"},
        response_key="r1",
        complete=True,
    )
    return survey


def spec_of(survey: Survey, key: str) -> dict:
    return next(q for q in selectors.survey_spec(survey)["questions"] if q["key"] == key)


def test_names_are_unique_per_workspace(workspace, other_workspace):
    # given
    first = services.survey_create_from_template(workspace=workspace, template="nps")
    elsewhere = services.survey_create_from_template(workspace=other_workspace, template="nps")
    # when
    second = services.survey_create_from_template(workspace=workspace, template="nps")
    third = services.survey_create_from_template(workspace=workspace, template="nps")
    with pytest.raises(SurveyInvalid) as taken:
        services.survey_create(workspace=workspace, name="  relationship NPS ")
    with pytest.raises(SurveyInvalid) as renamed:
        services.survey_update(survey=third, name="Relationship NPS (2)")
    services.survey_update(survey=third, name="Relationship NPS (3)")  # its own name is fine
    # then
    assert [first.name, second.name, third.name, elsewhere.name] == [
        "Relationship NPS", "Relationship NPS (2)", "Relationship NPS (3)", "Relationship NPS",
    ]  # fmt: skip
    assert messages(taken) == [
        "another survey is called 'relationship NPS': try 'relationship NPS (4)'"
    ]
    assert messages(renamed) == [
        "another survey is called 'Relationship NPS (2)': try 'Relationship NPS (2) (2)'"
    ]


def test_a_new_0_to_10_question_counts_as_nps_unless_one_already_does(workspace):
    survey = services.survey_create(workspace=workspace, name="Blank")
    # when
    first = services.question_add(survey=survey, spec={"key": "a", "type": "rating",
        "scale_min": 0, "scale_max": 10, "metric": "auto", "text": "Recommend?"})  # fmt: skip
    second = services.question_add(survey=survey, spec={"key": "b", "type": "rating",
        "scale_min": 0, "scale_max": 10, "metric": "auto", "text": "Again?"})  # fmt: skip
    five = services.question_add(survey=survey, spec={"key": "c", "type": "rating",
        "scale_min": 1, "scale_max": 5, "metric": "auto", "text": "Happy?"})  # fmt: skip
    # then
    assert [first.metric, second.metric, five.metric] == ["nps", "", ""]


def test_safe_edits_of_an_answered_question_are_kept(store):
    # when: new wording, labels, an extra choice, a label renamed, optional, logic changed
    services.question_update(survey=store, key="score", spec={
        "type": "rating", "scale_min": 0, "scale_max": 10, "metric": "nps",
        "text": "How likely are you to recommend us?", "required": False,
        "scale_labels": {"en": ["Never", "Surely"]},
    })  # fmt: skip
    services.question_update(survey=store, key="reason", spec={
        "type": "single_choice", "text": "What was it about?",
        "choices": [{"value": "queue", "label": "The queue"}, {"value": "prices", "label": "Prices"},
                    {"value": "staff", "label": "Staff"}, {"value": "parking", "label": "Parking"}],
    })  # fmt: skip
    services.question_update(survey=store, key="more", spec={
        "type": "text", "text": "Tell us more",
        "show_if": {"question": "score", "op": "lte", "value": 8},
    })  # fmt: skip
    # then
    score, reason, more = (spec_of(store, k) for k in ("score", "reason", "more"))
    assert (score["text"], score["required"], score["scale_labels"]) == (
        {"en": "How likely are you to recommend us?"}, False, {"en": ["Never", "Surely"]},
    )  # fmt: skip
    assert [c["value"] for c in reason["choices"]] == ["queue", "prices", "staff", "parking"]
    assert reason["choices"][0]["label"] == {"en": "The queue"}
    assert more["show_if"] == {"question": "score", "op": "lte", "value": 8}


@pytest.mark.parametrize(
    ("key", "change", "message"),
    [
        ("score", {"type": "text"},
         "'score' has 1 answer: its type cannot change (the answers would no longer fit it). "
         "Add a new question instead."),
        ("score", {"scale_min": 1, "scale_max": 5, "metric": ""},
         "'score' has 1 answer on its 0–10 scale: the scale cannot change. Add a new question "
         "instead."),
        ("reason", {"choices": [{"value": "prices", "label": "Prices"},
                                {"value": "staff", "label": "Staff"}]},
         "choice 'queue' of 'reason' was picked in answers: it cannot be removed or renamed. "
         "Change its label instead."),
    ],
)  # fmt: skip
def test_unsafe_edits_of_an_answered_question_are_refused_with_the_reason(
    store, key, change, message
):
    before = spec_of(store, key)
    spec = {k: v for k, v in before.items() if k != "key"} | change
    # when
    with pytest.raises(SurveyInvalid) as refused:
        services.question_update(survey=store, key=key, spec=spec)
    # then
    assert messages(refused)[0] == message
    assert spec_of(store, key) == before


def test_an_unanswered_question_of_a_draft_can_change_type(workspace):
    survey = services.survey_create(workspace=workspace, name="Draft", questions=[
        {"key": "q", "type": "rating", "scale_min": 1, "scale_max": 5, "text": "How?"}])  # fmt: skip
    services.question_update(
        survey=survey, key="q", spec={"type": "text", "text": "Tell us", "required": True}
    )
    assert (spec_of(survey, "q")["type"], spec_of(survey, "q")["scale_max"]) == ("text", None)


def test_a_live_survey_takes_only_optional_new_questions(store):
    with pytest.raises(SurveyInvalid) as refused:
        services.question_add(survey=store, spec={"key": "x", "type": "text", "text": "X?",
                                                  "required": True})  # fmt: skip
    services.question_add(survey=store, spec={"key": "x", "type": "text", "text": "X?"})
    assert "a new question must be optional" in messages(refused)[0]
    assert [q.key for q in store.questions.all()] == ["score", "reason", "more", "x"]


def test_reorder_keeps_skip_logic_looking_back(store):
    with pytest.raises(SurveyInvalid) as refused:
        services.questions_reorder(survey=store, keys=["more", "score", "reason"])
    with pytest.raises(SurveyInvalid) as partial:
        services.questions_reorder(survey=store, keys=["score", "reason"])
    services.questions_reorder(survey=store, keys=["reason", "score", "more"])
    assert messages(refused) == [
        "'more' is shown depending on 'score' (skip logic), so it must stay after 'score'"
    ]
    assert messages(partial) == ["name every question of the survey exactly once"]
    assert [q.key for q in store.questions.all()] == ["reason", "score", "more"]


def test_removing_an_answered_question_says_why_on_that_question(app, store):
    # when: the editor's Remove button, as htmx sends it
    answer = app.post(f"/surveys/{store.pk}/questions/", {"delete": "reason"},
                      HTTP_HX_REQUEST="true")  # fmt: skip
    html = answer.content.decode()
    # then: a 422 fragment with the reason inside the question's own card
    assert answer.status_code == 422
    card = html[html.index('id="question-reason"') : html.index('id="question-more"')]
    assert 'role="alert" id="err-reason"' in card
    assert "&#x27;reason&#x27; has 1 answer: removing it would lose them" in card
    assert store.questions.filter(key="reason").exists()


def test_editing_a_question_from_the_editor_form(app, store):
    answer = app.post(f"/surveys/{store.pk}/questions/", {
        "edit": "reason", "key": "reason", "type": "single_choice", "text_en": "What was it?",
        "choice_count": "5", "choice_value_0": "queue", "choice_0_en": "Waiting in line",
        "choice_value_1": "prices", "choice_1_en": "Prices", "choice_value_2": "staff",
        "choice_2_en": "", "choice_value_3": "", "choice_3_en": "Parking", "choice_4_en": "",
    }, HTTP_HX_REQUEST="true")  # fmt: skip
    assert answer.status_code == 200
    reason = spec_of(store, "reason")
    assert reason["text"] == {"en": "What was it?"}
    assert [(c["value"], c["label"]["en"]) for c in reason["choices"]] == [
        ("queue", "Waiting in line"), ("prices", "Prices"), ("parking", "Parking"),
    ]  # fmt: skip


def test_the_preview_renders_a_draft_and_saves_nothing(app, workspace):
    survey = services.survey_create_from_template(
        workspace=workspace, template="nps", status="draft", languages=["en", "fr"]
    )
    page = app.get(f"/surveys/{survey.pk}/preview/?lang=fr")
    public = Client().get(f"/s/{survey.public_token}/")
    html = page.content.decode()
    assert page.status_code == 200 and page["X-Frame-Options"] == "SAMEORIGIN"
    assert "Preview: answers given here are not saved." in html
    assert "data-save-url" not in html and 'lang="fr"' in html
    assert public.status_code == 404  # a draft is not answerable publicly


def test_a_theme_colours_the_public_page_and_shows_its_logo(app, store):
    # when: a colour too light for white text, then a dark one with a logo
    pale = app.post(f"/surveys/{store.pk}/questions/",
                    {"theme": "1", "color": "#ffcc00", "logo": ""}, HTTP_HX_REQUEST="true")  # fmt: skip
    app.post(f"/surveys/{store.pk}/questions/", {"theme": "1", "color": "#0A7D55",
             "logo": "https://cdn.example.com/logo.png"}, HTTP_HX_REQUEST="true")  # fmt: skip
    public = Client().get(f"/s/{store.public_token}/")
    html = public.content.decode()
    # then: the pale one is refused by its contrast (white on #ffcc00 is 1.5:1); the page
    # takes the dark one and may load the logo from its site, and only from there
    assert pale.status_code == 422
    assert "white text on #ffcc00 has a contrast of 1.5:1, under 4.5:1" in pale.content.decode()
    assert Survey.objects.get(pk=store.pk).theme == {
        "color": "#0a7d55", "logo": "https://cdn.example.com/logo.png",
    }  # fmt: skip
    assert ":root { --brand: #0a7d55;" in html
    assert '<img class="logo" src="https://cdn.example.com/logo.png"' in html
    img_src = next(
        part for part in public["Content-Security-Policy"].split(";") if "img-src" in part
    )
    assert "https://cdn.example.com" in img_src


def test_a_theme_logo_must_be_an_https_address(store):
    with pytest.raises(SurveyInvalid) as refused:
        services.survey_update(survey=store, theme={"logo": "javascript:alert(1)"})
    assert messages(refused) == ["a logo is an https:// address of an image"]


def test_translations_of_text_and_scale_ends_are_edited_in_place(app, workspace):
    survey = services.survey_create_from_template(
        workspace=workspace, template="nps", status="draft", languages=["en", "fr"]
    )
    answer = app.post(f"/surveys/{survey.pk}/questions/", {
        "edit": "nps", "key": "nps", "type": "rating", "scale": "0-10", "metric": "nps",
        "required": "on", "text_en": "Recommend us?", "text_fr": "Nous recommanderiez-vous ?",
        "low_label": "Never", "high_label": "Surely",
        "low_label_fr": "Jamais", "high_label_fr": "Certainement",
    }, HTTP_HX_REQUEST="true")  # fmt: skip
    nps = spec_of(survey, "nps")
    assert answer.status_code == 200
    assert nps["text"] == {"en": "Recommend us?", "fr": "Nous recommanderiez-vous ?"}
    assert nps["scale_labels"] == {"en": ["Never", "Surely"], "fr": ["Jamais", "Certainement"]}


def test_an_unanswered_rating_becomes_a_choice_question_in_the_editor(app, workspace):
    survey = services.survey_create(workspace=workspace, name="Draft", questions=[
        {"key": "q", "type": "rating", "scale_min": 1, "scale_max": 5, "text": "How?"}])  # fmt: skip
    page = app.get(f"/surveys/{survey.pk}/questions/").content.decode()
    answer = app.post(f"/surveys/{survey.pk}/questions/", {
        "edit": "q", "key": "q", "type": "single_choice", "text_en": "Which?",
        "choice_count": "3", "choice_0_en": "Red", "choice_1_en": "Blue", "choice_2_en": "",
    }, HTTP_HX_REQUEST="true")  # fmt: skip
    assert 'name="choice_count" value="3"' in page  # rows to fill when switching the type
    assert answer.status_code == 200
    assert [c["value"] for c in spec_of(survey, "q")["choices"]] == ["red", "blue"]
