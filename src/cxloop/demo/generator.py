"""The demo workspace: a year of an online-and-in-store clothing retailer, sent through ingestion.

``build_demo`` invents ``customers`` people, writes their journeys as Segment-spec messages (web
pages, app screens, email, chat, phone, social and shop-floor events) and feeds them, oldest first,
through :func:`cxloop.events.services.events_ingest`: the same validation, identity resolution,
merging and consent handling that real traffic gets. Nothing is written to the tables directly.

The story has the cross-channel identities that make a customer platform worth having:

* anonymous web visitors who later sign up: the anonymous browsing lands on the new account;
* newsletter subscribers known only by email and shop customers known only by phone (till and
  loyalty card), who later open an account giving both: their separate profiles merge;
* social media handles and phone callers that turn out to belong to account holders.

Everything is drawn from ``random.Random(seed)``: the same seed gives the same people, ids and
message ids. Times are offsets from ``now`` (midnight today by default), over the last 365 days.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

from django.db import transaction
from django.utils import timezone

from cxloop.analytics import selectors as analytics_selectors
from cxloop.core import services as core_services
from cxloop.core.db import refresh_planner_statistics
from cxloop.customers.models import Customer, CustomerMerge
from cxloop.demo import catalog
from cxloop.demo.feedback import build_feedback_demo
from cxloop.demo.journeys import build_journey_demo
from cxloop.demo.segments import build_segments_demo
from cxloop.demo.workflows import build_workflows_demo
from cxloop.events.models import Event
from cxloop.events.services import events_ingest
from cxloop.predict import services as predict_services
from cxloop.text import services as text_services

WORKSPACE_NAME = "Northwind Outfitters"
PHONE_REGION = "GB"
CHUNK = 5000  # messages per ingestion batch at most
PEOPLE_SLICE = 20_000  # people invented (and held in memory) at a time
CURRENCY = "GBP"

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
YEAR = 365 * DAY
BATCH_SPAN = 7 * DAY  # an ingestion batch never holds more than a week of activity

# Web funnel: how far a web/app user ever gets (0 home and category pages only, 1 viewed a
# product, 2 added to cart, 3 started checkout, 4 bought). Cumulative: ~60% view, ~35% add,
# ~20% start checkout, ~15% buy.
FUNNEL_DEPTH_WEIGHTS = (0.40, 0.25, 0.15, 0.05, 0.15)
STORE_ONLY_SHARE = 0.15
SIGNUP_WITHOUT_PURCHASE = 0.15  # non-buyers who still open an account
OMNICHANNEL_SHARE = 0.55  # of account holders: known by email and at the till before signing up
NEWSLETTER_ONLY_SHARE = 0.15  # of non-account web users: newsletter subscribers never linked
CHURN_SHARE = 0.25
APP_SHARE = 0.40
SOCIAL_SHARE = 0.25
EMAIL_WITHDRAW_SHARE = 0.20  # of account holders, some time after signing up
LATE_DELIVERY_SHARE = 0.12
RETURN_SHARE = 0.16
DAMAGED_SHARE = 0.03

# Incidents for "What changed" to find on first run, in days before "now" (first, last):
# a payment provider outage declines a share of web and app card payments at checkout, and most
# of those customers give up; then a carrier's backlog makes web orders' deliveries late, which
# shows in the relationship NPS of web customers. Drawn from their own random stream.
PAYMENT_OUTAGE_DAYS = (26, 5)
PAYMENT_DECLINED_SHARE = 0.6
DECLINED_GIVE_UP_SHARE = 0.9
DELIVERY_DELAY_DAYS = (34, 8)
DELIVERY_DELAY_CHANNEL = "web"
DELIVERY_DELAY_SHARE = 0.85

# Local hour of day that sessions start, weighted towards lunchtime and evenings.
_HOURS = tuple(range(24))
_HOUR_CUM = tuple(
    accumulate((1, 1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 8, 10, 9, 8, 7, 7, 8, 11, 14, 15, 13, 9, 4))
)
_SHOP_HOURS = tuple(range(9, 20))
_TICKET_CHANNELS = ("chat", "phone", "email")


@dataclass
class DemoStats:
    customers: int
    events: int
    merges: int


def build_demo(
    *,
    slug: str,
    customers: int = 5000,
    seed: int = 7,
    on_progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> DemoStats:
    """Create workspace ``slug`` ("Northwind Outfitters") filled with a year of demo customers.

    ``on_progress`` is called with how many of the ``customers`` are done (for a progress bar).
    The whole build is one transaction: on failure no half-built workspace is left behind.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if now is None:
        now = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    elif timezone.is_naive(now):
        now = now.replace(tzinfo=UTC)

    story = Story(seed=seed, people=customers, now=now)
    with transaction.atomic():
        workspace = core_services.workspace_create(
            name=WORKSPACE_NAME, slug=slug, phone_region=PHONE_REGION
        )
        for received_at, batch in story.batches():
            result = events_ingest(workspace=workspace, messages=batch, received_at=received_at)
            if result.rejected:
                first = result.rejected[0]
                raise RuntimeError(
                    f"demo message {first.message_id or first.position} rejected: {first.reason}"
                )
            if on_progress:
                on_progress(story.people_done)
        # the engine copies events once this transaction commits: until then the database
        # answers the journey maps, segments and predictions built from them
        with analytics_selectors.database_answers():
            build_feedback_demo(workspace=workspace, seed=seed, now=now)
            build_journey_demo(workspace=workspace)
            build_segments_demo(workspace=workspace)
            # CLV, churn risk and value at risk ready on first run (the daily task refreshes them)
            predict_services.predictions_run(workspace=workspace)
            # sentiment and themes of the comments ready on first run (new ones: feedback hook)
            text_services.texts_analyse_workspace(workspace=workspace)
            text_services.themes_discover(workspace=workspace)
            build_workflows_demo(workspace=workspace, seed=seed, now=now)
        refresh_planner_statistics()  # PostgreSQL: plan the demo's queries with real statistics
        return DemoStats(
            customers=Customer.objects.filter(
                workspace=workspace, merged_into__isnull=True
            ).count(),
            events=Event.objects.filter(workspace=workspace).count(),
            merges=CustomerMerge.objects.filter(workspace=workspace).count(),
        )


@dataclass(slots=True)
class Person:
    """One invented person and the identifiers each system knows them by."""

    n: int
    first: str
    last: str
    email: str
    phone: str | None  # as they type it (local UK format), None if they never give one
    city: str
    store: str
    birth_year: int
    user_id: str  # web shop account id, used once they sign up
    web_anon: str  # analytics.js cookie
    email_anon: str  # email platform subscriber id, before the account exists
    pos_id: str  # till / loyalty card id
    device_id: str
    social: tuple[str, str] | None  # (network, handle)
    start: float
    end: float
    activity: float  # heavy-tailed: how much this person does compared with others
    engagement: float  # how likely they are to open an email
    depth: int  # furthest web funnel step they ever reach
    tier: str = "bronze"
    signed_up: float | None = None
    email_consent_until: float = YEAR
    orders: int = 0


class Story:
    """Generates every message of the demo, then hands them back sorted by time."""

    def __init__(self, *, seed: int, people: int, now: datetime) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.incidents = random.Random(seed * 7919 + 1)  # the incidents' own stream
        self.people = people
        self.origin = now - timedelta(days=365)
        self._out: list[tuple[float, int, dict]] = []
        self._orders = 0
        self._tickets = 0
        self.people_done = 0  # people whose messages are all handed out (for a progress bar)
        rng = self.rng
        self.campaigns = [
            (YEAR - (week + 1) * 7 * DAY + 9 * HOUR, f"cmp-{seed}-{week:02d}", name)
            for week, name in enumerate(rng.choice(catalog.EMAIL_CAMPAIGNS) for _ in range(52))
        ]
        self.campaigns.reverse()
        self._cities = [c for c, _, _ in catalog.CITIES]
        self._city_cum = list(accumulate(w for _, w, _ in catalog.CITIES))
        self._store_of = {c: s for c, _, s in catalog.CITIES}
        self._phones = catalog.fictional_phones()
        rng.shuffle(self._phones)
        self._cards = rng.sample(range(6335_0000_0000, 6336_0000_0000), people)  # loyalty cards

    # ------------------------------------------------------------------ output

    def batches(self) -> Iterator[tuple[datetime, list[dict]]]:
        """Every message in ingestion batches with the time each one "arrived", oldest first.

        A batch holds at most CHUNK messages and never more than one week of activity, as a live
        feed would deliver them: so profiles first seen apart really exist apart before a later
        message shows they are one person, and the merge happens, whatever the demo's size.
        People are invented PEOPLE_SLICE at a time, each slice's year fed oldest first: memory
        stays bounded at any size (a million events' messages take a few GB), and a demo of up to
        PEOPLE_SLICE people is one slice, its messages in one time order.
        """
        number = 0
        for first in range(0, self.people, PEOPLE_SLICE):
            last_person = min(self.people, first + PEOPLE_SLICE)
            for n in range(first, last_person):
                self._live(self._person(n))
            out, self._out = self._out, []
            out.sort(key=lambda item: (item[0], item[1]))
            origin = self.origin
            batch: list[dict] = []
            week = last = 0.0
            for sent, (t, _, message) in enumerate(out):
                if batch and (len(batch) >= CHUNK or t // BATCH_SPAN != week):
                    self.people_done = first + (last_person - first) * sent // len(out)
                    yield origin + timedelta(seconds=last + 2), batch
                    batch = []
                week, last = t // BATCH_SPAN, t
                when = origin + timedelta(seconds=t)
                message["timestamp"] = when.isoformat(timespec="milliseconds").replace(
                    "+00:00", "Z"
                )
                message["messageId"] = f"demo-{self.seed}-{number}"
                number += 1
                batch.append(message)
            self.people_done = last_person
            if batch:
                yield origin + timedelta(seconds=last + 2), batch
            del out

    def _emit(self, t: float, message: dict) -> None:
        if 0 <= t < YEAR:  # what would happen after "now" has not happened yet
            self._out.append((t, len(self._out), message))

    def _track(
        self, t: float, ids: dict, event: str, channel: str, props: dict, traits: dict | None = None
    ) -> None:
        message: dict[str, Any] = {
            "type": "track",
            "event": event,
            "properties": {**props, "channel": channel},
        }
        message.update(ids)
        if traits:
            message["context"] = {**message.get("context", {}), "traits": traits}
        self._emit(t, message)

    def _view(self, t: float, ids: dict, channel: str, name: str, props: dict) -> None:
        """A page (web) or screen (app) view."""
        kind = "page" if channel == "web" else "screen"
        message = {"type": kind, "name": name, "properties": {**props, "channel": channel}}
        message.update(ids)
        self._emit(t, message)

    def _identify(
        self, t: float, ids: dict, channel: str, traits: dict, consent: dict | None = None
    ) -> None:
        message: dict[str, Any] = {"type": "identify", "traits": traits, "channel": channel}
        message.update(ids)
        if consent:
            message["context"] = {
                **message.get("context", {}),
                "consent": {"categoryPreferences": consent},
            }
        self._emit(t, message)

    # ------------------------------------------------------------------ people

    def _person(self, n: int) -> Person:
        rng = self.rng
        first = rng.choice(catalog.FIRST_NAMES)
        last = rng.choice(catalog.LAST_NAMES)
        city = rng.choices(self._cities, cum_weights=self._city_cum)[0]
        phone = None
        if rng.random() < 0.75 and n < len(self._phones):
            phone = self._phones[n]
        activity = min(12.0, rng.lognormvariate(-0.35, 0.85))
        start = rng.uniform(0, YEAR - 3 * DAY)
        end = YEAR
        if rng.random() < CHURN_SHARE:
            end = min(YEAR, start + rng.uniform(45, 150) * DAY)
        handle = None
        if rng.random() < SOCIAL_SHARE:
            handle = (
                rng.choice(catalog.SOCIAL_NETWORKS),
                f"{first.lower()}{rng.choice(('', '_', '.'))}{last.lower()}{n}",
            )
        return Person(
            n=n,
            first=first,
            last=last,
            email=f"{first.lower()}.{last.lower()}{n}@example.com",
            phone=phone,
            city=city,
            store=self._store_of[city],
            birth_year=rng.randint(1950, 2006),
            user_id=f"nw-{self.seed}-{n:05d}-{rng.getrandbits(24):06x}",
            web_anon=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            email_anon=f"email-{rng.getrandbits(64):016x}",
            pos_id=f"pos-{self._cards[n]}",
            device_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(),
            social=handle,
            start=start,
            end=end,
            activity=activity,
            engagement=rng.betavariate(2, 5),
            depth=rng.choices(range(5), weights=FUNNEL_DEPTH_WEIGHTS)[0],
        )

    def _live(self, p: Person) -> None:
        """Everything one person does over the year."""
        rng = self.rng
        if rng.random() < STORE_ONLY_SHARE:
            self._store_customer(p)
        elif p.depth == 4 or rng.random() < SIGNUP_WITHOUT_PURCHASE:
            self._account_holder(p, omnichannel=rng.random() < OMNICHANNEL_SHARE)
        else:
            self._web_visitor(p)

    def _web_visitor(self, p: Person) -> None:
        """Never opens an account: anonymous browsing, perhaps a newsletter profile of its own."""
        rng = self.rng
        ids = {"anonymousId": p.web_anon}
        sessions = 1 + min(20, int(rng.expovariate(1.0) * p.activity * 3.5))
        times = self._times(p.start, p.end, sessions)
        for i, t in enumerate(times):
            depth = p.depth if i == len(times) - 1 else rng.randint(0, p.depth)
            self._browse(p, t, ids, "web", depth)
        if rng.random() < NEWSLETTER_ONLY_SHARE:
            subscribed = rng.uniform(p.start, p.end)
            email_ids = {"anonymousId": p.email_anon}
            self._identify(
                subscribed, email_ids, "email",
                {"email": p.email, "first_name": p.first}, {"email": True},
            )  # fmt: skip
            self._campaigns(p, subscribed, p.end, email_ids)

    def _account_holder(self, p: Person, *, omnichannel: bool) -> None:
        """Opens a web account; omnichannel people were known by email and at the till before."""
        rng = self.rng
        p.start = min(p.start, YEAR - 40 * DAY)
        if omnichannel:
            signup = p.start + rng.uniform(25, 120) * DAY
        else:
            signup = p.start + rng.expovariate(1 / (12 * DAY))
        p.end = max(p.end, signup + 30 * DAY)
        anon = {"anonymousId": p.web_anon}

        if omnichannel:  # newsletter first, then the shop, each system with its own id
            email_ids = {"anonymousId": p.email_anon}
            self._identify(
                p.start, email_ids, "email",
                {"email": p.email, "first_name": p.first}, {"email": True},
            )  # fmt: skip
            self._campaigns(p, p.start, signup, email_ids)
            if p.phone is not None:
                till = {"anonymousId": p.pos_id}
                for t in self._times(p.start + 2 * DAY, signup - 2 * DAY, 1 + rng.randint(0, 2)):
                    self._store_trip(p, t, till, buys=True)
            if p.social and rng.random() < 0.5:
                self._social(p, rng.uniform(p.start, signup), positive=True)

        for t in self._times(p.start, signup - HOUR, 1 + rng.randint(0, 2)):
            self._browse(p, t, anon, "web", rng.randint(0, min(p.depth, 2)))
        if p.social and not omnichannel and rng.random() < 0.3:
            self._social(p, signup - rng.uniform(1, 20) * DAY, positive=True)

        # Sign-up during a web session: the cookie, the new account id and the contact details
        # arrive together, which links the anonymous history (and, for omnichannel people, the
        # email and till profiles) to the account.
        t = self._daytime(signup)
        t = self._browse(p, t, anon, "web", min(p.depth, 1))
        p.signed_up = t
        p.phone = p.phone if (omnichannel or rng.random() < 0.6) else None
        self._identify(
            t, {**anon, "userId": p.user_id}, "web", self._traits(p, t),
            {"email": True, "phone": p.phone is not None and rng.random() < 0.4},
        )  # fmt: skip
        if rng.random() < EMAIL_WITHDRAW_SHARE:
            p.email_consent_until = rng.uniform(t, p.end)
            self._identify(
                p.email_consent_until, {"userId": p.user_id}, "email", {}, {"email": False}
            )
        logged_in = {**anon, "userId": p.user_id}
        if p.depth == 4:
            self._browse(p, t + 20, logged_in, "web", 4)

        months = (p.end - t) / (30 * DAY)
        app = rng.random() < APP_SHARE
        installed = t + rng.uniform(0, 60) * DAY if app else YEAR
        if app and installed < p.end:
            self._identify(installed, self._app_ids(p), "app", {"email": p.email}, {"app": True})
        orders = self._count(0.6 * months * p.activity) if p.depth == 4 else 0
        for when in self._times(t + 3 * DAY, p.end, orders):
            channel = "app" if when > installed and rng.random() < 0.5 else "web"
            self._browse(p, when, self._app_ids(p) if channel == "app" else logged_in, channel, 4)
        for when in self._times(t + DAY, p.end, self._count(2.6 * months * p.activity)):
            channel = "app" if when > installed and rng.random() < 0.6 else "web"
            ids = self._app_ids(p) if channel == "app" else logged_in
            self._browse(p, when, ids, channel, rng.randint(0, min(p.depth, 3)))
        if omnichannel:
            till = {"userId": p.user_id, "anonymousId": p.pos_id}
            for when in self._times(t, p.end, self._count(0.35 * months * p.activity)):
                self._store_trip(p, when, till, buys=rng.random() < 0.7)
        account = {"userId": p.user_id}
        self._campaigns(p, t, min(p.end, p.email_consent_until), account)
        if p.social and rng.random() < 0.4:
            self._social(p, rng.uniform(t, p.end), positive=True)
        if rng.random() < 0.15 * min(3.0, p.activity):
            topic = rng.choice(("order status", "refund", "loyalty points"))
            self._ticket(p, rng.uniform(t, p.end), topic)

    def _store_customer(self, p: Person) -> None:
        """Shops only in store, known by loyalty card and phone (and email when given)."""
        rng = self.rng
        till = {"anonymousId": p.pos_id}
        first = self._shop_time(p.start)
        gave_email = rng.random() < 0.5
        traits = self._traits(p, first)
        traits["loyalty_card"] = p.pos_id.removeprefix("pos-")
        consent = {"phone": p.phone is not None and rng.random() < 0.3}
        if gave_email:
            consent["email"] = True
        else:
            del traits["email"]
        if p.phone is not None:
            traits["phone"] = p.phone  # as typed at the till
        self._identify(first, till, "store", traits, consent)
        months = (p.end - p.start) / (30 * DAY)
        trips = 1 + self._count(0.9 * months * p.activity)
        for t in self._times(first + MINUTE, p.end, trips):
            self._store_trip(p, t, till, buys=rng.random() < 0.7)
        if gave_email:
            self._campaigns(p, first, p.end, {"anonymousId": p.email_anon})
        if p.phone and rng.random() < 0.12 * min(3.0, p.activity):
            topic = rng.choice(("order status", "refund", "loyalty points"))
            self._ticket(p, rng.uniform(first, p.end), topic, channel="phone")

    # ------------------------------------------------------------------ journeys

    def _browse(self, p: Person, t: float, ids: dict, channel: str, depth: int) -> float:
        """One web or app session that goes ``depth`` steps down the funnel; returns its end."""
        rng = self.rng
        view = self._view
        if channel == "app":
            self._track(
                t, ids, "Application Opened", "app", {"from_background": rng.random() < 0.5}
            )
            t += rng.uniform(2, 20)
            view(t, ids, "app", "Home", {})
        else:
            landing = "Home" if rng.random() < 0.6 else "Category"
            view(t, ids, "web", landing, {"path": "/" if landing == "Home" else "/c/new-in"})
        t += rng.uniform(10, 90)
        category = rng.choice(catalog.CATEGORIES)
        view(t, ids, channel, "Category", {"category": category})
        if depth == 0:
            if rng.random() < 0.3:
                t += rng.uniform(10, 120)
                view(t, ids, channel, "Category", {"category": rng.choice(catalog.CATEGORIES)})
            return t
        seen = []
        for _ in range(1 + min(7, int(rng.expovariate(0.45)))):
            product = rng.choice(catalog.CATALOG)
            t += rng.uniform(15, 150)
            props = _product(product)
            view(t, ids, channel, "Product", {"category": product[3], "product_id": product[0]})
            self._track(t + 1, ids, "Product Viewed", channel, props)
            seen.append(product)
        if depth == 1:
            return t
        seen = list(dict.fromkeys(seen))
        cart = rng.sample(seen, k=min(len(seen), 1 + int(rng.expovariate(1.3))))
        for product in cart:
            t += rng.uniform(5, 60)
            size = rng.choice(catalog.SIZES) if product[3] != "Accessories" else "One size"
            self._track(t, ids, "Product Added", channel, {**_product(product), "size": size})
        if depth == 2:
            return t
        self._orders += 1
        order_id = f"NW{self.seed}-{self._orders:07d}"
        lines = [_line(product, 1 + (rng.random() < 0.1)) for product in cart]
        revenue = round(sum(line["price"] * line["quantity"] for line in lines), 2)
        t += rng.uniform(20, 120)
        order = {"order_id": order_id, "revenue": revenue, "currency": CURRENCY}
        self._track(t, ids, "Checkout Started", channel, {**order, "products": lines})
        if self._payment_declined(t, ids, channel, order) or depth == 3:
            return t
        t += rng.uniform(60, 400)
        payment = rng.choice(("card", "card", "card", "paypal", "apple_pay", "klarna"))
        self._track(
            t, ids, "Order Completed", channel,
            {**order, "products": lines, "product_count": len(lines), "payment_method": payment},
        )  # fmt: skip
        self._order_aftermath(p, t, order, lines, channel)
        return t

    def _payment_declined(self, t: float, ids: dict, channel: str, order: dict) -> bool:
        """During the payment outage some card payments are declined; True when the customer
        then gives up (no order)."""
        first, last = (YEAR - days * DAY for days in PAYMENT_OUTAGE_DAYS)
        chance = self.incidents
        if not first <= t < last or chance.random() >= PAYMENT_DECLINED_SHARE:
            return False
        declined = {"order_id": order["order_id"], "payment_method": "card", "reason": "gateway"}
        self._track(t + chance.uniform(20, 90), ids, "Card Declined", channel, declined)
        return chance.random() < DECLINED_GIVE_UP_SHARE

    def _delivery_delay(self, t: float, channel: str, days_late: int) -> int:
        """Days late after the carrier's backlog: web orders placed in it are mostly late."""
        first, last = (YEAR - days * DAY for days in DELIVERY_DELAY_DAYS)
        chance = self.incidents
        if channel != DELIVERY_DELAY_CHANNEL or not first <= t < last:
            return days_late
        if chance.random() >= DELIVERY_DELAY_SHARE:
            return days_late
        return max(days_late, chance.randint(4, 9))

    def _order_aftermath(
        self, p: Person, t: float, order: dict, lines: list[dict], channel: str
    ) -> None:
        """Delivery (sometimes late), returns, refunds and the support contacts they cause."""
        rng = self.rng
        p.orders += 1
        self._maybe_upgrade(p, t + HOUR)
        ids = {"userId": p.user_id}
        promised = t + rng.randint(2, 4) * DAY
        late = rng.random() < LATE_DELIVERY_SHARE
        days_late = (
            rng.choices((1, 2, 3, 4, 5, 7), weights=(30, 25, 18, 12, 9, 6))[0] if late else 0
        )
        days_late = self._delivery_delay(t, channel, days_late)
        late = days_late > 0
        delivered = self._daytime(promised + days_late * DAY, shop=True)
        carrier = rng.choice(("Royal Mail", "DPD", "Evri"))
        delivery = {"order_id": order["order_id"], "carrier": carrier, "late": late}
        if late:
            delivery["days_late"] = days_late
            if rng.random() < 0.45:
                self._ticket(p, promised + rng.uniform(0.5, 1.5) * DAY, "late delivery", order)
            if p.social and rng.random() < 0.35:
                self._social(p, promised + rng.uniform(1, 2) * DAY, positive=False, days=days_late)
        self._track(delivered, ids, "Order Delivered", channel, delivery)
        roll = rng.random()
        if roll < DAMAGED_SHARE:
            opened = delivered + rng.uniform(1, 24) * HOUR
            self._ticket(p, opened, "damaged item", order)
            self._refund(p, opened + rng.uniform(1, 3) * DAY, order, lines[:1], channel, "damaged")
        elif roll < DAMAGED_SHARE + RETURN_SHARE:
            if rng.random() < 0.3:
                self._ticket(p, delivered + rng.uniform(0.5, 3) * DAY, "sizing", order)
            returned = delivered + rng.uniform(3, 20) * DAY
            where = "store" if rng.random() < 0.3 else channel
            line = rng.choice(lines)
            reason = rng.choice(("size", "size", "fit", "changed mind"))
            self._track(
                returned, ids, "Product Returned", where,
                {"order_id": order["order_id"], **line, "reason": reason},
            )  # fmt: skip
            refunded = returned + rng.uniform(2, 6) * DAY
            self._refund(p, refunded, order, [line], channel, "returned")
            if rng.random() < 0.15:
                self._ticket(p, refunded - rng.uniform(0, 2) * DAY, "refund", order)
        elif p.social and rng.random() < 0.05:
            self._social(p, delivered + rng.uniform(1, 5) * DAY, positive=True)

    def _refund(
        self, p: Person, t: float, order: dict, lines: list[dict], channel: str, reason: str
    ) -> None:
        amount = round(sum(line["price"] * line["quantity"] for line in lines), 2)
        refund = {"order_id": order["order_id"], "revenue": amount, "currency": CURRENCY}
        refund["reason"] = reason
        self._track(t, {"userId": p.user_id}, "Order Refunded", channel, refund)

    def _store_trip(self, p: Person, t: float, ids: dict, *, buys: bool) -> None:
        """A visit to the person's shop; a purchase at the till, identified by card or phone."""
        rng = self.rng
        t = self._shop_time(t)
        store = p.store if rng.random() < 0.85 else rng.choice(catalog.STORES)
        self._track(t, ids, "Store Visit", "store", {"store": store})
        if not buys:
            return
        self._orders += 1
        order_id = f"NW{self.seed}-{self._orders:07d}"
        picked = rng.sample(catalog.CATALOG, min(4, 1 + int(rng.expovariate(1.2))))
        lines = [_line(product, 1) for product in picked]
        revenue = round(sum(line["price"] for line in lines), 2)
        traits = {"phone": p.phone} if p.phone and rng.random() < 0.8 else None
        self._track(
            t + rng.uniform(5, 40) * MINUTE, ids, "Order Completed", "store",
            {"order_id": order_id, "revenue": revenue, "currency": CURRENCY, "products": lines,
             "product_count": len(lines), "store": store, "payment_method": "card"},
            traits,
        )  # fmt: skip
        p.orders += 1
        self._maybe_upgrade(p, t + HOUR)

    def _campaigns(self, p: Person, since: float, until: float, ids: dict) -> None:
        """Weekly campaign emails: some opened, fewer clicked, a few clicks lead to a visit."""
        rng = self.rng
        rate = p.engagement * (0.6 + 0.4 * min(2.0, p.activity))
        for sent, campaign_id, name in self.campaigns:
            if sent < since or sent >= until:
                continue
            if rng.random() >= rate:
                continue
            opened = sent + rng.expovariate(1 / (5 * HOUR))
            props = {"campaign_id": campaign_id, "campaign_name": name}
            traits = {"email": p.email}
            self._track(opened, ids, "Email Opened", "email", props, traits)
            if rng.random() < 0.25:
                clicked = opened + rng.uniform(5, 300)
                link = f"https://northwind.example/c/{rng.choice(catalog.CATEGORIES).lower()}"
                self._track(
                    clicked, ids, "Email Link Clicked", "email", {**props, "link_url": link}, traits
                )
                if p.signed_up is not None and clicked > p.signed_up and rng.random() < 0.5:
                    web = {"anonymousId": p.web_anon, "userId": p.user_id}
                    self._browse(p, clicked + 5, web, "web", rng.randint(0, min(p.depth, 3)))

    def _ticket(
        self, p: Person, t: float, topic: str, order: dict | None = None, channel: str | None = None
    ) -> None:
        """A support contact: chat (logged in), phone (caller id) or email (sender address)."""
        rng = self.rng
        if channel is None:
            channel = rng.choices(_TICKET_CHANNELS, weights=(45, 30 if p.phone else 0, 25))[0]
        self._tickets += 1
        ticket = {"ticket_id": f"T{self.seed}-{self._tickets:06d}", "topic": topic}
        if order:
            ticket["order_id"] = order["order_id"]
        account = {"userId": p.user_id} if p.signed_up is not None else {}
        if channel == "phone":
            ids, traits = account, {"phone": p.phone}
        elif channel == "chat":
            ids = account or {"anonymousId": p.web_anon}
            traits = {"email": p.email}
        else:
            ids, traits = account, {"email": p.email}
        t = self._daytime(t, shop=True)
        self._track(t, ids, "Support Ticket Opened", channel, ticket, traits)
        closed = t + rng.expovariate(1 / (10 * HOUR)) + 10 * MINUTE
        resolution = rng.choice(catalog.TOPICS_RESOLUTIONS[topic])
        csat = rng.choices((1, 2, 3, 4, 5), weights=(8, 8, 15, 30, 39))[0]
        if topic == "late delivery":
            csat = max(1, csat - 1)
        self._track(
            closed, ids, "Ticket Closed", channel,
            {**ticket, "resolution": resolution, "satisfaction": csat}, traits,
        )  # fmt: skip

    def _social(self, p: Person, t: float, *, positive: bool, days: int = 0) -> None:
        """A public post naming the brand; only the handle says who wrote it."""
        if p.social is None:
            return
        rng = self.rng
        network, handle = p.social
        template = rng.choice(catalog.SOCIAL_POSITIVE if positive else catalog.SOCIAL_NEGATIVE)
        text = template.format(item=rng.choice(catalog.CATALOG)[2], store=p.store, days=days)
        self._track(
            t, {}, "Social Mention", "social",
            {"network": network, "handle": f"@{handle}", "text": text,
             "sentiment": "positive" if positive else "negative"},
            {network: handle},
        )  # fmt: skip

    def _maybe_upgrade(self, p: Person, t: float) -> None:
        tier = "gold" if p.orders >= 8 else "silver" if p.orders >= 3 else "bronze"
        if tier != p.tier:
            p.tier = tier
            ids = {"userId": p.user_id} if p.signed_up is not None else {"anonymousId": p.pos_id}
            self._identify(
                t, ids, "store" if p.signed_up is None else "web", {"loyalty_tier": tier}
            )

    # ------------------------------------------------------------------ helpers

    def _traits(self, p: Person, t: float) -> dict:
        traits = {
            "name": f"{p.first} {p.last}",
            "first_name": p.first,
            "last_name": p.last,
            "email": p.email,
            "city": p.city,
            "loyalty_tier": p.tier,
            "signup_date": (self.origin + timedelta(seconds=t)).date().isoformat(),
            "preferred_store": p.store,
            "birth_year": p.birth_year,
        }
        if p.phone:
            # The shop's web form stores numbers in international format; the till keeps what
            # was typed. Normalisation makes both the same identity.
            traits["phone"] = "+44 " + p.phone[1:]
        if p.social:
            traits[p.social[0]] = p.social[1]
        return traits

    def _app_ids(self, p: Person) -> dict:
        return {"userId": p.user_id, "context": {"device": {"id": p.device_id, "type": "ios"}}}

    def _times(self, start: float, end: float, count: int) -> list[float]:
        """``count`` sorted session start times between start and end (at plausible hours)."""
        if count <= 0 or end <= start:
            return []
        rng = self.rng
        return sorted(self._daytime(rng.uniform(start, end)) for _ in range(count))

    def _daytime(self, t: float, *, shop: bool = False) -> float:
        rng = self.rng
        day = math.floor(t / DAY) * DAY
        hour = rng.choice(_SHOP_HOURS) if shop else rng.choices(_HOURS, cum_weights=_HOUR_CUM)[0]
        return day + hour * HOUR + rng.uniform(0, HOUR)

    def _shop_time(self, t: float) -> float:
        return self._daytime(t, shop=True)

    def _count(self, mean: float) -> int:
        """A Poisson-distributed count (small means: Knuth's method, large: normal approx)."""
        rng = self.rng
        if mean <= 0:
            return 0
        if mean > 30:
            return max(0, round(rng.gauss(mean, math.sqrt(mean))))
        limit, k, product = math.exp(-mean), 0, rng.random()
        while product > limit:
            k += 1
            product *= rng.random()
        return k


def _product(product: tuple) -> dict:
    product_id, sku, name, category, price = product
    return {
        "product_id": product_id,
        "sku": sku,
        "name": name,
        "category": category,
        "price": price,
    }


def _line(product: tuple, quantity: int) -> dict:
    return {**_product(product), "quantity": quantity}
