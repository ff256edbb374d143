"""Outgoing webhooks: signed like Stripe's (``Cxloop-Signature: t=<unix time>,v1=<hex
HMAC-SHA256 of "<t>.<body>" with the rule's secret>``), one delivery row each, retried with
backoff (1, 5, 30, 120, 360 minutes) until a 2xx answer, then marked failed; re-sendable.

Each attempt is claimed first (a conditional update on the attempt count), so two workers never
send the same attempt; a worker that dies after its claim leaves the attempt due again after
``LEASE``; ``Cxloop-Delivery: <id>`` lets a receiver drop a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from cxloop.workflows.models import DeliveryStatus, RuleFiring, WebhookDelivery

TIMEOUT = 5.0  # seconds per attempt
BACKOFF_MINUTES = (1, 5, 30, 120, 360)  # waits after attempts 1–5; the 6th is the last
MAX_ATTEMPTS = len(BACKOFF_MINUTES) + 1
# A claimed attempt is due again after this if its worker never records the answer (it died):
# the same delivery is sent again, with the same Cxloop-Delivery id for the receiver to drop.
LEASE = timedelta(minutes=2)


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The ``Cxloop-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def delivery_create(*, firing: RuleFiring, url: str, body: bytes, at: datetime) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        workspace_id=firing.workspace_id, firing=firing, url=url, body=body.decode(),
        created_at=at, next_attempt_at=at,
    )  # fmt: skip


def delivery_attempt(*, delivery: WebhookDelivery, now: datetime | None = None) -> WebhookDelivery:
    """Send one attempt (when it is due and nobody else claimed it) and record the answer."""
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
    if not claimed:
        delivery.refresh_from_db()
        return delivery
    delivery.refresh_from_db()
    secret = delivery.firing.rule.webhook_secret
    body = delivery.body.encode()
    stamp = int(time.time())
    request = urllib.request.Request(  # noqa: S310 (the URL was checked to be http or https)
        delivery.url, data=body, method="POST",
        headers={
            "Content-Type": "application/json", "User-Agent": "cxloop-rules",
            "Cxloop-Signature": signature(secret=secret, timestamp=stamp, body=body),
            "Cxloop-Delivery": str(delivery.pk),
        },
    )  # fmt: skip
    started = time.monotonic()
    status, error = None, ""
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        error = str(getattr(exc, "reason", exc))[:300]
    delivery.last_ms = int((time.monotonic() - started) * 1000)
    delivery.last_status, delivery.last_error = status, error
    delivery.next_attempt_at = None
    if status is not None and 200 <= status < 300:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
    else:
        delivery.next_attempt_at = now + timedelta(minutes=BACKOFF_MINUTES[delivery.attempts - 1])
    delivery.save(update_fields=["last_ms", "last_status", "last_error", "status",
                                 "delivered_at", "next_attempt_at"])  # fmt: skip
    return delivery


def delivery_outcome(delivery: WebhookDelivery) -> str:
    """One line for the firing log."""
    answer = f"HTTP {delivery.last_status}" if delivery.last_status else delivery.last_error
    if delivery.status == DeliveryStatus.DELIVERED:
        return f"{answer} in {delivery.last_ms} ms (delivery #{delivery.pk})"
    then = (
        f"retry at {delivery.next_attempt_at:%Y-%m-%d %H:%M}"
        if delivery.next_attempt_at else "no attempts left"
    )  # fmt: skip
    return f"not delivered: {answer} after {delivery.last_ms} ms; {then} (delivery #{delivery.pk})"


def deliveries_retry_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Attempt every pending delivery whose next attempt is due; returns how many were sent."""
    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at")[:limit]
    sent = 0
    for delivery in due.select_related("firing__rule"):
        before = delivery.attempts
        if delivery_attempt(delivery=delivery, now=now).attempts > before:
            sent += 1
    return sent


def delivery_resend(*, delivery: WebhookDelivery, now: datetime | None = None) -> WebhookDelivery:
    """Send a delivery again now (a failed one gets a fresh round of attempts)."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now
    )
    delivery.refresh_from_db()
    return delivery_attempt(delivery=delivery, now=now)
