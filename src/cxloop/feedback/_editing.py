"""Editing a survey's questions in place, live surveys included (the web editor).

A survey that already has answers can still be edited the way respondents would not notice:
wording, scale labels, choice labels, adding choices, required, skip logic, the order, and new
optional questions. Edits that would change what stored answers mean are refused with the
reason: a question's type, scale or metric, removing or renaming a choice someone picked, and
removing a question with answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.db import transaction

from cxloop.feedback.logic import (
    FieldError,
    SurveyInvalid,
    _slug,
    clean_question,
    resolve_auto_metric,
)
from cxloop.feedback.models import Answer, Question, Survey


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _answered_values(question: Question) -> set[str]:
    """The choice values stored answers of a choice question use."""
    used: set[str] = set()
    for value in Answer.objects.filter(question=question).values_list("value", flat=True):
        used.update(str(v) for v in (value if isinstance(value, list) else [value]))
    return used


def _unsafe_changes(question: Question, new: Mapping, answers: int) -> list[FieldError]:
    """Why this edit of a question with ``answers`` stored answers is refused (empty: safe)."""
    errors: list[FieldError] = []
    had = _plural(answers, "answer")
    if new["type"] != question.type:
        errors.append(
            FieldError(
                "question.type",
                f"{question.key!r} has {had}: its type cannot change (the answers would no "
                "longer fit it). Add a new question instead.",
            )
        )
        return errors
    if (new["scale_min"], new["scale_max"]) != (question.scale_min, question.scale_max):
        errors.append(
            FieldError(
                "question.scale",
                f"{question.key!r} has {had} on its {question.scale_min}–{question.scale_max} "
                "scale: the scale cannot change. Add a new question instead.",
            )
        )
    if new["metric"] != question.metric:
        errors.append(
            FieldError(
                "question.metric",
                f"{question.key!r} has {had}: what it measures cannot change "
                "(scores already counted would move).",
            )
        )
    if question.choices:
        kept = {c["value"] for c in new["choices"] or ()}
        lost = sorted(_answered_values(question) - kept)
        if lost:
            errors.append(
                FieldError(
                    "question.choices",
                    f"choice {', '.join(repr(v) for v in lost)} of {question.key!r} was picked "
                    "in answers: it cannot be removed or renamed. Change its label instead.",
                )
            )
    return errors


def _as_given(spec: Mapping) -> dict:
    """The parts of a raw spec the safety check compares (before the spec's own checks)."""
    rating = spec.get("type") == "rating"
    raw = spec.get("choices")
    choices: list = raw if isinstance(raw, list) else []
    return {
        "type": spec.get("type"),
        "scale_min": spec.get("scale_min") if rating else None,
        "scale_max": spec.get("scale_max") if rating else None,
        "metric": (spec.get("metric") or "") if rating else "",
        "choices": [
            {"value": _slug(c) if isinstance(c, str) else str(c.get("value"))}
            for c in choices
            if isinstance(c, str | Mapping)
        ],
    }


@transaction.atomic
def question_update(*, survey: Survey, key: str, spec: Mapping) -> Question:
    """Change one question in place; refuses unsafe edits of an answered question (see module)."""
    questions = list(survey.questions.select_for_update().order_by("position", "pk"))
    question = next((q for q in questions if q.key == key), None)
    if question is None:
        raise SurveyInvalid([FieldError("question", f"no question {key!r}")])
    others = [q for q in questions if q.pk != question.pk]
    spec = resolve_auto_metric({**spec, "key": key}, {q.metric for q in others if q.metric})
    earlier = [
        {"key": q.key, "type": q.type, "metric": q.metric}
        for q in questions[: questions.index(question)]
    ]
    answers = Answer.objects.filter(question=question).count()
    if answers:  # explained before any other problem: it is the one that matters
        problems = _unsafe_changes(question, _as_given(spec), answers)
        if problems:
            raise SurveyInvalid(problems)
    cleaned = clean_question(spec, survey.languages, earlier=earlier, field="question")
    if isinstance(cleaned, list):
        raise SurveyInvalid(cleaned)
    if cleaned["metric"] and any(q.metric == cleaned["metric"] for q in others):
        raise SurveyInvalid(
            [
                FieldError(
                    "question.metric", f"another question already measures {cleaned['metric']}"
                )
            ]
        )
    for field, value in cleaned.items():
        setattr(question, field, value)
    question.save()
    survey.save(update_fields=["updated_at"])
    return question


@transaction.atomic
def questions_reorder(*, survey: Survey, keys: Sequence[str]) -> None:
    """Put the questions in this order (every key once); skip logic may only look back."""
    questions = {q.key: q for q in survey.questions.select_for_update()}
    if sorted(keys) != sorted(questions):
        raise SurveyInvalid([FieldError("order", "name every question of the survey exactly once")])
    seen: set[str] = set()
    for key in keys:
        target = (questions[key].show_if or {}).get("question")
        if target and target not in seen:
            raise SurveyInvalid(
                [
                    FieldError(
                        "order",
                        f"{key!r} is shown depending on {target!r} (skip logic), so it must "
                        f"stay after {target!r}",
                    )
                ]
            )
        seen.add(key)
    for position, key in enumerate(keys):
        questions[key].position = position
    Question.objects.bulk_update(list(questions.values()), ["position"])
    survey.save(update_fields=["updated_at"])
