"""Which channel a message came through: web, app, email, chat, phone, social, store, ..."""

CHANNELS = ("web", "app", "email", "chat", "phone", "social", "store")
OTHER = "other"

_SYNONYMS = {
    "browser": "web", "website": "web", "online": "web", "desktop": "web",
    "mobile": "app", "ios": "app", "android": "app", "mobile_app": "app", "in_app": "app",
    "e-mail": "email", "mail": "email", "newsletter": "email",
    "live_chat": "chat", "livechat": "chat", "messenger": "chat", "whatsapp": "chat",
    "call": "phone", "voice": "phone", "call_center": "phone", "callcenter": "phone",
    "sms": "phone", "ivr": "phone",
    "in_store": "store", "instore": "store", "pos": "store", "retail": "store", "shop": "store",
    "twitter": "social", "facebook": "social", "instagram": "social", "tiktok": "social",
}  # fmt: skip
_LIBRARY_HINTS = (("ios", "app"), ("android", "app"), ("react-native", "app"), ("flutter", "app"),
                  ("analytics.js", "web"), ("analytics-next", "web"), ("rudder-sdk-js", "web"))  # fmt: skip


def normalize_channel(raw: object) -> str | None:
    """Canonical channel name for a free-form value, or None when it says nothing."""
    if not isinstance(raw, str):
        return None
    value = raw.strip().lower().replace(" ", "_").replace("-", "_")[:32]
    if not value or value == "server":
        return (
            None  # Segment's context.channel "server" names the sender, not the customer's channel
        )
    return _SYNONYMS.get(value, _SYNONYMS.get(value.replace("_", "-"), value))


def infer_channel(kind: str, properties: dict, context: dict, top_level: object = None) -> str:
    """Channel of a message: explicit properties/context first, then client hints, then its type."""
    for raw in (properties.get("channel"), context.get("channel"), top_level):
        if (channel := normalize_channel(raw)) is not None:
            return channel
    library = context.get("library")
    if isinstance(library, dict) and isinstance(name := library.get("name"), str):
        name = name.lower()
        for hint, channel in _LIBRARY_HINTS:
            if hint in name:
                return channel
    if kind == "screen" or isinstance(context.get("app"), dict):
        return "app"
    if kind == "page" or isinstance(context.get("page"), dict):
        return "web"
    return OTHER
