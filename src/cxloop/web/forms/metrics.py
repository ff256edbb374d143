"""The dashboard's filters: each a bounded text field, then the metric rules of
:func:`cxloop.metrics.filters.parse_query` (shared with the REST API) on the cleaned values."""

from __future__ import annotations

from django import forms

from cxloop.metrics import selectors as metric_selectors
from cxloop.metrics.filters import FilterError, parse_query, parse_split
from cxloop.metrics.selectors import Tone
from cxloop.web.forms.common import MAX_TEXT

FILTER_PARAMS = (
    "from", "to", "survey", "channel", "touchpoint", "segment", "trait", "by", "metric", "split",
    "tone", "theme", "older", "a", "b", "horizon",  # horizon: months of cohorts (issue 10)
)  # fmt: skip
DEFAULT_SPLIT = "channel"
MAX_OLDER = 10_000  # comments paged back at most this far


def _whole(params: dict, name: str, *, most: int) -> int | None:
    text = params.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) > most:
        raise FilterError(name, f"expected a whole number 0–{most}, got {text[:40]!r}")
    return int(text)


class DashboardForm(forms.Form):
    """``cleaned_data``: the given filters, ``query``, ``split_to_show``, ``since``.

    A bad value is a form error on its parameter; :meth:`filter_error` gives the first as the
    :class:`FilterError` the dashboard shows next to that filter."""

    since = forms.CharField(max_length=64, required=False)
    top_box = forms.CharField(max_length=MAX_TEXT, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in FILTER_PARAMS:
            self.fields[name] = forms.CharField(max_length=MAX_TEXT, required=False)

    def clean(self) -> dict:
        data = super().clean() or {}
        if self.errors:
            return data
        params = {k: v for k, v in data.items() if isinstance(v, str)}
        try:
            data["query"] = parse_query(params)
            data["split_to_show"] = (
                parse_split(params.get("split") or DEFAULT_SPLIT) or DEFAULT_SPLIT
            )
            data["segment_id"] = _whole(params, "segment", most=2**31 - 1)
            data["theme_id"] = _whole(params, "theme", most=2**31 - 1)
            data["older_by"] = _whole(params, "older", most=MAX_OLDER) or 0
            tone = params.get("tone", "").strip()
            if tone and tone not in {t.value for t in Tone}:
                allowed = ", ".join(t.value for t in Tone)
                raise FilterError("tone", f"expected one of {allowed}, got {tone[:40]!r}")
            data["tone_to_show"] = Tone(tone) if tone else None
        except FilterError as error:
            self.add_error(error.param if error.param in self.fields else None, error.message)
        horizon = (data.get("horizon") or "").strip()
        top = metric_selectors.COHORT_HORIZON_MAX
        if horizon and not (horizon.isdigit() and 1 <= int(horizon) <= top):
            self.add_error("horizon", f"expected 1–{top} months, got {horizon[:20]!r}")
        data["horizon_months"] = int(horizon) if horizon.isdigit() else None
        return data

    def chosen(self) -> dict[str, str]:
        """The filters given (valid or not, cut to length), to keep in links and the form."""
        data = self.cleaned_data if self.is_bound and not self.errors else self.data
        return {k: v[:MAX_TEXT] for k in FILTER_PARAMS if (v := str(data.get(k) or "").strip())}

    def filter_error(self) -> FilterError | None:
        for param, messages in self.errors.items():
            return FilterError(param if param != "__all__" else "filters", str(messages[0]))
        return None
