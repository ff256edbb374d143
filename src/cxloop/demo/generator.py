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

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate

from django.db import transaction
from django.utils import timezone

from cxloop.analytics import selectors as analytics_selectors
from cxloop.core import services as core_services
from cxloop.core.db import refresh_planner_statistics
from cxloop.customers.models import Customer, CustomerMerge
from cxloop.demo import catalog
from cxloop.demo._aftersales import DELIVERY_DELAY_DAYS as DELIVERY_DELAY_DAYS
from cxloop.demo._aftersales import PAYMENT_OUTAGE_DAYS as PAYMENT_OUTAGE_DAYS
from cxloop.demo._aftersales import AfterSales
from cxloop.demo._messages import CURRENCY, DAY, HOUR, MINUTE, YEAR, Person, _line, _product
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


class Story(AfterSales):
    """Generates every message of the demo, then hands them back sorted by time."""

    def __init__(self, *, seed: int, people: int, now: datetime) -> None:
        super().__init__(seed=seed, people=people, now=now)
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
