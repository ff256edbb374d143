"""Writes for workspaces, members and write keys."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from cxloop.core.models import AuditEntry, Membership, Role, Workspace, WriteKey, WriteKeyKind


@transaction.atomic
def workspace_create(*, name: str, slug: str | None = None, phone_region: str = "US") -> Workspace:
    """Create a workspace with one write key."""
    workspace = Workspace.objects.create(
        name=name, slug=slug or slugify(name)[:64], default_phone_region=phone_region.upper()
    )
    write_key_create(workspace=workspace)
    return workspace


def write_key_create(
    *,
    workspace: Workspace,
    label: str = "default",
    key: str | None = None,
    kind: str = WriteKeyKind.BROWSER,
) -> WriteKey:
    """Issue a new write key (random unless given, e.g. to match an existing tracker setup)."""
    if kind not in WriteKeyKind.values:
        raise ValueError(
            f"unknown key kind {kind!r}; expected one of {', '.join(WriteKeyKind.values)}"
        )
    return WriteKey.objects.create(
        workspace=workspace, label=label, key=key or secrets.token_urlsafe(24), kind=kind
    )


def write_key_revoke(*, write_key: WriteKey) -> None:
    """Stop accepting a write key; events sent with it get 401 from then on."""
    write_key.revoked_at = timezone.now()
    write_key.save(update_fields=["revoked_at"])


def membership_set(*, user: AbstractUser, workspace: Workspace, role: str) -> Membership:
    """Give a user a role in a workspace (creates or changes the membership)."""
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(Role.values)}")
    membership, _ = Membership.objects.update_or_create(
        user=user, workspace=workspace, defaults={"role": role}
    )
    return membership


def user_create_or_reset(
    *, username: str, password: str, email: str = "", superuser: bool = False
) -> AbstractUser:
    """Create a user, or set the password of an existing one."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=username, defaults={"email": email})
    user.set_password(password)
    if superuser:
        user.is_staff = user.is_superuser = True
    user.save()
    return user


def audit_record(
    *,
    workspace: Workspace,
    action: str,
    actor: AbstractUser | None = None,
    target: str = "",
    detail: dict | None = None,
) -> AuditEntry:
    """Record an audited action (export, erasure, merge/unmerge, role or key change)."""
    label = actor.get_username() if actor is not None and actor.is_authenticated else ""
    return AuditEntry.objects.create(
        workspace=workspace,
        actor=actor if label else None,
        actor_label=label,
        action=action,
        target=str(target)[:200],
        detail=detail or {},
    )
