"""Demo feedback: survey answers that follow what happened to each demo customer.

Runs after the demo events exist. It creates the ready-made surveys (relationship NPS,
post-purchase CSAT, post-support CES, plus the generic CSAT/CES), triggers for the two
transactional ones, and answers written through :func:`cxloop.feedback.services.response_submit`:

* post-purchase CSAT a few days after an ``Order Completed``: a late ``Order Delivered`` pulls the
  score down and the comment talks about the delay; damaged items, returns for size, and shop
  purchases (friendly staff) each have their own story;
* post-support CES a day after ``Ticket Closed``: the ticket's own satisfaction and topic drive the
  effort score, whether it was solved, and the comment (slow replies, repeating the order number);
* relationship NPS a few times a year: recent late deliveries, damaged items, poor support and
  abandoned checkouts make detractors; loyal shop customers and repeat buyers make promoters;
* the same NPS a few days after online deliveries of the last ten weeks (a delivery pulse), so
  the generator's carrier backlog (late web deliveries) shows as web customers' NPS falling.

Everything is drawn from ``random.Random(seed)`` over events ordered by id: the same demo and seed
give the same answers.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cxloop.core.models import Workspace
from cxloop.customers.models import Customer, Identity
from cxloop.events.models import Event
from cxloop.feedback import services

POST_PURCHASE_RATE = 0.55
POST_PURCHASE_CAP_DAYS = 30
POST_SUPPORT_RATE = 0.6
NPS_RATE = 0.55  # of customers with an email, each quarter
NPS_WAVES = 4  # a rolling sample every quarter
PARTIAL_SHARE = 0.04  # started, never finished
# the NPS survey is also sent after online deliveries of the last weeks (a delivery pulse), so
# the generator's carrier backlog shows in NPS: its own random stream, after every other answer
DELIVERY_PULSE_DAYS = 70
DELIVERY_PULSE_RATE = 0.35

LATE = (
    "Parcel turned up {days} days late and nobody told me why.",
    "Delivery was {days} days after the date you promised. I needed it for a trip.",
    "Tracking said out for delivery three times. Arrived {days} days late.",
    "{carrier} were a nightmare, {days} days late with no updates.",
    "The jacket is lovely but it arrived {days} days late, so it was a gift I couldn't give on time.",
    "Waited in all day and it didn't come. {days} days late in the end.",
)
DAMAGED = (
    "The box was crushed and the {item} was torn. Replacement took ages.",
    "Item arrived damaged. Not what I expect at these prices.",
    "Zip was broken straight out of the bag. Disappointing.",
)
FIT = (
    "Sizing is all over the place, had to send the {item} back.",
    "Size guide was wrong, the {item} came up small. Return was easy enough though.",
    "Fit wasn't right. Would be good to have better measurements on the site.",
)
CHECKOUT = (
    "Checkout kept timing out and I had to enter my card twice.",
    "Paying was a pain, the discount code wouldn't apply at checkout.",
    "Took me three goes to get through checkout on my phone.",
    "Why do I have to create an account just to pay? Checkout is too long.",
)
STORE_HAPPY = (
    "Lovely staff at {store}, really helped me find the right size.",
    "The team at {store} were so friendly and patient. Will be back.",
    "Great in-store service at {store}, quick at the till too.",
    "{store} is always tidy and the staff know their stuff.",
)
ONLINE_HAPPY = (
    "Arrived a day early and well packed. Great quality.",
    "Really pleased with the {item}, exactly as pictured.",
    "Quick delivery and the quality is excellent for the price.",
    "Easy to order, easy to track, lovely product.",
    "",
    "",
)
MEH = (
    "Fine, nothing special.",
    "Good product but delivery could be quicker.",
    "OK overall, prices have gone up a bit.",
    "",
)
SUPPORT_SLOW = (
    "Took {hours} hours to get a reply and I had to repeat my order number twice.",
    "Got passed between three people before anyone could help.",
    "Support was slow. I chased twice before anything happened.",
    "The chat bot was useless, it took ages to reach a real person.",
)
SUPPORT_GOOD = (
    "Sorted in minutes, the agent was brilliant.",
    "Quick and friendly help, {resolution} straight away.",
    "Really helpful, no fuss at all.",
    "",
)
SUPPORT_LATE_TOPIC = (
    "Only got a voucher after chasing about the late parcel.",
    "They chased the courier but I still had to wait days.",
)
NPS_PROMOTER = (
    "Friendly store staff and great quality clothes.",
    "Always reliable, and the staff at {store} are lovely.",
    "Great quality, fair prices, fast delivery.",
    "I recommend you to everyone, the jackets last for years.",
    "Easy returns and good customer service.",
    "",
)
NPS_PASSIVE = (
    "Good clothes but delivery can be hit and miss.",
    "Decent, but the website could be easier to use.",
    "Nice products, a bit pricey.",
    "",
)
NPS_DETRACTOR_DELIVERY = (
    "Deliveries are always late. Last order was {days} days late.",
    "Can't rely on you for delivery dates any more.",
    "Late delivery again, and support just said to wait.",
)
NPS_DETRACTOR_SUPPORT = (
    "Customer service is slow and I had to explain everything twice.",
    "Support never solved my problem properly.",
)
NPS_DETRACTOR_PRODUCT = (
    "Quality has gone down, my last item arrived damaged.",
    "Sizes are inconsistent, I return half of what I buy.",
)
NPS_DETRACTOR_CHECKOUT = (
    "Your checkout is so frustrating I gave up last time.",
    "Website checkout is hard to use on mobile.",
)


@dataclass
class Order:
    customer_id: int
    at: datetime
    channel: str
    order_id: str
    store: str
    late_days: int = 0
    damaged: bool = False
    returned_for_fit: bool = False
    item: str = ""
    carrier: str = ""


@dataclass
class History:
    """What happened to one customer, as the events tell it."""

    orders: list[Order] = field(default_factory=list)
    tickets: list[tuple[datetime, str, int]] = field(default_factory=list)  # (at, topic, sat)
    abandoned: list[datetime] = field(default_factory=list)
    channels: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_seen: datetime | None = None
    has_email: bool = False


def _histories(workspace: Workspace) -> tuple[dict[int, History], list[Order], list[tuple]]:
    names = (
        "Order Completed", "Order Delivered", "Order Refunded", "Product Returned",
        "Ticket Closed", "Checkout Started", "Store Visit",
    )  # fmt: skip
    rows = (
        Event.objects.filter(workspace=workspace)
        .filter(name__in=names)
        .order_by("pk")
        .values_list("pk", "customer_id", "name", "channel", "properties", "occurred_at")
    )
    histories: dict[int, History] = defaultdict(History)
    orders: dict[str, Order] = {}
    tickets = []
    checkouts: dict[str, tuple[int, datetime]] = {}
    for _, customer_id, name, channel, props, at in rows.iterator(chunk_size=5000):
        history = histories[customer_id]
        if history.first_seen is None or at < history.first_seen:
            history.first_seen = at
        if channel in ("web", "app", "store"):
            history.channels[channel] += 1
        if name == "Order Completed":
            products = props.get("products") or [{}]
            order = Order(
                customer_id=customer_id,
                at=at,
                channel=channel,
                order_id=props.get("order_id", ""),
                store=props.get("store", ""),
                item=(products[0].get("name") or "order"),
            )
            orders[order.order_id] = order
            history.orders.append(order)
            checkouts.pop(order.order_id, None)
        elif name == "Checkout Started":
            checkouts[props.get("order_id", "")] = (customer_id, at)
        elif name == "Order Delivered" and props.get("order_id") in orders:
            order = orders[props["order_id"]]
            order.late_days = int(props.get("days_late") or 0)
            order.carrier = props.get("carrier", "")
        elif name == "Order Refunded" and props.get("reason") == "damaged":
            if props.get("order_id") in orders:
                orders[props["order_id"]].damaged = True
        elif name == "Product Returned" and props.get("reason") in ("size", "fit"):
            if props.get("order_id") in orders:
                orders[props["order_id"]].returned_for_fit = True
        elif name == "Ticket Closed":
            history.tickets.append(
                (at, props.get("topic", ""), int(props.get("satisfaction") or 3))
            )
            tickets.append((customer_id, at, channel, props))
    for order_id, (customer_id, at) in checkouts.items():
        if order_id not in orders:
            histories[customer_id].abandoned.append(at)
    with_email = set(
        Identity.objects.filter(workspace=workspace, kind="email").values_list(
            "customer_id", flat=True
        )
    )
    for customer_id, history in histories.items():
        history.has_email = customer_id in with_email
    return histories, list(orders.values()), tickets


def build_feedback_demo(*, workspace: Workspace, seed: int, now: datetime) -> int:
    """Create the demo surveys, triggers and answers; returns how many responses were stored."""
    rng = random.Random(seed * 7919 + 17)
    nps = services.survey_create_from_template(workspace=workspace, template="nps")
    purchase = services.survey_create_from_template(workspace=workspace, template="post_purchase")
    support = services.survey_create_from_template(workspace=workspace, template="post_support")
    services.survey_create_from_template(workspace=workspace, template="csat", status="draft")
    services.survey_create_from_template(workspace=workspace, template="ces", status="draft")
    services.trigger_create(
        survey=purchase,
        event_name="Order Completed",
        delay_minutes=3 * 24 * 60,
        frequency_cap_days=POST_PURCHASE_CAP_DAYS,
    )
    services.trigger_create(
        survey=support, event_name="Ticket Closed", delay_minutes=24 * 60, frequency_cap_days=30
    )
    histories, orders, tickets = _histories(workspace)
    ask = _Asker(rng=rng, now=now, customers=Customer.objects.filter(workspace=workspace).in_bulk())
    _post_purchase(ask, purchase, orders)
    _post_support(ask, support, tickets)
    _relationship_nps(ask, nps, histories)
    _delivery_pulse(ask, nps, histories, orders, random.Random(seed * 7919 + 2))
    return ask.store([nps, purchase, support])


@dataclass
class _Asker:
    """Collects the answers per survey; some are left partial (the score only)."""

    rng: random.Random
    now: datetime
    customers: dict[int, Customer]
    pending: dict[int, list] = field(default_factory=lambda: defaultdict(list))

    def __call__(self, survey, key: str, answers: dict, at: datetime, **extra) -> int:
        if at >= self.now:
            return 0  # what would happen after "now" has not happened yet
        complete = self.rng.random() >= PARTIAL_SHARE
        if not complete:
            first = next(iter(answers))
            answers = {first: answers[first]}
        customer = self.customers.get(extra.pop("customer_id"))
        self.pending[survey.pk].append(
            services.NewResponse(
                response_key=key,
                answers=answers,
                at=at,
                complete=complete,
                customer=customer,
                source="email",
                **extra,
            )
        )
        return 1

    def store(self, surveys) -> int:
        made = 0
        for survey in surveys:
            stored, errors = services.responses_bulk_add(
                survey=survey, items=self.pending.pop(survey.pk, [])
            )
            if errors:
                raise RuntimeError(f"demo answer rejected: {errors[0]}")
            made += stored
        return made


def _post_purchase(ask: _Asker, survey, orders: list[Order]) -> int:
    rng, made = ask.rng, 0
    last_asked: dict[int, datetime] = {}
    for order in orders:
        previous = last_asked.get(order.customer_id)
        if previous is not None and order.at - previous < timedelta(days=POST_PURCHASE_CAP_DAYS):
            continue  # the trigger's frequency cap
        last_asked[order.customer_id] = order.at
        if rng.random() >= POST_PURCHASE_RATE:
            continue
        fill = {"days": order.late_days, "item": order.item, "store": order.store or "the shop",
                "carrier": order.carrier or "The courier"}  # fmt: skip
        answers: dict = {}
        if order.damaged:
            answers = {"csat": rng.choice((1, 1, 2)), "problem": "damaged",
                       "comment": rng.choice(DAMAGED).format(**fill)}  # fmt: skip
        elif order.late_days:
            score = 1 if order.late_days >= 4 else rng.choice((1, 2, 2, 3))
            answers = {"csat": score, "problem": "late_delivery",
                       "comment": rng.choice(LATE).format(**fill)}  # fmt: skip
        elif order.returned_for_fit:
            answers = {"csat": rng.choice((2, 3, 3)), "problem": "fit",
                       "comment": rng.choice(FIT).format(**fill)}  # fmt: skip
        elif order.channel == "store":
            answers = {"csat": rng.choice((4, 5, 5, 5)), "highlights": ["staff", "quality"],
                       "comment": rng.choice(STORE_HAPPY).format(**fill)}  # fmt: skip
        else:
            score = rng.choices((3, 4, 5), weights=(12, 38, 50))[0]
            answers = {"csat": score}
            if score >= 4:
                answers["highlights"] = rng.sample(
                    ("delivery", "quality", "price"), rng.randint(1, 2)
                )
                answers["comment"] = rng.choice(ONLINE_HAPPY).format(**fill)
            else:
                answers["problem"] = rng.choice(("checkout", "other"))
                answers["comment"] = rng.choice(
                    CHECKOUT if answers["problem"] == "checkout" else MEH
                )
        if not answers.get("comment"):
            answers.pop("comment", None)
        at = order.at + timedelta(days=3 + order.late_days, hours=rng.uniform(1, 40))
        made += ask(
            survey, f"demo-pp-{order.order_id}", answers, at,
            customer_id=order.customer_id, channel=order.channel, touchpoint="Order Completed",
        )  # fmt: skip
    return made


def _post_support(ask: _Asker, survey, tickets: list[tuple]) -> int:
    rng, made = ask.rng, 0
    for customer_id, closed, channel, props in tickets:
        if rng.random() >= POST_SUPPORT_RATE:
            continue
        satisfaction = int(props.get("satisfaction") or 3)
        topic = props.get("topic", "")
        ces = max(
            1, min(7, {1: 2, 2: 3, 3: 4, 4: 6, 5: 7}[satisfaction] + rng.choice((-1, 0, 0, 1)))
        )
        fill = {
            "hours": rng.choice((6, 9, 14, 20, 26)),
            "resolution": props.get("resolution", "fixed"),
        }
        answers: dict = {"ces": ces}
        answers["resolved"] = "yes" if satisfaction >= 4 else rng.choice(("partly", "no"))
        if ces <= 4:
            pool = (
                SUPPORT_LATE_TOPIC
                if topic == "late delivery" and rng.random() < 0.5
                else SUPPORT_SLOW
            )
            answers["what_went_wrong"] = rng.choice(pool).format(**fill)
        else:
            comment = rng.choice(SUPPORT_GOOD).format(**fill)
            if comment:
                answers["comment"] = comment
        at = closed + timedelta(days=1, hours=rng.uniform(0, 30))
        made += ask(
            survey, f"demo-ps-{props.get('ticket_id', '')}", answers, at,
            customer_id=customer_id, channel=channel, touchpoint="Ticket Closed",
        )  # fmt: skip
    return made


def _relationship_nps(ask: _Asker, survey, histories: dict[int, History]) -> int:
    rng, made = ask.rng, 0
    start = ask.now - timedelta(days=365)
    for wave in range(NPS_WAVES):
        for customer_id in sorted(histories):
            history = histories[customer_id]
            sent = start + timedelta(days=91 * wave + rng.uniform(0, 91))
            if not history.has_email or history.first_seen is None or history.first_seen > sent:
                continue
            if rng.random() >= NPS_RATE:
                continue
            at = sent + timedelta(hours=rng.expovariate(1 / 30))
            answers = _nps_answer(rng, history, at)
            channel = max(history.channels, key=history.channels.__getitem__, default="web")
            made += ask(
                survey, f"demo-nps-{wave}-{customer_id}", answers, at,
                customer_id=customer_id, channel=channel, touchpoint="Relationship NPS",
            )  # fmt: skip
    return made


def _delivery_pulse(
    ask: _Asker, survey, histories: dict[int, History], orders: list[Order], rng: random.Random
) -> int:
    """NPS a day or three after online deliveries of the last ``DELIVERY_PULSE_DAYS``."""
    made = 0
    since = ask.now - timedelta(days=DELIVERY_PULSE_DAYS)
    for order in orders:
        if order.channel not in ("web", "app") or order.at < since:
            continue
        if rng.random() >= DELIVERY_PULSE_RATE:
            continue
        at = order.at + timedelta(days=3 + order.late_days + rng.uniform(1, 3))
        answers = _nps_answer(rng, histories[order.customer_id], at)
        made += ask(
            survey, f"demo-nps-delivery-{order.order_id}", answers, at,
            customer_id=order.customer_id, channel=order.channel, touchpoint="Order Delivered",
        )  # fmt: skip
    return made


def _nps_answer(rng, history: History, at: datetime) -> dict:
    """A score that follows the customer's last 90 days, and a comment about the main reason."""
    since = at - timedelta(days=90)
    recent = [o for o in history.orders if since <= o.at < at]
    late = [o for o in recent if o.late_days]
    damaged = any(o.damaged or o.returned_for_fit for o in recent)
    poor_support = [t for t in history.tickets if since <= t[0] < at and t[2] <= 2]
    abandoned = [t for t in history.abandoned if since <= t < at]
    store_orders = [o for o in history.orders if o.channel == "store" and o.at < at]
    score = rng.choices(range(11), weights=(1, 1, 1, 2, 2, 4, 6, 12, 18, 24, 22))[0]
    reason = ""
    if late:
        score -= rng.randint(3, 6)
        reason = "delivery"
    if poor_support:
        score -= rng.randint(2, 4)
        reason = reason or "support"
    if damaged:
        score -= rng.randint(2, 4)
        reason = reason or "product"
    if abandoned and not recent:
        score -= rng.randint(1, 4)
        reason = reason or "checkout"
    if store_orders and not reason:
        score += rng.randint(0, 2)
    if len([o for o in history.orders if o.at < at]) >= 5 and not reason:
        score += 1
    score = max(0, min(10, score))
    store = (store_orders[-1].store if store_orders else "") or "the shop"
    if score <= 6:
        pools = {"delivery": NPS_DETRACTOR_DELIVERY, "support": NPS_DETRACTOR_SUPPORT,
                 "product": NPS_DETRACTOR_PRODUCT, "checkout": NPS_DETRACTOR_CHECKOUT}  # fmt: skip
        pool = pools.get(reason) or rng.choice(list(pools.values()))
        days = late[-1].late_days if late else 3
        return {"nps": score, "why_detractor": rng.choice(pool).format(days=days)}
    if score <= 8:
        text = rng.choice(NPS_PASSIVE)
        return {"nps": score, **({"why_passive": text} if text else {})}
    pool = NPS_PROMOTER if store_orders else [t for t in NPS_PROMOTER if "{store}" not in t]
    text = rng.choice(pool).format(store=store)
    return {"nps": score, **({"why_promoter": text} if text else {})}
