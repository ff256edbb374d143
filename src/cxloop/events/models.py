"""Every interaction a customer had, on any channel, in Segment's message shapes."""

from django.db import models

from cxloop.core.models import Workspace
from cxloop.customers.models import Customer


class EventType(models.TextChoices):
    IDENTIFY = "identify", "Identify"
    TRACK = "track", "Track"
    PAGE = "page", "Page"
    SCREEN = "screen", "Screen"
    GROUP = "group", "Group"
    ALIAS = "alias", "Alias"


class Event(models.Model):
    """One message as received; ``message_id`` makes retries harmless."""

    # no single-column FK indexes: the composite indexes below lead with these columns
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    type = models.CharField(max_length=10, choices=EventType.choices)
    name = models.CharField(
        max_length=200, blank=True, help_text="Event name, or page/screen name."
    )
    channel = models.CharField(max_length=32)
    properties = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    message_id = models.CharField(max_length=100)
    user_id = models.CharField(max_length=255, blank=True)
    anonymous_id = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "message_id"], name="event_unique_message")
        ]
        indexes = [
            models.Index(fields=["customer", "-occurred_at"], name="event_timeline"),
            models.Index(fields=["workspace", "occurred_at"], name="event_workspace_time"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name}".strip()


class EventOutbox(models.Model):
    """What the analytics engine has still to copy: an id range of stored events, or customers
    whose events moved or went (a merge, unmerge or erasure) and must be copied again.

    Written in the same transaction as the change, deleted by the engine's drainer once the
    engine holds it (``analytics.services.engine_drain``): at-least-once, and the drainer makes
    it exactly-once by event id. A range may also cover another batch's rows (PostgreSQL hands
    out ids to concurrent transactions interleaved); that batch has its own entry, and the
    drainer skips ids the engine has already.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    first_event_id = models.BigIntegerField(default=0)
    last_event_id = models.BigIntegerField(default=0)
    customer_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        if self.customer_ids:
            return f"resync customers {self.customer_ids}"
        return f"events {self.first_event_id}..{self.last_event_id}"
