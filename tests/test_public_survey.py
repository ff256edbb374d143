"""The public survey pages (no login): a GET never writes, limits per client, one complete
response per anonymous respondent."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from cxloop.events.services import events_ingest
from cxloop.feedback import services
from cxloop.feedback.models import Invitation, Response, Survey


@pytest.fixture
def nps(workspace) -> Survey:
    return services.survey_create_from_template(workspace=workspace, template="nps")


def _key(page) -> str:
    return re.search(r'name="rk" value="(\w+)"', page.content.decode()).group(1)


def test_score_link_shows_the_score_and_stores_nothing_until_sent(nps):
    # given: a mail scanner prefetching the email's "10" link ten times
    url = f"/s/{nps.public_token}/?nps=10"
    pages = [Client().get(url) for _ in range(10)]

    # then: each page shows 10 selected and the way to send it, and nothing is stored
    assert Response.objects.count() == 0
    html = pages[0].content.decode()
    assert all(p.status_code == 200 for p in pages)
    assert 'value="10" checked' in html and 'id="prefilled"' in html and "data-prefilled" in html

    # when: the person sends it
    browser = Client()
    key = _key(browser.get(url))
    done = browser.post(f"/s/{nps.public_token}/", {"rk": key, "nps": "10"})

    assert "Thank you!" in done.content.decode()
    assert list(Response.objects.values_list("nps_score", "completed")) == [(10, True)]


def test_bad_or_unknown_values_in_a_score_link_are_ignored(nps):
    page = Client().get(f"/s/{nps.public_token}/?nps=11&why_promoter=spam&nope=1")

    assert page.status_code == 200 and "checked" not in page.content.decode()
    assert "spam" not in page.content.decode() and 'id="prefilled"' not in page.content.decode()
    assert Response.objects.count() == 0


def test_invitation_score_link_writes_nothing_and_is_idempotent(workspace):
    events_ingest(workspace=workspace, messages=[
        {"type": "identify", "userId": "u1", "traits": {"email": "kim@example.com"}},
        {"type": "track", "userId": "u1", "event": "Ticket Closed"},
    ])  # fmt: skip
    survey = services.survey_create_from_template(workspace=workspace, template="ces")
    services.trigger_create(survey=survey, event_name="Ticket Closed", from_event_id=0)
    services.triggers_scan(workspace=workspace)
    invitation = Invitation.objects.get()
    url = f"/s/{survey.public_token}/"

    scanned = [Client().get(f"{url}?i={invitation.token}&ces=6") for _ in range(3)]
    assert Response.objects.count() == 0 and 'value="6" checked' in scanned[0].content.decode()
    first = Client().post(url, {"i": invitation.token, "ces": "6"})
    second = Client().post(url, {"i": invitation.token, "ces": "2"})

    assert "Thank you!" in first.content.decode()
    assert "already answered" in second.content.decode()
    assert list(Response.objects.values_list("ces_score", flat=True)) == [6]


def test_answer_stuffing_is_limited_per_client_and_survey(nps, workspace, settings):
    # given: a low limit, and the one-answer-per-client check off to see the limit alone
    settings.CXLOOP_SURVEY_RATE = "5/d"  # a day: the test never straddles two windows
    settings.CXLOOP_SURVEY_REPEAT_WINDOW = 0
    url = f"/s/{nps.public_token}/"

    # when: one client posts 50 answers, each as a fresh browser with its own key
    replies = [Client().post(url, {"nps": "0"}) for _ in range(50)]

    # then: the first 5 are kept, the rest refused with a clear 429 and stored nowhere
    assert [r.status_code for r in replies] == [200] * 5 + [429] * 45
    refused = replies[-1]
    assert int(refused["Retry-After"]) >= 1
    assert "Too many answers came from your network" in refused.content.decode()
    assert Response.objects.count() == 5
    # another client, and the same client on another survey, are not held back
    other = services.survey_create_from_template(workspace=workspace, template="csat")
    assert Client(REMOTE_ADDR="203.0.113.9").post(url, {"nps": "1"}).status_code == 200
    assert Client().post(f"/s/{other.public_token}/", {"csat": "4"}).status_code == 200
    assert Response.objects.count() == 7


def test_autosave_and_public_api_are_limited_too(nps, settings):
    settings.CXLOOP_SURVEY_SAVE_RATE = "3/d"
    settings.CXLOOP_SURVEY_RATE = "2/d"
    settings.CXLOOP_SURVEY_REPEAT_WINDOW = 0
    save = f"/s/{nps.public_token}/save/"
    api = f"/api/public/surveys/{nps.public_token}/responses"

    saves = [Client().post(save, {"nps": "5"}) for _ in range(5)]
    answers = [
        Client().post(
            api,
            {"response_key": f"{i:032x}", "answers": {"nps": 9}},
            content_type="application/json",
        )
        for i in range(4)
    ]

    assert [r.status_code for r in saves] == [200, 200, 200, 429, 429]
    assert saves[-1].json()["error"].startswith("too many requests")
    assert [r.status_code for r in answers] == [201, 201, 429, 429]
    assert answers[-1].json()["detail"].startswith("too many answers from this client")
    assert int(answers[-1]["Retry-After"]) >= 1
    assert Response.objects.filter(completed=True).count() == 2
    assert Response.objects.filter(completed=False).count() == 3


def test_one_browser_completes_an_anonymous_survey_once(nps):
    browser = Client()
    url = f"/s/{nps.public_token}/"
    first_key = _key(browser.get(url))
    browser.post(url, {"rk": first_key, "nps": "9"})

    # a reload gives the same key (a signed cookie), and a forged new key changes nothing
    again = browser.get(url)
    forged = browser.post(url, {"rk": "f" * 32, "nps": "0"})

    assert "already answered" in again.content.decode()
    assert "already answered" in forged.content.decode()
    assert list(Response.objects.values_list("nps_score", "response_key")) == [
        (9, f"web:{first_key}")
    ]


def test_same_ip_and_browser_without_cookies_completes_once_in_the_window(nps, settings):
    settings.CXLOOP_SURVEY_REPEAT_WINDOW = 3600
    url = f"/s/{nps.public_token}/"
    agent = {"HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}

    bad = Client(**agent).post(url, {"nps": "12"})  # rejected answers do not count
    first = Client(**agent).post(url, {"nps": "3"})
    stuffed = [Client(**agent).post(url, {"nps": "0"}) for _ in range(5)]
    other_browser = Client(HTTP_USER_AGENT="Safari/17").post(url, {"nps": "8"})
    api_again = Client(**agent).post(
        f"/api/public/surveys/{nps.public_token}/responses",
        {"response_key": "b" * 32, "answers": {"nps": 0}},
        content_type="application/json",
    )

    assert bad.status_code == 422 and "Thank you!" in first.content.decode()
    assert all("already answered" in r.content.decode() for r in stuffed)
    assert "Thank you!" in other_browser.content.decode()
    assert (api_again.status_code, api_again.json()) == (
        200, {"duplicate": True, "completed": True},
    )  # fmt: skip
    assert sorted(Response.objects.values_list("nps_score", flat=True)) == [3, 8]


def test_window_zero_lets_a_shared_tablet_collect_many_answers(nps, settings):
    settings.CXLOOP_SURVEY_REPEAT_WINDOW = 0
    url = f"/s/{nps.public_token}/"

    for score in (1, 2, 3):
        Client(HTTP_USER_AGENT="Kiosk").post(url, {"nps": str(score)})

    assert Response.objects.count() == 3


def test_client_address_behind_a_proxy_and_when_the_header_is_bad(nps, settings):
    settings.CXLOOP_SURVEY_RATE = "1/d"
    settings.CXLOOP_SURVEY_REPEAT_WINDOW = 0
    settings.CXLOOP_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    url = f"/s/{nps.public_token}/"

    def send(forwarded: str | None):
        headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
        return Client(REMOTE_ADDR="10.0.0.1", **headers).post(url, {"nps": "5"}).status_code

    # the proxy appends the real client: a forged first entry does not buy a fresh limit
    assert [send("1.1.1.1, 198.51.100.7"), send("2.2.2.2, 198.51.100.7")] == [200, 429]
    assert send("198.51.100.8") == 200
    # a missing or malformed header falls back to the proxy's own address, never a 500
    assert [send(None), send("not an address"), send("")] == [200, 429, 429]
