"""Writes for workspaces, members and write keys."""

import re
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AbstractUser, AnonymousUser
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


# whoever asked for a change: request.user in a view (signed in there), None for the system
Actor = AbstractBaseUser | AnonymousUser | None


def _who(actor: Actor) -> AbstractUser | None:
    return actor if isinstance(actor, AbstractUser) else None


class TeamError(ValueError):
    """A member or key change that would break the workspace (e.g. remove its last admin)."""


def write_key_create(
    *,
    workspace: Workspace,
    label: str = "default",
    key: str | None = None,
    kind: str = WriteKeyKind.BROWSER,
    actor: Actor = None,
) -> WriteKey:
    """Issue a new write key (random unless given, e.g. to match an existing tracker setup)."""
    if kind not in WriteKeyKind.values:
        raise ValueError(
            f"unknown key kind {kind!r}; expected one of {', '.join(WriteKeyKind.values)}"
        )
    write_key = WriteKey.objects.create(
        workspace=workspace, label=label, key=key or secrets.token_urlsafe(24), kind=kind
    )
    audit_record(
        workspace=workspace, action="key_created", actor=_who(actor), target=f"key {write_key.pk}",
        detail={"label": label, "kind": kind},
    )  # fmt: skip
    return write_key


def write_key_revoke(*, write_key: WriteKey, actor: Actor = None) -> None:
    """Stop accepting a write key; events sent with it get 401 from then on."""
    if write_key.revoked_at is not None:
        return
    write_key.revoked_at = timezone.now()
    write_key.save(update_fields=["revoked_at"])
    audit_record(
        workspace=write_key.workspace, action="key_revoked", actor=_who(actor),
        target=f"key {write_key.pk}", detail={"label": write_key.label, "kind": write_key.kind},
    )  # fmt: skip


def _admins_left(workspace: Workspace, *, without: AbstractUser) -> int:
    """Admins other than ``without``; their rows stay locked (in id order, so two admins
    demoting each other at once take turns and the second sees the first's change)."""
    admins = Membership.objects.select_for_update().filter(workspace=workspace, role=Role.ADMIN)
    return sum(1 for m in admins.order_by("pk") if m.user_id != without.pk)


@transaction.atomic
def membership_set(
    *, user: AbstractUser, workspace: Workspace, role: str, actor: Actor = None
) -> Membership:
    """Give a user a role in a workspace (creates or changes the membership).

    The last admin cannot be demoted: someone must be able to manage the workspace.
    """
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(Role.values)}")
    others = _admins_left(workspace, without=user)  # locks the admin rows first, in one order
    current = (
        Membership.objects.select_for_update().filter(user_id=user.pk, workspace=workspace).first()
    )
    previous = current.role if current else None
    if current is not None and current.role == role:
        return current
    if previous == Role.ADMIN and not others:
        raise TeamError(f"{user.get_username()} is the last admin; make someone else admin first")
    membership, _ = Membership.objects.update_or_create(
        user_id=user.pk, workspace=workspace, defaults={"role": role}
    )
    audit_record(
        workspace=workspace, action="member_role_set", actor=_who(actor), target=user.get_username(),
        detail={"role": role, "previous": previous},
    )  # fmt: skip
    return membership


@transaction.atomic
def membership_remove(*, user: AbstractUser, workspace: Workspace, actor: Actor = None) -> None:
    """Take a user out of a workspace (never its last admin)."""
    others = _admins_left(workspace, without=user)  # locks the admin rows first, in one order
    current = (
        Membership.objects.select_for_update().filter(user_id=user.pk, workspace=workspace).first()
    )
    if current is None:
        return
    if current.role == Role.ADMIN and not others:
        raise TeamError(f"{user.get_username()} is the last admin; make someone else admin first")
    current.delete()
    audit_record(
        workspace=workspace, action="member_removed", actor=_who(actor), target=user.get_username(),
        detail={"previous": current.role},
    )  # fmt: skip


@transaction.atomic
def member_add(
    *,
    workspace: Workspace,
    username: str,
    role: str,
    email: str = "",
    password: str = "",
    actor: Actor = None,
) -> tuple[Membership, bool]:
    """Add an existing user (by user name) or a new one (needs ``password``) with ``role``.

    Returns the membership and whether the user was created.
    """
    existing = get_user_model().objects.filter(username=username).first()
    if existing is not None:
        return membership_set(user=existing, workspace=workspace, role=role, actor=actor), False
    if not password:
        raise TeamError(f"no user {username!r} yet: give a password to create one")
    user = user_create_or_reset(username=username, password=password, email=email)
    return membership_set(user=user, workspace=workspace, role=role, actor=actor), True


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
    actor: Actor = None,
    target: str = "",
    detail: dict | None = None,
) -> AuditEntry:
    """Record an audited action (export, erasure, merge/unmerge, role or key change)."""
    user = actor if isinstance(actor, get_user_model()) and actor.is_authenticated else None
    label = user.get_username() if user is not None else ""
    return AuditEntry.objects.create(
        workspace=workspace,
        actor=user if label else None,
        actor_label=label,
        action=action,
        target=str(target)[:200],
        detail=detail or {},
    )


MAX_SESSION_MINUTES = 24 * 60
SESSION_PROPERTY = r"^[A-Za-z_$][\w$-]*(\.[A-Za-z_$][\w$-]*)*$"  # a property name or dotted path


@transaction.atomic
def workspace_sessions_set(
    *, workspace: Workspace, timeout_minutes: int, session_property: str, actor: Actor = None
) -> Workspace:
    """How the workspace's events form sessions (``analytics.sessions``): the inactivity that
    ends one, and the property carrying the tracker's session id ('' for sessionId, then
    session_id). Raises ValueError naming the field."""
    if not 1 <= timeout_minutes <= MAX_SESSION_MINUTES:
        raise ValueError(f"timeout_minutes: between 1 and {MAX_SESSION_MINUTES}")
    session_property = session_property.strip()
    if session_property and (
        len(session_property) > 100 or not re.match(SESSION_PROPERTY, session_property)
    ):
        raise ValueError(
            "session_property: a property name such as sessionId (letters, digits, _ and $; "
            "dots for nested properties), at most 100 characters"
        )
    before = {"timeout": workspace.session_timeout_minutes, "property": workspace.session_property}
    workspace.session_timeout_minutes = timeout_minutes
    workspace.session_property = session_property
    workspace.save(update_fields=["session_timeout_minutes", "session_property"])
    audit_record(
        workspace=workspace, action="sessions.settings", actor=actor, target=workspace.slug,
        detail={"before": before, "after": {"timeout": timeout_minutes, "property": session_property}},
    )  # fmt: skip
    return workspace
