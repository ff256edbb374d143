"""What a rule's trigger watches (``Rule.params``: the segment, the metric and its bound, the
schedule): validation with errors naming the field, and the trigger in words. Split from
``ruledefs`` for size; import these from ``cxloop.workflows.ruledefs``. Pure Python."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cxloop.workflows.definition import DefinitionError, _int, _text

# what each trigger the worker's cycle evaluates watches (``Rule.params``)
PARAM_TRIGGERS = ("segment_entered", "segment_left", "metric_crossed", "schedule")
METRICS = {
    "nps": "NPS (−100 to 100)",
    "csat": "CSAT (% satisfied)",
    "csat_mean": "CSAT mean score",
    "responses": "completed responses",
    "event_count": "count of an event",
}
DIRECTIONS = {"below": "falls below", "above": "rises above", "outside": "leaves"}
# a metric rule's bound: a fixed threshold, or the metric's usual range over earlier windows
BOUNDS = {"fixed": "a fixed threshold", "usual": "its usual range"}
USUAL_METHODS = {"sd": "mean ± k standard deviations", "mad": "median ± k robust deviations (MAD)"}
USUAL_K = (0.5, 10.0)  # bounds of k
USUAL_PERIODS = (3, 52)  # bounds of the number of earlier windows
SCHEDULES = {
    "after_reply": "N days after the customer's last survey reply",
    "after_step": "N days after a workflow step was completed, with no newer reply",
    "daily": "every day at a time (in the business calendar's zone)",
}
MAX_WINDOW_DAYS = 365
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
NUMBER = re.compile(r"^-?\d{1,15}(\.\d{1,6})?$")


def params_validate(
    trigger: str, raw: Any, *, segment_ids: set[int] | None = None,
    survey_ids: set[int] | None = None, template_ids: set[int] | None = None,
) -> dict:  # fmt: skip
    """What the trigger watches, cleaned; DefinitionError naming each field (``segment: …``,
    ``metric: …``, ``days: …``). Triggers that watch nothing in particular take ``{}``."""
    if trigger not in PARAM_TRIGGERS:
        return {}
    raw = raw if isinstance(raw, Mapping) else {}
    errors: list[str] = []
    cleaned: dict[str, Any] = {}
    if trigger in ("segment_entered", "segment_left"):
        segment = _int(raw.get("segment_id"), "segment", 1, 2**63 - 1, errors)
        if segment and segment_ids is not None and segment not in segment_ids:
            errors.append(f"segment: no saved segment {segment} here")
        cleaned["segment_id"] = segment
    elif trigger == "metric_crossed":
        metric = raw.get("metric")
        if metric not in METRICS:
            errors.append(f"metric: {str(metric)[:30]!r} is not one of {', '.join(METRICS)}")
        cleaned["metric"] = metric
        cleaned["days"] = _int(raw.get("days"), "days", 1, MAX_WINDOW_DAYS, errors)
        direction = raw.get("direction") or "below"
        if direction not in DIRECTIONS:
            errors.append(f"direction: {str(direction)[:20]!r} is not below, above or outside")
        cleaned["direction"] = direction
        bound = raw.get("bound") or "fixed"
        if bound not in BOUNDS:
            errors.append(f"bound: {str(bound)[:20]!r} is not fixed or usual")
        if bound == "usual":
            cleaned.update(_usual(raw, errors))
        else:
            if direction == "outside":
                errors.append("direction: outside needs the usual range as the bound")
            threshold = str(raw.get("threshold", "")).strip()
            if not threshold:
                errors.append("threshold: required")
            elif not NUMBER.match(threshold):
                errors.append(f"threshold: {threshold[:20]!r} is not a number")
            else:
                cleaned["threshold"] = float(threshold)
        if metric == "event_count":
            cleaned["event"] = _text(raw.get("event"), "event", errors, high=200)
        elif raw.get("survey_id") not in (None, ""):
            survey = _int(raw.get("survey_id"), "survey", 1, 2**63 - 1, errors)
            if survey and survey_ids is not None and survey not in survey_ids:
                errors.append(f"survey: no survey {survey} here")
            cleaned["survey_id"] = survey
    else:
        kind = raw.get("schedule")
        if kind not in SCHEDULES:
            errors.append(f"schedule: {str(kind)[:30]!r} is not one of {', '.join(SCHEDULES)}")
        cleaned["schedule"] = kind
        if kind == "daily":
            at = str(raw.get("time") or "").strip()
            if not TIME.match(at):
                errors.append(f"time: {at[:10]!r} is not a time like 09:00")
            cleaned["time"] = at
        else:
            cleaned["days"] = _int(raw.get("days"), "days", 1, MAX_WINDOW_DAYS, errors)
        if kind == "after_step":
            if raw.get("template_id") not in (None, ""):
                template = _int(raw.get("template_id"), "template", 1, 2**63 - 1, errors)
                if template and template_ids is not None and template not in template_ids:
                    errors.append(f"template: no workflow template {template} here")
                cleaned["template_id"] = template
            step = _text(raw.get("step"), "step", errors, high=64, required=False)
            if step:
                cleaned["step"] = step
    if errors:
        raise DefinitionError(errors)
    return cleaned


def _usual(raw: Mapping, errors: list[str]) -> dict[str, Any]:
    """A usual-range bound: ``k`` (default 2), ``periods`` (earlier windows, default 8) and
    ``method`` (sd or mad)."""
    out: dict[str, Any] = {"bound": "usual"}
    k = str(raw.get("k") if raw.get("k") not in (None, "") else 2).strip()
    if not NUMBER.match(k) or not USUAL_K[0] <= float(k) <= USUAL_K[1]:
        errors.append(f"k: {k[:20]!r} is not a number from {USUAL_K[0]:g} to {USUAL_K[1]:g}")
    else:
        out["k"] = float(k)
    periods = raw.get("periods") if raw.get("periods") not in (None, "") else 8
    out["periods"] = _int(periods, "periods", *USUAL_PERIODS, errors)
    method = raw.get("method") or "sd"
    if method not in USUAL_METHODS:
        errors.append(f"method: {str(method)[:20]!r} is not sd or mad")
    out["method"] = method
    return out


def describe_params(trigger: str, params: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """The trigger in words ("NPS over the last 30 days falls below 20"); ``names`` gives
    segment names by id."""
    if trigger in ("segment_entered", "segment_left"):
        name = names.get(str(params.get("segment_id")), f"#{params.get('segment_id')}")
        return f"{'enters' if trigger == 'segment_entered' else 'leaves'} segment {name}"
    if trigger == "metric_crossed":
        what = METRICS.get(str(params.get("metric")), "?")
        if params.get("metric") == "event_count":
            what = f"count of {params.get('event')!r}"
        elif params.get("survey_id"):
            what = f"{what} of survey #{params['survey_id']}"
        moves = DIRECTIONS.get(str(params.get("direction")), "?")
        if params.get("bound") == "usual":
            spread = "sd" if params.get("method") != "mad" else "MAD"
            return (f"{what} over the last {params.get('days')} days {moves} its usual range "
                    f"(± {params.get('k'):g} {spread} of the {params.get('periods')} windows "
                    "before)")  # fmt: skip
        return (f"{what} over the last {params.get('days')} days "
                f"{moves} {params.get('threshold')}")  # fmt: skip
    if trigger == "schedule":
        kind = params.get("schedule")
        if kind == "daily":
            return f"every day at {params.get('time')}"
        if kind == "after_reply":
            return f"{params.get('days')} days after the customer's last reply"
        return f"{params.get('days')} days after a step was completed with no newer reply"
    return ""
