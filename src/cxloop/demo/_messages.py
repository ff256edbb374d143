"""The demo's message writing (split from ``generator`` for size): the people it invents, the
Segment-spec messages it writes for them at plausible hours, and the time-ordered batches it
hands to ingestion. ``generator.Story`` tells what the people do."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

CHUNK = 5000  # messages per ingestion batch at most
PEOPLE_SLICE = 20_000  # people invented (and held in memory) at a time
CURRENCY = "GBP"
MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
YEAR = 365 * DAY
BATCH_SPAN = 7 * DAY  # an ingestion batch never holds more than a week of activity

# Local hour of day that sessions start, weighted towards lunchtime and evenings.
_HOURS = tuple(range(24))
_HOUR_CUM = tuple(
    accumulate((1, 1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 8, 10, 9, 8, 7, 7, 8, 11, 14, 15, 13, 9, 4))
)
_SHOP_HOURS = tuple(range(9, 20))


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


class Messages:
    """Writes and hands out the demo's messages; subclasses invent the people and their lives."""

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

    def _person(self, n: int) -> Person:
        raise NotImplementedError

    def _live(self, p: Person) -> None:
        raise NotImplementedError

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
