"""Surveys (NPS, CSAT, CES, custom), their questions, and the responses customers give."""

from django.db import models

from cxloop.core.models import Workspace
from cxloop.customers.models import Customer


class SurveyKind(models.TextChoices):
    NPS = "nps", "Net Promoter Score"
    CSAT = "csat", "Customer satisfaction"
    CES = "ces", "Customer effort"
    CUSTOM = "custom", "Custom"


class SurveyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class Survey(models.Model):
    """A questionnaire with its public link token; answered by customers, measured by metrics."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=SurveyKind.choices, default=SurveyKind.CUSTOM)
    status = models.CharField(max_length=10, choices=SurveyStatus.choices, default="draft")
    languages = models.JSONField(default=list, help_text='Language codes, first is default: ["en"]')
    public_token = models.CharField(max_length=32, unique=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    intro = models.JSONField(
        default=dict, blank=True, help_text='Text above the questions: {"en": "…"}'
    )
    csat_top_box = models.PositiveSmallIntegerField(
        default=4, help_text="CSAT counts answers at or above this value (4 on a 1–5 scale)."
    )
    theme = models.JSONField(
        default=dict,
        blank=True,
        help_text='Public page look: {"color": "#0a7d55", "logo": "https://…/logo.png"}',
    )
    is_review_inbox = models.BooleanField(
        default=False, help_text="Holds imported reviews (rating + text + source), not a survey."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name

    @property
    def default_language(self) -> str:
        return self.languages[0] if self.languages else "en"


class QuestionType(models.TextChoices):
    RATING = "rating", "Rating"
    SINGLE = "single_choice", "Single choice"
    MULTIPLE = "multiple_choice", "Multiple choice"
    TEXT = "text", "Free text"


class Metric(models.TextChoices):
    NONE = "", "None"
    NPS = "nps", "NPS (0–10)"
    CSAT = "csat", "CSAT"
    CES = "ces", "CES (1–7)"


class Question(models.Model):
    """One question. ``text``/``choices`` labels are per language; ``show_if`` is skip logic."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField()
    key = models.SlugField(max_length=50, help_text="Stable id of the question within the survey.")
    type = models.CharField(max_length=20, choices=QuestionType.choices)
    text = models.JSONField(help_text='{"en": "How likely…?", "fr": "…"}')
    required = models.BooleanField(default=False)
    scale_min = models.SmallIntegerField(null=True, blank=True)
    scale_max = models.SmallIntegerField(null=True, blank=True)
    scale_labels = models.JSONField(
        default=dict,
        blank=True,
        help_text='Labels of a rating scale\'s ends: {"en": ["Bad", "Great"]}',
    )
    metric = models.CharField(max_length=8, choices=Metric.choices, blank=True, default="")
    choices = models.JSONField(
        default=list, blank=True, help_text='[{"value": "x", "label": {"en": "X"}}]'
    )
    show_if = models.JSONField(
        null=True, blank=True, help_text='{"question": "nps", "op": "lte", "value": 6}'
    )

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "key"], name="question_unique_key"),
        ]

    def __str__(self) -> str:
        return self.key


class Response(models.Model):
    """One customer's (possibly partial) answers to one survey.

    The metric scores are copied from the answers so metric queries read one narrow table.
    ``response_key`` makes submissions idempotent (the same key twice stores one response).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="survey_responses"
    )
    response_key = models.CharField(max_length=64)
    source = models.CharField(
        max_length=16, default="link", help_text="link, embed, email, api, import, review"
    )
    channel = models.CharField(
        max_length=32, blank=True, help_text="Channel of the touchpoint asked about."
    )
    touchpoint = models.CharField(
        max_length=200, blank=True, help_text="e.g. the event that triggered it."
    )
    language = models.CharField(max_length=10, default="en")
    started_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    completed = models.BooleanField(default=False)
    nps_score = models.SmallIntegerField(null=True, blank=True)
    csat_score = models.SmallIntegerField(null=True, blank=True)
    ces_score = models.SmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True, help_text="The first free-text answer, for listings.")
    invitation = models.ForeignKey(
        "Invitation", null=True, blank=True, on_delete=models.SET_NULL, related_name="responses"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["survey", "response_key"], name="response_unique_key"),
        ]
        indexes = [
            models.Index(fields=["workspace", "submitted_at"], name="response_workspace_time"),
            # the rollup recounts one survey's day (feedback._rollup)
            models.Index(fields=["survey", "submitted_at"], name="response_survey_time"),
        ]

    def __str__(self) -> str:
        return f"{self.survey} #{self.pk}"


class Answer(models.Model):
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE)
    value = models.JSONField(
        help_text="A number, a choice value, a list of choice values, or text."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response", "question"], name="answer_unique_question"),
        ]

    def __str__(self) -> str:
        return f"{self.question_id}: {self.value}"


class Trigger(models.Model):
    """Ask a survey after an event: "post-purchase survey 3 days after Order Completed".

    Pull-based: ``triggers_scan`` reads events newer than ``cursor_event_id`` and schedules one
    :class:`Invitation` per matching event; ``invitations_send_due`` sends them when due.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="triggers")
    event_name = models.CharField(max_length=200)
    conditions = models.JSONField(
        default=dict, blank=True, help_text='Event properties that must match: {"channel": "web"}'
    )
    delay_minutes = models.PositiveIntegerField(default=0)
    frequency_cap_days = models.PositiveIntegerField(
        default=90, help_text="Ask one customer this survey at most once in this many days."
    )
    consent_channel = models.CharField(
        max_length=32, blank=True, default="email", help_text="Consent required; blank: none."
    )
    send_channel = models.CharField(max_length=32, default="email")
    active = models.BooleanField(default=True)
    cursor_event_id = models.BigIntegerField(default=0, help_text="Last event id scanned.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.survey} after {self.event_name}"


class InvitationStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class Invitation(models.Model):
    """A personal request to answer a survey, tied to a customer and the touchpoint behind it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    trigger = models.ForeignKey(Trigger, null=True, blank=True, on_delete=models.SET_NULL)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="invitations")
    event_id = models.BigIntegerField(null=True, blank=True)
    token = models.CharField(max_length=32, unique=True)
    channel = models.CharField(max_length=32, blank=True, help_text="Channel of the touchpoint.")
    touchpoint = models.CharField(max_length=200, blank=True)
    send_channel = models.CharField(max_length=32, default="email")
    email = models.CharField(max_length=255, blank=True)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.SCHEDULED
    )
    reason = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["trigger", "event_id"], name="invitation_unique_trigger_event"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "status", "due_at"], name="invitation_due"),
        ]

    def __str__(self) -> str:
        return f"{self.survey} → {self.customer_id} ({self.status})"


class ScoreDay(models.Model):
    """Daily sums of one score metric for one survey and channel: the dashboard's trend rollup.

    Counts completed responses with that score by the UTC day of ``submitted_at``. NPS keeps
    promoters, passives and detractors; CSAT the answers at or above the survey's top box;
    every metric the sum and the sum of squares of its scores, so means and their intervals
    come out exactly as from the raw rows. Kept by ``feedback._rollup`` in the transaction that
    writes the responses (a touched day is recounted from the raw rows: idempotent), rebuilt by
    ``cxloop rollups rebuild``.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=8, choices=Metric.choices)
    day = models.DateField()
    channel = models.CharField(max_length=32, blank=True)
    n = models.PositiveIntegerField(default=0)
    promoters = models.PositiveIntegerField(default=0)
    passives = models.PositiveIntegerField(default=0)
    detractors = models.PositiveIntegerField(default=0)
    satisfied = models.PositiveIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    total_sq = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "day", "channel", "metric"], name="scoreday_unique_key"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "metric", "day"], name="scoreday_workspace_day"),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} {self.metric} {self.day} {self.channel or '-'}: {self.n}"
