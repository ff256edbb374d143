"""Customer search: an email or phone that is an identifier goes through the identity index."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cxloop.customers.selectors import customer_search
from factories import ingest

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 3, 1, tzinfo=UTC)


def person(user: str, email: str, phone: str = "") -> dict:
    traits = {"email": email} | ({"phone": phone} if phone else {})
    return {"type": "identify", "userId": user, "traits": traits, "timestamp": T0.isoformat()}


def test_an_exact_email_finds_its_holder_only(workspace):
    ingest(workspace, [person("u1", "ann@example.com"), person("u2", "joann@example.com")])

    found = list(customer_search(workspace=workspace, query="Ann@Example.com"))

    assert [c.traits["email"] for c in found] == ["ann@example.com"]


def test_an_exact_email_is_looked_up_not_scanned(workspace):
    ingest(workspace, [person("u1", "ann@example.com")])

    with CaptureQueriesContext(connection) as queries:
        list(customer_search(workspace=workspace, query="ann@example.com"))

    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "LIKE" not in sql.upper()  # the identity's unique index, not a substring scan


def test_a_partial_email_still_matches_as_text(workspace):
    ingest(workspace, [person("u1", "ann@example.com"), person("u2", "joann@example.com")])

    found = {c.traits["email"] for c in customer_search(workspace=workspace, query="ann@example")}

    assert found == {"ann@example.com", "joann@example.com"}


def test_a_phone_in_any_format_finds_its_holder(workspace):
    ingest(workspace, [person("u1", "a@example.com", "+14155550123"), person("u2", "b@x.io")])

    found = list(customer_search(workspace=workspace, query="(415) 555-0123"))

    assert [c.traits["email"] for c in found] == ["a@example.com"]
