"""Forms of the signed-in survey pages: new survey, builder, status, triggers, imports."""

from __future__ import annotations

import re
from typing import cast

from django import forms

from cxloop.feedback import importing, selectors
from cxloop.feedback.logic import TYPES, _slug
from cxloop.web.forms.common import MAX_TEXT

SCALES = {"0-10": (0, 10), "1-5": (1, 5), "1-7": (1, 7)}
OPS = ("lte", "gte", "eq", "ne")
METRICS = ("auto", "", "nps", "csat", "ces")
MAX_EDIT_CHOICES = 60
MAX_CHOICES_TEXT = 5_000
MAX_DELAY_DAYS = 365
MAX_CAP_DAYS = 3_650
MAX_LANGUAGES = 20
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


def _choices(values) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


class SurveyNewForm(forms.Form):
    """From a template (``template``) or from scratch (``name``, ``kind``); the service checks
    the language codes and the name's rules and names any problem."""

    template = forms.CharField(max_length=64, required=False)
    languages = forms.MultipleChoiceField(required=False)
    other_languages = forms.CharField(max_length=MAX_TEXT, required=False)
    name = forms.CharField(max_length=200, required=False, strip=False)
    kind = forms.ChoiceField(choices=selectors.SurveyKind.choices, required=False)

    def __init__(self, *args, languages: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.MultipleChoiceField, self.fields["languages"]).choices = _choices(languages)

    def clean(self) -> dict:
        data = super().clean() or {}
        extra = [x.strip() for x in (data.get("other_languages") or "").split(",")]
        data["all_languages"] = (data.get("languages") or ["en"]) + [x for x in extra if x]
        if len(data["all_languages"]) > MAX_LANGUAGES:
            self.add_error("other_languages", f"at most {MAX_LANGUAGES} languages")
        data["kind"] = data.get("kind") or selectors.SurveyKind.CUSTOM
        return data


class SurveyStatusForm(forms.Form):
    status = forms.ChoiceField(choices=selectors.SurveyStatus.choices)
    closes_at = forms.DateTimeField(required=False)


class QuestionActionForm(forms.Form):
    """The builder's actions: ``delete=<key>``, ``move=<key>:up|down``, ``order=k1,k2,…``
    (dragged), ``edit=<key>`` (with a :class:`QuestionEditForm`) or ``name`` (rename)."""

    delete = forms.CharField(max_length=64, required=False)
    edit = forms.CharField(max_length=64, required=False)
    order = forms.CharField(max_length=MAX_TEXT, required=False)
    name = forms.CharField(max_length=200, required=False, strip=False)
    move = forms.RegexField(regex=r"^.{1,64}:(up|down)$", max_length=70, required=False)

    def clean_move(self) -> tuple[str, int] | None:
        move = self.cleaned_data.get("move")
        if not move:
            return None
        key, _, direction = move.rpartition(":")
        return key, -1 if direction == "up" else 1

    def clean_order(self) -> list[str]:
        return [k.strip() for k in (self.cleaned_data.get("order") or "").split(",") if k.strip()]


class QuestionForm(forms.Form):
    """One question of the builder; ``spec()`` is what ``services.question_add`` takes (it checks
    the question's own rules: key format, unique keys, texts, skip logic)."""

    # labels as the builder shows them: a refused question names what people see
    key = forms.CharField(max_length=64, required=False, label="Key")
    type = forms.ChoiceField(choices=_choices(TYPES), label="Type")
    required = forms.BooleanField(required=False, label="Answer required")
    scale = forms.ChoiceField(choices=_choices(SCALES), required=False, label="Rating scale")
    metric = forms.ChoiceField(choices=_choices(METRICS), required=False, label="Counts towards")
    low_label = forms.CharField(max_length=MAX_TEXT, required=False, label="Low end label")
    high_label = forms.CharField(max_length=MAX_TEXT, required=False, label="High end label")
    choices = forms.CharField(
        max_length=MAX_CHOICES_TEXT, required=False, strip=False, label="Choices"
    )
    show_if_question = forms.CharField(max_length=64, required=False, label="Show this question")
    show_if_op = forms.ChoiceField(choices=_choices(OPS), required=False, label="Condition")
    show_if_value = forms.CharField(max_length=MAX_TEXT, required=False, label="Value")

    def __init__(self, *args, languages: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.languages = languages
        for lang in languages:
            self.fields[f"text_{lang}"] = forms.CharField(
                max_length=1000, required=False, strip=False, label=f"Question text ({lang})"
            )
        for lang in languages[1:]:  # the default language's ends are low_label / high_label
            for end in ("low", "high"):
                self.fields[f"{end}_label_{lang}"] = forms.CharField(
                    max_length=MAX_TEXT, required=False, label=f"{end.title()} end label ({lang})"
                )

    def spec(self) -> dict:
        data, languages = self.cleaned_data, self.languages
        qtype = data["type"]
        spec: dict = {
            "key": data["key"],
            "type": qtype,
            "required": data["required"],
            "text": {lang: data[f"text_{lang}"] for lang in languages},
        }
        if qtype == "rating":
            spec["scale_min"], spec["scale_max"] = SCALES[data["scale"] or "1-5"]
            spec["metric"] = data["metric"]
            ends = {languages[0]: [data["low_label"], data["high_label"]]}
            for lang in languages[1:]:
                ends[lang] = [data[f"low_label_{lang}"], data[f"high_label_{lang}"]]
            given = {lang: pair for lang, pair in ends.items() if any(pair)}
            if given:
                spec["scale_labels"] = given
        if qtype in ("single_choice", "multiple_choice"):
            choices = []
            for line in data["choices"].splitlines():
                if not line.strip():
                    continue
                labels = [part.strip() for part in line.split("|")]
                choices.append(
                    {"value": _slug(labels[0]), "label": dict(zip(languages, labels, strict=False))}
                )
            spec["choices"] = choices
        if data["show_if_question"]:
            raw = data["show_if_value"]
            value: object = int(raw) if re.fullmatch(r"-?\d{1,9}", raw) else raw
            spec["show_if"] = {
                "question": data["show_if_question"],
                "op": data["show_if_op"] or "eq",
                "value": value,
            }
        return spec


class QuestionEditForm(QuestionForm):
    """One existing question edited in place. Choices come as rows (``choice_value_<i>`` kept
    from the stored choice, ``choice_<i>_<lang>`` its labels) so a label can change while the
    stored value, which answers use, stays; a row with an empty label is a removed choice."""

    choice_count = forms.IntegerField(min_value=0, max_value=MAX_EDIT_CHOICES, required=False)

    def __init__(self, *args, languages: list[str], **kwargs) -> None:
        super().__init__(*args, languages=languages, **kwargs)
        try:
            count = min(int(self.data.get("choice_count") or 0), MAX_EDIT_CHOICES)
        except (TypeError, ValueError):
            count = 0
        self.choice_rows = max(count, 0)
        for i in range(self.choice_rows):
            self.fields[f"choice_value_{i}"] = forms.CharField(max_length=64, required=False)
            for lang in languages:
                self.fields[f"choice_{i}_{lang}"] = forms.CharField(max_length=1000, required=False)

    def spec(self) -> dict:
        spec = super().spec()
        if spec["type"] in ("single_choice", "multiple_choice") and self.choice_rows:
            data, languages = self.cleaned_data, self.languages
            choices = []
            for i in range(self.choice_rows):
                labels = {lang: data[f"choice_{i}_{lang}"] for lang in languages}
                if not labels[languages[0]].strip():
                    continue
                value = data[f"choice_value_{i}"] or _slug(labels[languages[0]])
                choices.append({"value": value, "label": labels})
            spec["choices"] = choices
        return spec


class ThemeForm(forms.Form):
    """The public page's look; ``services.survey_update`` checks the colour and the address."""

    color = forms.CharField(max_length=7, required=False, label="Brand colour")
    logo = forms.CharField(max_length=500, required=False, label="Logo address (https)")


class TriggerForm(forms.Form):
    """A survey's trigger; the labels are the page's, so its errors name what people see."""

    event_name = forms.CharField(max_length=200, label="Event name")
    condition_key = forms.CharField(max_length=64, required=False, label="Only if property")
    condition_value = forms.CharField(max_length=MAX_TEXT, required=False, label="equals")
    delay_days = forms.FloatField(
        min_value=0, max_value=MAX_DELAY_DAYS, required=False, label="Wait (days)"
    )
    frequency_cap_days = forms.IntegerField(
        min_value=0, max_value=MAX_CAP_DAYS, required=False, label="At most once per (days)"
    )
    require_consent = forms.BooleanField(required=False, label="Only customers with email consent")
    # the service names some fields its own way
    SERVICE_FIELDS = {"conditions": "condition_key", "delay_minutes": "delay_days"}

    @classmethod
    def field_of(cls, name: str) -> str:
        """The form field a service's error names (``delay_minutes`` is ``delay_days``)."""
        return cls.SERVICE_FIELDS.get(name, name)

    @classmethod
    def label_of(cls, name: str) -> str:
        field = cls.base_fields.get(cls.field_of(name))
        return str(field.label) if field is not None and field.label else name

    def trigger_kwargs(self) -> dict:
        data = self.cleaned_data
        key = data["condition_key"]
        cap = data["frequency_cap_days"]
        return {
            "event_name": data["event_name"],
            "conditions": {key: data["condition_value"]} if key else {},
            "delay_minutes": round((data["delay_days"] or 0) * 24 * 60),
            "frequency_cap_days": 90 if cap is None else cap,
            "consent_channel": "email" if data["require_consent"] else "",
        }


class DelimiterForm(forms.Form):
    delimiter = forms.ChoiceField(
        choices=list(importing.DELIMITER_LABELS.items()),
        required=False,
        error_messages={"invalid_choice": f"choose one of {', '.join(importing.DELIMITER_LABELS)}"},
    )

    def clean_delimiter(self) -> str:
        return self.cleaned_data.get("delimiter") or "comma"


class ImportUploadForm(DelimiterForm):
    file = forms.FileField()


class ImportKeptForm(DelimiterForm):
    """The second step names the file kept from the first (a random hex id)."""

    upload_id = forms.RegexField(regex=UPLOAD_ID)


class ImportMappingForm(forms.Form):
    """One target per column of the kept file (``map_<i>``): a question, a field or nothing."""

    def __init__(self, *args, header: list[str], targets: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.header = header
        for index in range(len(header)):
            self.fields[f"map_{index}"] = forms.ChoiceField(choices=targets, required=False)

    def mapping(self) -> dict[str, str]:
        return {c: self.cleaned_data.get(f"map_{i}") or "" for i, c in enumerate(self.header)}


class ReviewImportForm(DelimiterForm):
    file = forms.FileField(error_messages={"required": "Choose a CSV file of reviews."})
    site = forms.CharField(max_length=32, required=False)


class PublicSurveyParamsForm(forms.Form):
    """The public answer page's own parameters (its answers are checked by ``feedback.logic``):
    ``lang``, the invitation token ``i``, the page's response key ``rk``, ``embed``, ``channel``."""

    lang = forms.CharField(max_length=35, required=False)
    i = forms.CharField(max_length=64, required=False)
    rk = forms.CharField(max_length=64, required=False)
    embed = forms.CharField(max_length=1, required=False)
    channel = forms.CharField(max_length=MAX_TEXT, required=False)

    def values(self) -> dict[str, str]:
        """Each parameter, or "" where it is unusable (a NUL byte, too long): a respondent is
        never turned away over a link parameter, a bad one counts as absent."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {
            name: "" if name in self.errors else cleaned.get(name) or "" for name in self.fields
        }
