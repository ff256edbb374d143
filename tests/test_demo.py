"""The demo workspace: built through real ingestion, reproducible, telling the story it claims."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Count

from cxloop.core.models import Workspace
from cxloop.customers.identifiers import normalize_phone
from cxloop.customers.models import Consent, Customer, CustomerMerge, Identity
from cxloop.demo import catalog, generator
from cxloop.demo.generator import DemoStats, Story, build_demo
from cxloop.events.channels import CHANNELS
from cxloop.events.models import Event

NOW = datetime(2025, 6, 1, tzinfo=UTC)
SEED = 11
PEOPLE = 300
FUNNEL = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed")


@dataclass
class Demo:
    workspace: Workspace
    stats: DemoStats
    progress: list[int]


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """One small demo shared by this module's tests (read only), removed afterwards."""
    with django_db_blocker.unblock():
        progress: list[int] = []
        stats = build_demo(
            slug="demo-test", customers=PEOPLE, seed=SEED, now=NOW, on_progress=progress.append
        )
        workspace = Workspace.objects.get(slug="demo-test")
        yield Demo(workspace, stats, progress)
        workspace.delete()


def _events(workspace: Workspace):
    return Event.objects.filter(workspace=workspace)


def _live(workspace: Workspace):
    return Customer.objects.filter(workspace=workspace, merged_into__isnull=True)


def _fingerprint(workspace: Workspace) -> dict:
    """Everything that must come out the same from the same seed, with profiles named by their
    smallest identifier and email instead of database keys."""
    label: dict[int, str] = {}
    identities = Identity.objects.filter(workspace=workspace)
    for customer, kind, value in identities.values_list("customer_id", "kind", "value"):
        key = f"{kind}:{value}"
        label[customer] = min(label.get(customer, key), key)
    emails = dict(_live(workspace).values_list("pk", "traits__email"))
    events = _events(workspace).values_list(
        "message_id", "type", "name", "channel", "occurred_at", "customer_id"
    )
    consents = Consent.objects.filter(workspace=workspace)
    return {
        "events": sorted((*row[:-1], label[row[-1]], emails[row[-1]] or "") for row in events),
        "identities": sorted(
            (kind, value, label[customer])
            for customer, kind, value in identities.values_list("customer_id", "kind", "value")
        ),
        "consents": sorted(
            (label[customer], channel, status)
            for customer, channel, status in consents.values_list(
                "customer_id", "channel", "status"
            )
        ),
        "merges": sorted(
            label[survivor]
            for survivor in CustomerMerge.objects.filter(workspace=workspace)
            .filter(survivor__merged_into__isnull=True)
            .values_list("survivor_id", flat=True)
        ),
        "merge_count": CustomerMerge.objects.filter(workspace=workspace).count(),
        "profiles": _live(workspace).count(),
    }


def test_demo_is_a_year_of_a_retailer_and_reports_what_it_stored(db, demo):
    workspace = demo.workspace
    assert workspace.name == "Northwind Outfitters"
    assert workspace.default_phone_region == "GB"
    events = _events(workspace)
    assert demo.stats == DemoStats(
        customers=_live(workspace).count(),
        events=events.count(),
        merges=CustomerMerge.objects.filter(workspace=workspace).count(),
    )
    assert PEOPLE * 0.8 <= demo.stats.customers <= PEOPLE * 1.3
    assert PEOPLE * 25 <= demo.stats.events <= PEOPLE * 60  # about 40 per person
    first = events.earliest("occurred_at").occurred_at
    last = events.latest("occurred_at").occurred_at
    assert NOW - timedelta(days=366) <= first < NOW - timedelta(days=330)
    assert NOW - timedelta(days=3) < last < NOW
    assert demo.progress == sorted(demo.progress)
    assert demo.progress[-1] == PEOPLE
    # heavy-tailed: a few people do far more than the typical one
    per_profile = sorted(_live(workspace).annotate(n=Count("events")).values_list("n", flat=True))
    median = per_profile[len(per_profile) // 2]
    assert per_profile[-1] > 8 * median


def test_same_seed_gives_the_same_data(db, demo):
    build_demo(slug="demo-again", customers=PEOPLE, seed=SEED, now=NOW)
    again = Workspace.objects.get(slug="demo-again")
    assert _fingerprint(again) == _fingerprint(demo.workspace)


def test_another_seed_gives_other_people():
    def emails(seed: int) -> set[str]:
        return {
            message["traits"]["email"]
            for _, batch in Story(seed=seed, people=50, now=NOW).batches()
            for message in batch
            if message["type"] == "identify" and "email" in message["traits"]
        }

    assert emails(1) == emails(1)
    assert emails(1) != emails(2)


def test_events_span_every_channel(db, demo):
    events = _events(demo.workspace)
    assert set(events.values_list("channel", flat=True).distinct()) == set(CHANNELS)
    assert set(events.filter(type="page").values_list("channel", flat=True).distinct()) == {"web"}
    assert set(events.filter(type="screen").values_list("channel", flat=True).distinct()) == {"app"}
    tickets = events.filter(name="Support Ticket Opened")
    assert set(tickets.values_list("channel", flat=True).distinct()) == {"chat", "phone", "email"}
    assert events.filter(name="Social Mention", channel="social").exists()
    assert events.filter(name="Store Visit", channel="store").exists()
    assert events.filter(name="Order Completed", channel="store").exists()


def test_profiles_known_by_email_and_by_phone_merge_when_one_account_shows_both(db, demo):
    workspace = demo.workspace
    merges = CustomerMerge.objects.filter(workspace=workspace).select_related("merged")
    assert merges.count() >= 10
    for merge in merges:
        absorbed = merge.merged
        assert absorbed.merged_into_id is not None
        assert not absorbed.identities.exists()
        assert not absorbed.events.exists()
        assert merge.rows_moved > 0
        survivor = Customer.objects.get(pk=merge.survivor_id)
        while survivor.merged_into_id is not None:
            survivor = survivor.merged_into
        assert survivor.identities.count() >= 2

    # The newsletter profile (email platform id + email) and the till profile (loyalty card +
    # phone) end up as one person with an account.
    merged_people = 0
    for survivor in _live(workspace).filter(merges__isnull=False).distinct():
        ids = list(survivor.identities.values_list("kind", "value"))
        kinds = {kind for kind, _ in ids}
        anonymous = [value for kind, value in ids if kind == "anonymous_id"]
        if {"user_id", "email", "phone"} <= kinds and (
            any(a.startswith("email-") for a in anonymous)
            and any(a.startswith("pos-") for a in anonymous)
        ):
            merged_people += 1
            assert survivor.traits["email"].endswith("@example.com")
            channels = set(survivor.events.values_list("channel", flat=True))
            assert {"email", "store", "web"} <= channels
    assert merged_people >= 5


def test_every_event_sits_on_the_live_profile_owning_its_identifiers(db, demo):
    workspace = demo.workspace
    assert not _events(workspace).filter(customer__merged_into__isnull=False).exists()
    assert not Identity.objects.filter(
        workspace=workspace, customer__merged_into__isnull=False
    ).exists()
    owner = {
        (kind, value): customer
        for kind, value, customer in Identity.objects.filter(workspace=workspace).values_list(
            "kind", "value", "customer_id"
        )
    }
    rows = _events(workspace).values_list("customer_id", "anonymous_id", "user_id")
    for customer, anonymous_id, user_id in rows:
        if anonymous_id:
            assert owner[("anonymous_id", anonymous_id)] == customer
        if user_id:
            assert owner[("user_id", user_id)] == customer


def test_anonymous_browsing_lands_on_the_profile_created_at_signup(db, demo):
    events = _events(demo.workspace)
    signups = (
        events.filter(type="identify", channel="web").exclude(user_id="").exclude(anonymous_id="")
    )
    checked = 0
    for signup in signups:
        before = events.filter(
            type="page", anonymous_id=signup.anonymous_id, user_id="",
            occurred_at__lt=signup.occurred_at,
        )  # fmt: skip
        if not before.exists():
            continue
        checked += 1
        assert set(before.values_list("customer_id", flat=True)) == {signup.customer_id}
        profile = signup.customer
        assert profile.merged_into_id is None
        assert profile.traits["email"].endswith("@example.com")
        assert profile.identities.filter(kind="user_id", value=signup.user_id).exists()
    assert checked >= 20


def test_web_funnel_narrows_at_every_step(db, demo):
    online = _events(demo.workspace).filter(channel__in=("web", "app"))
    visitors = online.values("customer").distinct().count()
    reached = [online.filter(name=step).values("customer").distinct().count() for step in FUNNEL]
    assert visitors > reached[0] > reached[1] > reached[2] > reached[3] > 0
    assert 0.4 < reached[0] / visitors < 0.8  # most, not all, look at a product
    assert reached[3] / visitors < 0.3  # few buy
    for order in online.filter(name="Order Completed")[:50]:
        properties = order.properties
        assert properties["order_id"]
        assert properties["revenue"] > 0
        assert properties["product_count"] == len(properties["products"]) >= 1


def test_orders_deliveries_support_and_consent_tell_the_story(db, demo):
    workspace = demo.workspace
    events = _events(workspace)
    late = events.filter(name="Order Delivered", properties__late=True)
    assert late.exists()
    assert all(days >= 1 for days in late.values_list("properties__days_late", flat=True))
    assert events.filter(name="Order Delivered", properties__late=False).count() > late.count()
    assert events.filter(name="Product Returned").exists()
    assert events.filter(name="Order Refunded").exists()
    topics = set(
        events.filter(name="Support Ticket Opened").values_list("properties__topic", flat=True)
    )
    assert "late delivery" in topics
    assert (
        events.filter(name="Ticket Closed").count()
        <= events.filter(name="Support Ticket Opened").count()
    )
    assert (
        events.filter(name="Email Opened").count()
        > events.filter(name="Email Link Clicked").count()
        > 0
    )
    assert events.filter(name="Application Opened", channel="app").exists()

    consents = Consent.objects.filter(workspace=workspace, channel="email")
    assert consents.filter(status="granted").count() > consents.filter(status="withdrawn").count()
    assert consents.filter(status="withdrawn").exists()

    profiles = _live(workspace).exclude(traits__loyalty_tier=None)
    assert set(profiles.values_list("traits__loyalty_tier", flat=True)) <= {
        "bronze",
        "silver",
        "gold",
    }
    named = _live(workspace).exclude(traits__last_name=None).first()
    for trait in ("name", "first_name", "email", "city", "loyalty_tier", "preferred_store"):
        assert named.traits.get(trait), trait
    # some people stop coming back months before the end
    assert _live(workspace).filter(last_seen_at__lt=NOW - timedelta(days=90)).exists()


def test_contact_details_are_fictional(db, demo):
    workspace = demo.workspace
    prefixes = tuple(
        normalize_phone(f"{prefix}000", "GB")[:-3] for prefix in catalog.FICTIONAL_PHONE_RANGES
    )
    phones = Identity.objects.filter(workspace=workspace, kind="phone").values_list(
        "value", flat=True
    )
    assert phones
    assert all(phone.startswith(prefixes) for phone in phones)
    emails = Identity.objects.filter(workspace=workspace, kind="email").values_list(
        "value", flat=True
    )
    assert emails
    assert all(email.endswith("@example.com") for email in emails)


def test_demo_builds_with_the_embedded_engine_before_its_owner_runs(
    db, settings, tmp_path, monkeypatch
):
    """`cxloop demo` builds before `serve` starts the engine's owner: the database answers."""
    from cxloop.analytics import owner, selectors

    settings.CXLOOP_ANALYTICS = "embedded"
    monkeypatch.setattr(owner, "socket_path", lambda: tmp_path / "nobody.sock")
    selectors._engine_for.cache_clear()
    try:
        stats = build_demo(slug="demo-engine", customers=40, seed=SEED, now=NOW)
    finally:
        selectors._engine_for.cache_clear()

    assert stats.events > 0
    with pytest.raises(selectors.EngineUnavailable):  # outside the build, the engine is asked
        selectors.event_names(workspace=Workspace.objects.get(slug="demo-engine"))


def _messages(people: int = 1500) -> list[dict]:
    return [m for _, batch in Story(seed=SEED, people=people, now=NOW).batches() for m in batch]


def _days_before_now(message: dict) -> float:
    when = datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00"))
    return (NOW - when).total_seconds() / 86400


def test_the_payment_outage_declines_cards_and_loses_orders_for_three_weeks():
    messages = _messages()
    first, last = generator.PAYMENT_OUTAGE_DAYS
    declined = [m for m in messages if m.get("event") == "Card Declined"]
    assert declined
    assert all(last <= _days_before_now(m) <= first + 0.01 for m in declined)
    assert {m["properties"]["channel"] for m in declined} <= {"web", "app"}
    ordered = {m["properties"]["order_id"] for m in messages if m.get("event") == "Order Completed"}

    def conversion(low: float, high: float) -> float:
        started = [
            m for m in messages
            if m.get("event") == "Checkout Started" and low <= _days_before_now(m) < high
        ]  # fmt: skip
        return sum(m["properties"]["order_id"] in ordered for m in started) / len(started)

    during, before = conversion(last, first), conversion(first + 28, first + 56)
    assert during < before - 0.1  # checkout to order falls while cards are declined
    lost = [m["properties"]["order_id"] in ordered for m in declined]
    assert sum(lost) / len(lost) < 0.3  # most who are declined give up


def test_the_carrier_backlog_makes_web_deliveries_late():
    messages = _messages()
    first, last = generator.DELIVERY_DELAY_DAYS
    delivered = [m for m in messages if m.get("event") == "Order Delivered"]

    def late_share(channel: str, inside: bool) -> float:
        # delivered 2-4 days after the order (plus any delay): roughly the orders placed inside
        rows = [
            m for m in delivered
            if m["properties"]["channel"] == channel
            and (last - 2 <= _days_before_now(m) <= first - 12) == inside
        ]  # fmt: skip
        return sum(m["properties"]["late"] for m in rows) / len(rows)

    assert late_share("web", inside=True) > 0.5
    assert late_share("web", inside=False) < 0.25


def test_large_demos_are_invented_a_slice_of_people_at_a_time(monkeypatch):
    """Past PEOPLE_SLICE people the story streams: the same people and messages, fed slice by
    slice (each slice oldest first), so memory stays bounded at 250,000 customers."""
    from cxloop.demo import _messages as writer  # where the story's batches read it

    whole = _messages(people=60)
    monkeypatch.setattr(writer, "PEOPLE_SLICE", 25)
    story = Story(seed=SEED, people=60, now=NOW)
    progress, sliced = [], []
    for _, batch in story.batches():
        sliced.extend(batch)
        progress.append(story.people_done)

    def content(message: dict) -> str:
        return json.dumps({k: v for k, v in message.items() if k != "messageId"}, sort_keys=True)

    assert sorted(map(content, sliced)) == sorted(map(content, whole))
    assert len({m["messageId"] for m in sliced}) == len(sliced)
    # three slices (25, 25, 10 people): time runs forward within each and restarts twice
    restarts = sum(1 for a, b in itertools.pairwise(sliced) if b["timestamp"] < a["timestamp"])
    assert restarts == 2
    assert progress == sorted(progress) and progress[-1] == 60 and 25 in progress
