"""Reading Segment-spec messages (identify, track, page, screen, group, alias) into one shape.

Accepts what real clients send: ``timestamp`` or ``originalTimestamp`` (+``sentAt`` for clock skew),
identify traits at top level or only in ``context.traits``, unknown extra fields, the literals
``NaN``/``Infinity`` that Python clients write for float('nan') and integers beyond 64 bits (see
:func:`loads_lenient` and :func:`screen_message`). Every problem is reported as a MessageError
naming the field.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from cxloop.events.channels import infer_channel, normalize_channel

TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_NAME = 200
MAX_ID = 255
MAX_MESSAGE_ID = 100
MAX_DEPTH = 64  # objects/arrays nested in one message, the message itself counting as 1
# Event times outside [EARLIEST, received + AHEAD] are refused: nothing digital happened before
# the Unix epoch, and a clock more than a day ahead is broken. The range also keeps every later
# date computation (windows, periods) far from the ends of the calendar.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
AHEAD = timedelta(days=1)
# What orjson can store as an integer; others are kept as their exact digits, as a string.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_DIGITS = bytes.maketrans(b"0123456789", b"\x01" * 10)
_LONG_NUMBER = b"\x01" * 19  # 19+ digits in a row: maybe an integer orjson would turn into a float


class MessageError(ValueError):
    """One message is unusable; the text says which field and why."""


class PayloadError(ValueError):
    """The whole request body is unusable (not JSON, too large, not a batch)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class Message:
    """A validated message, ready for identity resolution and storage."""

    type: str
    name: str
    channel: str
    properties: dict
    context: dict
    occurred_at: datetime
    message_id: str
    user_id: str
    anonymous_id: str
    traits: dict | None  # traits to store on the profile (identify, group traits are not)
    id_traits: dict | None  # traits that may carry identifiers (includes context.traits)
    previous_id: str
    device_id: object
    consents: tuple[tuple[str, bool], ...]
    notes: tuple[str, ...] = ()  # values changed to store it (NaN -> null, ...): warn the sender
    content_id: bool = False  # message_id derived from the content (none was sent)


def decode_body(raw: bytes, *, content_encoding: str = "", limit: int = MAX_BATCH_BYTES) -> object:
    """Parse a request body as JSON, gunzipping it when it is gzip whatever its headers say."""
    if "gzip" in content_encoding.lower() or raw[:2] == b"\x1f\x8b":
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise PayloadError(f"body is not valid gzip: {exc}") from exc
    else:
        data = raw
    if len(data) > limit:
        raise PayloadError(f"body is larger than {limit // 1024} KB", status=413)
    if not data.strip():
        raise PayloadError("body is empty; send a JSON object")
    try:
        return loads_lenient(data)[0]
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from exc


def loads_without_nul(data: bytes) -> object:
    """Parse JSON, dropping NUL characters from strings (PostgreSQL cannot store them)."""
    parsed = orjson.loads(data)
    if b"\\u0000" not in data:
        return parsed
    try:
        return strip_nul(parsed)
    except RecursionError:
        raise orjson.JSONDecodeError("nested too deeply", "", 0) from None


class NonFinite:
    """A ``NaN``, ``Infinity`` or ``-Infinity`` literal as sent (not JSON, but Python clients
    write it for float('nan')); :func:`screen_message` turns it into null with a warning."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal

    def __repr__(self) -> str:
        return self.literal


def _float_or_non_finite(text: str) -> float | NonFinite:
    value = float(text)
    return value if value - value == 0 else NonFinite(text)  # 1e400 is inf


def loads_lenient(data: bytes | str) -> tuple[object, bool]:
    """Parse JSON as real clients send it: (value, whether it needs :func:`screen_message`).

    orjson first (the fast path). The standard library parses what orjson cannot or would change:
    ``NaN``/``Infinity`` literals (kept as :class:`NonFinite` markers) and integers beyond 64 bits
    (orjson makes them floats; here they stay exact ints). Raises orjson.JSONDecodeError when the
    text is not JSON even so.
    """
    raw = data.encode() if isinstance(data, str) else data
    if _LONG_NUMBER not in raw.translate(_DIGITS):
        try:
            return loads_without_nul(raw), False
        except orjson.JSONDecodeError as exc:
            error = exc
    else:
        error = None
    try:
        parsed = json.loads(raw, parse_constant=NonFinite, parse_float=_float_or_non_finite)
    except (ValueError, RecursionError):
        if error is None:  # orjson was not asked: its answer, or what it finds wrong
            return loads_without_nul(raw), True
        raise error from None
    if b"\\u0000" in raw:
        try:
            parsed = strip_nul(parsed)
        except RecursionError:
            raise orjson.JSONDecodeError("nested too deeply", "", 0) from None
    return parsed, True


def needs_screening(encoded: bytes | str) -> bool:
    """Whether a message's JSON text may nest deeper than MAX_DEPTH (a cheap upper bound)."""
    if isinstance(encoded, str):
        return encoded.count("{") + encoded.count("[") > MAX_DEPTH
    return encoded.count(b"{") + encoded.count(b"[") > MAX_DEPTH


def screen_message(raw: object) -> tuple[object, list[str]]:
    """A message made storable, and what was changed in it; MessageError when it cannot be.

    Nested deeper than MAX_DEPTH: refused. ``NaN``/``Infinity``: null. Integers orjson cannot
    store (beyond 64 bits): the exact digits as a string. Iterative, so no nesting can exhaust
    the stack. Only messages flagged by :func:`loads_lenient`, :func:`needs_screening` or a
    failed encoding come here; the others skip the walk.
    """
    notes: list[str] = []
    root: list[object] = [raw]
    stack: list[tuple[dict[Any, Any] | list[Any], str, int]] = [(root, "", 0)]
    while stack:
        container, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            field = path.split(".")[0].split("[")[0] or "message"
            raise MessageError(f"{field}: nested more than {MAX_DEPTH} levels deep")
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, value in list(items):
            if container is root:
                where = ""
            elif isinstance(container, dict):
                where = f"{path}.{key}" if path else str(key)
            else:
                where = f"{path}[{key}]"
            if isinstance(value, dict | list):
                stack.append((value, where, depth + 1))
            elif isinstance(value, NonFinite):
                container[key] = None
                notes.append(f"{where}: {value.literal} is not a JSON number; stored as null")
            elif isinstance(value, int) and not _INT_MIN <= value <= _INT_MAX:
                container[key] = str(value)
                notes.append(f"{where}: integer beyond 64 bits; stored exactly, as a string")
    return root[0], notes


def strip_nul(value: object) -> object:
    """A copy of a JSON value with every NUL character removed from keys and strings."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_nul(v) for v in value]
    return value


def parse_time(value: object, field: str) -> datetime:
    """An aware UTC datetime from an ISO-8601 string (naive times are taken as UTC)."""
    if not isinstance(value, str):
        got = value.literal if isinstance(value, NonFinite) else type(value).__name__
        raise MessageError(f"{field}: expected an ISO-8601 date string, got {got}")
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise MessageError(f"{field}: {value[:40]!r} is not an ISO-8601 date") from None


def _check_range(at: datetime, received_at: datetime, field: str) -> datetime:
    """``at`` when it is a plausible event time, else a MessageError naming the field."""
    if at < EARLIEST:
        raise MessageError(f"{field}: {at.isoformat()} is before 1970-01-01; send the real time")
    if at > received_at + AHEAD:
        raise MessageError(
            f"{field}: {at.isoformat()} is more than a day after the message was received"
        )
    return at


def _object(raw: dict, field: str) -> dict:
    value = raw.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MessageError(f"{field}: expected an object, got {type(value).__name__}")
    return value


def _identifier(raw: dict, field: str) -> str:
    value = raw.get(field)
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise MessageError(f"{field}: expected a string, got {type(value).__name__}")
    text = str(value)
    if len(text) > MAX_ID:
        raise MessageError(f"{field}: longer than {MAX_ID} characters")
    return text


def read_message(
    raw: object,
    *,
    received_at: datetime,
    expected_type: str | None = None,
    sent_at: object = None,
) -> Message:
    """Validate one message and bring it to the stored shape; raises MessageError."""
    if not isinstance(raw, dict):
        raise MessageError(f"message: expected an object, got {type(raw).__name__}")
    kind = raw.get("type", expected_type)
    if expected_type and kind != expected_type:
        raise MessageError(f"type: {repr(kind)[:40]} sent to the /{expected_type} endpoint")
    if not isinstance(kind, str) or kind not in TYPES:  # a list or object is not hashable
        raise MessageError(f"type: {repr(kind)[:40]} is not one of {', '.join(sorted(TYPES))}")

    user_id = _identifier(raw, "userId")
    anonymous_id = _identifier(raw, "anonymousId")
    properties = _object(raw, "properties")
    context = _object(raw, "context")
    traits = _object(raw, "traits")
    context_traits = context.get("traits")
    if not isinstance(context_traits, dict):
        context_traits = {}

    name = ""
    previous_id = ""
    if kind == "track":
        event = raw.get("event")
        if event is not None and not isinstance(event, str):
            raise MessageError(f"event: expected a string, got {type(event).__name__}")
        if not event or not event.strip():
            raise MessageError("event: a track call needs an event name")
        name = event
    elif kind in ("page", "screen"):
        name = raw.get("name") or properties.get("name") or ""
        if not isinstance(name, str):
            raise MessageError("name: expected a string")
        category = raw.get("category")  # Segment's page(category, name): kept as a property
        if category not in (None, "") and "category" not in properties:
            properties = {**properties, "category": category}
    elif kind == "group":
        group_id = _identifier(raw, "groupId")
        if not group_id:
            raise MessageError("groupId: a group call needs a groupId")
        name = group_id
        if traits:
            properties = {**properties, "traits": traits}
    elif kind == "alias":
        previous_id = _identifier(raw, "previousId")
        if not previous_id or not user_id:
            raise MessageError("previousId and userId: an alias call needs both")
    if len(name) > MAX_NAME:
        field = {"track": "event: name", "group": "groupId:"}.get(kind, "name:")
        raise MessageError(f"{field} longer than {MAX_NAME} characters")

    message_id = raw.get("messageId")
    content_id = message_id is None or message_id == ""
    if content_id:
        message_id = content_message_id(raw)
    elif not isinstance(message_id, str) or len(message_id) > MAX_MESSAGE_ID:
        raise MessageError(f"messageId: expected a string of at most {MAX_MESSAGE_ID} characters")

    if (timestamp := raw.get("timestamp")) is not None:
        occurred_at = _check_range(parse_time(timestamp, "timestamp"), received_at, "timestamp")
    elif (original := raw.get("originalTimestamp")) is not None:
        occurred_at = parse_time(original, "originalTimestamp")
        field = "originalTimestamp"
        sent = raw.get("sentAt", sent_at)
        if sent is not None:  # correct the device clock by how far off its send time was
            field = "originalTimestamp corrected by sentAt"
            try:
                occurred_at = received_at - (parse_time(sent, "sentAt") - occurred_at)
            except OverflowError:
                raise MessageError("sentAt: too far from originalTimestamp to be real") from None
        occurred_at = _check_range(occurred_at, received_at, field)
    else:
        occurred_at = received_at

    profile_traits = ({**context_traits, **traits} or None) if kind == "identify" else None
    id_traits = {**context_traits, **traits} if kind != "group" else context_traits
    device = context.get("device")
    return Message(
        type=kind,
        name=name.strip(),
        channel=infer_channel(kind, properties, context, raw.get("channel")),
        properties=properties,
        context=context,
        occurred_at=occurred_at,
        message_id=message_id,
        user_id=user_id,
        anonymous_id=anonymous_id,
        traits=profile_traits,
        id_traits=id_traits or None,
        previous_id=previous_id,
        device_id=device.get("id") if isinstance(device, dict) else None,
        consents=_consents(context),
        content_id=content_id,
    )


def _consents(context: dict) -> tuple[tuple[str, bool], ...]:
    """Segment consent spec: ``context.consent.categoryPreferences`` {category: bool}."""
    consent = context.get("consent")
    if not isinstance(consent, dict):
        return ()
    preferences = consent.get("categoryPreferences")
    if not isinstance(preferences, dict):
        return ()
    found = []
    for category, granted in preferences.items():
        channel = normalize_channel(category)
        if channel and isinstance(granted, bool):
            found.append((channel, granted))
    return tuple(found)


def content_message_id(raw: dict) -> str:
    """A stable id for a message sent without one, so re-sending it is still idempotent."""
    digest = hashlib.blake2b(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS), digest_size=16)
    return "cx-" + digest.hexdigest()


def repeat_message_id(message_id: str, occurrence: int) -> str:
    """The id of the ``occurrence``-th (2, 3, ...) identical message of one import file: identical
    lines there are distinct events (two equal orders), yet re-importing the file finds the
    same ids. The first occurrence keeps the plain content id."""
    digest = hashlib.blake2b(f"{message_id}#{occurrence}".encode(), digest_size=16)
    return "cx-" + digest.hexdigest()
