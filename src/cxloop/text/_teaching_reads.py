"""Reads about what a workspace taught cxloop: its people's labels and its own model's
trainings (re-exported by ``selectors``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count
from django.db.models.functions import Abs
from django.utils import timezone

from cxloop.core.models import Workspace
from cxloop.text import embeddings, scoring, tuning
from cxloop.text.models import SentimentLabel, SentimentTuning, TextAnalysis

STALE_AFTER = timedelta(hours=1)  # a training queued or running longer has lost its worker
BUSY = (SentimentTuning.State.QUEUED, SentimentTuning.State.RUNNING)


def is_stale(row: SentimentTuning, now: datetime | None = None) -> bool:
    """Queued, or running, for longer than ``STALE_AFTER`` (from when it was asked for, or
    from when a worker started it)."""
    if row.state == SentimentTuning.State.QUEUED:
        since = row.requested_at
    elif row.state == SentimentTuning.State.RUNNING:
        since = row.started_at or row.requested_at
    else:
        return False
    return since < (now or timezone.now()) - STALE_AFTER


@dataclass(frozen=True)
class TeachingStatus:
    """The state of a workspace's teaching: labels per class, the latest training, the one in
    use (None: the shipped head), and how many of its analysed texts carry the version that
    scores new texts now (the rest are being rescored)."""

    counts: dict[str, int]
    latest: SentimentTuning | None
    in_use: SentimentTuning | None
    texts: int
    current: int
    version: str  # what new texts are scored with
    retrain: bool  # the adopted model no longer fits the shipped head or embedding model
    min_labels: int = tuning.MIN_LABELS
    min_per_class: int = tuning.MIN_PER_CLASS

    @property
    def labels(self) -> int:
        return sum(self.counts.values())

    @property
    def busy(self) -> bool:
        """A training is queued or running (not one that lost its worker: training again
        marks that one failed)."""
        return self.latest is not None and self.latest.state in BUSY and not is_stale(self.latest)

    @property
    def enough(self) -> bool:
        return self.labels >= self.min_labels and all(
            self.counts.get(name, 0) >= self.min_per_class for name in tuning.CLASSES
        )


def latest_done(*, workspace_id: int) -> SentimentTuning | None:
    """The workspace's latest training that finished with a verdict (failed ones do not count:
    they change nothing)."""
    return (
        SentimentTuning.objects.filter(workspace_id=workspace_id, state=SentimentTuning.State.DONE)
        .order_by("-pk")
        .first()
    )


def usable_model(row: SentimentTuning | None) -> tuning.Tuned | None:
    """The training's model when it can score here: adopted, trained on the features of the head
    that scores now (its version) and on the embedding model in use. An upgrade that changes
    either leaves it unusable until the workspace trains again."""
    if row is None or not row.adopted or not row.weights:
        return None
    head, model = scoring.active_head(), embeddings.engine()
    if row.base_version != scoring.HEAD_VERSION or head is None or model is None:
        return None
    fitted = tuning.from_bytes(row.weights)
    if fitted.model != model.name or fitted.dims != scoring.tuned_dims(head):
        return None
    return fitted


def sentiment_teaching(*, workspace: Workspace) -> TeachingStatus:
    counts = dict.fromkeys(tuning.CLASSES, 0)
    for label, n in (
        SentimentLabel.objects.filter(workspace=workspace)
        .values_list("label")
        .annotate(n=Count("pk"))
        .values_list("label", "n")
    ):
        counts[label] = n
    latest = SentimentTuning.objects.filter(workspace=workspace).order_by("-pk").first()
    done = latest_done(workspace_id=workspace.pk)
    usable = usable_model(done)
    in_use = done if usable is not None else None
    texts = TextAnalysis.objects.filter(workspace=workspace)
    taught = scoring.Teaching(usable, scoring.tuned_version(in_use.pk) if in_use else "")
    version = scoring.current_version(taught)
    return TeachingStatus(
        counts=counts,
        latest=latest,
        in_use=in_use,
        texts=texts.count(),
        current=texts.filter(version=version).count(),
        version=version,
        retrain=done is not None
        and done.adopted
        and usable is None
        and scoring.active_head() is not None,
    )


def sentiment_label_of(*, analysis: TextAnalysis) -> SentimentLabel | None:
    """A person's label of this text's words, if one was given."""
    if not analysis.digest:
        return None
    return SentimentLabel.objects.filter(
        workspace_id=analysis.workspace_id, digest=analysis.digest
    ).first()


SUGGEST_POOL = 400  # the least sure texts of each label looked at, before copies are dropped


def texts_to_label(*, workspace: Workspace, limit: int = 9) -> list[TextAnalysis]:
    """Texts worth a person's label next (``tuning.in_turn``): the workspace's texts not
    labelled yet, in turn from each label they were given; once the workspace's own model is
    in use, those it is least sure of first (they teach it more per label than texts met by
    chance: bench/README.md "Teaching cxloop your text"), before that a fixed random order. One
    per set of words."""
    labelled = SentimentLabel.objects.filter(workspace=workspace).values("digest")
    unlabelled = (
        TextAnalysis.objects.filter(workspace=workspace)
        .exclude(digest="")
        .exclude(digest__in=labelled)
        .only("pk", "text", "label", "score", "digest", "written_at")
    )
    own = usable_model(latest_done(workspace_id=workspace.pk)) is not None
    if own:
        unlabelled = unlabelled.annotate(certainty=Abs("score")).order_by("certainty", "pk")
    else:
        unlabelled = unlabelled.order_by("digest", "pk")
    pool: dict[str, TextAnalysis] = {}  # the first of each label, one per set of words
    for name in tuning.CLASSES:
        for row in unlabelled.filter(label=name)[:SUGGEST_POOL]:
            pool.setdefault(row.digest, row)
    rows = list(pool.values())
    keys: list[float | str] = [abs(r.score) if own else r.digest for r in rows]
    return [rows[i] for i in tuning.in_turn([r.label for r in rows], keys, limit)]
