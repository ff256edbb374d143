"""Survey pages (signed in) and the public answer page, through Django's test client."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from cxloop.customers.models import Customer
from cxloop.events.services import events_ingest
from cxloop.feedback import selectors, services
from cxloop.feedback.models import Invitation, Response, Survey


@pytest.fixture
def app(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def nps(workspace) -> Survey:
    return services.survey_create_from_template(workspace=workspace, template="nps")


def test_survey_list_and_create_from_template(app, workspace):
    empty = app.get("/surveys/")
    created = app.post("/surveys/new/", {"template": "post_support", "languages": ["fr", "en"]})
    survey = Survey.objects.get()
    page = app.get("/surveys/")
    assert "No surveys yet" in empty.content.decode()
    assert created.status_code == 302
    assert created["Location"] == f"/surveys/{survey.pk}/questions/"
    assert (survey.name, survey.languages, survey.status) == (
        "Post-support survey",
        ["fr", "en"],
        "draft",
    )
    assert "Post-support survey" in page.content.decode()


def test_a_template_used_twice_gets_a_unique_name_and_starts_as_a_draft(app, workspace):
    services.survey_create_from_template(workspace=workspace, template="nps")
    app.post("/surveys/new/", {"template": "nps", "languages": ["en"]})
    app.post("/surveys/new/", {"template": "nps", "languages": ["en"]})
    taken = app.post("/surveys/new/", {"name": "relationship nps", "kind": "nps"})
    names = list(Survey.objects.order_by("pk").values_list("name", "status"))
    assert names == [
        ("Relationship NPS", "active"),
        ("Relationship NPS (2)", "draft"),
        ("Relationship NPS (3)", "draft"),
    ]
    assert taken.status_code == 422
    assert (
        "another survey is called &#x27;relationship nps&#x27;: try &#x27;relationship nps (4)&#x27;"
        in (taken.content.decode())
    )


def test_build_a_survey_from_scratch_with_skip_logic(app, workspace):
    app.post("/surveys/new/", {"name": "Store visit", "kind": "csat", "languages": ["en", "de"]})
    survey = Survey.objects.get()
    url = f"/surveys/{survey.pk}/questions/"
    first = app.post(url, {"key": "score", "type": "rating", "scale": "1-5", "metric": "csat",
                           "text_en": "How was your visit?", "text_de": "Wie war Ihr Besuch?",
                           "required": "on"}, HTTP_HX_REQUEST="true")  # fmt: skip
    second = app.post(url, {"key": "what", "type": "multiple_choice", "scale": "1-5",
                            "text_en": "What went wrong?", "choices": "Long queue | Lange Schlange\nRude staff",
                            "show_if_question": "score", "show_if_op": "lte", "show_if_value": "2"})  # fmt: skip
    bad = app.post(url, {"key": "score", "type": "text", "scale": "1-5", "text_en": ""})
    assert first.status_code == 200 and '<div id="builder"' in first.content.decode()
    assert second.status_code == 200
    assert bad.status_code == 422
    assert "&#x27;score&#x27; is used by another question" in bad.content.decode()
    spec = selectors.survey_spec(survey)["questions"]
    assert [(q["key"], q["metric"], q["required"]) for q in spec] == [
        ("score", "csat", True), ("what", "", False),
    ]  # fmt: skip
    assert spec[1]["choices"] == [
        {"value": "long_queue", "label": {"en": "Long queue", "de": "Lange Schlange"}},
        {"value": "rude_staff", "label": {"en": "Rude staff"}},
    ]
    assert spec[1]["show_if"] == {"question": "score", "op": "lte", "value": 2}
    assert spec[0]["text"] == {"en": "How was your visit?", "de": "Wie war Ihr Besuch?"}


def test_public_page_in_the_visitors_language_and_answering_it(nps):
    client = Client()  # no login
    url = f"/s/{nps.public_token}/"
    german = client.get(url, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")
    french = client.get(url + "?lang=fr")
    key = re.search(r'name="rk" value="(\w+)"', french.content.decode()).group(1)
    done = client.post(
        url, {"rk": key, "lang": "fr", "nps": "4", "why_detractor": "Livraison en retard"}
    )
    assert 'lang="de"' in german.content.decode()
    assert "Wie wahrscheinlich ist es, dass Sie uns weiterempfehlen?" in german.content.decode()
    assert "Merci !" in done.content.decode()
    response = Response.objects.get()
    assert (response.nps_score, response.comment, response.language, response.source) == (
        4, "Livraison en retard", "fr", "link",
    )  # fmt: skip
    again = client.get(url + f"?rk={key}")
    assert "Thank you" in again.content.decode() and "already answered" in again.content.decode()


def test_public_page_reports_bad_answers_next_to_the_question(nps):
    client = Client()
    response = client.post(f"/s/{nps.public_token}/", {"nps": "12"})
    html = response.content.decode()
    assert response.status_code == 422
    assert 'id="err-nps">12 is out of range 0–10</p>' in html
    assert Response.objects.count() == 0


def test_partial_answers_are_saved_as_the_customer_goes(nps):
    client = Client()
    key = "0123456789abcdef0123456789abcdef"
    saved = client.post(f"/s/{nps.public_token}/save/", {"rk": key, "nps": "9"})
    assert saved.json() == {"saved": True, "completed": False}
    client.post(f"/s/{nps.public_token}/", {"rk": key, "nps": "9", "why_promoter": "Quick help"})
    response = Response.objects.get()
    assert (response.completed, response.nps_score, response.comment) == (True, 9, "Quick help")
    assert response.response_key == f"web:{key}"


def test_public_page_cannot_touch_a_response_it_did_not_start(nps):
    services.response_submit(survey=nps, answers={"nps": 2}, response_key="crm-77", complete=False)
    Client().post(f"/s/{nps.public_token}/save/", {"rk": "crm-77", "nps": "10"})
    other = Response.objects.exclude(response_key="crm-77").get()
    assert Response.objects.get(response_key="crm-77").nps_score == 2
    assert (other.response_key[:4], len(other.response_key), other.nps_score) == ("web:", 36, 10)


def test_public_page_cannot_open_an_api_response_with_a_hex_key(nps):
    key = "feedfacefeedfacefeedfacefeedface"  # what an API client might use: a uuid4().hex
    services.response_submit(
        survey=nps,
        answers={"nps": 2, "why_detractor": "internal note"},
        response_key=key,
        complete=False,
    )

    page = Client().get(f"/s/{nps.public_token}/?rk={key}").content.decode()
    Client().post(f"/s/{nps.public_token}/", {"rk": key, "nps": "0"})

    assert "internal note" not in page
    api_response = Response.objects.get(response_key=key)
    assert (api_response.completed, api_response.nps_score) == (False, 2)


def test_closed_expired_unknown_and_draft_links(nps, workspace):
    client = Client()
    unknown = client.get("/s/no-such-token/")
    nps.closes_at = timezone.now() - timedelta(hours=1)
    nps.save()
    expired = client.get(f"/s/{nps.public_token}/")
    draft = services.survey_create(workspace=workspace, name="Later", status="draft")
    not_open = client.get(f"/s/{draft.public_token}/")
    assert (
        unknown.status_code == 404 and "This survey link is not valid" in unknown.content.decode()
    )
    assert expired.status_code == 410 and "no longer takes answers" in expired.content.decode()
    assert not_open.status_code == 404 and "not open yet" in not_open.content.decode()


def test_invitation_link_ties_the_answer_to_the_customer_and_touchpoint(workspace):
    events_ingest(workspace=workspace, messages=[
        {"type": "identify", "userId": "u1", "traits": {"email": "kim@example.com", "name": "Kim"}},
        {"type": "track", "userId": "u1", "event": "Ticket Closed", "properties": {"channel": "chat"}},
    ])  # fmt: skip
    survey = services.survey_create_from_template(workspace=workspace, template="ces")
    services.trigger_create(survey=survey, event_name="Ticket Closed", from_event_id=0)
    services.triggers_scan(workspace=workspace)
    invitation = Invitation.objects.get()
    client = Client()
    one_click = client.get(f"/s/{survey.public_token}/?i={invitation.token}&ces=6")
    assert 'value="6" checked' in one_click.content.decode()
    client.post(
        f"/s/{survey.public_token}/",
        {"i": invitation.token, "ces": "6", "comment": "Sorted in minutes"},
    )
    response = Response.objects.get()
    assert response.customer == Customer.objects.get(display_name="Kim")
    assert (response.channel, response.touchpoint, response.source, response.comment) == (
        "chat", "Ticket Closed", "email", "Sorted in minutes",
    )  # fmt: skip
    assert response.response_key == f"inv-{invitation.token}"


def test_embed_script_and_iframe_page(nps):
    client = Client()
    script = client.get(f"/s/{nps.public_token}/embed.js")
    frame = client.get(f"/s/{nps.public_token}/?embed=1")
    assert script["Content-Type"].startswith("text/javascript")
    assert f'"url":"http://testserver/s/{nps.public_token}/?embed=1"' in script.content.decode()
    assert "X-Frame-Options" not in frame
    assert 'name="embed" value="1"' in frame.content.decode()


def test_export_csv(app, nps):
    services.response_submit(
        survey=nps, answers={"nps": 3, "why_detractor": 'Slow, "late"'}, response_key="a"
    )
    services.response_submit(survey=nps, answers={"nps": 10}, response_key="b", complete=False)
    body = b"".join(app.get(f"/surveys/{nps.pk}/export.csv").streaming_content).decode()
    lines = body.splitlines()
    assert lines[0] == (
        "response_id,response_key,submitted_at,started_at,completed,customer_id,customer_email,"
        "language,source,channel,touchpoint,nps_score,csat_score,ces_score,"
        "nps,why_detractor,why_passive,why_promoter"
    )
    assert lines[1].split(",")[1] == "a" and lines[1].endswith(',3,,,3,"Slow, ""late""",,')
    assert lines[2].split(",")[4] == "false"
    assert len(lines) == 3


def test_export_csv_is_audited(app, nps, member, workspace):
    from cxloop.core.selectors import audit_entries

    services.response_submit(survey=nps, answers={"nps": 3}, response_key="a")
    before = list(audit_entries(workspace=workspace))
    b"".join(app.get(f"/surveys/{nps.pk}/export.csv").streaming_content)
    entries = [e for e in audit_entries(workspace=workspace) if e not in before]
    assert [(e.action, e.actor, e.target, e.detail) for e in entries] == [
        ("responses_export", member, f"survey #{nps.pk}",
         {"survey": nps.name, "format": "csv", "responses": 1}),
    ]  # fmt: skip


def test_export_csv_escapes_answers_a_spreadsheet_would_run(app, nps):
    import csv
    import io

    hostile = ['=HYPERLINK("http://evil.example","Click")', "@SUM(A1:A9)", "+1", "-1"]
    for i, text in enumerate(hostile):
        services.response_submit(
            survey=nps, answers={"nps": i, "why_detractor": text}, response_key=f"k{i}",
            channel="-chat",
        )  # fmt: skip

    body = b"".join(app.get(f"/surveys/{nps.pk}/export.csv").streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))

    assert [r["why_detractor"] for r in rows] == [
        '\'=HYPERLINK("http://evil.example","Click")', "'@SUM(A1:A9)", "'+1", "'-1",
    ]  # fmt: skip
    assert {r["channel"] for r in rows} == {"'-chat"}
    # numbers are written as plain numbers
    assert [(r["nps_score"], r["nps"]) for r in rows] == [
        ("0", "0"),
        ("1", "1"),
        ("2", "2"),
        ("3", "3"),
    ]


def test_import_results_in_two_steps_with_line_numbered_errors(
    app, nps, workspace, settings, tmp_path
):
    settings.CXLOOP_HOME = tmp_path
    events_ingest(workspace=workspace, messages=[
        {"type": "identify", "userId": "u1", "traits": {"email": "ann@example.com"}}
    ])  # fmt: skip
    csv_text = (
        "Email,Date,How likely are you to recommend us?,Why\n"
        "ANN@example.com,2024-11-02,9,\n"
        "bob@example.com,2024-11-03,11,\n"
        "bob@example.com,yesterday,5,\n"
        "bob@example.com,2024-11-05,4,Delivery was late\n"
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    step1 = app.post(
        f"/surveys/{nps.pk}/import/", {"file": SimpleUploadedFile("old.csv", csv_text.encode())}
    )
    html = step1.content.decode()
    upload_id = re.search(r'name="upload_id" value="(\w+)"', html).group(1)
    assert '<option value="customer_email" selected>' in html
    assert '<option value="q:nps" selected>' in html
    step2 = app.post(f"/surveys/{nps.pk}/import/", {
        "upload_id": upload_id, "map_0": "customer_email", "map_1": "submitted_at",
        "map_2": "q:nps", "map_3": "q:why_detractor",
    })  # fmt: skip
    report = step2.content.decode()
    assert "3 imported" not in report and "2 imported" in report
    assert "line 3" in report and "answers.nps: 11 is out of range 0–10" in report
    assert "line 4" in report and "submitted_at: &#x27;yesterday&#x27; is not a date" in report
    rows = Response.objects.order_by("submitted_at")
    assert [(r.nps_score, r.customer_id is not None, r.source, r.submitted_at.date().isoformat()) for r in rows] == [
        (9, True, "import", "2024-11-02"), (4, False, "import", "2024-11-05"),
    ]  # fmt: skip


def test_review_import(app, workspace):
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv_text = (
        "id,rating,title,text,date,source\n"
        "r1,5,Great,Lovely staff in Leeds,2025-01-02,trustpilot\n"
        "r2,7,,Too many stars,2025-01-03,trustpilot\n"
        "r3,2/5,,Parcel lost,2025-01-04,\n"
    )
    response = app.post(
        "/surveys/reviews/import/",
        {"file": SimpleUploadedFile("r.csv", csv_text.encode()), "site": "google"},
    )
    again = app.post(
        "/surveys/reviews/import/",
        {"file": SimpleUploadedFile("r.csv", csv_text.encode()), "site": "google"},
    )
    assert "2 imported" in response.content.decode()
    assert (
        "line 3" in response.content.decode()
        and "rating: 7 is out of range 1–5" in response.content.decode()
    )
    assert "2 already there" in again.content.decode()
    rows = Response.objects.order_by("submitted_at")
    assert [(r.csat_score, r.touchpoint, r.source, r.comment) for r in rows] == [
        (5, "trustpilot", "review", "Great\n\nLovely staff in Leeds"),
        (2, "google", "review", "Parcel lost"),
    ]


def test_builder_moves_a_question_up(app, workspace):
    app.post("/surveys/new/", {"name": "Store visit", "kind": "custom", "languages": ["en"]})
    survey = Survey.objects.get()
    url = f"/surveys/{survey.pk}/questions/"
    for key in ("first", "second"):
        app.post(url, {"key": key, "type": "text", "scale": "1-5", "text_en": key.title()})

    moved = app.post(url, {"move": "second:up"}, HTTP_HX_REQUEST="true")
    refused = app.post(url, {"move": "second:up"}, HTTP_HX_REQUEST="true")

    assert moved.status_code == 200
    assert list(survey.questions.values_list("key", flat=True)) == ["second", "first"]
    assert refused.status_code == 422
    assert "already the first question" in refused.content.decode()


def test_import_with_a_semicolon_delimiter_chosen_in_the_form(app, nps, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.CXLOOP_HOME = tmp_path
    csv_text = 'nps;why\n3;"Slow; ""very"" slow"\n'
    step1 = app.post(
        f"/surveys/{nps.pk}/import/",
        {"file": SimpleUploadedFile("old.csv", csv_text.encode()), "delimiter": "semicolon"},
    )
    html = step1.content.decode()
    upload_id = re.search(r'name="upload_id" value="(\w+)"', html).group(1)
    step2 = app.post(f"/surveys/{nps.pk}/import/", {
        "upload_id": upload_id, "delimiter": "semicolon", "map_0": "q:nps", "map_1": "q:why_detractor",
    })  # fmt: skip
    bad = app.post(
        f"/surveys/{nps.pk}/import/",
        {"file": SimpleUploadedFile("old.csv", csv_text.encode()), "delimiter": "pipe"},
    )

    assert '<input type="hidden" name="delimiter" value="semicolon">' in html
    assert "1 imported" in step2.content.decode()
    assert Response.objects.get().comment == 'Slow; "very" slow'
    assert bad.status_code == 422 and "delimiter: choose one of" in bad.content.decode()
