"""Identifiers of a person: their kinds, and normalizing values so the same email or phone
always matches itself.

Pure Python (no Django), so bulk-import worker processes use it without loading the apps.
"""

from functools import lru_cache

import phonenumbers

MAX_VALUE_LENGTH = 255

# Identity kinds (``customers.models.IdentityKind`` gives them labels).
USER_ID = "user_id"
ANONYMOUS_ID = "anonymous_id"
EMAIL = "email"
PHONE = "phone"
DEVICE = "device"
SOCIAL = "social"
EXTERNAL = "external_id"

# Trait names that carry identifiers, and the identity kind each one means.
TRAIT_IDENTIFIERS: dict[str, str] = {
    "email": EMAIL,
    "phone": PHONE,
    "mobile": PHONE,
    "crm_id": EXTERNAL,
    "external_id": EXTERNAL,
    "device_id": DEVICE,
}
SOCIAL_TRAITS = ("twitter", "instagram", "facebook", "tiktok", "linkedin")


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
    if kind == EMAIL:
        return normalize_email(raw)
    if kind == PHONE:
        return normalize_phone(str(raw).strip(), region) if str(raw).strip() else None
    if isinstance(raw, (dict, list)):
        return None
    value = str(raw).strip()
    if kind == SOCIAL:
        value = value.lower()
    return value[:MAX_VALUE_LENGTH] or None


def identity_keys(
    *,
    user_id: object = None,
    anonymous_id: object = None,
    traits: dict | None = None,
    device_id: object = None,
    region: str = "US",
) -> list[tuple[str, str]]:
    """Normalized identifiers of one message, strongest first (user id, then traits, then anon)."""
    keys: list[tuple[str, str]] = []
    if (value := normalize(USER_ID, user_id)) is not None:
        keys.append((USER_ID, value))
    if traits:
        for trait, kind in TRAIT_IDENTIFIERS.items():
            raw = traits.get(trait)
            if raw is not None and (value := normalize(kind, raw, region=region)) is not None:
                keys.append((kind, value))
        for network in SOCIAL_TRAITS:
            handle = traits.get(network)
            if isinstance(handle, str) and handle.strip():
                raw = f"{network}:{handle.strip().lstrip('@')}"
                if (value := normalize(SOCIAL, raw)) is not None:
                    keys.append((SOCIAL, value))
    if (value := normalize(DEVICE, device_id)) is not None:
        keys.append((DEVICE, value))
    if (value := normalize(ANONYMOUS_ID, anonymous_id)) is not None:
        keys.append((ANONYMOUS_ID, value))
    return list(dict.fromkeys(keys))
