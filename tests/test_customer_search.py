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


def _names(workspace, query: str) -> set[str]:
    return {c.traits.get("name", "") for c in customer_search(workspace=workspace, query=query)}


def named(user: str, name: str, city: str = "Leeds") -> dict:
    traits = {"name": name, "city": city}
    return {"type": "identify", "userId": user, "traits": traits, "timestamp": T0.isoformat()}


def test_words_match_inside_names_and_traits(workspace):
    ingest(
        workspace,
        [
            named("u1", "Margaret Oyelaran"),
            named("u2", "Gareth Hale", city="Harrogate"),
            named("u3", "Tom Ng"),
        ],
    )

    assert _names(workspace, "gar") == {"Margaret Oyelaran", "Gareth Hale"}  # 3+: the index
    assert _names(workspace, "ROGAT") == {"Gareth Hale"}  # a trait value, any case
    assert _names(workspace, "gar hale") == {"Gareth Hale"}  # every word must match
    assert _names(workspace, "ng") == {"Tom Ng"}  # under 3 characters: a plain scan
    assert _names(workspace, 'mar"g') == set()  # a quote is text, not query syntax
    assert _names(workspace, "zzz") == set()


def test_the_index_follows_changed_and_deleted_profiles(workspace):
    ingest(workspace, [named("u1", "Priya Lindqvist"), named("u2", "Olu Brandt")])

    ingest(workspace, [named("u1", "Priya Castellanos")])  # the importer's own UPDATE
    assert _names(workspace, "lindq") == set()
    assert _names(workspace, "castel") == {"Priya Castellanos"}

    customer_search(workspace=workspace, query="brandt").get().delete()
    assert _names(workspace, "brandt") == set()
    assert _names(workspace, "priya") == {"Priya Castellanos"}


def test_a_word_search_reads_the_substring_index(workspace):
    ingest(workspace, [named("u1", "Margaret Oyelaran")])
    sql, params = customer_search(workspace=workspace, query="oyel").query.sql_with_params()

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert "VIRTUAL TABLE INDEX" in plan and "customers_customer_fts" in plan
        else:
            # the search's own LIKE, without the workspace filter another index serves first
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(
                "EXPLAIN SELECT id FROM customers_customer WHERE search_text LIKE %s", ["%oyel%"]
            )
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "customers_customer_search_trgm" in plan
