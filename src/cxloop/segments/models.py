"""Saved segments: named, reusable filters over customers (traits, events, scores, stages)."""

from django.conf import settings
from django.db import models

from cxloop.core.models import Workspace


class Segment(models.Model):
    """A saved filter. ``definition`` is validated JSON (see ``cxloop.segments.definition``);
    membership is never stored: it is computed live (the list page shows a count kept every
    few minutes, :class:`SegmentCount`)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=500, blank=True)
    definition = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="segment_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """A customer added to a saved segment by hand or by a workflow rule ("add to segment"):
    a member besides those its definition matches, for as long as the row exists."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="added")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    source = models.CharField(max_length=120, blank=True)
    added_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "segment"], name="segment_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.segment_id}"


class SegmentCount(models.Model):
    """A saved segment's member count when it was last counted (``segments.tasks``, every few
    minutes): the rollup the segments list reads, shown with its time. It stands only while
    ``definition`` is still the segment's own; an edited segment is counted live until the
    next count. The number is the live count's at ``counted_at`` (tests compare them)."""

    segment = models.OneToOneField(
        Segment, on_delete=models.CASCADE, primary_key=True, related_name="counted"
    )
    members = models.PositiveIntegerField()
    definition = models.JSONField()
    counted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.segment_id}: {self.members} at {self.counted_at:%Y-%m-%d %H:%M}"
