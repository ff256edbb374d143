"""Reading Segment-spec messages (identify, track, page, screen, group, alias) into one shape.

Accepts what real clients send: ``timestamp`` or ``originalTimestamp`` (+``sentAt`` for clock skew),
identify traits at top level or only in ``context.traits``, unknown extra fields. Every problem is
reported as a MessageError naming the field.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from cxloop.events.channels import infer_channel, normalize_channel

TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_NAME = 200
MAX_ID = 255
MAX_MESSAGE_ID = 100


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
        return loads_without_nul(data)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from exc


def loads_without_nul(data: bytes) -> object:
    """Parse JSON, dropping NUL characters from strings (PostgreSQL cannot store them)."""
    parsed = orjson.loads(data)
    return strip_nul(parsed) if b"\\u0000" in data else parsed


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
        raise MessageError(f"{field}: expected an ISO-8601 date string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise MessageError(f"{field}: {value[:40]!r} is not an ISO-8601 date") from None


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
        raise MessageError(f"type: {kind!r} sent to the /{expected_type} endpoint")
    if kind not in TYPES:
        raise MessageError(f"type: {kind!r} is not one of {', '.join(sorted(TYPES))}")

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
        name = raw.get("event")
        if not isinstance(name, str) or not name.strip():
            raise MessageError("event: a track call needs an event name")
    elif kind in ("page", "screen"):
        name = raw.get("name") or properties.get("name") or ""
        if not isinstance(name, str):
            raise MessageError("name: expected a string")
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
        raise MessageError(f"event: name longer than {MAX_NAME} characters")

    message_id = raw.get("messageId")
    if message_id is None or message_id == "":
        message_id = content_message_id(raw)
    elif not isinstance(message_id, str) or len(message_id) > MAX_MESSAGE_ID:
        raise MessageError(f"messageId: expected a string of at most {MAX_MESSAGE_ID} characters")

    if (timestamp := raw.get("timestamp")) is not None:
        occurred_at = parse_time(timestamp, "timestamp")
    elif (original := raw.get("originalTimestamp")) is not None:
        occurred_at = parse_time(original, "originalTimestamp")
        sent = raw.get("sentAt", sent_at)
        if sent is not None:  # correct the device clock by how far off its send time was
            try:
                occurred_at = received_at - (parse_time(sent, "sentAt") - occurred_at)
            except OverflowError:
                raise MessageError("sentAt: too far from originalTimestamp to be real") from None
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
