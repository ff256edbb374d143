"""Normalizing identifier values so the same email or phone always matches itself."""

from functools import lru_cache

import phonenumbers

from cxloop.customers.models import IdentityKind

MAX_VALUE_LENGTH = 255


def normalize_email(raw: object) -> str | None:
    """Lower-cased, trimmed email, or None when it is not an email address."""
    if not isinstance(raw, str):
        return None
    value = raw.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or " " in value or len(value) > MAX_VALUE_LENGTH:
        return None
    return value


@lru_cache(maxsize=65536)
def normalize_phone(raw: str, region: str) -> str | None:
    """E.164 form of a phone number (e.g. +14155550123), reading local numbers in ``region``."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize(kind: str, raw: object, *, region: str = "US") -> str | None:
    """Normalized value of one identifier of the given kind, or None if it is unusable."""
    if raw is None or isinstance(raw, bool):
        return None
    if kind == IdentityKind.EMAIL:
        return normalize_email(raw)
    if kind == IdentityKind.PHONE:
        return normalize_phone(str(raw).strip(), region) if str(raw).strip() else None
    if isinstance(raw, (dict, list)):
        return None
    value = str(raw).strip()
    if kind == IdentityKind.SOCIAL:
        value = value.lower()
    return value[:MAX_VALUE_LENGTH] or None
