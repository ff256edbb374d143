"""Tenancy and access: workspaces, members with roles, tracking write keys."""

from django.conf import settings
from django.db import models

from cxloop.core import keycache


class Workspace(models.Model):
    """A tenant. Every customer, event and setting belongs to exactly one workspace."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    default_phone_region = models.CharField(
        max_length=2,
        default="US",
        help_text="ISO country used to read phone numbers without +code.",
    )
    # sessions (analytics.sessions): a new session after this much inactivity, unless the
    # tracker's session id property (blank: sessionId, then session_id) says otherwise
    session_timeout_minutes = models.PositiveIntegerField(default=30, db_default=30)
    session_property = models.CharField(max_length=100, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    """The roles of ``core.permissions`` (which says what each may do)."""

    ADMIN = "admin", "Admin"
    ANALYST = "analyst", "Analyst"
    AGENT = "agent", "Agent"
    VIEWER = "viewer", "Viewer"


class WriteKeyKind(models.TextChoices):
    """A browser key ships in web pages and apps (public); a server key stays secret."""

    BROWSER = "browser", "Browser / mobile (public)"
    SERVER = "server", "Server (secret)"


class Membership(models.Model):
    """A user's access to one workspace, with one role."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANALYST)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.workspace} ({self.role})"


class WriteKey(models.Model):
    """A Segment-style write key: a tracking client sends it as the HTTP Basic user name."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="write_keys")
    key = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, default="default")
    kind = models.CharField(
        max_length=16, choices=WriteKeyKind.choices, default=WriteKeyKind.BROWSER
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.label} ({self.workspace})"

    def save(self, *args, **kwargs) -> None:
        # a revoked or changed key must stop working now, not when its cache entry expires
        keys = {self.key}
        if self.pk:
            keys.update(WriteKey.objects.filter(pk=self.pk).values_list("key", flat=True))
        super().save(*args, **kwargs)
        keycache.forget_after_commit(keys)

    def delete(self, *args, **kwargs):
        keycache.forget_after_commit({self.key})
        return super().delete(*args, **kwargs)


class AuditEntry(models.Model):
    """Who did what to whose data: exports, erasures, merges/unmerges, role and key changes."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=150, blank=True)  # kept if the user is deleted
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return (
            f"{self.at:%Y-%m-%d %H:%M} {self.actor_label or 'system'} {self.action} {self.target}"
        )
