"""The feedback REST API: surveys CRUD, submitting, listing and exporting responses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from cxloop.feedback import services
from cxloop.feedback.models import Answer, Response, Survey


@pytest.fixture
def api(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


def post(client: Client, url: str, body: dict):
    return client.post(url, body, content_type="application/json")


SURVEY = {
    "name": "Store visit",
    "kind": "csat",
    "languages": ["en", "fr"],
    "status": "active",
    "questions": [
        {"key": "csat", "type": "rating", "metric": "csat", "required": True,
         "text": {"en": "How was your visit?", "fr": "Comment était votre visite ?"}},
        {"key": "why", "type": "text", "text": "What went wrong?",
         "show_if": {"question": "csat", "op": "lte", "value": 2}},
    ],
}  # fmt: skip


def test_create_get_patch_delete_a_survey(api, workspace, admin_member):
    created = post(api, "/api/surveys", SURVEY)
    assert created.status_code == 201, created.content
    body = created.json()
    assert [q["key"] for q in body["questions"]] == ["csat", "why"]
    assert (body["questions"][0]["scale_min"], body["questions"][0]["scale_max"]) == (1, 5)
    assert body["public_url"] == f"http://testserver/s/{body['public_token']}/"
    survey_id = body["id"]
    assert api.get(f"/api/surveys/{survey_id}").json()["name"] == "Store visit"
    patched = api.patch(
        f"/api/surveys/{survey_id}", {"status": "closed"}, content_type="application/json"
    )
    assert (patched.status_code, patched.json()["status"]) == (200, "closed")
    assert [s["id"] for s in api.get("/api/surveys").json()] == [survey_id]
    assert api.delete(f"/api/surveys/{survey_id}").status_code == 403  # an analyst keeps answers
    admin = Client()
    admin.force_login(admin_member)
    assert admin.delete(f"/api/surveys/{survey_id}").status_code == 204
    assert Survey.objects.count() == 0


def test_bad_survey_names_every_field(api):
    bad = {**SURVEY, "name": "", "questions": [{"key": "Bad Key", "type": "stars", "text": "x"}]}
    response = post(api, "/api/surveys", bad)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "name", "message": "a survey needs a name of 1–200 characters"},
        {"field": "questions[0].key", "message": "use 1–50 lower-case letters, digits, '_' or '-'"},
        {"field": "questions[0].type", "message": "expected one of rating, single_choice, multiple_choice, text"},
    ]  # fmt: skip


def test_submit_list_and_export_responses(api, workspace):
    survey_id = post(api, "/api/surveys", SURVEY).json()["id"]
    url = f"/api/surveys/{survey_id}/responses"
    first = post(api, url, {"response_key": "a", "answers": {"csat": 1, "why": "Queue too long"},
                            "channel": "store", "touchpoint": "Store Visit"})  # fmt: skip
    again = post(api, url, {"response_key": "a", "answers": {"csat": 5}})
    post(api, url, {"response_key": "b", "answers": {"csat": 4}, "language": "fr"})
    assert first.status_code == 201
    assert first.json()["response"]["comment"] == "Queue too long"
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert again.json()["response"]["csat_score"] == 1
    listed = api.get(url + "?limit=10").json()
    assert listed["count"] == 2
    assert sorted((r["response_key"], r["csat_score"], r["answers"]["csat"]) for r in listed["items"]) == [
        ("a", 1, 1), ("b", 4, 4),
    ]  # fmt: skip
    exported = api.get(url + "/export").json()
    assert [(r["response_key"], r["channel"], r["answers"]) for r in exported] == [
        ("a", "store", {"csat": 1, "why": "Queue too long"}),
        ("b", "", {"csat": 4}),
    ]


def test_bad_answers_and_closed_surveys_get_clear_errors(api, workspace):
    survey_id = post(api, "/api/surveys", SURVEY).json()["id"]
    url = f"/api/surveys/{survey_id}/responses"
    out_of_range = post(api, url, {"response_key": "x", "answers": {"csat": 9}})
    missing = post(api, url, {"response_key": "y", "answers": {"why": "?"}})
    unknown = post(api, "/api/surveys/99999/responses", {"response_key": "z", "answers": {}})
    Survey.objects.filter(pk=survey_id).update(closes_at=timezone.now() - timedelta(days=1))
    expired = post(api, url, {"response_key": "w", "answers": {"csat": 5}})
    assert (out_of_range.status_code, out_of_range.json()["errors"]) == (
        422, [{"field": "answers.csat", "message": "9 is out of range 1–5"}],
    )  # fmt: skip
    assert missing.json()["errors"] == [
        {"field": "answers.csat", "message": "an answer is required"},
        {"field": "answers.why", "message": "skip logic hides this question (shown if csat ≤ 2)"},
    ]
    assert (unknown.status_code, unknown.json()["detail"]) == (
        404,
        "no survey 99999 in this workspace",
    )
    assert expired.status_code == 410
    assert expired.json()["detail"].startswith("This survey closed on ")
    assert (Response.objects.count(), Answer.objects.count()) == (0, 0)


def test_public_submission_needs_no_login(workspace):
    survey = services.survey_create_from_template(workspace=workspace, template="nps")
    client = Client()
    url = f"/api/public/surveys/{survey.public_token}/responses"
    key = "6f1c0e3b9a7d4e2f8b5a1c9d7e3f0a2b"
    ok = post(client, url, {"response_key": key, "answers": {"nps": 10, "why_promoter": "Staff"}})
    bad = post(client, "/api/public/surveys/nope/responses", {"response_key": key, "answers": {}})
    assert (ok.status_code, ok.json()) == (201, {"duplicate": False, "completed": True})
    assert (Response.objects.get().source, Response.objects.get().response_key) == (
        "link", f"pub:{key}",
    )  # fmt: skip
    assert (bad.status_code, bad.json()["detail"]) == (404, "unknown survey: check the link")
    assert Client().get("/api/surveys").status_code == 401


def test_public_submission_never_reveals_or_takes_over_short_keys(workspace):
    survey = services.survey_create_from_template(workspace=workspace, template="nps")
    url = f"/api/public/surveys/{survey.public_token}/responses"
    key = "a" * 32
    post(Client(), url, {"response_key": key, "answers": {"nps": 3}, "complete": False})

    guessed = post(Client(), url, {"response_key": "abc", "answers": {}, "complete": False})
    again = post(Client(), url, {"response_key": key, "answers": {}, "complete": False})

    assert guessed.status_code == 422
    assert "response_key: expected 32–64 characters" in guessed.json()["detail"]
    assert again.json() == {"duplicate": False, "completed": False}  # no answers sent back


def test_other_workspaces_surveys_are_invisible(api, other_workspace):
    foreign = services.survey_create_from_template(workspace=other_workspace, template="nps")
    assert api.get(f"/api/surveys/{foreign.pk}").status_code == 404
    assert (
        post(
            api,
            f"/api/surveys/{foreign.pk}/responses",
            {"response_key": "a", "answers": {"nps": 1}},
        ).status_code
        == 404
    )
    assert api.get("/api/surveys").json() == []


def test_import_reviews_through_the_api(api, workspace):
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv_text = "stars,review,date\n4,Good fit,2025-02-01\nfive,Great,2025-02-02\n"
    upload = SimpleUploadedFile("reviews.csv", csv_text.encode(), content_type="text/csv")
    response = api.post("/api/reviews/import", {"file": upload, "source": "Trustpilot"})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "rows": 2, "imported": 1, "duplicates": 0, "unmatched_customers": 0,
        "errors": [{"field": "line 3", "message": "rating: 'five' is not a whole number"}],
    }  # fmt: skip
    review = Response.objects.get()
    assert (review.csat_score, review.touchpoint, review.comment) == (4, "trustpilot", "Good fit")
    missing = api.post("/api/reviews/import", {"file": SimpleUploadedFile("x.csv", b"when\n4\n")})
    assert (missing.status_code, missing.json()["detail"]) == (
        422,
        "line 1: missing column text (or rating); expected text, rating, source, date, email, "
        "user_id, id",
    )


def test_import_reviews_with_a_tab_delimiter_through_the_api(api, workspace):
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv_text = 'rating\ttext\tsource\n4\t"Good, ""fit""\tand\nsoft"\tgoogle\n'

    def upload():
        return SimpleUploadedFile("reviews.tsv", csv_text.encode(), content_type="text/csv")

    tab = api.post("/api/reviews/import", {"file": upload(), "delimiter": "tab"})
    bad = api.post("/api/reviews/import", {"file": upload(), "delimiter": "pipe"})

    assert tab.status_code == 200 and tab.json()["imported"] == 1
    assert Response.objects.get().comment == 'Good, "fit"\tand\nsoft'
    assert bad.status_code == 422 and "delimiter" in bad.content.decode()


def test_export_is_audited(api, workspace, member):
    from cxloop.core.selectors import audit_entries

    survey = services.survey_create_from_template(workspace=workspace, template="nps")
    services.response_submit(survey=survey, answers={"nps": 9}, response_key="a")
    exported = api.get(f"/api/surveys/{survey.pk}/responses/export")
    entries = list(audit_entries(workspace=workspace).filter(action="responses_export"))
    assert exported.status_code == 200
    assert [(e.actor, e.target, e.detail) for e in entries] == [
        (member, f"survey #{survey.pk}", {"survey": survey.name, "format": "json", "responses": 1}),
    ]
