"""The server-rendered pages, through Django's test client.

Test data goes through the real ingestion path (``events_ingest`` with Segment-style messages), so
identity resolution, merges, consent and channels are the ones production would produce.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from cxloop.core import services as core_services
from cxloop.customers.models import Customer, CustomerMerge
from factories import ingest

pytestmark = pytest.mark.django_db

JANE_PHONE_E164 = "+14155550123"
MAX_PHONE_E164 = "+442079460958"


def at(day: int, hour: int = 12, minute: int = 0) -> str:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC).isoformat()


def seed_jane(workspace) -> Customer:
    """An anonymous visitor who logs in, gives consent and then uses five channels."""
    ingest(
        workspace,
        [
            {"type": "page", "anonymousId": "anon-jane", "name": "Pricing", "timestamp": at(1, 9)},
            {
                "type": "identify",
                "anonymousId": "anon-jane",
                "userId": "u-jane",
                "traits": {
                    "name": "Jane Doe",
                    "email": "Jane.Doe@Example.com",
                    "phone": "+1 415 555 0123",
                    "city": "Leeds",
                    "tier": "gold",
                    "orders": 3,
                },
                "context": {"consent": {"categoryPreferences": {"email": True, "sms": False}}},
                "timestamp": at(1, 9, 5),
            },
            {
                "type": "track",
                "userId": "u-jane",
                "event": "Order Completed",
                "properties": {"channel": "web", "revenue": 42.5, "order_id": "o-1001"},
                "timestamp": at(2),
            },
            {
                "type": "track",
                "userId": "u-jane",
                "event": "Email Opened",
                "properties": {"channel": "email", "campaign": "spring-sale"},
                "timestamp": at(3),
            },
            {
                "type": "track",
                "userId": "u-jane",
                "event": "Chat Started",
                "properties": {"channel": "live chat", "topic": "returns"},
                "timestamp": at(4),
            },
            {"type": "screen", "userId": "u-jane", "name": "Home", "timestamp": at(5)},
            {
                "type": "track",
                "userId": "u-jane",
                "event": "Store Visit",
                "properties": {"channel": "pos", "store": "Leeds Briggate"},
                "timestamp": at(6),
            },
        ],
    )
    return Customer.objects.get(workspace=workspace, display_name="Jane Doe")


def seed_max(workspace) -> tuple[Customer, Customer]:
    """Two anonymous profiles (one known by email, one by phone) that an identify reveals as one.

    Returns (survivor, absorbed).
    """
    ingest(
        workspace,
        [
            {
                "type": "identify",
                "anonymousId": "anon-max-web",
                "traits": {"email": "max@example.com", "name": "Max Power"},
                "timestamp": at(2, 10),
            },
            {
                "type": "track",
                "anonymousId": "anon-max-web",
                "event": "Newsletter Signup",
                "properties": {"channel": "email"},
                "timestamp": at(2, 10, 1),
            },
            {
                "type": "identify",
                "anonymousId": "anon-max-phone",
                "traits": {"phone": "+44 20 7946 0958"},
                "timestamp": at(3, 11),
            },
            {
                "type": "track",
                "anonymousId": "anon-max-phone",
                "event": "Support Call",
                "properties": {"channel": "call_center", "minutes": 7},
                "timestamp": at(3, 11, 30),
            },
        ],
    )
    assert Customer.objects.filter(workspace=workspace, merged_into__isnull=True).count() >= 2
    ingest(
        workspace,
        [
            {
                "type": "identify",
                "userId": "u-max",
                "traits": {
                    "email": "max@example.com",
                    "phone": "+44 20 7946 0958",
                    "tier": "silver",
                },
                "timestamp": at(4, 8),
            }
        ],
    )
    merge = CustomerMerge.objects.get(workspace=workspace)
    return merge.survivor, Customer.objects.get(pk=merge.merged_id)


def seed_bulk(workspace, count: int, prefix: str = "Shopper") -> None:
    """``count`` identified customers; ``Shopper 01`` was seen first, the last one most recently."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ingest(
        workspace,
        [
            {
                "type": "identify",
                "userId": f"{prefix.lower()}-{n:02d}",
                "traits": {
                    "name": f"{prefix} {n:02d}",
                    "email": f"{prefix.lower()}{n:02d}@example.com",
                },
                "timestamp": (start + timedelta(hours=n)).isoformat(),
            }
            for n in range(1, count + 1)
        ],
    )


@pytest.fixture
def analyst_client(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def admin_client_ws(admin_member) -> Client:
    client = Client()
    client.force_login(admin_member)
    return client


@pytest.fixture
def jane(workspace) -> Customer:
    return seed_jane(workspace)


@pytest.fixture
def globex_people(other_workspace) -> Customer:
    """Customers of another tenant whose words overlap with Acme's (Jane, Leeds, gold)."""
    ingest(
        other_workspace,
        [
            {
                "type": "identify",
                "userId": "u-jane",
                "traits": {
                    "name": "Jane Globex",
                    "email": "jane@globex.test",
                    "city": "Leeds",
                    "tier": "gold",
                    "phone": "+1 415 555 0123",
                },
                "timestamp": at(7),
            }
        ],
    )
    return Customer.objects.get(workspace=other_workspace)


def names(response) -> list[str]:
    return [str(c) for c in response.context["page"].object_list]


# --- Access ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/customers/",
        "/customers/?q=jane",
        "/customers/1/",
        "/customers/1/timeline/",
        "/sources/",
    ],
)
def test_every_page_needs_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.url.startswith("/login/?next=")


def test_workspace_switch_needs_login(client, workspace):
    response = client.post("/workspace/", {"workspace": workspace.pk})
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_login_page_renders_form(client, db):
    response = client.get("/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_username">' in html
    assert '<label for="id_password">' in html


def test_login_with_wrong_password_shows_error(client, member):
    response = client.post("/login/", {"username": "ana", "password": "nope"})
    assert response.status_code == 200
    assert "do not match" in response.content.decode()


def test_login_lands_on_customers(client, member):
    response = client.post("/login/", {"username": "ana", "password": "analyst-pass-123"})
    assert response.status_code == 302
    assert response.url == "/"  # home sends each role to the first page it may see
    assert client.get("/").url == "/customers/"


def test_user_without_workspace_gets_404(client, db):
    user = core_services.user_create_or_reset(username="loner", password="loner-pass-123")
    client.force_login(user)
    assert client.get("/customers/").status_code == 404


def test_nav_marks_current_page(admin_client_ws, jane):
    html = admin_client_ws.get("/customers/").content.decode()
    assert '<a href="/customers/" aria-current="page">Customers</a>' in html
    assert '<a href="/sources/">Sources</a>' in html
    html = admin_client_ws.get(f"/customers/{jane.pk}/").content.decode()
    assert '<a href="/customers/" aria-current="page">Customers</a>' in html
    html = admin_client_ws.get("/sources/").content.decode()
    assert '<a href="/sources/" aria-current="page">Sources</a>' in html


# --- Customer list and search ------------------------------------------------------------------


def test_list_shows_live_profiles_newest_first(analyst_client, workspace, jane):
    _, absorbed = seed_max(workspace)
    response = analyst_client.get("/customers/")
    assert response.status_code == 200
    assert response.templates[0].name == "web/customer_list.html"
    assert names(response) == ["Jane Doe", "Max Power"]  # Jane was seen last (6 March)
    assert response.context["customer_total"] == 2
    html = response.content.decode()
    assert f'href="/customers/{jane.pk}/"' in html
    assert f'href="/customers/{absorbed.pk}/"' not in html  # tombstones are not listed
    assert "Jane.Doe@Example.com" in html  # the email trait as sent


@pytest.mark.parametrize(
    "query",
    [
        "jane",
        "JANE DOE",
        "doe jane",  # every word must match, in any order
        "jane.doe@example.com",
        "Jane.Doe@EXAMPLE.com",
        "example.com jane",
        "u-jane",  # user id
        "anon-jane",  # anonymous id
        "leeds",  # any trait value
        "gold",
    ],
)
def test_search_by_name_email_ids_and_traits(analyst_client, workspace, jane, query):
    seed_max(workspace)
    response = analyst_client.get("/customers/", {"q": query})
    assert names(response) == ["Jane Doe"]
    assert response.context["query"] == query.strip()


@pytest.mark.parametrize(
    "query",
    [
        JANE_PHONE_E164,  # the stored E.164 identity
        "+1 415 555 0123",  # international format: every word is part of the E.164 value
        "415 555 0123",
        "4155550123",  # national digits are a substring of the E.164 value
    ],
)
def test_search_by_phone(analyst_client, workspace, jane, query):
    seed_max(workspace)
    assert names(analyst_client.get("/customers/", {"q": query})) == ["Jane Doe"]


def test_search_by_phone_finds_merged_profile(analyst_client, workspace, jane):
    seed_max(workspace)
    for query in (MAX_PHONE_E164, "+44 20 7946 0958"):
        assert names(analyst_client.get("/customers/", {"q": query})) == ["Max Power"]


@pytest.mark.parametrize("query", ["(415) 555-0123", "415-555-0123", "+1 (415) 555-0123"])
def test_search_by_formatted_phone(analyst_client, workspace, jane, query):
    assert names(analyst_client.get("/customers/", {"q": query})) == ["Jane Doe"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("city:Leeds", ["Jane Doe"]),
        ("city:leeds", ["Jane Doe"]),  # trait values match case-insensitively
        ("tier:silver", ["Max Power"]),
        ("tier:gold city:Leeds", ["Jane Doe"]),
        ("orders:3", ["Jane Doe"]),  # numbers stored as JSON numbers
        ("tier:bronze", []),
        ("city:Lee", []),  # trait:value is an exact match, not a substring
        ("nosuchtrait:x", []),
        ("tier:gold jane", ["Jane Doe"]),  # mixed with plain words
        ("tier:gold max", []),
    ],
)
def test_search_trait_value_syntax(analyst_client, workspace, jane, query, expected):
    seed_max(workspace)
    assert names(analyst_client.get("/customers/", {"q": query})) == expected


def test_search_without_match_shows_empty_state(analyst_client, jane):
    response = analyst_client.get("/customers/", {"q": "zebra"})
    assert response.status_code == 200
    assert names(response) == []
    html = response.content.decode()
    assert "No customers match “zebra”" in html
    assert "<table" not in html


def test_empty_workspace_shows_getting_started(analyst_client, workspace):
    html = analyst_client.get("/customers/").content.decode()
    assert "No customers yet" in html
    assert 'href="/sources/"' in html


def test_search_escapes_query_and_traits(analyst_client, workspace):
    ingest(
        workspace,
        [{"type": "identify", "userId": "u-x", "traits": {"name": "<script>alert(1)</script>"}}],
    )
    html = analyst_client.get("/customers/", {"q": "<script>"}).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_search_input_is_labelled_and_keeps_query(analyst_client, jane):
    html = analyst_client.get("/customers/", {"q": "city:Leeds"}).content.decode()
    assert '<label class="sr-only" for="q">Search customers</label>' in html
    assert 'value="city:Leeds"' in html


# --- Pagination and htmx -----------------------------------------------------------------------


def test_pagination(analyst_client, workspace):
    seed_bulk(workspace, 30)
    first = analyst_client.get("/customers/")
    assert first.context["total"] == 30
    assert len(names(first)) == 25
    assert names(first)[0] == "Shopper 30"
    html = first.content.decode()
    assert "Page 1 of 2" in html
    assert 'href="?page=2"' in html

    second = analyst_client.get("/customers/", {"page": 2})
    assert names(second) == [f"Shopper {n:02d}" for n in range(5, 0, -1)]
    assert "Page 2 of 2" in second.content.decode()
    assert set(names(first)).isdisjoint(names(second))

    assert names(analyst_client.get("/customers/", {"page": 99})) == names(second)  # last page
    bad = analyst_client.get("/customers/", {"page": "x"})  # named, not silently page 1
    assert bad.status_code == 400 and "page: Enter a whole number." in bad.content.decode()


def test_pagination_keeps_the_query(analyst_client, workspace):
    seed_bulk(workspace, 28)
    seed_bulk(workspace, 3, prefix="Other")
    first = analyst_client.get("/customers/", {"q": "shopper"})
    assert first.context["total"] == 28
    assert 'href="?q=shopper&amp;page=2"' in first.content.decode()
    second = analyst_client.get("/customers/", {"q": "shopper", "page": 2})
    assert names(second) == ["Shopper 03", "Shopper 02", "Shopper 01"]


def test_single_page_has_no_pager(analyst_client, jane):
    assert "Customer pages" not in analyst_client.get("/customers/").content.decode()


def test_htmx_search_returns_only_the_rows(analyst_client, workspace, jane):
    seed_max(workspace)
    response = analyst_client.get(
        "/customers/", {"q": "max"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results"
    )
    assert response.status_code == 200
    assert response.templates[0].name == "web/_customer_rows.html"
    assert "web/customer_list.html" not in [t.name for t in response.templates]
    html = response.content.decode()
    assert "<html" not in html
    assert "<header" not in html
    assert "Max Power" in html
    assert "Jane Doe" not in html
    assert "<strong>1</strong> match for “max”" in html


def test_htmx_page_link_returns_only_the_rows(analyst_client, workspace):
    seed_bulk(workspace, 27)
    response = analyst_client.get(
        "/customers/", {"page": 2}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results"
    )
    assert response.templates[0].name == "web/_customer_rows.html"
    assert "web/customer_list.html" not in [t.name for t in response.templates]
    assert names(response) == ["Shopper 02", "Shopper 01"]


def test_htmx_request_for_another_target_gets_the_full_page(analyst_client, jane):
    response = analyst_client.get("/customers/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="main")
    assert response.templates[0].name == "web/customer_list.html"
    assert "<html" in response.content.decode()


# --- Customer 360 ------------------------------------------------------------------------------


def test_360_shows_traits_identities_and_consent(analyst_client, jane):
    response = analyst_client.get(f"/customers/{jane.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 id="customer-name">Jane Doe</h1>' in html

    assert dict(response.context["traits"]) == {
        "name": "Jane Doe",
        "email": "Jane.Doe@Example.com",
        "phone": "+1 415 555 0123",
        "city": "Leeds",
        "tier": "gold",
        "orders": 3,
    }
    for key, value in [("city", "Leeds"), ("tier", "gold"), ("orders", "3")]:
        assert f'<dt title="{key}">{key.capitalize()}</dt><dd>{value}</dd>' in html

    identities = {(i.kind, i.value) for i in response.context["identities"]}
    assert identities == {
        ("user_id", "u-jane"),
        ("anonymous_id", "anon-jane"),
        ("email", "jane.doe@example.com"),
        ("phone", JANE_PHONE_E164),
    }
    for _, value in identities:
        assert f"<code>{value}</code>" in html

    # Consent: one row per known channel; "sms" in the consent spec means the phone channel.
    assert 'data-channel="email" data-status="granted"' in html
    assert 'data-channel="phone" data-status="withdrawn"' in html
    for channel in ("web", "app", "chat", "social", "store"):
        assert f'data-channel="{channel}" data-status="unknown"' in html
    assert "Never merged" in html


def test_360_shows_timeline_with_channels(analyst_client, jane):
    response = analyst_client.get(f"/customers/{jane.pk}/")
    events = list(response.context["events"].object_list)
    assert [(e.type, e.name, e.channel) for e in events] == [
        ("track", "Store Visit", "store"),
        ("screen", "Home", "app"),
        ("track", "Chat Started", "chat"),
        ("track", "Email Opened", "email"),
        ("track", "Order Completed", "web"),
        ("identify", "", "other"),
        ("page", "Pricing", "web"),  # the anonymous visit, before login, is on the same profile
    ]
    assert response.context["event_total"] == 7
    html = response.content.decode()
    assert html.count('class="event ch-') == 7
    assert 'data-channel="web" data-type="page"' in html
    assert "Profile updated" in html  # identify calls get a readable label
    assert '<p class="props-line">campaign spring-sale</p>' in html
    assert "Wednesday 5 March 2025" in html  # grouped by day
    channels = dict(response.context["facets"]["channel"])
    assert channels == {"web": 2, "app": 1, "chat": 1, "email": 1, "store": 1, "other": 1}


def test_360_shows_merge_history(analyst_client, workspace):
    survivor, absorbed = seed_max(workspace)
    response = analyst_client.get(f"/customers/{survivor.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    merges = list(response.context["merges"])
    assert [m.merged_id for m in merges] == [absorbed.pk]
    assert f"Profile #{absorbed.pk}</strong> merged into #{survivor.pk}" in html
    assert "identity resolution" in html
    assert merges[0].reason in html
    assert f"{merges[0].rows_moved} records moved" in html
    # Both halves' identities and events now live on the survivor.
    values = {i.value for i in response.context["identities"]}
    assert {"max@example.com", MAX_PHONE_E164, "anon-max-web", "anon-max-phone", "u-max"} <= values
    names_ = {e.name for e in response.context["events"].object_list}
    assert {"Newsletter Signup", "Support Call"} <= names_


def test_merged_profile_redirects_to_survivor(analyst_client, workspace):
    survivor, absorbed = seed_max(workspace)
    response = analyst_client.get(f"/customers/{absorbed.pk}/")
    assert response.status_code == 302
    assert response.url == f"/customers/{survivor.pk}/"
    assert (
        analyst_client.get(f"/customers/{absorbed.pk}/", follow=True).context["customer"]
        == survivor
    )
    assert analyst_client.get(f"/customers/{absorbed.pk}/timeline/").status_code == 404


def test_unknown_customer_is_404(analyst_client, jane):
    assert analyst_client.get("/customers/999999/").status_code == 404
    assert analyst_client.get("/customers/999999/timeline/").status_code == 404


def test_360_for_profile_without_traits_shows_empty_states(analyst_client, workspace):
    ingest(workspace, [{"type": "page", "anonymousId": "anon-lurker", "name": "Home"}])
    lurker = Customer.objects.get(workspace=workspace)
    html = analyst_client.get(f"/customers/{lurker.pk}/").content.decode()
    assert "No traits yet" in html
    assert "Never merged" in html
    assert "<code>anon-lurker</code>" in html


# --- Timeline filters --------------------------------------------------------------------------


def timeline(client, customer, **params) -> list[tuple[str, str, str]]:
    response = client.get(f"/customers/{customer.pk}/timeline/", params)
    assert response.status_code == 200
    assert [t.name for t in response.templates] == ["web/_timeline.html"]
    assert "<html" not in response.content.decode()
    return [(e.type, e.name, e.channel) for e in response.context["events"].object_list]


def test_timeline_filter_by_channel(analyst_client, jane):
    assert timeline(analyst_client, jane, channel="email") == [("track", "Email Opened", "email")]
    assert timeline(analyst_client, jane, channel="web") == [
        ("track", "Order Completed", "web"),
        ("page", "Pricing", "web"),
    ]
    html = analyst_client.get(f"/customers/{jane.pk}/timeline/", {"channel": "web"}).content
    assert b"Order Completed" in html
    assert b"Email Opened" not in html


def test_timeline_filter_by_type(analyst_client, jane):
    assert timeline(analyst_client, jane, type="screen") == [("screen", "Home", "app")]
    assert [e[1] for e in timeline(analyst_client, jane, type="track")] == [
        "Store Visit",
        "Chat Started",
        "Email Opened",
        "Order Completed",
    ]


def test_timeline_filters_combine(analyst_client, jane):
    assert timeline(analyst_client, jane, channel="web", type="track") == [
        ("track", "Order Completed", "web")
    ]
    assert timeline(analyst_client, jane, channel="web", type="screen") == []
    assert timeline(analyst_client, jane, name="Chat Started") == [
        ("track", "Chat Started", "chat")
    ]


def test_timeline_filter_without_results_shows_empty_state(analyst_client, jane):
    response = analyst_client.get(f"/customers/{jane.pk}/timeline/", {"channel": "social"})
    assert "No interactions match these filters." in response.content.decode()


def test_timeline_filters_work_on_the_full_page_without_javascript(analyst_client, jane):
    response = analyst_client.get(f"/customers/{jane.pk}/", {"channel": "email"})
    assert [e.name for e in response.context["events"].object_list] == ["Email Opened"]
    html = response.content.decode()
    assert '<option value="email" selected>' in html
    assert '<label for="filter-channel">Channel</label>' in html
    assert f'hx-get="/customers/{jane.pk}/timeline/"' in html


def test_timeline_pages(analyst_client, workspace):
    ingest(
        workspace,
        [
            {
                "type": "track",
                "userId": "u-busy",
                "event": f"Click {n:02d}",
                "properties": {"channel": "web"},
                "timestamp": (datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=n)).isoformat(),
            }
            for n in range(60)
        ],
    )
    busy = Customer.objects.get(workspace=workspace)
    first = analyst_client.get(f"/customers/{busy.pk}/timeline/")
    assert len(first.context["events"].object_list) == 50
    assert "page 1 of 2" in first.content.decode()
    second = analyst_client.get(f"/customers/{busy.pk}/timeline/", {"page": 2})
    assert [e.name for e in second.context["events"].object_list][-1] == "Click 00"
    assert "← Newer" in second.content.decode()


# --- Tenant isolation --------------------------------------------------------------------------


def test_other_workspaces_customer_is_404(analyst_client, jane, globex_people):
    assert analyst_client.get(f"/customers/{globex_people.pk}/").status_code == 404
    assert analyst_client.get(f"/customers/{globex_people.pk}/timeline/").status_code == 404
    assert analyst_client.get(f"/customers/{jane.pk}/").status_code == 200


@pytest.mark.parametrize("query", ["", "jane", "leeds", "city:Leeds", "tier:gold", JANE_PHONE_E164])
def test_search_never_shows_other_workspaces(analyst_client, jane, globex_people, query):
    response = analyst_client.get("/customers/", {"q": query})
    assert names(response) == ["Jane Doe"]
    assert "Globex" not in response.content.decode()


def test_switching_workspace_changes_what_a_member_sees(client, member, jane, globex_people):
    globex = globex_people.workspace
    core_services.membership_set(user=member, workspace=globex, role="analyst")
    client.force_login(member)
    assert names(client.get("/customers/", {"q": "jane"})) == ["Jane Doe"]  # Acme comes first

    client.post("/workspace/", {"workspace": globex.pk})
    assert names(client.get("/customers/", {"q": "jane"})) == ["Jane Globex"]
    assert client.get(f"/customers/{jane.pk}/").status_code == 404
    assert client.get(f"/customers/{globex_people.pk}/").status_code == 200


def test_switching_to_a_foreign_workspace_is_ignored(analyst_client, jane, globex_people):
    analyst_client.post("/workspace/", {"workspace": globex_people.workspace_id})
    assert names(analyst_client.get("/customers/", {"q": "jane"})) == ["Jane Doe"]
    assert analyst_client.get(f"/customers/{globex_people.pk}/").status_code == 404


# --- Sources -----------------------------------------------------------------------------------


def test_sources_is_for_admins_only(analyst_client, write_key):
    response = analyst_client.get("/sources/")
    assert response.status_code == 403  # the role may not manage the workspace
    assert write_key not in response.content.decode()


def test_sources_shows_write_key_and_counts(admin_client_ws, write_key, jane):
    response = admin_client_ws.get("/sources/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<code class="writekey" title="Click to select">{write_key}</code>' in html
    assert f'analytics.write_key = "{write_key}"' in html
    assert 'analytics.host = "http://testserver"' in html
    assert "POST http://testserver/v1/batch" in html
    assert "7</strong> events received" in html
    assert dict(response.context["by_channel"]) == {
        "web": 2,
        "app": 1,
        "chat": 1,
        "email": 1,
        "store": 1,
        "other": 1,
    }


def test_sources_hides_other_workspaces_keys(admin_client_ws, write_key, other_workspace):
    foreign = other_workspace.write_keys.get().key
    html = admin_client_ws.get("/sources/").content.decode()
    assert write_key in html
    assert foreign not in html


def test_sources_without_events_shows_empty_state(admin_client_ws, write_key):
    html = admin_client_ws.get("/sources/").content.decode()
    assert "No events yet" in html


def test_360_page_shows_the_customers_survey_answers(analyst_client, workspace, jane):
    from cxloop.feedback import services as feedback_services

    survey = feedback_services.survey_create_from_template(workspace=workspace, template="nps")
    feedback_services.response_submit(
        survey=survey,
        answers={"nps": 3, "why_detractor": "Parcel came a week late."},
        response_key="jane-nps-1",
        customer=jane,
        channel="email",
        touchpoint="Order Delivered",
    )

    page = analyst_client.get(f"/customers/{jane.pk}/").content.decode()

    feedback = page[page.index('id="feedback"') : page.index('id="merges"')]
    assert 'class="pill withdrawn">NPS 3<' in feedback
    assert "“Parcel came a week late.”" in feedback
    assert "email · Order Delivered" in feedback


def test_360_page_says_when_there_is_no_feedback(analyst_client, jane):
    page = analyst_client.get(f"/customers/{jane.pk}/").content.decode()

    assert "No survey answers or reviews yet." in page


def test_sources_shows_the_analytics_engine_and_its_lag(
    admin_client_ws, write_key, jane, settings, tmp_path, monkeypatch
):
    from cxloop.analytics import owner, selectors

    # the database answering: nothing to copy
    html = admin_client_ws.get("/sources/").content.decode()
    assert "The database answers analytics itself" in html

    # the embedded engine with its owner down, and jane's batch (one outbox entry) waiting
    settings.CXLOOP_ANALYTICS = "embedded"
    monkeypatch.setattr(owner, "socket_path", lambda: tmp_path / "down.sock")
    selectors._engine_for.cache_clear()
    try:
        html = admin_client_ws.get("/sources/").content.decode()
    finally:
        selectors._engine_for.cache_clear()
    assert "not answering" in html
    assert "the analytics engine is not running" in html
    assert '<strong class="ink">1</strong> batch of events waiting' in html
