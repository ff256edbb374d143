"""The demo's ready-made journey map: Northwind's retail journey over the demo's real events."""

from __future__ import annotations

from cxloop.core.models import Workspace
from cxloop.journeys import services as journey_services

RETAIL_JOURNEY = {
    "name": "Retail customer journey",
    "description": "From first visit to recommending Northwind: web, app, email, shop and support.",
    "stages": [
        {"name": "Awareness", "description": "First contact: site, app or newsletter."},
        {"name": "Consideration", "description": "Looking at products, online or in a shop."},
        {"name": "Purchase", "description": "Checkout and orders on any channel."},
        {"name": "Retention", "description": "Delivery, returns and support after buying."},
        {
            "name": "Advocacy",
            "description": "Happy customers who say so.",
            # a detractor is not an advocate, whatever their social posts say
            "feedback": {"metric": "nps", "op": "gte", "value": 7},
        },
    ],
    "touchpoints": [
        {
            "stage": "Awareness",
            "name": "Website visit",
            "channel": "web",
            "rules": [
                {"event": "Home", "channel": "web"},
                {"event": "Category", "channel": "web"},
            ],
        },
        {
            "stage": "Awareness",
            "name": "App opened",
            "channel": "app",
            "rules": [{"event": "Application Opened", "channel": "app"}],
        },
        {
            "stage": "Awareness",
            "name": "Newsletter opened",
            "channel": "email",
            "rules": [{"event": "Email Opened", "channel": "email"}],
        },
        {
            "stage": "Consideration",
            "name": "Product page (web)",
            "channel": "web",
            "rules": [{"event": "Product Viewed", "channel": "web"}],
        },
        {
            "stage": "Consideration",
            "name": "Product page (app)",
            "channel": "app",
            "rules": [{"event": "Product Viewed", "channel": "app"}],
        },
        {
            "stage": "Consideration",
            "name": "Email link clicked",
            "channel": "email",
            "rules": [{"event": "Email Link Clicked", "channel": "email"}],
        },
        {
            "stage": "Consideration",
            "name": "Store visit",
            "channel": "store",
            "rules": [{"event": "Store Visit", "channel": "store"}],
        },
        {
            "stage": "Purchase",
            "name": "Added to cart",
            "channel": "",
            "rules": [{"event": "Product Added"}],
        },
        {
            "stage": "Purchase",
            "name": "Checkout",
            "channel": "",
            "rules": [{"event": "Checkout Started"}],
        },
        {
            "stage": "Purchase",
            "name": "Online order",
            "channel": "",
            "rules": [
                {"event": "Order Completed", "channel": "web"},
                {"event": "Order Completed", "channel": "app"},
            ],
        },
        {
            "stage": "Purchase",
            "name": "In-store purchase",
            "channel": "store",
            "rules": [{"event": "Order Completed", "channel": "store"}],
        },
        {
            "stage": "Retention",
            "name": "Delivery",
            "channel": "",
            "rules": [{"event": "Order Delivered"}],
        },
        {
            "stage": "Retention",
            "name": "Late delivery",
            "channel": "",
            "rules": [
                {
                    "event": "Order Delivered",
                    "conditions": [{"property": "late", "op": "eq", "value": True}],
                }
            ],
        },
        {
            "stage": "Retention",
            "name": "Returns and refunds",
            "channel": "",
            "rules": [{"event": "Product Returned"}, {"event": "Order Refunded"}],
        },
        {
            "stage": "Retention",
            "name": "Support contact",
            "channel": "",
            "rules": [{"event": "Support Ticket Opened"}],
        },
        {
            "stage": "Advocacy",
            "name": "Positive social post",
            "channel": "social",
            "rules": [
                {
                    "event": "Social Mention",
                    "channel": "social",
                    "conditions": [{"property": "sentiment", "op": "eq", "value": "positive"}],
                }
            ],
        },
        {
            "stage": "Advocacy",
            "name": "Top support rating",
            "channel": "",
            "rules": [
                {
                    "event": "Ticket Closed",
                    "conditions": [{"property": "satisfaction", "op": "gt", "value": 4}],
                }
            ],
        },
    ],
}


def build_journey_demo(*, workspace: Workspace) -> None:
    """Create the demo's retail journey map in ``workspace`` and compute it."""
    journey_services.journey_create(workspace=workspace, definition=RETAIL_JOURNEY)
