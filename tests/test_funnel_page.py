"""The funnel page's modes, per-step conditions, exclusions, correlation and default, and saved
analyses, through Django's test client."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import orjson
import pytest

from cxloop.journeys import services
from cxloop.journeys.models import SavedAnalysis
from factories import identify, ingest, member_make, track

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def text(response) -> str:
    plain = html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))
    return re.sub(r"\s+", " ", plain)


def why_of(client, query: dict):
    """The funnel page, then the "why they dropped" it loads (as htmx asks for it)."""
    page = client.get("/journeys/funnel/", query).content.decode()
    url = html.unescape(re.search(r'id="funnel-why" hx-get="([^"]+)"', page).group(1))
    assert "entered=" in url  # the funnel's entrant count, for the sample
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert "HX-Request" in response["Vary"]  # a cache never serves the fragment as the page
    return response


def history(workspace, people: dict[str, str]) -> None:
    """who → "Home0 Cart5:card ..." (name, minutes, optional ``method`` property)."""
    messages = []
    for who, items in people.items():
        for item in items.split():
            head, _, method = item.partition(":")
            name = head.rstrip("0123456789.")
            at = T0 + timedelta(minutes=float(head[len(name) :]))
            props = {"method": method} if method else {}
            messages.append(track(who, name, at, message_id=f"{who}-{item}", **props))
    ingest(workspace, messages)


SHOP = {
    "ann": "Home0 Cart5 Pay10:card Order15",
    "bob": "Home0 Cart5 Pay10:card Error12 Order15",
    "cat": "Home0 Help2 Cart5 Pay10:paypal Order15",
    "dan": "Home0 Cart5 Error7",
    "eve": "Home0 Error3",
    "fay": "Home0 Cart5 Pay10:card",
}
STEPS = ["Home", "Cart", "Pay", "Order"]


def test_modes_conditions_and_exclusions_from_the_form(client, member, workspace):
    history(workspace, SHOP)
    client.force_login(member)
    base = {"step": STEPS, "window": "1", "unit": "days"}
    page = text(client.get("/journeys/funnel/", base))
    assert "6 customers started · 3 finished" in page
    # strict: cat's Help between Home and Cart stops her at Home, bob's Error before Order
    strict = text(client.get("/journeys/funnel/", {**base, "mode": "strict"}))
    assert "6 customers started · 1 finished" in strict
    assert "2. Cart 4 " in strict
    # a condition on step 3 (paid by card) and Error excluded between Pay and Order
    response = client.get(
        "/journeys/funnel/",
        {
            **base,
            "step_prop": ["", "", "method", ""],
            "step_op": ["eq", "eq", "eq", "eq"],
            "step_value": ["", "", "card", ""],
            "exclude": ["Error", ""],
            "exclude_after": ["3", ""],
        },
    )
    assert response.status_code == 200
    page = text(response)
    assert "3. Pay where method equals card 3 " in page
    assert "6 customers started · 1 finished" in page  # ann; bob's Error sits between
    assert "Without Error between step 3 and 4." in page
    assert 'name="step_value" value="card"' in response.content.decode()


def test_correlation_lists_what_the_dropped_did_with_a_link_to_them(client, member, workspace):
    history(workspace, SHOP)
    client.force_login(member)
    response = why_of(client, {"step": STEPS, "window": "1", "unit": "days"})
    page = text(response)
    assert "Why they dropped" in page
    # Error: converted with it 1 (bob) of 3, dropped with it 2 (dan, eve) of 3
    assert re.search(r"Error 1 of 3 2 of 3 33% / 67% ", page)
    assert "over all 2 candidates tested" in page  # Error and Help
    links = [
        html.unescape(link)
        for link in re.findall(
            r'href="(/segments/new/\?definition=[^"]+)"', response.content.decode()
        )
    ]
    definitions = [orjson.loads(parse_qs(urlparse(link).query)["definition"][0]) for link in links]
    error = next(i for i, d in enumerate(definitions) if {"event": "Error"} in d["all"])
    # Error lowers conversion: the segment is who entered, did Error and never ordered
    assert definitions[error] == {
        "all": [{"event": "Home"}, {"event": "Error"}, {"event": "Order", "did": False}]
    }
    # the link opens the segment editor with those conditions
    editor = client.get(links[error])
    assert editor.status_code == 200
    assert 'value="Error"' in editor.content.decode()


def test_correlation_lists_trait_values_with_a_segment_of_them(client, member, workspace):
    history(workspace, SHOP)
    gold = ["ann", "bob", "cat", "dan", "eve"]  # fay has no tier
    ingest(workspace, [identify(who, {"loyalty_tier": "gold"}, T0 - DAY) for who in gold])
    client.force_login(member)
    response = why_of(client, {"step": STEPS, "window": "1", "unit": "days"})
    page = text(response)
    # gold: converted ann, bob, cat (3 of 3); dropped dan, eve (2 of 3; fay the other)
    assert re.search(r"trait loyalty_tier = gold 3 of 3 2 of 3 60% / 0% ", page)
    assert "over all 3 candidates tested" in page  # Error, Help and the tier
    links = [
        html.unescape(link)
        for link in re.findall(
            r'href="(/segments/new/\?definition=[^"]+)"', response.content.decode()
        )
    ]
    definitions = [orjson.loads(parse_qs(urlparse(link).query)["definition"][0]) for link in links]
    # gold raises conversion: the segment is who entered, is gold and ordered
    assert {
        "all": [
            {"event": "Home"},
            {"trait": "loyalty_tier", "op": "eq", "value": "gold"},
            {"event": "Order", "did": True},
        ]
    } in definitions


def test_bad_mode_input_is_a_422_naming_it(client, member, workspace):
    client.force_login(member)
    response = client.get(
        "/journeys/funnel/", {"step": ["A", "B"], "exclude": ["E"], "exclude_after": ["x"]}
    )
    assert response.status_code == 422
    assert "Exclusions[0].after: give a step number from 1 to 1" in text(response)
    response = client.get("/journeys/funnel/", {"step": ["A", "A"], "mode": "any"})
    assert response.status_code == 422
    assert "each step must differ" in text(response)


def test_the_page_opens_with_the_most_common_sequence(client, member, workspace):
    history(workspace, SHOP | {"gus": SHOP["ann"], "hal": SHOP["ann"]})
    client.force_login(member)
    response = client.get("/journeys/funnel/")
    page = text(response)
    assert "Showing the most common sequence" in page
    # Home is the most frequent event; Home → Cart → Pay → Order is the commonest 4-step path
    assert "1. Home 8 " in page and "4. Order 5 " in page


def test_saving_pinning_and_deleting_an_analysis(client, member, workspace):
    history(workspace, SHOP)
    client.force_login(member)
    query = "step=Home&step=Cart&mode=strict"
    saved = client.post(
        "/journeys/saved/", {"name": "Strict cart", "kind": "funnel", "query": query}
    )
    assert saved.status_code == 302
    assert saved["Location"] == f"/journeys/funnel/?{query}"
    analysis = SavedAnalysis.objects.get(workspace=workspace)
    assert (analysis.name, analysis.kind, analysis.query, analysis.pinned) == (
        "Strict cart", "funnel", query, False,
    )  # fmt: skip
    assert analysis.created_by == member
    # the funnel page lists it, the saved page links back to it
    assert "Strict cart" in text(client.get(f"/journeys/funnel/?{query}"))
    listing = client.get("/journeys/saved/")
    assert f'href="/journeys/funnel/?{query.replace("&", "&amp;")}"' in listing.content.decode()
    # the same name again is refused, saying why
    again = client.post("/journeys/saved/", {"name": "strict CART", "kind": "funnel"})
    assert again.status_code == 422
    assert "Name: a saved funnel is already called 'strict CART'" in text(again)
    # pinned, it is what the funnel page opens with
    client.post(f"/journeys/saved/{analysis.pk}/pin/")
    opened = client.get("/journeys/funnel/")
    assert opened.status_code == 302 and opened["Location"] == f"/journeys/funnel/?{query}"
    client.post(f"/journeys/saved/{analysis.pk}/delete/")
    assert not SavedAnalysis.objects.exists()
    assert client.get("/journeys/funnel/").status_code == 200


def test_pinned_first_and_other_workspaces_unseen(client, member, workspace, other_workspace):
    services.saved_analysis_create(workspace=workspace, name="B paths", kind="path", query="")
    services.saved_analysis_create(
        workspace=workspace, name="Z funnel", kind="funnel", query="step=A&step=B", pinned=True
    )
    theirs = services.saved_analysis_create(
        workspace=other_workspace, name="Secret", kind="funnel", query=""
    )
    client.force_login(member)
    page = text(client.get("/journeys/saved/"))
    assert page.index("Z funnel") < page.index("B paths")
    assert "Secret" not in page
    assert client.post(f"/journeys/saved/{theirs.pk}/delete/").status_code == 404


def test_a_viewer_sees_saved_analyses_but_no_save_form(client, workspace):
    services.saved_analysis_create(workspace=workspace, name="Mine", kind="funnel", query="")
    history(workspace, SHOP)
    client.force_login(member_make(workspace=workspace, username="vic", role="viewer"))
    assert "Mine" in text(client.get("/journeys/saved/"))
    page = client.get("/journeys/funnel/", {"step": STEPS}).content.decode()
    assert "Save this analysis" not in page
    assert client.post("/journeys/saved/", {"name": "x", "kind": "funnel"}).status_code == 403


def test_the_paths_page_saves_too(client, member, workspace):
    history(workspace, SHOP)
    client.force_login(member)
    page = client.get("/paths/", {"start": "Home", "end": "Order"}).content.decode()
    assert "Save this analysis" in page
    assert 'name="query" value="start=Home&amp;end=Order"' in page


def test_the_trends_page_saves_too(client, member, workspace):
    # given a trend shown on the page
    history(workspace, SHOP)
    client.force_login(member)
    query = "event=Home&by=day"
    page = client.get(f"/trends/?{query}").content.decode()
    assert "Save this analysis" in page
    assert f'name="query" value="{html.escape(query)}"' in page
    # when it is saved, the saved list links back to the trends page with its query
    saved = client.post("/journeys/saved/", {"name": "Daily home", "kind": "trend", "query": query})
    assert saved.status_code == 302 and saved["Location"] == f"/trends/?{query}"
    listing = client.get("/journeys/saved/").content.decode()
    assert f'href="/trends/?{html.escape(query)}"' in listing


def test_trends_and_paths_open_with_the_common_sequence_or_a_pinned_view(client, member, workspace):
    # given: every customer starts at Home, and the commonest sequence is Home → Cart → Pay → Order
    history(workspace, SHOP)
    client.force_login(member)
    # when the bare pages are opened
    trend = client.get("/trends/").content.decode()
    paths = client.get("/paths/").content.decode()
    # then: a trend of the sequence's first and last events, paths from its start
    assert "Showing the first and last events of this workspace" in trend
    assert 'value="Home"' in trend and 'value="Order"' in trend and 'id="trend-chart"' in trend
    assert "Showing paths from Home" in paths and 'id="table-title"' in paths
    # when a trend is saved and pinned, the bare page opens with it
    client.post("/journeys/saved/", {"name": "Carts", "kind": "trend", "query": "event=Cart",
                                     "pinned": "1"})  # fmt: skip
    opened = client.get("/trends/")
    assert opened.status_code == 302 and opened["Location"] == "/trends/?event=Cart"
