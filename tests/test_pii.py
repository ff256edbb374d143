"""Personal data in free text: found, replaced, and shown only to roles with read_pii."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from cxloop.core import pii
from cxloop.core.permissions import Capability, role_can
from cxloop.feedback import services as feedback_services
from factories import member_make

AT = datetime(2025, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        ("mail ann.lee+cx@example.co.uk now", "mail [email] now", ("email",)),
        # Visa's published test number passes Luhn; the same digits with the last changed do not
        ("card 4111 1111 1111 1111 ok", "card [card] ok", ("card",)),
        ("card 4111-1111-1111-1112 ok", "card 4111-1111-1111-1112 ok", ()),
        ("amex 378282246310005", "amex [card]", ("card",)),
        ("call +44 20 7946 0958 today", "call [phone] today", ("phone",)),
        ("ring (212) 555-0199", "ring [phone]", ("phone",)),
        ("order 123456 arrived", "order 123456 arrived", ()),
        ("I live at 221B Baker Street, London", "I live at [address], London", ("address",)),
        ("send it to 42 Elm Rd. please", "send it to [address] please", ("address",)),
        ("waited 3 days on the road", "waited 3 days on the road", ()),
        (
            "x@y.io, 4111111111111111, +1 415 555 2671",
            "[email], [card], [phone]",
            ("email", "card", "phone"),
        ),
    ],
)
def test_redact(text, expected, kinds):
    result = pii.redact(text)
    assert (result.text, result.kinds) == (expected, kinds)


def test_luhn_on_known_numbers():
    # Mastercard and Discover test numbers (valid), and one digit off (invalid)
    assert pii.luhn_valid("5555555555554444")
    assert pii.luhn_valid("6011111111111117")
    assert not pii.luhn_valid("6011111111111118")


def test_hostile_text_does_not_break_redaction():
    text = "\x00" + "9" * 50_000 + "a" * 50_000 + " A" * 5_000 + " \u202e ☃ a@b.cd"
    assert pii.redact(text).text.endswith("[email]")


def test_who_reads_pii():
    # the documented mapping: admins and agents (they answer the customer), not analysts/viewers
    assert [role_can(r, Capability.READ_PII) for r in ("admin", "analyst", "agent", "viewer")] == [
        True,
        False,
        True,
        False,
    ]


@pytest.fixture
def survey_with_pii(workspace):
    survey = feedback_services.survey_create_from_template(workspace=workspace, template="nps")
    feedback_services.response_submit(
        survey=survey,
        answers={"nps": 2, "why_detractor": "Call me on +44 20 7946 0958, ann@example.com"},
        response_key="r1",
    )
    return survey


def test_exports_are_redacted_without_read_pii(client, workspace, survey_with_pii):
    # given: an analyst may export but not read personal data
    client.force_login(member_make(workspace=workspace, role="analyst"))
    # when
    csv = b"".join(client.get(reverse("survey-export", args=[survey_with_pii.pk]))).decode()
    api = client.get(f"/api/surveys/{survey_with_pii.pk}/responses/export").json()
    comments = client.get("/api/metrics/comments?date_from=2000-01-01").json()
    # then
    assert "Call me on [phone], [email]" in csv and "ann@example.com" not in csv
    assert api[0]["answers"]["why_detractor"] == "Call me on [phone], [email]"
    assert comments[0]["comment"] == "Call me on [phone], [email]"


def test_admins_see_the_original(client, workspace, survey_with_pii):
    client.force_login(member_make(workspace=workspace, username="root", role="admin"))
    api = client.get(f"/api/surveys/{survey_with_pii.pk}/responses/export").json()
    comments = client.get("/api/metrics/comments?date_from=2000-01-01").json()
    page = client.get(reverse("dashboard") + "?date_from=2000-01-01").content.decode()
    assert api[0]["answers"]["why_detractor"].endswith("ann@example.com")
    assert comments[0]["comment"].endswith("ann@example.com")
    assert "ann@example.com" in page


def test_the_dashboard_redacts_comments_for_analysts(client, workspace, survey_with_pii):
    client.force_login(member_make(workspace=workspace, role="analyst"))
    page = client.get(reverse("dashboard") + "?date_from=2000-01-01").content.decode()
    assert "Call me on [phone], [email]" in page
    assert "ann@example.com" not in page
