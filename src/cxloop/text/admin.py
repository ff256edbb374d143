from django.contrib import admin

from cxloop.core.admin import ReadOnlyAdmin, ReadOnlyInline
from cxloop.text.models import Embedding, TextAnalysis, TextTheme, Theme


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
