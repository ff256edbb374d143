"""The survey editor: questions edited in place beside a live preview of the public page.

Every action (add, edit, remove, move, drag to reorder, rename) posts to one URL; htmx swaps
the editor (``#builder``) and the preview reloads. A refused action answers 422 with the editor
and its message next to the control the person used (``error_at``: a question key, ``new`` for
the add form, ``order``, ``name``). The preview renders the real public survey template for the
draft, with nothing saved.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_http_methods

from cxloop.core.permissions import Capability
from cxloop.feedback import selectors, services
from cxloop.feedback.logic import FeedbackError, describe_condition
from cxloop.web.forms import feedback as forms
from cxloop.web.forms.common import error_list
from cxloop.web.views.feedback import LANGUAGE_NAMES, _invalid, _public_url, _survey
from cxloop.web.views.public_survey import allow_logo, labels_for, question_items
from cxloop.web.workspace import capability_required

TYPES = [("rating", "Rating scale"), ("single_choice", "Single choice"),
         ("multiple_choice", "Multiple choice"), ("text", "Free text")]  # fmt: skip
SCALES = [("0-10", "0–10"), ("1-5", "1–5"), ("1-7", "1–7")]
METRICS = [("", "No metric"), ("nps", "NPS"), ("csat", "CSAT"), ("ces", "CES")]
OPS = [
    ("lte", "is at most (≤)"),
    ("gte", "is at least (≥)"),
    ("eq", "is (=)"),
    ("ne", "is not (≠)"),
]
BLANK_CHOICES = 2  # empty rows under a choice question's choices, to add new ones


def _logic_sources(questions, language: str) -> list[dict]:
    """What skip logic can depend on: each rating or choice question and its possible values."""
    sources = []
    for q in questions:
        if q.type == "text":
            continue
        local = selectors.localized_question(q, language)
        values = [(str(n), str(n)) for n in local.scale] if q.type == "rating" else local.choices
        text = local.text if len(local.text) <= 40 else local.text[:39] + "…"
        sources.append({"key": q.key, "label": f"{q.key}: {text}", "values": values})
    return sources


def _rows(survey) -> list[dict]:
    questions = list(survey.questions.all())
    answers = selectors.question_answer_counts(survey=survey)
    default = survey.default_language
    rows = []
    for index, question in enumerate(questions):
        local = selectors.localized_question(question, default)
        labels = question.scale_labels.get(default) or ["", ""]
        ends = [
            (lang, *(question.scale_labels.get(lang) or ["", ""])) for lang in survey.languages[1:]
        ]
        choices = [
            {
                "value": c["value"],
                "labels": [(lang, c["label"].get(lang, "")) for lang in survey.languages],
            }
            for c in question.choices
        ]
        # blank rows to add choices (enough for two when the type is switched to a choice)
        blank = {"value": "", "labels": [(lang, "") for lang in survey.languages]}
        choices += [blank] * (BLANK_CHOICES if choices else BLANK_CHOICES + 1)
        rows.append(
            {
                "q": question,
                "local": local,
                "condition": describe_condition(question.show_if) if question.show_if else "",
                "texts": [(lang, question.text.get(lang, "")) for lang in survey.languages],
                "answers": answers.get(question.key, 0),
                "scale": f"{question.scale_min}-{question.scale_max}" if question.scale_min is not None else "",
                "low": labels[0],
                "high": labels[1],
                "ends": ends,
                "choice_rows": choices,
                "sources": _logic_sources(questions[:index], default),
            }
        )  # fmt: skip
    return rows


def _context(request: HttpRequest, survey, *, errors: list, error_at: str, values: dict) -> dict:
    rows = _rows(survey)
    return {
        "survey": survey,
        "questions": rows,
        "errors": errors,
        "error_at": error_at,
        "invalid": _invalid(errors),
        "values": values,
        "responses": selectors.response_list(survey=survey).count(),
        "types": TYPES,
        "scales": SCALES,
        "metrics": METRICS,
        "ops": OPS,
        "sources": _logic_sources([row["q"] for row in rows], survey.default_language),
        "public_url": _public_url(request, survey),
    }


class Refused(Exception):
    """An action refused: its messages, where to show them, the add form's values to keep."""

    def __init__(self, errors: list, where: str, values: dict | None = None) -> None:
        super().__init__(where)
        self.errors, self.where, self.values = errors, where, values or {}


def _do(where: str, service, values: dict | None = None, **kwargs) -> None:
    try:
        service(**kwargs)
    except FeedbackError as exc:
        raise Refused(exc.errors, where, values) from None


def _form_errors(form) -> list[services.FieldError]:
    """A refused form's errors named by the labels the builder shows ("Question text (en): …"),
    each kept on its field's name so the field is marked invalid."""
    errors: list[services.FieldError] = []
    for name, messages in form.errors.items():
        field = form.fields.get(name)
        label = f"{field.label}: " if field is not None and field.label else ""
        errors.extend(services.FieldError(name, f"{label}{m}") for m in messages)
    return errors


def _act(survey, post) -> None:
    """Do what the POST asks; raises :class:`Refused` when it cannot be done."""
    action = forms.QuestionActionForm(post)
    if not action.is_valid():
        raise Refused(error_list(action), "new")
    data = action.cleaned_data
    if data["delete"]:
        _do(data["delete"], services.question_delete, survey=survey, key=data["delete"])
    elif data["move"]:
        key, offset = data["move"]
        _do(key, services.question_move, survey=survey, key=key, offset=offset)
    elif data["order"]:
        _do("order", services.questions_reorder, survey=survey, keys=data["order"])
    elif "theme" in post:
        theme = forms.ThemeForm(post)
        if not theme.is_valid():
            raise Refused(_form_errors(theme), "theme")
        _do("theme", services.survey_update, survey=survey, theme=theme.cleaned_data)
    elif "name" in post:
        _do("name", services.survey_update, {"name": post.get("name", "")[:200]},
            survey=survey, name=data["name"])  # fmt: skip
    elif data["edit"]:
        key = data["edit"]
        edit = forms.QuestionEditForm(post, languages=survey.languages)
        if not edit.is_valid():
            raise Refused(_form_errors(edit), key, {"edit": key})
        spec = edit.spec()
        _do(key, services.question_update, {"edit": key}, survey=survey, key=key, spec=spec)
    else:
        values = {k: str(v)[:200] for k, v in post.items() if k != "csrfmiddlewaretoken"}
        values["text_default"] = values.get(f"text_{survey.default_language}", "")
        form = forms.QuestionForm(post, languages=survey.languages)
        if not form.is_valid():
            raise Refused(_form_errors(form), "new", values)
        _do("new", services.question_add, values, survey=survey, spec=form.spec())


@capability_required(Capability.EDIT_SURVEYS)
@require_http_methods(["GET", "POST"])
def survey_build(request: HttpRequest, survey_id: int) -> HttpResponse:
    """The editor page; a POST does one action and answers the editor (422 when refused)."""
    survey = _survey(request, survey_id)
    errors: list = []
    error_at, values = "", {}
    if request.method == "POST":
        try:
            _act(survey, request.POST)
        except Refused as refused:
            errors, error_at, values = refused.errors, refused.where, refused.values
            survey.refresh_from_db()
    context = _context(request, survey, errors=errors, error_at=error_at, values=values)
    template = "feedback/survey_build.html"
    if request.headers.get("HX-Request"):
        template = "feedback/_builder_answer.html"
    return render(request, template, context, status=422 if errors else 200)


@capability_required(Capability.EDIT_SURVEYS)
@xframe_options_sameorigin
def survey_preview(request: HttpRequest, survey_id: int) -> HttpResponse:
    """The public page of this survey as it is now (a draft too): the editor's preview frame.
    Its skip logic runs as on the real page; nothing it sends is saved."""
    survey = _survey(request, survey_id)
    language = survey.default_language
    requested = request.GET.get("lang", "")
    if requested in survey.languages:
        language = requested
    questions = selectors.survey_localized(survey=survey, language=language)
    context = {
        "survey": survey,
        "language": language,
        "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in survey.languages],
        "intro": selectors.survey_intro(survey=survey, language=language),
        "questions": question_items(questions, {}, {}),
        "errors": {},
        "response_key": "",
        "invitation": None,
        "embed": False,
        "channel": "",
        "labels": labels_for(language),
        "prefilled": False,
        "preview": True,
    }
    return allow_logo(render(request, "feedback/public_survey.html", context), survey)
