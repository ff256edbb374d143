"""REST routes for metrics (mounted under /api/ by cxloop.api.rest)."""

from ninja import Router

router = Router(tags=["metrics"])
