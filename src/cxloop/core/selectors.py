"""Reads for workspaces, members and write keys."""

from django.core.cache import cache
from django.db.models import Case, IntegerField, QuerySet, Value, When

from cxloop.core import keycache
from cxloop.core.models import AuditEntry, Membership, Workspace, WriteKey


def workspace_for_write_key(*, key: str) -> Workspace | None:
    """The workspace a live write key belongs to, or None for an unknown or revoked key.

    Known keys are cached for a few seconds (``core.keycache``): every tracking request asks.
    """
    if not key:
        return None
    cached = cache.get(keycache.cache_key(key))
    if cached is not None:
        return cached
    write_key = (
        WriteKey.objects.select_related("workspace")
        .filter(key=key, revoked_at__isnull=True)
        .first()
    )
    if write_key is None:
        return None
    cache.set(keycache.cache_key(key), write_key.workspace, keycache.SECONDS)
    return write_key.workspace


def workspaces_for_user(*, user) -> QuerySet[Workspace]:
    """Workspaces the user may open (all of them for a superuser)."""
    if user.is_superuser:
        return Workspace.objects.order_by("name")
    return Workspace.objects.filter(membership__user=user).order_by("name")


def membership_role(*, user, workspace: Workspace) -> str | None:
    """The user's role in the workspace ('admin' for superusers), or None without access."""
    if user.is_superuser:
        return "admin"
    membership = Membership.objects.filter(user=user, workspace=workspace).first()
    return membership.role if membership else None


def write_key_kind(*, key: str) -> str | None:
    """The kind (browser or server) of a live write key, or None for an unknown/revoked key."""
    return (
        WriteKey.objects.filter(key=key, revoked_at__isnull=True)
        .values_list("kind", flat=True)
        .first()
    )


def audit_entries(*, workspace: Workspace) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(workspace=workspace).select_related("actor")


def write_keys(*, workspace: Workspace) -> QuerySet[WriteKey]:
    return WriteKey.objects.filter(workspace=workspace).order_by("-created_at")


def workspace_get(*, slug: str) -> Workspace | None:
    return Workspace.objects.filter(slug=slug).first()


def members(*, workspace: Workspace) -> QuerySet[Membership]:
    """The workspace's memberships with their users, admins first, then by user name."""
    order = {"admin": 0, "analyst": 1, "agent": 2, "viewer": 3}
    rank = Case(
        *(When(role=role, then=Value(n)) for role, n in order.items()),
        default=Value(9),
        output_field=IntegerField(),
    )
    return (
        Membership.objects.filter(workspace=workspace)
        .select_related("user")
        .order_by(rank, "user__username")
    )


def member_get(*, workspace: Workspace, user_id: int) -> Membership | None:
    return (
        Membership.objects.filter(workspace=workspace, user_id=user_id)
        .select_related("user")
        .first()
    )


def write_key_get(*, workspace: Workspace, key_id: int) -> WriteKey | None:
    return WriteKey.objects.filter(workspace=workspace, pk=key_id).first()
