"""REST routes for journeys (mounted under /api/ by cxloop.api.rest)."""

from ninja import Router

router = Router(tags=["journeys"])
