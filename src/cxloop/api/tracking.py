"""Segment-compatible HTTP Tracking API: POST /v1/identify|track|page|screen|group|alias|batch.

Thin views: authenticate the write key (HTTP Basic user name, or ``writeKey`` in the body), decode
the body whatever its declared content type, and hand the messages to ``events.services``.
"""

from __future__ import annotations

import base64
import binascii

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django_ratelimit.core import get_usage

from cxloop.core import selectors as core_selectors
from cxloop.events import services as event_services
from cxloop.events.segment import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, PayloadError, decode_body

_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding",
    "Access-Control-Max-Age": "86400",
}


def _json(payload: dict, status: int = 200) -> HttpResponse:
    response = HttpResponse(orjson.dumps(payload), status=status, content_type="application/json")
    for header, value in _CORS.items():
        response[header] = value
    return response


def _header_key(request: HttpRequest) -> str | None:
    """The write key from ``Authorization: Basic base64(key:)``; None when there is no header."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[0]


DEFAULT_TRACK_RATE = "6000/m"


def _rate_limited(request: HttpRequest, key: str) -> HttpResponse | None:
    """A 429 when this write key sent more requests than ``CXLOOP_TRACK_RATE`` allows.

    Counted per key (django-ratelimit, in Django's cache, so per process with the default
    in-memory cache). The default is far above what real clients send (they batch), so only
    a runaway or hostile sender meets it; the clients back off and retry on 429. ``None``
    turns it off. If the cache cannot count, the request goes through.
    """
    rate = getattr(settings, "CXLOOP_TRACK_RATE", DEFAULT_TRACK_RATE)
    if not rate:
        return None
    usage = get_usage(
        request, group="cxloop.track", key=lambda _group, _request: key, rate=rate, increment=True
    )
    if usage is None or not usage["should_limit"] or not usage["limit"]:
        return None
    wait = max(1, int(usage["time_left"]))
    response = _json(
        {
            "success": False,
            "error": f"rate limit: this write key sent more than {rate} requests; "
            f"retry in {wait} s",
        },
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response


def _unauthorized(reason: str) -> HttpResponse:
    response = _json({"success": False, "error": reason}, status=401)
    response["WWW-Authenticate"] = 'Basic realm="cxloop"'
    return response


@csrf_exempt
def track_endpoint(request: HttpRequest, kind: str) -> HttpResponse:
    """One view for every /v1/<kind> endpoint."""
    if request.method == "OPTIONS":
        return _json({})
    if request.method != "POST":
        return _json({"success": False, "error": "use POST"}, status=405)

    key = _header_key(request)
    workspace = core_selectors.workspace_for_write_key(key=key) if key else None
    if key is not None and workspace is None:
        return _unauthorized("invalid write key")
    if key and (limited := _rate_limited(request, key)):  # before the body is even read
        return limited
    is_batch = kind in ("batch", "import")
    try:
        raw = request.body
    except RequestDataTooBig:
        return _json({"success": False, "error": "body is larger than 500 KB"}, status=413)
    try:
        body = decode_body(
            raw,
            content_encoding=request.headers.get("Content-Encoding", ""),
            limit=MAX_BATCH_BYTES if is_batch else MAX_MESSAGE_BYTES,
        )
    except PayloadError as exc:
        if workspace is None:
            return _unauthorized("missing write key")
        return _json({"success": False, "error": str(exc)}, status=exc.status)
    if not isinstance(body, dict):
        if workspace is None:
            return _unauthorized("missing write key")
        return _json({"success": False, "error": "body must be a JSON object"}, status=400)
    if workspace is None:
        body_key = body.get("writeKey")
        workspace = (
            core_selectors.workspace_for_write_key(key=body_key)
            if isinstance(body_key, str)
            else None
        )
        if workspace is None:
            return _unauthorized("invalid write key" if body_key else "missing write key")
        key = str(body_key)  # a string: it found a workspace
        if limited := _rate_limited(request, key):
            return limited

    if is_batch:
        messages = body.get("batch")
        if not isinstance(messages, list):
            return _json({"success": False, "error": "batch: expected a list of messages"}, 400)
        shared_context = body.get("context")
        if isinstance(shared_context, dict):
            messages = [_with_context(m, shared_context) for m in messages]
        expected_type = None
    else:  # transport fields are not part of the message (nor of its content-derived id)
        message = {k: v for k, v in body.items() if k not in ("writeKey", "sentAt")}
        messages, expected_type = [message], kind
    result = event_services.events_ingest(
        workspace=workspace,
        messages=messages,
        expected_type=expected_type,
        sent_at=body.get("sentAt"),
        received_at=timezone.now(),
        trusted=_server_key(key, messages, expected_type),
    )
    payload: dict[str, object] = {
        "success": not result.rejected,
        "accepted": result.accepted,
        "duplicates": result.duplicates,
    }
    if result.rejected:
        payload["errors"] = [
            {"index": r.position, "messageId": r.message_id, "error": r.reason}
            for r in result.rejected
        ]
    if result.warnings:  # stored, with the values named here changed
        payload["warnings"] = [
            {"index": w.position, "messageId": w.message_id, "warning": w.reason}
            for w in result.warnings
        ]
    ok = result.accepted or result.duplicates or not messages
    return _json(payload, status=200 if ok else 400)


def _server_key(key: str | None, messages: list, expected_type: str | None) -> bool:
    """Whether the key is a server (secret) key, the only kind that may join two known users by
    an alias. Asked only for requests holding an alias (the key cache keeps no kind)."""
    if not key or not any(
        isinstance(m, dict) and m.get("type", expected_type) == "alias" for m in messages
    ):
        return False
    return core_selectors.write_key_kind(key=key) == "server"


def _with_context(message: object, shared: dict) -> object:
    if not isinstance(message, dict):
        return message
    own = message.get("context")
    return {**message, "context": {**shared, **own} if isinstance(own, dict) else shared}
