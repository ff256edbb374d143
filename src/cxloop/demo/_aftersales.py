"""What follows a demo order (split from ``generator`` for size): declined payments and late
deliveries in the incidents "What changed" finds, returns, refunds, support tickets, social
posts and loyalty upgrades."""

from __future__ import annotations

from cxloop.demo import catalog
from cxloop.demo._messages import CURRENCY, DAY, HOUR, MINUTE, YEAR, Messages, Person

LATE_DELIVERY_SHARE = 0.12
RETURN_SHARE = 0.16
DAMAGED_SHARE = 0.03
_TICKET_CHANNELS = ("chat", "phone", "email")

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


class AfterSales(Messages):
    """The aftermath of orders, on top of the message writing."""

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
