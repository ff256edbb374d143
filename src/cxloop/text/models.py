"""One analysis per customer text: sentiment, sentences, drivers, emotions, PII found."""

from django.conf import settings
from django.db import models

from cxloop.core.models import Workspace
from cxloop.customers.models import Customer
from cxloop.feedback.models import Response


class Label(models.TextChoices):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class TextAnalysis(models.Model):
    """A text as analysts see it (PII redacted) with its sentiment.

    ``text`` is the redacted text; the original stays where it came from (a response's comment)
    and is shown only to roles with ``read_pii``. Scores and channel are copied from the response
    so search filters read one table.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    response = models.OneToOneField(
        Response, null=True, blank=True, on_delete=models.CASCADE, related_name="text_analysis"
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="text_analyses"
    )
    source = models.CharField(max_length=16, help_text="survey, review, import, api, …")
    channel = models.CharField(max_length=32, blank=True)
    written_at = models.DateTimeField()
    nps_score = models.SmallIntegerField(null=True, blank=True)
    csat_score = models.SmallIntegerField(null=True, blank=True)
    ces_score = models.SmallIntegerField(null=True, blank=True)
    text = models.TextField(help_text="The text with personal data redacted.")
    pii = models.JSONField(default=list, help_text='Kinds of personal data redacted: ["email"]')
    score = models.FloatField(help_text="VADER compound, -1 (negative) to +1 (positive).")
    label = models.CharField(max_length=8, choices=Label.choices)
    sentences = models.JSONField(default=list)
    drivers = models.JSONField(default=list, help_text='[{"word": "slow", "valence": -1.2}]')
    emotions = models.JSONField(default=list)
    english = models.BooleanField(default=True)
    truncated = models.BooleanField(default=False)
    version = models.CharField(max_length=64)
    digest = models.CharField(
        max_length=64,
        blank=True,
        help_text="sha256 of the normalised text: the key of its cached embedding (Embedding).",
    )
    analysed_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "written_at"], name="text_workspace_time"),
            models.Index(fields=["workspace", "label", "written_at"], name="text_workspace_label"),
        ]

    def __str__(self) -> str:
        return f"text #{self.pk} ({self.label})"


class Theme(models.Model):
    """A theme discovered in a workspace's texts (TF-IDF + NMF), then curated by people:
    renamed, merged, split, given keyword rules, hidden. ``curated`` themes survive a new
    discovery."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    name = models.CharField(max_length=120)
    phrases = models.JSONField(default=list, help_text="Key phrases, most typical first.")
    rules = models.JSONField(
        default=list,
        blank=True,
        help_text="Words or phrases a person chose: a text containing any carries the theme.",
    )
    hidden = models.BooleanField(default=False)
    curated = models.BooleanField(
        default=False, help_text="Renamed, merged, split or given rules by a person."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class TextTheme(models.Model):
    """A text carries a theme (several per text are allowed), with the strength of the link."""

    analysis = models.ForeignKey(TextAnalysis, on_delete=models.CASCADE, related_name="themes")
    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="texts")
    weight = models.FloatField()
    # made only because a keyword rule matched: goes when the theme's rules no longer match
    by_rule = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["analysis", "theme"], name="text_theme_unique"),
        ]

    def __str__(self) -> str:
        return f"text {self.analysis_id} in theme {self.theme_id}"


class Embedding(models.Model):
    """A text's sentence embedding, cached so no text is embedded twice: one row per model and
    text (sha256 of the normalised text), the vector as little-endian float32 bytes. Not tied to
    a workspace: the same words give the same vector wherever they were written."""

    model = models.CharField(max_length=64)
    digest = models.CharField(max_length=64)
    dims = models.PositiveSmallIntegerField()
    vector = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "digest"], name="text_embedding_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.digest[:12]}"


class SentimentLabel(models.Model):
    """A person's reading of a text's sentiment: it overrides the model's label for every text
    with the same words in the workspace, and the workspace's own model learns from it
    (``tuning``). ``text`` is redacted, as analysts see it; ``digest`` is its cache key."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    digest = models.CharField(max_length=64)
    text = models.TextField()
    label = models.CharField(max_length=8, choices=Label.choices)
    source = models.CharField(max_length=16, help_text="page (a correction) or upload")
    labelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    labelled_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "digest"], name="text_label_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.digest[:12]}: {self.label}"


class SentimentTuning(models.Model):
    """One training of a workspace's own sentiment model: queued, running, done or failed;
    when done, its cross-validated macro-F1 against the shipped head's on the same labelled
    texts, and whether it was adopted (it scores the workspace's texts from then on)."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    error = models.TextField(blank=True)
    labels = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, help_text='{"negative": 40, "neutral": 25, …}')
    tuned_f1 = models.FloatField(null=True, blank=True)
    shipped_f1 = models.FloatField(null=True, blank=True)
    gain_low = models.FloatField(null=True, blank=True)
    gain_high = models.FloatField(null=True, blank=True)
    adopted = models.BooleanField(default=False)
    weights = models.BinaryField(null=True, blank=True)
    base_version = models.CharField(max_length=32, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace"],
                condition=models.Q(state__in=["queued", "running"]),
                name="text_tuning_one_busy",
            ),
        ]

    def __str__(self) -> str:
        return f"tuning #{self.pk} ({self.state})"


class ThemeUndo(models.Model):
    """The workspace's last merge or split, as it can be undone: the themes it changed or
    deleted as they were before (``state["themes"]``: name, phrases, rules, flags and texts with
    their weights) and the themes it made (``state["made"]``). One per workspace at most; any
    later curation of the themes forgets it."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE)
    said = models.CharField(max_length=400, help_text="What the change did, as people read it.")
    state = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.said
