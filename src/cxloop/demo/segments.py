"""Saved segments for the demo workspace, created through the real segment service."""

from __future__ import annotations

from cxloop.core.models import Workspace
from cxloop.segments import services as segment_services

DEMO_SEGMENTS = (
    (
        "Gold members who haven't ordered in 60 days",
        "Our best customers going quiet: win them back before they lapse.",
        {
            "all": [
                {"trait": "loyalty_tier", "op": "eq", "value": "gold"},
                {"event": "Order Completed", "did": False, "within_days": 60},
            ]
        },
    ),
    (
        "Detractors",
        "Latest NPS answer 0–6: call them before they tell their friends.",
        {"all": [{"score": "nps", "op": "lte", "value": 6}]},
    ),
    (
        "Store-only shoppers",
        "Buy in our shops but never online: invite them to the app.",
        {
            "all": [
                {"event": "Order Completed", "channel": "store"},
                {"event": "Order Completed", "channel": "web", "did": False},
                {"event": "Order Completed", "channel": "app", "did": False},
            ]
        },
    ),
    (
        "Recent complainers",
        "Opened a support ticket in the last 30 days.",
        {"all": [{"event": "Support Ticket Opened", "within_days": 30}]},
    ),
    (
        "Cart abandoners this week",
        "Added to cart in the last 7 days without completing an order.",
        {
            "all": [
                {"event": "Product Added", "within_days": 7},
                {"event": "Order Completed", "did": False, "within_days": 7},
            ]
        },
    ),
    (
        "Frequent buyers",
        "Three or more orders in the last 90 days, on any channel.",
        {"all": [{"event": "Order Completed", "within_days": 90, "min_count": 3}]},
    ),
)


def build_segments_demo(*, workspace: Workspace) -> None:
    """Create the demo's saved segments (skipping any that already exist by name)."""
    existing = {name.casefold() for name in workspace.segment_set.values_list("name", flat=True)}
    for name, description, definition in DEMO_SEGMENTS:
        if name.casefold() in existing:
            continue
        segment_services.segment_create(
            workspace=workspace, name=name, description=description, definition=definition
        )
