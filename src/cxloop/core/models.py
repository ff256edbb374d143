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
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    ANALYST = "analyst", "Analyst"
    AGENT = "agent", "Agent"


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
