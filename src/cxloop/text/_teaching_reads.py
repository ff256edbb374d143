"""Reads about what a workspace taught cxloop: its people's labels and its own model's
trainings (re-exported by ``selectors``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from cxloop.core.models import Workspace
from cxloop.text import scoring, tuning
from cxloop.text.models import SentimentLabel, SentimentTuning, TextAnalysis


@dataclass(frozen=True)
class Teaching:
    """The state of a workspace's teaching: labels per class, the latest training, the one in
    use (None: the shipped head), and how many of its analysed texts carry the version that
    scores new texts now (the rest are being rescored)."""

    counts: dict[str, int]
    latest: SentimentTuning | None
    in_use: SentimentTuning | None
    texts: int
    current: int
    version: str  # what new texts are scored with
    min_labels: int = tuning.MIN_LABELS
    min_per_class: int = tuning.MIN_PER_CLASS

    @property
    def labels(self) -> int:
        return sum(self.counts.values())

    @property
    def busy(self) -> bool:
        return self.latest is not None and self.latest.state in ("queued", "running")

    @property
    def enough(self) -> bool:
        return self.labels >= self.min_labels and all(
            self.counts.get(name, 0) >= self.min_per_class for name in tuning.CLASSES
        )


def sentiment_teaching(*, workspace: Workspace) -> Teaching:
    counts = dict.fromkeys(tuning.CLASSES, 0)
    for label, n in (
        SentimentLabel.objects.filter(workspace=workspace)
        .values_list("label")
        .annotate(n=Count("pk"))
        .values_list("label", "n")
    ):
        counts[label] = n
    trainings = SentimentTuning.objects.filter(workspace=workspace).order_by("-pk")
    latest = trainings.defer("weights").first()
    done = trainings.filter(state=SentimentTuning.State.DONE).defer("weights").first()
    in_use = done if done is not None and done.adopted else None
    texts = TextAnalysis.objects.filter(workspace=workspace)
    version = scoring.tuned_version(in_use.pk) if in_use is not None else scoring.HEAD_VERSION
    if scoring.active_head() is None:
        version = scoring.current_version()
    return Teaching(
        counts=counts,
        latest=latest,
        in_use=in_use,
        texts=texts.count(),
        current=texts.filter(version=version).count(),
        version=version,
    )


def sentiment_label_of(*, analysis: TextAnalysis) -> SentimentLabel | None:
    """A person's label of this text's words, if one was given."""
    if not analysis.digest:
        return None
    return SentimentLabel.objects.filter(
        workspace_id=analysis.workspace_id, digest=analysis.digest
    ).first()
