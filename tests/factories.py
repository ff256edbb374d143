"""Test data in one place: workspaces, members, Segment messages fed through the real ingestion
path, surveys and responses. Plain keyword functions (factory_boy is not a dependency).

Messages go through ``events_ingest`` like a tracker's would, so profiles, identities and merges
are the product's own; surveys and responses are rows made directly (their services are tested on
their own), with the unique keys filled in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from typing import Any

from cxloop.core import services as core_services
from cxloop.events.services import events_ingest
from cxloop.feedback._rollup import response_bucket
from cxloop.feedback.models import Response, Survey
from cxloop.feedback.services import score_days_refresh

_keys = count(1)


# ------------------------------------------------------------------ tenants and people


def workspace_make(*, name: str = "Acme Retail", slug: str = "acme"):
    return core_services.workspace_create(name=name, slug=slug)


def member_make(*, workspace, username: str = "ana", role: str = "analyst"):
    """A user who is ``role`` in ``workspace``; the password is ``<role>-pass-123``."""
    user = core_services.user_create_or_reset(username=username, password=f"{role}-pass-123")
    core_services.membership_set(user=user, workspace=workspace, role=role)
    return user


# ------------------------------------------------------------------ messages and ingestion


def track(
    user: str,
    event: str,
    at: datetime,
    *,
    channel: str = "web",
    anonymous: bool = False,
    message_id: str | None = None,
    **properties: Any,
) -> dict:
    """A Segment ``track`` message from ``user`` (a user id, or an anonymous id)."""
    message = {
        "type": "track",
        "anonymousId" if anonymous else "userId": user,
        "event": event,
        "properties": {"channel": channel, **properties},
        "timestamp": at.isoformat(),
    }
    if message_id is not None:
        message["messageId"] = message_id
    return message


def identify(user: str, traits: dict, at: datetime, *, message_id: str | None = None) -> dict:
    """A Segment ``identify`` message setting ``traits`` on ``user``."""
    message = {"type": "identify", "userId": user, "traits": traits, "timestamp": at.isoformat()}
    if message_id is not None:
        message["messageId"] = message_id
    return message


def ingest(workspace, messages: list[dict], *, received_at: datetime | None = None):
    """Store ``messages`` through the ingestion pipeline, received at ``received_at`` (default:
    now); the test fails on any message that is rejected or not stored (a repeated messageId),
    naming it."""
    result = events_ingest(workspace=workspace, messages=messages, received_at=received_at)
    assert not result.rejected, result.rejected
    assert result.accepted == len(messages), f"{len(messages) - result.accepted} not stored"
    return result


def customer_id(workspace, user_id: str) -> int:
    """The profile that user id ``user_id`` resolved to."""
    return workspace.identity_set.get(kind="user_id", value=user_id).customer_id


# ------------------------------------------------------------------ surveys and answers


def survey_make(workspace, *, name: str = "NPS", kind: str = "nps", **fields: Any) -> Survey:
    """A survey row (no questions) with a unique public token."""
    fields.setdefault("public_token", f"t{next(_keys)}")
    return Survey.objects.create(workspace=workspace, name=name, kind=kind, **fields)


def response_make(
    workspace,
    survey: Survey,
    submitted_at: datetime,
    *,
    save: bool = True,
    nps: int | None = None,
    csat: int | None = None,
    ces: int | None = None,
    **fields: Any,
) -> Response:
    """A completed response submitted at ``submitted_at`` (started a few minutes before) with
    the given scores; ``save=False`` leaves it unsaved, for ``bulk_create`` (then call
    ``score_days_refresh`` with their buckets, as the services do, or the dashboard's rollup
    misses them)."""
    fields.setdefault("completed", True)
    for metric, score in (("nps", nps), ("csat", csat), ("ces", ces)):
        if score is not None:
            fields[f"{metric}_score"] = score
    response = Response(
        workspace=workspace,
        survey=survey,
        response_key=f"k{next(_keys)}",
        started_at=submitted_at - timedelta(minutes=3),
        submitted_at=submitted_at if fields["completed"] else None,
        **fields,
    )
    if save:
        response.save()
        score_days_refresh(buckets=[response_bucket(response)])
    return response
