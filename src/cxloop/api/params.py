"""Input shared by the REST routes: numbers with their range in the schema, object bodies, text."""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja import Path, Query, Schema
from ninja.errors import ValidationError
from ninja.parser import Parser
from pydantic import model_validator

MAX_LIMIT = 500
MAX_OFFSET = 1_000_000_000
MAX_ID = 2**63 - 1  # the largest primary key the databases store
# Characters no database column can hold (PostgreSQL refuses NUL; neither stores half a pair).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "text may not contain NUL (\\x00) or unpaired surrogate characters"


def limit_param(default: int) -> Any:
    return Query(default, ge=1, le=MAX_LIMIT, description=f"Page size, 1–{MAX_LIMIT}")


def offset_param() -> Any:
    return Query(0, ge=0, le=MAX_OFFSET, description=f"Items to skip, 0–{MAX_OFFSET}")


def id_param() -> Any:
    return Path(..., ge=1, le=MAX_ID)


class ObjectIn(Schema):
    """A request body (or a part of one) that must be a JSON object.

    ninja's schemas read attributes, so a list or a number would otherwise pass as an object
    whose every field is missing, and a body of ``[null]`` would be taken for ``{}``.
    """

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, value: Any) -> Any:
        if not isinstance(getattr(value, "_obj", value), dict):
            raise ValueError(f"expected a JSON object, got {_json_type(value)}")
        if (where := unstorable_text(getattr(value, "_obj", value))) is not None:
            raise ValueError(f"{where}: {UNSTORABLE_MESSAGE}")
        return value


def _json_type(value: Any) -> str:
    value = getattr(value, "_obj", value)
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def unstorable_text(value: Any, where: str = "") -> str | None:
    """Where in a decoded JSON value a string holds a character no column stores; else None."""
    if isinstance(value, str):
        return (where or "value") if UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}" if where else str(key)
            if UNSTORABLE.search(str(key)):
                return here
            if (found := unstorable_text(item, here)) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := unstorable_text(item, f"{where}[{index}]")) is not None:
                return found
    return None


class TextParser(Parser):
    """ninja's parser, refusing query and form text that no database column could store."""

    def parse_querydict(
        self, data: MultiValueDict, list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        parsed = super().parse_querydict(data, list_fields, request)
        for name, value in parsed.items():
            texts = value if isinstance(value, list) else [value]
            if any(isinstance(t, str) and UNSTORABLE.search(t) for t in [name, *texts]):
                loc = ("query" if data is request.GET else "form", name)
                raise ValidationError([{"loc": loc, "msg": UNSTORABLE_MESSAGE}])
        return parsed
