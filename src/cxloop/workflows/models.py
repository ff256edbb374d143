"""Closing the loop: workflow templates (versioned), their runs with step instances and a
history of every action, rules (WHEN → IF → THEN) with a log of every firing, in-app notices."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from cxloop.core.models import Workspace
from cxloop.customers.models import Customer


class WorkflowTemplate(models.Model):
    """A named process. Its steps live in versions (:class:`TemplateVersion`); a run keeps the
    version it started with, so editing a template never changes a run under way."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=500, blank=True)
    current = models.ForeignKey(
        "TemplateVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # the public intake form (``/w/<token>/``) starts a run of the current version when submitted
    intake_token = models.CharField(max_length=32, unique=True)
    intake_public = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="workflow_template_name")
        ]

    def __str__(self) -> str:
        return self.name


class TemplateVersion(models.Model):
    """One immutable version of a template's steps (validated by ``workflows.definition``)."""

    template = models.ForeignKey(
        WorkflowTemplate, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    steps = models.JSONField(default=list)
    intake_fields = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["template", "number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="template_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"


class RunStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class WorkflowRun(models.Model):
    """One instance of a template version, usually about one customer."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    template = models.ForeignKey(WorkflowTemplate, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(TemplateVersion, on_delete=models.CASCADE, related_name="runs")
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="workflow_runs"
    )
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.OPEN)
    source = models.CharField(max_length=64, help_text="manual, intake, rule:<id>, api")
    context = models.JSONField(default=dict, blank=True, help_text="What started it (ids, score).")
    intake = models.JSONField(default=dict, blank=True, help_text="Intake form answers.")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    started_at = models.DateTimeField()
    first_contact_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "status", "-started_at"], name="run_board"),
        ]

    def __str__(self) -> str:
        return self.title


class StepStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"  # an earlier step is not done yet
    OPEN = "open", "Open"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"  # its condition on earlier answers did not hold


class StepInstance(models.Model):
    """One step of one run, at its position in the version's steps."""

    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=64)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.WAITING)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="workflow_steps",
    )
    role = models.CharField(max_length=16, blank=True, help_text="Any member with it may take it.")
    opened_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answers = models.JSONField(default=dict, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True, help_text="When found overdue.")

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="step_instance_position")
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="step_due")]

    def __str__(self) -> str:
        return f"{self.run} · {self.title}"


class HistoryEntry(models.Model):
    """Who did what to a run, and when: every service that changes a run writes one."""

    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="history")
    step = models.ForeignKey(StepInstance, null=True, blank=True, on_delete=models.CASCADE)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=150, blank=True)  # "system", "rule 3", a user name
    action = models.CharField(max_length=32)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"


class Trigger(models.TextChoices):
    RESPONSE_RECEIVED = "response_received", "a survey response is received"
    EVENT_RECEIVED = "event_received", "an event is received"
    RUN_STARTED = "run_started", "a workflow run starts"
    STEP_COMPLETED = "step_completed", "a workflow step is completed"
    STEP_OVERDUE = "step_overdue", "a workflow step is overdue"
    SEGMENT_ENTERED = "segment_entered", "a customer enters a segment"
    SEGMENT_LEFT = "segment_left", "a customer leaves a segment"
    METRIC_CROSSED = "metric_crossed", "a metric crosses a threshold"
    SCHEDULE = "schedule", "on a schedule"


def new_webhook_secret() -> str:
    return f"whsec_{secrets.token_hex(24)}"


class Rule(models.Model):
    """WHEN ``trigger`` IF every condition holds THEN the actions run, in order (all JSON data,
    validated by ``workflows.definition``; nothing a user writes is evaluated as code)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    name = models.CharField(max_length=120)
    active = models.BooleanField(default=False)
    trigger = models.CharField(max_length=32, choices=Trigger.choices)
    conditions = models.JSONField(default=list, blank=True)
    actions = models.JSONField(default=list)
    event_cursor = models.BigIntegerField(default=0, help_text="Last event id scanned.")
    # what the trigger watches (segment, metric and window, schedule), validated by ruledefs
    params = models.JSONField(default=dict, blank=True)
    # what the worker's cycle remembers between rounds: since when the rule listens (schedule),
    # whether the metric is out of range and how often it crossed; reset when the trigger changes
    state = models.JSONField(default=dict, blank=True)
    webhook_secret = models.CharField(
        max_length=64, default=new_webhook_secret, help_text="Signs this rule's webhooks."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class FiringStatus(models.TextChoices):
    ACTING = "acting", "Acting"  # claimed, its actions under way (resumed if its worker died)
    FIRED = "fired", "Fired"
    PARTIAL = "partial", "Fired, an action failed"
    LOOP_STOPPED = "loop_stopped", "Stopped: loop"


class RuleFiring(models.Model):
    """One time a rule's conditions held, why, and what each action did. ``subject`` (e.g.
    ``response:42``) is unique per rule: the same response or event never fires a rule twice."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="firings")
    subject = models.CharField(max_length=100)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=FiringStatus.choices)
    why = models.TextField()
    chain = models.JSONField(default=list, blank=True, help_text="Rule ids that led here.")
    outcomes = models.JSONField(default=list, blank=True)
    # what the remaining actions need if a worker dies mid-way: the facts, the run and step
    context = models.JSONField(default=dict, blank=True)
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="While acting: another worker resumes it after this."
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["rule", "subject"], name="rule_firing_once")]
        indexes = [models.Index(fields=["workspace", "-at"], name="firing_recent")]

    def __str__(self) -> str:
        return f"{self.rule} on {self.subject}"


class RuleMember(models.Model):
    """A customer a segment rule last saw inside (``inside``) or outside its segment, and how
    often that changed: an enter or leave fires once per change, whatever happens to the worker."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    inside = models.BooleanField(default=True)
    changes = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "customer"], name="rule_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.rule} · {self.customer_id} {'in' if self.inside else 'out'}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"  # no attempts left


class WebhookDelivery(models.Model):
    """One webhook a rule's firing sends: signed, retried with backoff until a 2xx answer or
    the attempts run out, and re-sendable. Goes with its firing (the body holds its facts)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    firing = models.ForeignKey(RuleFiring, on_delete=models.CASCADE, related_name="deliveries")
    url = models.URLField(max_length=500)
    body = models.TextField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_ms = models.PositiveIntegerField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.url} ({self.status})"


class Notice(models.Model):
    """An in-app notification for one member (shown in their task inbox)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    text = models.CharField(max_length=500)
    run = models.ForeignKey(WorkflowRun, null=True, blank=True, on_delete=models.CASCADE)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.text


class BusinessCalendar(models.Model):
    """A workspace's business hours (``workflows.calendar``): steps whose deadline is counted
    in business hours use it; without one, their hours are plain hours."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE)
    definition = models.JSONField(
        help_text='{"zone": "Europe/London", "days": [0, 1, 2, 3, 4], "opens": "09:00", '
        '"closes": "17:00", "holidays": ["2026-12-25"]}'
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"business hours of {self.workspace}"
