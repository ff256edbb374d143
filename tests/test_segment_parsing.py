"""Unit tests of the Segment message reader, body decoder, time parser and channel inference.

Pure functions: no database, no HTTP. Every expected value is spelled out exactly.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from cxloop.events.channels import OTHER, infer_channel, normalize_channel
from cxloop.events.segment import (
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    MessageError,
    NonFinite,
    PayloadError,
    content_message_id,
    decode_body,
    loads_lenient,
    parse_time,
    read_message,
    screen_message,
)

RECEIVED = datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC)


def _read(raw, **kwargs):
    return read_message(raw, received_at=RECEIVED, **kwargs)


def _error(raw, **kwargs) -> str:
    with pytest.raises(MessageError) as caught:
        _read(raw, **kwargs)
    return str(caught.value)


# --- parse_time ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T08:11:15.253Z", datetime(2026, 11, 24, 8, 11, 15, 253000, tzinfo=UTC)),
        (
            "2026-11-24T08:10:48.290563+00:00",
            datetime(2026, 11, 24, 8, 10, 48, 290563, tzinfo=UTC),
        ),
        ("2026-03-01T14:30:00+02:00", datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),
        ("2026-03-01T07:00:00-05:00", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        ("2026-03-01T12:00:00", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),  # naive: UTC
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
    ],
)
def test_parse_time_reads_iso_8601_into_aware_utc(text, expected):
    # given an ISO-8601 string as tracking clients send it
    # when it is parsed
    parsed = parse_time(text, "timestamp")

    # then it is the same instant, expressed in UTC
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "timestamp: 'yesterday' is not an ISO-8601 date"),
        ("", "timestamp: '' is not an ISO-8601 date"),
        (1700000000, "timestamp: expected an ISO-8601 date string, got int"),
        (None, "timestamp: expected an ISO-8601 date string, got NoneType"),
        ({"at": "2026-01-01"}, "timestamp: expected an ISO-8601 date string, got dict"),
    ],
)
def test_parse_time_rejects_non_dates_naming_the_field(value, message):
    with pytest.raises(MessageError) as caught:
        parse_time(value, "timestamp")

    assert str(caught.value) == message


def test_parse_time_quotes_at_most_40_characters_of_a_bad_value():
    with pytest.raises(MessageError) as caught:
        parse_time("x" * 100, "sentAt")

    assert str(caught.value) == f"sentAt: {'x' * 40!r} is not an ISO-8601 date"


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"])
def test_parse_time_reports_out_of_range_dates_as_message_errors(text):
    with pytest.raises(MessageError):
        parse_time(text, "timestamp")


# --- decode_body -----------------------------------------------------------------------------


def test_decode_body_parses_plain_json():
    assert decode_body(b'{"batch": [{"type": "track"}]}') == {"batch": [{"type": "track"}]}


def test_decode_body_gunzips_when_content_encoding_says_gzip():
    raw = gzip.compress(b'{"a": 1}')

    assert decode_body(raw, content_encoding="gzip") == {"a": 1}
    assert decode_body(raw, content_encoding="GZIP") == {"a": 1}


def test_decode_body_gunzips_by_magic_bytes_without_content_encoding():
    # given a gzipped body with no Content-Encoding (as RudderStack's Node SDK labels it)
    raw = gzip.compress(b'{"writeKey": "k", "batch": []}')

    # then it is still read
    assert decode_body(raw, content_encoding="") == {"writeKey": "k", "batch": []}


def test_decode_body_returns_non_object_json_as_is():
    assert decode_body(b"[1, 2]") == [1, 2]
    assert decode_body(b'"text"') == "text"


@pytest.mark.parametrize(
    ("raw", "start"),
    [
        (b"{not json", "body is not valid JSON: "),
        (b"", "body is empty; send a JSON object"),
        (b"   \n\t", "body is empty; send a JSON object"),
        (b'{"a": nan}', "body is not valid JSON: "),
    ],
)
def test_decode_body_rejects_unreadable_bodies_with_400(raw, start):
    with pytest.raises(PayloadError) as caught:
        decode_body(raw)

    assert str(caught.value).startswith(start)
    assert caught.value.status == 400


def test_decode_body_rejects_bad_gzip_when_declared():
    with pytest.raises(PayloadError) as caught:
        decode_body(b'{"a": 1}', content_encoding="gzip")

    assert str(caught.value).startswith("body is not valid gzip: ")
    assert caught.value.status == 400


def test_decode_body_rejects_truncated_gzip_as_invalid_json():
    raw = gzip.compress(b'{"batch": [' + b'{"type": "track"},' * 200 + b"{}]}")

    with pytest.raises(PayloadError) as caught:
        decode_body(raw[: len(raw) // 2], content_encoding="gzip")

    assert caught.value.status == 400


def test_decode_body_limit_is_exclusive_of_the_exact_size():
    # given bodies of exactly the limit and one byte over
    exact = b'"' + b"a" * (MAX_MESSAGE_BYTES - 2) + b'"'
    over = b'"' + b"a" * (MAX_MESSAGE_BYTES - 1) + b'"'

    # then the first is read and the second is refused with 413 and the limit in KB
    assert decode_body(exact, limit=MAX_MESSAGE_BYTES) == "a" * (MAX_MESSAGE_BYTES - 2)
    with pytest.raises(PayloadError) as caught:
        decode_body(over, limit=MAX_MESSAGE_BYTES)
    assert caught.value.status == 413
    assert str(caught.value) == "body is larger than 32 KB"


def test_decode_body_stops_a_gzip_bomb_at_the_decompressed_limit():
    # given 50 MB of zeros compressed to about 50 KB
    bomb = gzip.compress(b"0" * (50 * 1024 * 1024))
    assert len(bomb) < 100 * 1024

    # then decoding refuses it as too large instead of inflating it all
    with pytest.raises(PayloadError) as caught:
        decode_body(bomb, content_encoding="gzip", limit=MAX_BATCH_BYTES)
    assert caught.value.status == 413
    assert str(caught.value) == "body is larger than 500 KB"


# --- read_message: shapes ---------------------------------------------------------------------


def test_track_message_is_read_into_the_stored_shape():
    message = _read(
        {
            "type": "track",
            "event": "  Order Completed ",
            "userId": "u-1",
            "anonymousId": "a-1",
            "properties": {"revenue": 42.5, "channel": "phone"},
            "context": {"device": {"id": "dev-9"}, "traits": {"email": "J@x.io"}},
            "timestamp": "2026-03-01T09:00:00Z",
            "messageId": "m-1",
        }
    )

    assert message.type == "track"
    assert message.name == "Order Completed"
    assert message.channel == "phone"
    assert message.properties == {"revenue": 42.5, "channel": "phone"}
    assert message.occurred_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert message.message_id == "m-1"
    assert message.user_id == "u-1"
    assert message.anonymous_id == "a-1"
    assert message.traits is None  # only identify writes profile traits
    assert message.id_traits == {"email": "J@x.io"}  # but context.traits still identify
    assert message.device_id == "dev-9"
    assert message.previous_id == ""
    assert message.consents == ()


def test_identify_traits_only_in_context_traits_become_profile_traits():
    # given an identify as RudderStack's Python SDK sends it (no top-level traits)
    message = _read(
        {
            "type": "identify",
            "userId": "user-42",
            "context": {"traits": {"email": "jane@example.com", "plan": "pro"}},
            "messageId": "m",
        }
    )

    assert message.traits == {"email": "jane@example.com", "plan": "pro"}
    assert message.id_traits == {"email": "jane@example.com", "plan": "pro"}


def test_identify_top_level_traits_win_over_context_traits():
    message = _read(
        {
            "type": "identify",
            "userId": "u",
            "traits": {"plan": "pro"},
            "context": {"traits": {"plan": "free", "email": "a@b.co"}},
            "messageId": "m",
        }
    )

    assert message.traits == {"plan": "pro", "email": "a@b.co"}


def test_identify_without_traits_writes_none():
    assert _read({"type": "identify", "userId": "u", "messageId": "m"}).traits is None


def test_group_traits_describe_the_group_not_the_person():
    # given a group call whose traits carry the company's email
    message = _read(
        {
            "type": "group",
            "userId": "u",
            "groupId": "acct-7",
            "traits": {"name": "Acme", "email": "billing@acme.io"},
            "properties": {"seats": 3},
            "messageId": "m",
        }
    )

    # then they are kept on the event, but neither written to nor used to identify the person
    assert message.name == "acct-7"
    assert message.properties == {
        "seats": 3,
        "traits": {"name": "Acme", "email": "billing@acme.io"},
    }
    assert message.traits is None
    assert message.id_traits is None


def test_page_and_screen_names_fall_back_to_properties_name():
    page = _read({"type": "page", "userId": "u", "properties": {"name": "Pricing"}})
    screen = _read({"type": "screen", "userId": "u", "name": "Home", "properties": {"name": "X"}})
    nameless = _read({"type": "page", "userId": "u"})

    assert (page.name, page.channel) == ("Pricing", "web")
    assert (screen.name, screen.channel) == ("Home", "app")
    assert nameless.name == ""


def test_alias_reads_previous_id():
    message = _read({"type": "alias", "userId": "user-42", "previousId": "anon-1"})

    assert message.previous_id == "anon-1"
    assert message.user_id == "user-42"
    assert message.name == ""


def test_numeric_ids_become_strings():
    message = _read({"type": "track", "event": "E", "userId": 42, "anonymousId": 7.5})

    assert (message.user_id, message.anonymous_id) == ("42", "7.5")


def test_expected_type_fills_in_a_missing_type():
    assert _read({"event": "E", "userId": "u"}, expected_type="track").type == "track"


def test_unknown_fields_are_ignored():
    message = _read(
        {
            "type": "track",
            "event": "E",
            "userId": "u",
            "_metadata": {"nodeVersion": "20"},
            "integrations": {"All": True},
            "category": None,
        }
    )

    assert message.name == "E"


# --- read_message: errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected_type", "error"),
    [
        (5, None, "message: expected an object, got int"),
        (
            {"type": "foo"},
            None,
            "type: 'foo' is not one of alias, group, identify, page, screen, track",
        ),
        (
            {"userId": "u"},
            None,
            "type: None is not one of alias, group, identify, page, screen, track",
        ),
        (
            {"type": "identify", "userId": "u"},
            "track",
            "type: 'identify' sent to the /track endpoint",
        ),
        ({"type": "track", "userId": "u"}, None, "event: a track call needs an event name"),
        (
            {"type": "track", "event": "  ", "userId": "u"},
            None,
            "event: a track call needs an event name",
        ),
        (
            {"type": "track", "event": 5, "userId": "u"},
            None,
            "event: expected a string, got int",
        ),
        (
            {"type": "track", "event": "E", "properties": [1]},
            None,
            "properties: expected an object, got list",
        ),
        (
            {"type": "track", "event": "E", "context": "x"},
            None,
            "context: expected an object, got str",
        ),
        (
            {"type": "identify", "traits": [], "userId": "u"},
            None,
            "traits: expected an object, got list",
        ),
        (
            {"type": "track", "event": "E", "userId": True},
            None,
            "userId: expected a string, got bool",
        ),
        (
            {"type": "track", "event": "E", "anonymousId": {}},
            None,
            "anonymousId: expected a string, got dict",
        ),
        (
            {"type": "track", "event": "E", "userId": "u" * 256},
            None,
            "userId: longer than 255 characters",
        ),
        ({"type": "page", "name": 5, "userId": "u"}, None, "name: expected a string"),
        ({"type": "group", "userId": "u"}, None, "groupId: a group call needs a groupId"),
        ({"type": "alias", "userId": "u"}, None, "previousId and userId: an alias call needs both"),
        (
            {"type": "alias", "previousId": "p"},
            None,
            "previousId and userId: an alias call needs both",
        ),
        ({"type": "track", "event": "E" * 201}, None, "event: name longer than 200 characters"),
        ({"type": "page", "name": "P" * 201}, None, "name: longer than 200 characters"),
        ({"type": "group", "groupId": "g" * 201}, None, "groupId: longer than 200 characters"),
        (
            {"type": "track", "event": "E", "messageId": 5},
            None,
            "messageId: expected a string of at most 100 characters",
        ),
        (
            {"type": "track", "event": "E", "messageId": "m" * 101},
            None,
            "messageId: expected a string of at most 100 characters",
        ),
        (
            {"type": "track", "event": "E", "timestamp": "yesterday"},
            None,
            "timestamp: 'yesterday' is not an ISO-8601 date",
        ),
        (
            {
                "type": "track",
                "event": "E",
                "originalTimestamp": "2026-01-01T00:00:00Z",
                "sentAt": 3,
            },
            None,
            "sentAt: expected an ISO-8601 date string, got int",
        ),
    ],
)
def test_invalid_messages_are_reported_with_field_and_reason(raw, expected_type, error):
    assert _error(raw, expected_type=expected_type) == error


def test_limits_are_inclusive():
    message = _read(
        {"type": "track", "event": "E" * 200, "userId": "u" * 255, "messageId": "m" * 100}
    )

    assert (len(message.name), len(message.user_id), len(message.message_id)) == (200, 255, 100)


# --- read_message: time -------------------------------------------------------------------------


def test_timestamp_is_taken_as_is():
    message = _read({"type": "track", "event": "E", "timestamp": "2026-03-01T09:00:00+01:00"})

    assert message.occurred_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_original_timestamp_is_corrected_for_device_clock_skew_by_message_sent_at():
    # given a device whose clock is three hours behind: it stamped the event 5 s before sending
    raw = {
        "type": "track",
        "event": "E",
        "originalTimestamp": "2026-03-01T09:00:00Z",
        "sentAt": "2026-03-01T09:00:05Z",
    }

    # then the event happened 5 s before the server received it
    assert _read(raw).occurred_at == RECEIVED - timedelta(seconds=5)


def test_original_timestamp_uses_the_batch_sent_at_when_the_message_has_none():
    raw = {"type": "track", "event": "E", "originalTimestamp": "2020-01-01T00:00:00.250Z"}

    message = _read(raw, sent_at="2020-01-01T00:00:01Z")

    assert message.occurred_at == RECEIVED - timedelta(milliseconds=750)


def test_message_sent_at_wins_over_batch_sent_at():
    raw = {
        "type": "track",
        "event": "E",
        "originalTimestamp": "2020-01-01T00:00:00Z",
        "sentAt": "2020-01-01T00:00:02Z",
    }

    message = _read(raw, sent_at="2020-01-01T00:01:00Z")

    assert message.occurred_at == RECEIVED - timedelta(seconds=2)


def test_original_timestamp_without_sent_at_is_taken_as_is():
    raw = {"type": "track", "event": "E", "originalTimestamp": "2026-03-01T09:00:00Z"}

    assert _read(raw).occurred_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_timestamp_wins_over_original_timestamp():
    raw = {
        "type": "track",
        "event": "E",
        "timestamp": "2026-03-01T10:00:00Z",
        "originalTimestamp": "2020-01-01T00:00:00Z",
        "sentAt": "2020-01-01T00:00:05Z",
    }

    assert _read(raw).occurred_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_message_without_any_time_happened_when_received():
    assert _read({"type": "track", "event": "E"}).occurred_at == RECEIVED


def test_absurd_clock_skew_is_a_message_error():
    raw = {
        "type": "track",
        "event": "E",
        "originalTimestamp": "0001-01-02T00:00:00Z",
        "sentAt": "9999-01-01T00:00:00Z",
    }

    with pytest.raises(MessageError):
        _read(raw)


# --- read_message: message ids and consent ----------------------------------------------------


def test_missing_message_id_is_derived_from_content_and_stable_across_key_order():
    first = {"type": "track", "event": "E", "userId": "u", "properties": {"a": 1, "b": 2}}
    reordered = {"properties": {"b": 2, "a": 1}, "userId": "u", "event": "E", "type": "track"}
    different = {**first, "properties": {"a": 1, "b": 3}}

    derived = _read(first).message_id

    assert derived == content_message_id(first)
    assert derived.startswith("cx-")
    assert len(derived) == len("cx-") + 32
    assert int(derived[3:], 16) >= 0  # hex digest
    assert _read(reordered).message_id == derived
    assert _read(different).message_id != derived
    assert _read({**first, "messageId": ""}).message_id == content_message_id(
        {**first, "messageId": ""}
    )


def test_consent_category_preferences_are_read_as_channel_consents():
    message = _read(
        {
            "type": "identify",
            "userId": "u",
            "context": {
                "consent": {
                    "categoryPreferences": {
                        "Email": True,
                        "sms": False,
                        "whatsapp": True,
                        "server": True,
                        "push": "yes",
                    }
                }
            },
        }
    )

    # then names are normalised, "server" is no channel, and non-boolean answers are ignored
    assert message.consents == (("email", True), ("phone", False), ("chat", True))


@pytest.mark.parametrize(
    "context",
    [{}, {"consent": "yes"}, {"consent": {}}, {"consent": {"categoryPreferences": ["email"]}}],
)
def test_no_consent_without_category_preferences_object(context):
    message = _read({"type": "identify", "userId": "u", "context": context})

    assert message.consents == ()


# --- channels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("phone", "phone"),
        ("Call Center", "phone"),
        ("SMS", "phone"),
        ("e-mail", "email"),
        ("Newsletter", "email"),
        ("in-store", "store"),
        ("POS", "store"),
        ("mobile app", "app"),
        ("iOS", "app"),
        ("Live Chat", "chat"),
        ("WhatsApp", "chat"),
        ("website", "web"),
        ("Instagram", "social"),
        ("kiosk", "kiosk"),  # unknown channels are kept, normalised
        ("x" * 40, "x" * 32),  # and cut to the stored column's width
        ("server", None),
        ("  Server ", None),
        ("", None),
        (None, None),
        (5, None),
    ],
)
def test_normalize_channel(raw, expected):
    assert normalize_channel(raw) == expected


@pytest.mark.parametrize(
    ("kind", "properties", "context", "top_level", "expected"),
    [
        ("track", {"channel": "phone"}, {}, None, "phone"),
        ("track", {"channel": "phone"}, {"channel": "web"}, "email", "phone"),
        ("track", {}, {"channel": "email"}, "chat", "email"),
        ("track", {}, {}, "chat", "chat"),
        ("track", {}, {"channel": "server"}, None, OTHER),
        ("track", {}, {}, "server", OTHER),
        ("page", {}, {"channel": "server"}, "server", "web"),
        ("page", {}, {}, None, "web"),
        ("screen", {}, {}, None, "app"),
        ("screen", {"channel": "store"}, {}, None, "store"),
        ("track", {}, {"library": {"name": "analytics-ios"}}, None, "app"),
        ("track", {}, {"library": {"name": "analytics-android"}}, None, "app"),
        ("track", {}, {"library": {"name": "@segment/analytics-react-native"}}, None, "app"),
        ("track", {}, {"library": {"name": "analytics.js"}}, None, "web"),
        ("track", {}, {"library": {"name": "@segment/analytics-next"}}, None, "web"),
        ("track", {}, {"library": {"name": "RudderLabs JavaScript SDK"}}, None, OTHER),
        ("track", {}, {"library": {"name": "analytics-python"}}, None, OTHER),
        ("track", {}, {"library": {"name": "@segment/analytics-node"}}, None, OTHER),
        ("track", {}, {"app": {"name": "Shop"}}, None, "app"),
        ("track", {}, {"page": {"url": "https://x"}}, None, "web"),
        ("identify", {}, {}, None, OTHER),
        ("track", {"channel": 3}, {}, None, OTHER),
    ],
)
def test_infer_channel(kind, properties, context, top_level, expected):
    assert infer_channel(kind, properties, context, top_level) == expected


def test_read_message_infers_channel_from_top_level_channel_field():
    # given RudderStack's top-level channel "server", which names the sender
    message = _read({"type": "track", "event": "E", "userId": "u", "channel": "server"})

    assert message.channel == OTHER


def test_parse_time_keeps_microseconds_and_offsets_exactly():
    parsed = parse_time("2026-03-01T12:00:00.123456+05:30", "timestamp")

    assert parsed == datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5.5)))
    assert parsed.tzinfo == UTC


# --- odd values: NaN, long integers, deep nesting, time range (issue #8) -----------------------


def test_loads_lenient_reads_nan_and_long_integers_exactly():
    value, odd = loads_lenient(
        b'{"a": NaN, "b": [Infinity, -Infinity], "c": 123456789012345678901}'
    )

    assert odd is True
    assert [type(v) for v in (value["a"], *value["b"])] == [NonFinite] * 3
    assert [v.literal for v in (value["a"], *value["b"])] == ["NaN", "Infinity", "-Infinity"]
    assert value["c"] == 123456789012345678901  # exact: orjson would give 1.2345678901234568e20


def test_loads_lenient_takes_the_fast_path_for_plain_json():
    assert loads_lenient(b'{"a": 1.5, "b": "NaN"}') == ({"a": 1.5, "b": "NaN"}, False)


def test_loads_lenient_still_refuses_what_is_not_json():
    with pytest.raises(orjson.JSONDecodeError):
        loads_lenient(b'{"a": nan}')
    with pytest.raises(orjson.JSONDecodeError):
        loads_lenient(b'{"a": 1234567890123456789012')


def test_screen_message_nulls_non_finite_values_and_keeps_big_integers_as_text():
    raw = {
        "type": "track",
        "properties": {"p": NonFinite("NaN"), "ids": [2**64, 2**64 - 1, -(2**63) - 1]},
        "context": {"x": {"y": NonFinite("-Infinity")}},
    }

    screened, notes = screen_message(raw)

    assert screened["properties"] == {"p": None, "ids": [str(2**64), 2**64 - 1, str(-(2**63) - 1)]}
    assert screened["context"] == {"x": {"y": None}}
    assert sorted(notes) == [
        "context.x.y: -Infinity is not a JSON number; stored as null",
        "properties.ids[0]: integer beyond 64 bits; stored exactly, as a string",
        "properties.ids[2]: integer beyond 64 bits; stored exactly, as a string",
        "properties.p: NaN is not a JSON number; stored as null",
    ]


@pytest.mark.parametrize(("levels", "ok"), [(64, True), (65, False)])
def test_screen_message_allows_64_levels_counting_the_message(levels, ok):
    inner: list = []
    for _ in range(levels - 3):  # message > properties > "a" list ... > innermost list
        inner = [inner]
    raw = {"type": "track", "properties": {"a": inner}}

    if ok:
        assert screen_message(raw) == (raw, [])
    else:
        with pytest.raises(MessageError, match=r"^properties: nested more than 64 levels deep$"):
            screen_message(raw)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (
            {"timestamp": "1969-12-31T23:59:59Z"},
            "timestamp: 1969-12-31T23:59:59+00:00 is before 1970-01-01; send the real time",
        ),
        (
            {"timestamp": "2026-03-02T12:00:11Z"},  # RECEIVED + 1 day + 1 s
            "timestamp: 2026-03-02T12:00:11+00:00 is more than a day after the message was "
            "received",
        ),
        (
            {"originalTimestamp": "1969-01-01T00:00:00Z"},
            "originalTimestamp: 1969-01-01T00:00:00+00:00 is before 1970-01-01; send the real time",
        ),
        (
            {"originalTimestamp": "2026-03-01T12:00:00Z", "sentAt": "2026-03-01T12:00:00Z"},
            None,
        ),
    ],
)
def test_event_times_must_lie_between_1970_and_a_day_after_receipt(fields, error):
    raw = {"type": "track", "event": "E", **fields}

    if error is None:
        assert _read(raw).occurred_at == RECEIVED
    else:
        assert _error(raw) == error


def test_the_edges_of_the_time_range_are_accepted():
    assert _read({"type": "track", "event": "E", "timestamp": "1970-01-01T00:00:00Z"})
    ahead = (RECEIVED + timedelta(days=1)).isoformat()
    assert _read({"type": "track", "event": "E", "timestamp": ahead}).occurred_at == (
        RECEIVED + timedelta(days=1)
    )


def test_page_category_goes_into_properties_unless_they_name_one():
    page = {"type": "page", "name": "Install", "category": "Docs"}

    assert _read(page).properties == {"category": "Docs"}
    assert _read({**page, "properties": {"category": "Own"}}).properties == {"category": "Own"}
    assert _read({"type": "screen", "name": "Home", "category": ""}).properties == {}
