"""Pure survey rules: question specs, answer normalisation and skip logic (no database)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
LANG_RE = re.compile(r"^[a-z]{2}(-[a-z0-9]{2,8})?$")
TYPES = ("rating", "single_choice", "multiple_choice", "text")
METRIC_SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in")
OP_WORDS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥", "in": "in"}
MAX_TEXT = 5000


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem: where (``answers.nps``, ``questions[2].scale_max``, ``line 4``) and what."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class FeedbackError(Exception):
    """Bad input; ``errors`` lists every problem found, each naming its field or position."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


class SurveyInvalid(FeedbackError):
    """A survey or question definition is wrong."""


class AnswerInvalid(FeedbackError):
    """Submitted answers are wrong: nothing was written."""


class SurveyUnavailable(Exception):
    """The survey cannot be answered: closed or past its closing time (``gone``), or a draft."""

    def __init__(self, message: str, *, gone: bool) -> None:
        self.gone = gone
        super().__init__(message)


class AlreadyAnswered(Exception):
    """This anonymous respondent already completed the survey: nothing new was stored."""


@dataclass(frozen=True, slots=True)
class QuestionRule:
    """What validation needs to know about one question."""

    key: str
    type: str
    required: bool
    scale_min: int | None
    scale_max: int | None
    choices: tuple[str, ...]
    show_if: dict | None


def rule_of(question) -> QuestionRule:
    """A :class:`QuestionRule` from a Question model (or anything with the same attributes)."""
    return QuestionRule(
        key=question.key,
        type=question.type,
        required=question.required,
        scale_min=question.scale_min,
        scale_max=question.scale_max,
        choices=tuple(str(c["value"]) for c in question.choices or ()),
        show_if=question.show_if or None,
    )


def _texts(raw: object, languages: Sequence[str], field: str, errors: list) -> dict[str, str]:
    """Per-language text: a dict {lang: text} or one string (the default language)."""
    if isinstance(raw, str):
        raw = {languages[0]: raw}
    if not isinstance(raw, Mapping):
        errors.append(FieldError(field, 'expected text or {"language": "text"}'))
        return {}
    out = {}
    for lang, text in raw.items():
        if lang not in languages:
            errors.append(FieldError(f"{field}.{lang}", f"{lang!r} is not a survey language"))
        elif not isinstance(text, str):
            errors.append(FieldError(f"{field}.{lang}", "expected text"))
        elif text.strip():
            out[lang] = text.strip()
    if languages[0] not in out:
        errors.append(
            FieldError(field, f"text in the default language {languages[0]!r} is required")
        )
    return out


def clean_languages(raw: object) -> list[str]:
    if raw is None or raw == []:
        return ["en"]
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise SurveyInvalid([FieldError("languages", 'expected a list of codes like ["en", "fr"]')])
    langs = [x.strip().lower() for x in raw]
    bad = [x for x in langs if not LANG_RE.match(x)]
    if bad:
        raise SurveyInvalid([FieldError("languages", f"{bad[0]!r} is not a language code")])
    if len(set(langs)) != len(langs):
        raise SurveyInvalid([FieldError("languages", "a language is listed twice")])
    return langs


def clean_questions(specs: object, languages: Sequence[str], *, start: int = 0) -> list[dict]:
    """Validate question specs; returns model field values. Raises SurveyInvalid naming each field.

    ``start`` is the position of the first spec (when adding to existing questions); skip logic
    may refer to questions before it only through ``earlier`` of :func:`clean_question`.
    """
    if not isinstance(specs, list):
        raise SurveyInvalid([FieldError("questions", "expected a list of questions")])
    cleaned: list[dict] = []
    seen: list[dict] = []  # every question so far, valid or not, for key and skip-logic checks
    errors: list[FieldError] = []
    for index, spec in enumerate(specs):
        question = clean_question(spec, languages, earlier=seen, field=f"questions[{index}]")
        if isinstance(question, list):
            errors.extend(question)
            if isinstance(spec, Mapping):
                seen.append({"key": spec.get("key"), "type": spec.get("type"), "metric": ""})
        else:
            question["position"] = start + index
            cleaned.append(question)
            seen.append(question)
    metrics = [q["metric"] for q in cleaned if q["metric"]]
    for metric in set(metrics):
        if metrics.count(metric) > 1:
            errors.append(FieldError("questions", f"only one question may measure {metric}"))
    if errors:
        raise SurveyInvalid(errors)
    return cleaned


def clean_question(
    spec: object, languages: Sequence[str], *, earlier: Sequence[dict], field: str
) -> dict | list[FieldError]:
    """One question spec → model values, or the list of its errors."""
    errors: list[FieldError] = []
    if not isinstance(spec, Mapping):
        return [FieldError(field, "expected an object")]
    key = spec.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        errors.append(FieldError(f"{field}.key", "use 1–50 lower-case letters, digits, '_' or '-'"))
    elif any(q["key"] == key for q in earlier):
        errors.append(FieldError(f"{field}.key", f"{key!r} is used by another question"))
    qtype = spec.get("type")
    if qtype not in TYPES:
        errors.append(FieldError(f"{field}.type", f"expected one of {', '.join(TYPES)}"))
    text = _texts(spec.get("text"), languages, f"{field}.text", errors)
    required = spec.get("required", False)
    if not isinstance(required, bool):
        errors.append(FieldError(f"{field}.required", "expected true or false"))
    metric = spec.get("metric") or ""
    out = {
        "key": key,
        "type": qtype,
        "text": text,
        "required": required,
        "scale_min": None,
        "scale_max": None,
        "scale_labels": {},
        "metric": "",
        "choices": [],
        "show_if": None,
    }
    if qtype == "rating":
        low, high = spec.get("scale_min"), spec.get("scale_max")
        if metric in METRIC_SCALES and low is None and high is None:
            low, high = METRIC_SCALES[metric]
        if not (isinstance(low, int) and isinstance(high, int)) or isinstance(low, bool):
            errors.append(FieldError(f"{field}.scale_min", "a rating needs whole-number ends"))
        elif not 0 <= low < high <= 10:
            errors.append(
                FieldError(f"{field}.scale_max", "a rating scale runs within 0–10, low < high")
            )
        else:
            out["scale_min"], out["scale_max"] = low, high
        if metric:
            if metric not in METRIC_SCALES:
                errors.append(FieldError(f"{field}.metric", "expected nps, csat or ces"))
            elif (low, high) != METRIC_SCALES[metric]:
                want = METRIC_SCALES[metric]
                errors.append(
                    FieldError(f"{field}.metric", f"{metric} needs a {want[0]}–{want[1]} scale")
                )
            else:
                out["metric"] = metric
        labels = spec.get("scale_labels") or {}
        if not isinstance(labels, Mapping) or any(
            not isinstance(v, list | tuple) or len(v) != 2 for v in labels.values()
        ):
            errors.append(
                FieldError(f"{field}.scale_labels", 'expected {"en": ["low end", "high end"]}')
            )
        else:
            out["scale_labels"] = {
                lang: [str(v[0]), str(v[1])] for lang, v in labels.items() if lang in languages
            }
    elif metric:
        errors.append(FieldError(f"{field}.metric", "only rating questions measure a metric"))
    if qtype in ("single_choice", "multiple_choice"):
        choices = spec.get("choices")
        if not isinstance(choices, list) or len(choices) < 2:
            errors.append(
                FieldError(f"{field}.choices", "a choice question needs 2 or more choices")
            )
        else:
            seen = set()
            for n, choice in enumerate(choices):
                where = f"{field}.choices[{n}]"
                if isinstance(choice, str):
                    choice = {"value": _slug(choice), "label": choice}
                if not isinstance(choice, Mapping):
                    errors.append(FieldError(where, "expected {value, label}"))
                    continue
                value = str(choice.get("value") or "").strip()
                if not value:
                    errors.append(FieldError(f"{where}.value", "a choice needs a value"))
                elif value in seen:
                    errors.append(FieldError(f"{where}.value", f"{value!r} is listed twice"))
                seen.add(value)
                label = _texts(choice.get("label", value), languages, f"{where}.label", errors)
                out["choices"].append({"value": value, "label": label})
    show_if = spec.get("show_if")
    if show_if:
        out["show_if"] = _clean_condition(show_if, earlier, f"{field}.show_if", errors)
    return errors or out


COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
MIN_CONTRAST = 4.5  # WCAG AA for text: white text on the brand colour (buttons, chosen scores)


def _luminance(color: str) -> float:
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(color[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_with_white(color: str) -> float:
    """WCAG contrast ratio of white on ``#rrggbb``."""
    return 1.05 / (_luminance(color) + 0.05)


def clean_theme(raw: object) -> dict:
    """``{"color": "#rrggbb", "logo": "https://…"}`` (either may be empty); raises SurveyInvalid.

    The colour carries white text on the public page, so it must be dark enough to read.
    """
    if raw in (None, ""):
        return {}
    if not isinstance(raw, Mapping):
        raise SurveyInvalid(
            [FieldError("theme", 'expected {"color": "#rrggbb", "logo": "https://…"}')]
        )
    errors, out = [], {}
    color = str(raw.get("color") or "").strip()
    if color:
        if not COLOR_RE.match(color):
            errors.append(FieldError("theme.color", "a colour is written #rrggbb, e.g. #0a7d55"))
        elif (ratio := contrast_with_white(color)) < MIN_CONTRAST:
            errors.append(
                FieldError(
                    "theme.color",
                    f"white text on {color} has a contrast of {ratio:.1f}:1, under "
                    f"{MIN_CONTRAST}:1: pick a darker colour so buttons stay readable",
                )
            )
        else:
            out["color"] = color.lower()
    logo = str(raw.get("logo") or "").strip()
    if logo:
        if len(logo) > 500 or not re.fullmatch(r"https://[^\s\"'<>]+", logo):
            errors.append(FieldError("theme.logo", "a logo is an https:// address of an image"))
        else:
            out["logo"] = logo
    if errors:
        raise SurveyInvalid(errors)
    return out


def resolve_auto_metric(spec: Mapping, taken: Iterable[str]) -> dict:
    """``metric: "auto"`` → ``"nps"`` for a 0–10 rating when no other question measures NPS
    (a 0–10 "how likely to recommend" scale is NPS unless said otherwise), else no metric."""
    out = dict(spec)
    if out.get("metric") != "auto":
        return out
    scale = (out.get("scale_min"), out.get("scale_max"))
    nps = out.get("type") == "rating" and scale == METRIC_SCALES["nps"] and "nps" not in taken
    out["metric"] = "nps" if nps else ""
    return out


def _clean_condition(raw: object, earlier: Sequence[dict], field: str, errors: list) -> dict | None:
    if not isinstance(raw, Mapping):
        errors.append(FieldError(field, 'expected {"question": key, "op": "lte", "value": 6}'))
        return None
    target = next((q for q in earlier if q["key"] == raw.get("question")), None)
    if target is None:
        errors.append(
            FieldError(f"{field}.question", "must name an earlier question of this survey")
        )
        return None
    if target["type"] == "text":
        errors.append(FieldError(f"{field}.question", "cannot depend on a free-text answer"))
        return None
    op, value = raw.get("op"), raw.get("value")
    if op not in OPS:
        errors.append(FieldError(f"{field}.op", f"expected one of {', '.join(OPS)}"))
        return None
    if op == "in":
        if not isinstance(value, list) or not value:
            errors.append(FieldError(f"{field}.value", "'in' needs a list of values"))
            return None
    elif op in ("lt", "lte", "gt", "gte") and (
        target["type"] != "rating" or not isinstance(value, int) or isinstance(value, bool)
    ):
        errors.append(FieldError(f"{field}.value", f"{op} compares a rating with a number"))
        return None
    return {"question": target["key"], "op": op, "value": value}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:50] or "choice"


def condition_holds(condition: Mapping, answer: object) -> bool:
    """Whether an (existing) answer satisfies a show_if condition."""
    op, wanted = condition["op"], condition["value"]
    values = answer if isinstance(answer, list) else [answer]
    if op == "in":
        return any(v in wanted for v in values)
    if op == "eq":
        return wanted in values
    if op == "ne":
        return wanted not in values
    if not isinstance(answer, int):
        return False
    return {
        "lt": answer < wanted,
        "lte": answer <= wanted,
        "gt": answer > wanted,
        "gte": answer >= wanted,
    }[op]


def visible_keys(rules: Iterable[QuestionRule], answers: Mapping[str, object]) -> set[str]:
    """Keys of the questions skip logic shows, given these answers (rules in survey order)."""
    shown: set[str] = set()
    for rule in rules:
        cond = rule.show_if
        if cond is None or (
            cond["question"] in shown
            and cond["question"] in answers
            and condition_holds(cond, answers[cond["question"]])
        ):
            shown.add(rule.key)
    return shown


def describe_condition(condition: Mapping) -> str:
    value = condition["value"]
    shown = ", ".join(map(str, value)) if isinstance(value, list) else value
    return f"{condition['question']} {OP_WORDS[condition['op']]} {shown}"


def normalize_answer(rule: QuestionRule, raw: object) -> object:
    """The stored value of one answer; None when unanswered. Raises ValueError with the reason."""
    if raw is None or raw == "" or raw == []:
        return None
    if rule.type == "rating":
        number = _whole_number(raw)
        if number is None:
            raise ValueError(f"{raw!r} is not a whole number")
        # a rating always has both ends (parse_questions); the widest allowed scale otherwise
        low = 0 if rule.scale_min is None else rule.scale_min
        high = 10 if rule.scale_max is None else rule.scale_max
        if not low <= number <= high:
            raise ValueError(f"{number} is out of range {low}–{high}")
        return number
    if rule.type == "single_choice":
        if isinstance(raw, list) and len(raw) == 1:
            raw = raw[0]
        if not isinstance(raw, str | int) or str(raw) not in rule.choices:
            raise ValueError(f"{raw!r} is not one of: {', '.join(rule.choices)}")
        return str(raw)
    if rule.type == "multiple_choice":
        items = raw if isinstance(raw, list) else [raw]
        picked: list[str] = []
        for item in items:
            if not isinstance(item, str | int) or str(item) not in rule.choices:
                raise ValueError(f"{item!r} is not one of: {', '.join(rule.choices)}")
            if str(item) not in picked:
                picked.append(str(item))
        return [c for c in rule.choices if c in picked]
    if not isinstance(raw, str):
        raise ValueError("expected text")
    text = raw.strip()
    if len(text) > MAX_TEXT:
        raise ValueError(f"text is longer than {MAX_TEXT} characters")
    return text or None


def _whole_number(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if re.fullmatch(r"[+-]?\d+(\.0+)?", text):
            return int(float(text))
    return None


def check_answers(
    rules: Sequence[QuestionRule],
    new: Mapping[str, object],
    *,
    prior: Mapping[str, object] | None = None,
    complete: bool,
    drop_hidden: bool = False,
) -> dict[str, object]:
    """Validate ``new`` answers on top of ``prior`` ones; returns the full, visible answer set.

    An answer to a question skip logic hides is an error (or dropped with ``drop_hidden``, as the
    public form does when someone changes an earlier answer); a required question counts only when
    it is shown and ``complete`` is set. Raises AnswerInvalid listing every problem.
    """
    by_key = {rule.key: rule for rule in rules}
    errors: list[FieldError] = []
    merged: dict[str, object] = dict(prior or {})
    if not isinstance(new, Mapping):
        raise AnswerInvalid([FieldError("answers", "expected an object of question key → answer")])
    for key, raw in new.items():
        rule = by_key.get(key)
        if rule is None:
            errors.append(FieldError(f"answers.{key}", "no such question in this survey"))
            continue
        try:
            value = normalize_answer(rule, raw)
        except ValueError as exc:
            errors.append(FieldError(f"answers.{key}", str(exc)))
            continue
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if errors:
        raise AnswerInvalid(errors)
    shown = visible_keys(rules, merged)
    for rule in rules:
        if rule.key in merged and rule.key not in shown:
            # only a condition hides a question, so show_if is set here
            if rule.key in new and not drop_hidden and rule.show_if is not None:
                why = describe_condition(rule.show_if)
                errors.append(
                    FieldError(
                        f"answers.{rule.key}", f"skip logic hides this question (shown if {why})"
                    )
                )
            else:
                del merged[rule.key]
        elif complete and rule.required and rule.key in shown and rule.key not in merged:
            errors.append(FieldError(f"answers.{rule.key}", "an answer is required"))
    if errors:
        raise AnswerInvalid(errors)
    return merged
