"""Journey maps: ordered stages, the touchpoints under each, and the event rules that define them.

A customer *uses* a touchpoint when one of its rules matches an event of theirs (event name, optional
channel, property conditions), and *reaches* a stage when they use any of its touchpoints. The
furthest stage each customer has reached is stored in :class:`CustomerStage` by
``journeys.services.journey_recompute`` so the customer 360 page and filters read one small table.
"""

from django.conf import settings
from django.db import models

from cxloop.core.models import Workspace
from cxloop.customers.models import Customer


class JourneyMap(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    computed_at = models.DateTimeField(
        null=True, blank=True, help_text="When customer stages were last recomputed."
    )
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Volumes, conversion and times of the last recompute."
    )
    # where the journey job stands (journeys._progress): the definition its progress rows were
    # walked under, the event ids it had seen at its last two runs, the last re-walk entry read
    definition_key = models.CharField(max_length=32, blank=True)
    event_position = models.BigIntegerField(default=0)
    event_position_before = models.BigIntegerField(default=0)
    rewalk_position = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="journey_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    """One step of a journey; ``position`` orders them left to right (0 first)."""

    journey = models.ForeignKey(JourneyMap, on_delete=models.CASCADE, related_name="stages")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True)
    feedback = models.JSONField(
        default=dict,
        blank=True,
        help_text='Optional: {"metric": "nps"|"csat"|"ces", "op": "gte"|"lte", "value": n}. '
        "A customer whose latest score of that metric fails it is not placed at this stage.",
    )

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "position"], name="stage_unique_position"),
            models.UniqueConstraint(fields=["journey", "name"], name="stage_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Touchpoint(models.Model):
    """Where a customer meets the brand within a stage (a page, an email, a shop visit...)."""

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="touchpoints")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    channel = models.CharField(max_length=32, blank=True, help_text="Shown on the map.")

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["stage", "name"], name="touchpoint_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Rule(models.Model):
    """Events that count as using a touchpoint: this name, on this channel (any when blank),
    with every property condition true. ``conditions``: ``[{"property", "op", "value"}]``."""

    touchpoint = models.ForeignKey(Touchpoint, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveSmallIntegerField(default=0)
    event = models.CharField(max_length=200)
    channel = models.CharField(max_length=32, blank=True)
    conditions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.event} on {self.channel or 'any channel'}"


class CustomerStage(models.Model):
    """The furthest stage of a journey a customer has reached, and when they first reached it.

    One row per customer and journey: a merge keeps the furthest of the two profiles' rows
    (``journeys.handlers``).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    journey = models.ForeignKey(JourneyMap, on_delete=models.CASCADE, db_index=False)
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="journey_stages", db_index=False
    )
    reached_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "journey"], name="customerstage_unique_customer"
            )
        ]
        indexes = [
            models.Index(fields=["journey", "stage"], name="customerstage_by_stage"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} at {self.stage_id}"


class JourneyProgress(models.Model):
    """One customer's use of one stage (``kind`` s, ``ref`` its position) or touchpoint (``kind``
    t, ``ref`` its id) of a map: matching events, the first one, and the seconds from it to the
    next stage's first event after it (null: not converted). The journey job keeps these per
    customer from the events that arrive, and sums them into the map's metrics."""

    journey = models.ForeignKey(JourneyMap, on_delete=models.CASCADE, db_index=False)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=1)
    ref = models.BigIntegerField()
    events = models.PositiveIntegerField()
    first_at = models.DateTimeField()
    gap_seconds = models.FloatField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "customer", "kind", "ref"], name="journeyprogress_unique"
            )
        ]
        indexes = [  # sums per stage/touchpoint, and the median gap read in index order
            models.Index(fields=["journey", "kind", "ref", "gap_seconds"], name="progress_gap"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} at {self.kind}{self.ref} of {self.journey_id}"


class JourneyRewalk(models.Model):
    """Customers whose events moved or went (merge, unmerge, erasure) since the journey job last
    ran: it walks them again from their own events. Entries go once every map has read them."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    customer_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["workspace", "id"], name="rewalk_workspace")]

    def __str__(self) -> str:
        return f"walk {self.customer_id} again"


class MapWindow(models.Model):
    """A map's range metrics (``journey_walk`` over [since, until), as ``journey.metrics``) kept
    by the journey job for the default range and the one before it, so the map's page need not
    walk 90 days of events per view. Valid only while the map's definition (``definition_key``)
    and the workspace's events are as they were: no event above ``event_position``, no re-walk
    entry above ``rewalk_position``; ``latest_at`` is the latest event's time then (a range
    ending later holds the same events). Merges, unmerges and erasures: see ``mapstore``."""

    journey = models.ForeignKey(JourneyMap, on_delete=models.CASCADE, db_index=False)
    since = models.DateTimeField()
    until = models.DateTimeField()
    definition_key = models.CharField(max_length=32)
    event_position = models.BigIntegerField()
    rewalk_position = models.BigIntegerField()
    latest_at = models.DateTimeField(null=True)
    metrics = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["journey", "since"], name="mapwindow_unique_since")
        ]

    def __str__(self) -> str:
        return f"{self.journey_id} {self.since:%Y-%m-%d}..{self.until:%Y-%m-%d}"


class SavedAnalysis(models.Model):
    """A funnel, path or trend view saved under a name: the query string of its page, opened again
    by linking to the page with it. Pinned ones come first on the saved-analyses page, and a
    pinned funnel is what the funnel page opens with."""

    class Kind(models.TextChoices):
        FUNNEL = "funnel", "Funnel"
        PATH = "path", "Paths"
        TREND = "trend", "Trend"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    query = models.TextField(blank=True, help_text="The page's query string, without '?'.")
    pinned = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pinned", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "kind", "name"], name="savedanalysis_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name
