from django.contrib import admin

from cxloop.core.admin import ReadOnlyAdmin, ReadOnlyInline
from cxloop.text.models import (
    Embedding,
    SentimentLabel,
    SentimentTuning,
    TextAnalysis,
    TextTheme,
    Theme,
    ThemeUndo,
)


class TextThemeInline(ReadOnlyInline):
    model = TextTheme


@admin.register(TextAnalysis)
class TextAnalysisAdmin(ReadOnlyAdmin):
    """Computed from responses by the text pipeline; shown for support, never edited."""

    list_display = ("response", "workspace", "label", "score", "written_at", "analysed_at")
    list_filter = ("label", "workspace")
    raw_id_fields = ("response", "customer")
    inlines = [TextThemeInline]
    show_full_result_count = False


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace", "hidden")
    list_filter = ("workspace", "hidden")
    search_fields = ("name",)


@admin.register(Embedding)
class EmbeddingAdmin(ReadOnlyAdmin):
    """The cache of sentence embeddings (one row per model and text digest): computed, never
    edited; deleting rows only makes the texts be embedded again."""

    list_display = ("model", "digest", "dims", "created_at")
    list_filter = ("model",)
    search_fields = ("digest",)
    show_full_result_count = False


@admin.register(SentimentLabel)
class SentimentLabelAdmin(ReadOnlyAdmin):
    """People's sentiment labels (set on the text page, the Teach page or the API, where the
    analyses follow them); shown for support, changed only there."""

    list_display = ("workspace", "label", "source", "labelled_by", "labelled_at")
    list_filter = ("label", "source", "workspace")
    search_fields = ("digest",)
    raw_id_fields = ("labelled_by",)
    show_full_result_count = False


@admin.register(SentimentTuning)
class SentimentTuningAdmin(ReadOnlyAdmin):
    """Trainings of workspaces' own sentiment models: their figures and verdicts."""

    list_display = ("workspace", "state", "labels", "tuned_f1", "shipped_f1", "adopted",
                    "requested_at", "finished_at")  # fmt: skip
    list_filter = ("state", "adopted", "workspace")
    exclude = ("weights",)


@admin.register(ThemeUndo)
class ThemeUndoAdmin(ReadOnlyAdmin):
    """A workspace's last merge or split, kept so the themes page can undo it."""

    list_display = ("workspace", "said", "created_at")
