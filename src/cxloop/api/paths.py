"""REST routes for path analysis (mounted under /api/ by cxloop.api.rest)."""

from ninja import Router

router = Router(tags=["paths"])
