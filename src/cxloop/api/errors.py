"""The one error body of the REST API, and the error statuses each operation documents.

Every 4xx answers ``{"detail": "...", "errors": [...]}``: ``detail`` says what is wrong (starting
with the parameter's name when one is at fault); ``errors``, when there are several problems, lists
each one, as ``{"field", "message"}`` or as a ``"field: message"`` string.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import ValidationError

# Request parts that name where a parameter was, not which: left out of an error's field name.
_SOURCES = {"query", "path", "body", "form", "file", "header", "cookie"}


class FieldErrorOut(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[FieldErrorOut | str] = []


def errors(*codes: int) -> dict[int, type[ErrorOut]]:
    """``response=`` entries for the error statuses an operation can answer."""
    return dict.fromkeys(codes, ErrorOut)


# 401 not signed in; 403 the role may not (or, on POST/PUT/PATCH/DELETE, no CSRF token); 404 no
# such workspace or object; 422 a parameter out of its range or of the wrong type. Operations with
# a body add 400: a body that is not JSON.
ERRORS = errors(401, 403, 404, 422)
BODY_ERRORS = errors(400, *ERRORS)


def _field(loc: list | tuple, body_names: set[str]) -> str:
    parts = list(loc)
    if parts and parts[0] in _SOURCES:
        source = parts.pop(0)
        if source == "body" and parts and parts[0] in body_names:
            parts.pop(0)  # the handler's argument name (``payload``), not a field of the body
    name = ""
    for part in parts:
        if isinstance(part, str) and ("[" in part or "(" in part):
            continue  # pydantic's name for a union's member, e.g. function-wrap[...]
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def validation_error(request: HttpRequest, exc: ValidationError, *, api: NinjaAPI) -> HttpResponse:
    """ninja's 422 (``detail`` a list) as an :class:`ErrorOut`, naming each field at fault."""
    body_names = {"payload", "body", "data"}
    found = [
        {"field": _field(error.get("loc", ()), body_names), "message": str(error.get("msg", ""))}
        for error in exc.errors
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in found) or "invalid request"
    return api.create_response(request, {"detail": detail, "errors": found}, status=422)
