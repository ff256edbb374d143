"""REST routes for feedback (mounted under /api/ by cxloop.api.rest)."""

from ninja import Router

router = Router(tags=["feedback"])
