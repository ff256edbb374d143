"""REST routes for segments (mounted under /api/ by cxloop.api.rest)."""

from ninja import Router

router = Router(tags=["segments"])
