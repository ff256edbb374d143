"""Survey writes: create (from scratch or a template), update, questions, open check."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from cxloop.core.models import Workspace
from cxloop.feedback import selectors
from cxloop.feedback.logic import (
    FieldError,
    SurveyInvalid,
    SurveyUnavailable,
    clean_languages,
    clean_question,
    clean_questions,
    clean_theme,
    resolve_auto_metric,
)
from cxloop.feedback.models import (
    Answer,
    Question,
    Survey,
    SurveyKind,
    SurveyStatus,
)
from cxloop.feedback.templates import template_spec

if TYPE_CHECKING:
    pass


PUBLIC_PATH = "/s/{token}/"
# An event that reached us this long after it happened is history (an import, not a live touch):
# triggers do not ask customers about it.
HISTORY_AFTER = timedelta(days=30)
_UNSET = object()

# ---------------------------------------------------------------- surveys


def _token() -> str:
    return secrets.token_urlsafe(12)


def _intro(raw: object, languages: list[str]) -> dict:
    if raw in (None, "", {}):
        return {}
    if isinstance(raw, str):
        return {languages[0]: raw.strip()}
    if not isinstance(raw, Mapping) or any(not isinstance(v, str) for v in raw.values()):
        raise SurveyInvalid([FieldError("intro", 'expected text or {"language": "text"}')])
    return {lang: text.strip() for lang, text in raw.items() if lang in languages and text.strip()}


def _clean_header(
    name: object,
    kind: object,
    status: object,
    *,
    workspace: Workspace,
    survey_id: int | None = None,
) -> list[FieldError]:
    errors = []
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors.append(FieldError("name", "a survey needs a name of 1–200 characters"))
    elif selectors.survey_name_taken(workspace=workspace, name=name, exclude_id=survey_id):
        free = selectors.survey_name_free(workspace=workspace, name=name)
        errors.append(
            FieldError("name", f"another survey is called {name.strip()!r}: try {free!r}")
        )
    if kind not in SurveyKind.values:
        errors.append(FieldError("kind", f"expected one of {', '.join(SurveyKind.values)}"))
    if status not in SurveyStatus.values:
        errors.append(FieldError("status", f"expected one of {', '.join(SurveyStatus.values)}"))
    return errors


@transaction.atomic
def survey_create(
    *,
    workspace: Workspace,
    name: str,
    kind: str = SurveyKind.CUSTOM,
    languages: object = None,
    questions: object = (),
    intro: object = None,
    status: str = SurveyStatus.DRAFT,
    closes_at: datetime | None = None,
) -> Survey:
    """Create a survey with its questions; raises SurveyInvalid naming every bad field."""
    errors = _clean_header(name, kind, status, workspace=workspace)
    langs = clean_languages(languages)
    try:
        cleaned = clean_questions(
            list(questions) if isinstance(questions, list | tuple) else questions, langs
        )
    except SurveyInvalid as exc:
        errors.extend(exc.errors)
        cleaned = []
    if status == SurveyStatus.ACTIVE and not cleaned and not errors:
        errors.append(_NO_QUESTIONS)
    if errors:
        raise SurveyInvalid(errors)
    survey = Survey.objects.create(
        workspace=workspace,
        name=name.strip(),
        kind=kind,
        status=status,
        languages=langs,
        intro=_intro(intro, langs),
        closes_at=closes_at,
        public_token=_token(),
    )
    Question.objects.bulk_create(Question(survey=survey, **q) for q in cleaned)
    return survey


def survey_create_from_template(
    *,
    workspace: Workspace,
    template: str,
    languages: list[str] | None = None,
    name: str | None = None,
    status: str = SurveyStatus.ACTIVE,
) -> Survey:
    """A survey copied from a ready template (see ``cxloop.feedback.templates``).

    Without ``name`` it takes the template's, made unique in the workspace ("Relationship NPS
    (2)"); the web page creates it as a draft to edit and publish.
    """
    try:
        spec = template_spec(template, languages=languages)
    except KeyError as exc:
        raise SurveyInvalid([FieldError("template", exc.args[0])]) from None
    return survey_create(
        workspace=workspace,
        name=name or selectors.survey_name_free(workspace=workspace, name=spec["name"]),
        kind=spec["kind"],
        languages=spec["languages"],
        questions=spec["questions"],
        intro=spec["intro"],
        status=status,
    )


_NO_QUESTIONS = FieldError(
    "status", "a survey without questions cannot take answers: add a question, then publish it"
)


@transaction.atomic
def survey_update(
    *,
    survey: Survey,
    name: object = _UNSET,
    status: object = _UNSET,
    closes_at: object = _UNSET,
    intro: object = _UNSET,
    languages: object = _UNSET,
    questions: object = _UNSET,
    theme: object = _UNSET,
) -> Survey:
    """Change a survey; questions (and languages) can be replaced only while it has no responses."""
    errors = _clean_header(
        survey.name if name is _UNSET else name,
        survey.kind,
        survey.status if status is _UNSET else status,
        workspace=survey.workspace,
        survey_id=survey.pk,
    )
    if errors:
        raise SurveyInvalid(errors)
    cleaned: list[dict] | None = None  # the new questions, when they are replaced
    langs = survey.languages
    if languages is not _UNSET or questions is not _UNSET:
        if survey.responses.exists():
            raise SurveyInvalid(
                [FieldError("questions", "the survey has responses: its questions are fixed")]
            )
        if languages is not _UNSET:
            langs = clean_languages(languages)
        specs = questions if questions is not _UNSET else selectors.survey_spec(survey)["questions"]
        cleaned = clean_questions(list(specs) if isinstance(specs, list | tuple) else specs, langs)
    # asked to take answers (a rename alone is not): only with a question to answer
    opening = (status is not _UNSET or questions is not _UNSET) and (
        survey.status if status is _UNSET else status
    ) == SurveyStatus.ACTIVE
    if opening and not (cleaned if cleaned is not None else survey.questions.exists()):
        raise SurveyInvalid([_NO_QUESTIONS])
    if name is not _UNSET:
        survey.name = str(name).strip()
    if status is not _UNSET:
        survey.status = str(status)
    if closes_at is not _UNSET:
        survey.closes_at = closes_at if isinstance(closes_at, datetime) else None
    if cleaned is not None:
        survey.languages = langs
        survey.questions.all().delete()
        Question.objects.bulk_create(Question(survey=survey, **q) for q in cleaned)
    if intro is not _UNSET:
        survey.intro = _intro(intro, survey.languages)
    if theme is not _UNSET:
        survey.theme = clean_theme(theme)
    survey.save()
    return survey


@transaction.atomic
def question_add(*, survey: Survey, spec: Mapping) -> Question:
    """Append one question (the web builder); skip logic may use any earlier question."""
    earlier = [{"key": q.key, "type": q.type, "metric": q.metric} for q in survey.questions.all()]
    spec = resolve_auto_metric(spec, {q["metric"] for q in earlier if q["metric"]})
    cleaned = clean_question(spec, survey.languages, earlier=earlier, field="question")
    if isinstance(cleaned, list):
        raise SurveyInvalid(cleaned)
    if cleaned["metric"] and any(q["metric"] == cleaned["metric"] for q in earlier):
        raise SurveyInvalid(
            [
                FieldError(
                    "question.metric", f"another question already measures {cleaned['metric']}"
                )
            ]
        )
    responses = survey.responses.count()
    if responses and cleaned["required"]:
        raise SurveyInvalid(
            [
                FieldError(
                    "question.required",
                    f"the survey already has {responses:,} responses: a new question must be "
                    "optional (earlier respondents never saw it). Untick “Answer required”.",
                )
            ]
        )
    position = max((q.position for q in survey.questions.all()), default=-1) + 1
    question = Question.objects.create(survey=survey, position=position, **cleaned)
    survey.save(update_fields=["updated_at"])
    return question


@transaction.atomic
def question_delete(*, survey: Survey, key: str) -> None:
    """Remove a question no answer uses and no other question's skip logic depends on."""
    question = survey.questions.filter(key=key).first()
    if question is None:
        raise SurveyInvalid([FieldError("question", f"no question {key!r}")])
    answers = Answer.objects.filter(question=question).count()
    if answers:
        raise SurveyInvalid(
            [
                FieldError(
                    "question",
                    f"{key!r} has {answers:,} answer{'' if answers == 1 else 's'}: removing it "
                    "would lose them. Make it optional or reword it instead, or close the survey "
                    "and start a new one.",
                )
            ]
        )
    if survey.status == SurveyStatus.ACTIVE and survey.questions.count() == 1:
        raise SurveyInvalid(
            [
                FieldError(
                    "question",
                    f"{key!r} is the only question of a survey that takes answers: add another "
                    "first, or close the survey",
                )
            ]
        )
    dependants = [q.key for q in survey.questions.all() if (q.show_if or {}).get("question") == key]
    if dependants:
        raise SurveyInvalid(
            [FieldError("question", f"{', '.join(dependants)} depend on {key!r} (skip logic)")]
        )
    question.delete()


@transaction.atomic
def question_move(*, survey: Survey, key: str, offset: int) -> None:
    """Move a question one place up (``offset=-1``) or down (``+1``).

    Skip logic may only look back, so a question cannot move above the question it depends on,
    nor below a question that depends on it.
    """
    if offset not in (-1, 1):
        raise SurveyInvalid([FieldError("question", "move by -1 (up) or +1 (down)")])
    questions = list(survey.questions.select_for_update().order_by("position", "pk"))
    index = next((i for i, q in enumerate(questions) if q.key == key), None)
    if index is None:
        raise SurveyInvalid([FieldError("question", f"no question {key!r}")])
    other_index = index + offset
    if not 0 <= other_index < len(questions):
        where = "first" if offset < 0 else "last"
        raise SurveyInvalid([FieldError("question", f"{key!r} is already the {where} question")])
    moving, other = questions[index], questions[other_index]
    earlier, later = (moving, other) if offset < 0 else (other, moving)
    if (earlier.show_if or {}).get("question") == later.key:
        raise SurveyInvalid(
            [
                FieldError(
                    "question",
                    f"{earlier.key!r} depends on {later.key!r} (skip logic), so it must stay after it",
                )
            ]
        )
    questions[index], questions[other_index] = other, moving
    for position, question in enumerate(questions):
        question.position = position
    Question.objects.bulk_update(questions, ["position"])
    survey.save(update_fields=["updated_at"])


def survey_delete(*, survey: Survey) -> None:
    survey.delete()


def survey_check_open(*, survey: Survey, now: datetime | None = None) -> None:
    """Raise SurveyUnavailable unless the survey takes answers now."""
    now = now or timezone.now()
    if survey.status == SurveyStatus.CLOSED or survey.is_review_inbox:
        raise SurveyUnavailable("This survey is closed and no longer takes answers.", gone=True)
    if survey.closes_at is not None and survey.closes_at <= now:
        raise SurveyUnavailable(
            f"This survey closed on {survey.closes_at:%d %b %Y} and no longer takes answers.",
            gone=True,
        )
    if survey.status == SurveyStatus.DRAFT:
        raise SurveyUnavailable("This survey is not open yet.", gone=False)
