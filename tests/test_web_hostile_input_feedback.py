"""Hostile parameters on the survey, customer, dashboard, privacy and team pages.

Every GET page (and htmx partial) is walked with values a form never sends, for each parameter it
reads: none may give a 5xx, and a value the page cannot use is named on the page (a 4xx). POST
forms get hostile bodies: no 5xx and nothing written.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from cxloop.core.models import AuditEntry
from cxloop.customers.models import Customer
from cxloop.feedback import services
from cxloop.feedback.models import Question, Response, Survey, Trigger
from factories import customer_id, ingest, member_make, track

HUGE = "9223372036854775808"  # 2**63: one past the largest 64-bit id
LONG = "x" * 10_000
HOSTILE = [HUGE, "-1", "NaN", "abc", "0001-01-01", "9999-12-31", LONG, "\x00", "a\x00b"]


@pytest.fixture
def admin(workspace) -> Client:
    client = Client()
    client.force_login(member_make(workspace=workspace, username="boss", role="admin"))
    return client


@pytest.fixture
def world(workspace):
    at = datetime(2026, 3, 2, 10, tzinfo=UTC)
    ingest(workspace, [track("ann", "Order Completed", at, channel="store")])
    survey = services.survey_create_from_template(workspace=workspace, template="nps")
    services.response_submit(survey=survey, answers={"nps": 9}, response_key="r1")
    return {"survey": survey, "customer": customer_id(workspace, "ann")}


def _get_pages(world) -> list[tuple[str, tuple[str, ...], dict]]:
    """(url, parameters it reads, headers) for each GET page and partial."""
    s, c = world["survey"].pk, world["customer"]
    htmx = {"HTTP_HX_REQUEST": "true"}
    dash = ("from", "to", "survey", "channel", "touchpoint", "trait", "by", "metric", "split",
            "top_box")  # fmt: skip
    return [
        ("/surveys/", (), {}),
        ("/surveys/new/", (), {}),
        (f"/surveys/{s}/", ("page",), {}),
        (f"/surveys/{s}/questions/", (), {}),
        (f"/surveys/{s}/questions/", (), htmx),
        (f"/surveys/{s}/import/", (), {}),
        ("/surveys/reviews/import/", (), {}),
        ("/customers/", ("q", "stage", "page"), {}),
        ("/customers/", ("q", "stage", "page"), {**htmx, "HTTP_HX_TARGET": "results"}),
        (f"/customers/{c}/", ("channel", "type", "name", "page"), {}),
        (f"/customers/{c}/timeline/", ("channel", "type", "name", "page"), htmx),
        (f"/customers/{c}/export/", ("format",), {}),
        (f"/customers/{c}/erase/", (), {}),
        ("/dashboard/", dash, {}),
        ("/dashboard/panel/", (*dash, "since"), htmx),
        ("/audit/", ("page",), {}),
        ("/team/", (), {}),
        ("/sources/", (), {}),
    ]


def _valid(param: str, value: str) -> bool:
    """Whether ``value`` is a usable value of ``param`` (the rest must be named as errors)."""
    if "\x00" in value or len(value) > 200:
        return False
    # none of the hostile values is a page, an id, a choice, a date in range or key=value;
    # free text (search, timeline filters, since) takes any short text
    return param in ("q", "channel", "type", "name", "touchpoint", "since")


def test_every_get_page_answers_hostile_parameters_without_a_5xx(admin, world):
    problems = []
    for url, params, headers in _get_pages(world):
        plain = admin.get(url, **headers)
        if plain.status_code != 200:
            problems.append(f"{url} without parameters: {plain.status_code}")
        for param in params:
            for value in HOSTILE:
                response = admin.get(url, {param: value}, **headers)
                body = b"" if response.streaming else response.content
                where = f"{url}?{param}={value[:20]!r}: {response.status_code}"
                if response.status_code >= 500:
                    problems.append(where)
                elif not _valid(param, value):
                    if response.status_code < 400:
                        problems.append(f"{where} accepted")
                    elif param.encode() not in body:
                        problems.append(f"{where} does not name {param}")
    assert problems == []


def test_repeated_parameters_take_one_value(admin, world):
    both = admin.get("/customers/", {"page": ["1", HUGE], "q": ["ann", LONG]})
    dash = admin.get("/dashboard/", {"by": ["week", "day", "fortnight"]})
    assert both.status_code == 400 and b"q: Ensure this value has at most 200" in both.content
    assert dash.status_code == 400 and b"fortnight" in dash.content


def test_ids_in_the_path_past_64_bits_are_not_found(admin, world):
    for url in (f"/surveys/{HUGE}/", f"/customers/{HUGE}/", f"/customers/{HUGE}/export/",
                f"/surveys/{HUGE}/export.csv"):  # fmt: skip
        assert admin.get(url).status_code == 404, url


def _writes(workspace) -> tuple:
    return (
        Survey.objects.count(),
        Question.objects.count(),
        Trigger.objects.count(),
        Response.objects.count(),
        Customer.objects.count(),
        AuditEntry.objects.exclude(action="responses_export").count(),
    )


def test_hostile_post_bodies_write_nothing(admin, world, workspace):
    s = world["survey"]
    draft = services.survey_create(workspace=workspace, name="Draft")
    posts = [
        ("/surveys/new/", {"name": LONG}),
        ("/surveys/new/", {"name": "ok", "kind": "abc"}),
        ("/surveys/new/", {"name": "ok", "other_languages": LONG}),
        ("/surveys/new/", {"template": LONG}),
        ("/surveys/new/", {"template": "nps", "languages": ["en", "\x00"]}),
        (f"/surveys/{s.pk}/status/", {"status": "abc"}),
        (f"/surveys/{s.pk}/status/", {"status": "active", "closes_at": "9999-99-99"}),
        (f"/surveys/{s.pk}/status/", {"status": "active", "closes_at": "abc"}),
        (
            f"/surveys/{draft.pk}/questions/",
            {"key": "q1", "type": "rating", "scale": "abc", "text_en": "How?"},
        ),
        (
            f"/surveys/{draft.pk}/questions/",
            {"key": "q1", "type": "rating", "scale": "NaN-1", "text_en": "How?"},
        ),
        (f"/surveys/{draft.pk}/questions/", {"key": LONG, "type": "text", "text_en": "How?"}),
        (f"/surveys/{draft.pk}/questions/", {"key": "q1", "type": "bogus", "text_en": "How?"}),
        (f"/surveys/{draft.pk}/questions/", {"key": "q1", "type": "text", "text_en": "a\x00b"}),
        (
            f"/surveys/{draft.pk}/questions/",
            {"key": "q1", "type": "single_choice", "text_en": "Which?", "choices": LONG * 2},
        ),
        (f"/surveys/{draft.pk}/questions/", {"move": "abc"}),
        (f"/surveys/{draft.pk}/questions/", {"move": f"{LONG}:up"}),
        (f"/surveys/{draft.pk}/questions/", {"delete": LONG}),
        (f"/surveys/{s.pk}/triggers/", {"event_name": "Order", "delay_days": "NaN"}),
        (f"/surveys/{s.pk}/triggers/", {"event_name": "Order", "delay_days": "1e300"}),
        (f"/surveys/{s.pk}/triggers/", {"event_name": "Order", "delay_days": "-1"}),
        (f"/surveys/{s.pk}/triggers/", {"event_name": "Order", "frequency_cap_days": HUGE}),
        (f"/surveys/{s.pk}/triggers/", {"event_name": "Order", "frequency_cap_days": "abc"}),
        (f"/surveys/{s.pk}/triggers/", {"event_name": LONG}),
        (f"/surveys/{s.pk}/triggers/", {"event_name": "\x00"}),
        (f"/surveys/{s.pk}/import/", {"upload_id": "../../etc/passwd"}),
        (f"/surveys/{s.pk}/import/", {"upload_id": HUGE, "delimiter": "pipe"}),
        ("/surveys/reviews/import/", {"delimiter": "abc"}),
        ("/surveys/reviews/import/", {"site": LONG}),
        ("/workspace/", {"workspace": HUGE}),
        ("/workspace/", {"workspace": "-1"}),
        (f"/customers/{world['customer']}/erase/", {"confirm": LONG}),
        (f"/customers/{world['customer']}/erase/", {"confirm": "\x00"}),
    ]
    before = _writes(workspace)
    problems = []
    for url, body in posts:
        response = admin.post(url, body)
        if response.status_code >= 500:
            problems.append(f"{url} {str(body)[:60]}: {response.status_code}")
        elif url != "/workspace/" and response.status_code < 400:
            problems.append(f"{url} {str(body)[:60]}: accepted ({response.status_code})")
    assert problems == []
    assert _writes(workspace) == before


def test_a_refused_trigger_is_named_next_to_its_field(admin, world):
    s = world["survey"]
    response = admin.post(
        f"/surveys/{s.pk}/triggers/",
        {"event_name": "Order", "delay_days": "NaN", "frequency_cap_days": "30",
         "condition_key": "channel", "condition_value": "store"},
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 422
    # named by the label people see, not the field's name
    assert 'id="trigger-errors"' in html and "Wait (days): Enter a number." in html
    assert "delay_days:" not in html
    assert 'id="t-delay" name="delay_days"' in html

    def field(field_id: str) -> str:
        start = html.index(f'id="{field_id}"')
        return html[start : html.index(">", start)]

    assert 'aria-invalid="true"' in field("t-delay")
    assert 'aria-describedby="trigger-errors"' in field("t-delay")
    # what was typed is kept, the bad value included, and the consent box is left unticked
    assert 'value="Order"' in field("t-event") and 'value="NaN"' in field("t-delay")
    assert 'value="30"' in field("t-cap") and 'value="store"' in field("t-cval")
    consent = html.rindex("<input", 0, html.index('name="require_consent"'))
    assert "checked" not in html[consent : html.index(">", consent)]
    assert not Trigger.objects.exists()
    # a missing event name is named by its label too
    refused = admin.post(
        f"/surveys/{s.pk}/triggers/", {"event_name": "   ", "delay_days": "1"}
    ).content.decode()
    assert "Event name: " in refused and "event_name:" not in refused


def test_a_bad_scale_in_the_builder_is_a_422_not_a_500(admin, workspace):
    draft = services.survey_create(workspace=workspace, name="Draft")
    response = admin.post(
        f"/surveys/{draft.pk}/questions/",
        {"key": "q1", "type": "rating", "scale": "abc", "text_en": "How?"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 422 and "scale: Select a valid choice." in html
    assert '<select id="qscale" name="scale" aria-invalid="true"' in html
    assert not draft.questions.exists()


def test_a_bad_search_is_named_under_the_search_box(admin, world):
    response = admin.get("/customers/", {"q": "a\x00b"})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="search-errors"' in html and "q: Null characters are not allowed." in html
    box = html[html.index('id="q"') : html.index(">", html.index('id="q"'))]
    assert 'aria-invalid="true"' in box


def test_the_public_page_takes_hostile_link_parameters_as_absent(world):
    survey, visitor = world["survey"], Client()
    url = f"/s/{survey.public_token}/"
    problems = []
    for param in ("lang", "i", "rk", "embed", "channel"):
        for value in HOSTILE:
            for response in (
                visitor.get(url, {param: value}),
                visitor.post(f"{url}save/", {param: value, "nps": "7"}),
            ):
                if response.status_code >= 500:
                    problems.append(f"{param}={value[:20]!r}: {response.status_code}")
    answered = Client().post(url, {"nps": "8", "channel": "a\x00b", "i": "\x00", "lang": LONG})
    assert problems == []
    assert answered.status_code == 200
    stored = Response.objects.filter(completed=True, nps_score=8).get()
    # a hostile channel is taken as absent: the answer is on the public link's own channel
    assert (stored.channel, stored.source, stored.language) == ("link", "link", "en")


def test_hostile_team_and_key_posts_write_nothing(admin, workspace):
    from django.contrib.auth import get_user_model

    from cxloop.core.models import Membership, WriteKey

    analyst = member_make(workspace=workspace, username="ana")
    posts = [
        ("/team/", {"username": LONG, "role": "analyst"}),
        ("/team/", {"username": "a\x00b", "role": "analyst", "password": "x" * 20}),
        ("/team/", {"username": "newbie", "role": "overlord"}),
        ("/team/", {"username": "newbie", "role": "analyst", "email": LONG}),
        (f"/team/{analyst.pk}/role/", {"role": "\x00"}),
        (f"/team/{analyst.pk}/role/", {"role": LONG}),
        (f"/team/{HUGE}/role/", {"role": "admin"}),
        (f"/team/{HUGE}/remove/", {}),
        ("/sources/keys/", {"label": LONG, "kind": "server"}),
        ("/sources/keys/", {"label": "shop", "kind": "NaN"}),
        (f"/sources/keys/{HUGE}/revoke/", {}),
        (f"/merges/{HUGE}/unmerge/", {}),
    ]

    def state():
        return (
            get_user_model().objects.count(),
            sorted(Membership.objects.values_list("user_id", "role")),
            WriteKey.objects.filter(revoked_at__isnull=True).count(),
        )

    before = state()
    statuses = {url + str(body)[:30]: admin.post(url, body).status_code for url, body in posts}
    assert [k for k, status in statuses.items() if status >= 500] == []
    assert state() == before


def test_a_refused_question_or_look_is_named_by_the_builders_labels(admin, workspace):
    draft = services.survey_create(workspace=workspace, name="Draft")
    url = f"/surveys/{draft.pk}/questions/"
    bad_text = admin.post(url, {"key": "q1", "type": "text", "text_en": "a\x00b"})
    html = bad_text.content.decode()
    assert bad_text.status_code == 422
    assert "Question text (en): Null characters are not allowed." in html and "text_en:" not in html
    html = admin.post(url, {"key": "q1", "type": "rating", "scale": "abc", "text_en": "How?"})
    assert "Rating scale: Select a valid choice. abc is not one of the available choices." in (
        html.content.decode()
    )
    html = admin.post(url, {"theme": "1", "color": "#12345678"}).content.decode()
    assert "Brand colour: Ensure this value has at most 7 characters (it has 9)." in html
    assert not draft.questions.exists()
