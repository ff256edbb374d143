"""Unified customer profiles: identities that point at them, consent, and the record of merges."""

from django.db import models

from cxloop.core.models import Workspace
from cxloop.customers import identifiers


class Customer(models.Model):
    """One person, however many channels and identifiers they used.

    A profile absorbed by a merge is kept with ``merged_into`` set, so old links still lead to the
    survivor; lists and searches only show live profiles (``merged_into`` is null).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    traits = models.JSONField(default=dict, blank=True)
    display_name = models.CharField(max_length=200, blank=True)
    search_text = models.TextField(blank=True, help_text="Lower-case name, identities and traits.")
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="absorbed"
    )

    class Meta:
        # customer_recent_id: the order every list of profiles uses (last seen, newest first,
        # ties by id), so a page is read off it instead of sorting every profile (0.16 s at
        # 281,000 profiles); customer_live: counting a workspace's live profiles (every page's
        # "of N customers") reads this index alone (0.43 s reading the rows, 0.01 s)
        indexes = [
            models.Index(fields=["workspace", "-last_seen_at", "-id"], name="customer_recent_id"),
            models.Index(fields=["workspace", "merged_into"], name="customer_live"),
        ]

    def __str__(self) -> str:
        return self.display_name or "Anonymous visitor"


class IdentityKind(models.TextChoices):
    USER_ID = identifiers.USER_ID, "User ID"
    ANONYMOUS_ID = identifiers.ANONYMOUS_ID, "Anonymous ID"
    EMAIL = identifiers.EMAIL, "Email"
    PHONE = identifiers.PHONE, "Phone"
    DEVICE = identifiers.DEVICE, "Device ID"
    SOCIAL = identifiers.SOCIAL, "Social handle"
    EXTERNAL = identifiers.EXTERNAL, "External (CRM) ID"


class Identity(models.Model):
    """An identifier seen for a customer. A normalized value belongs to one profile per workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)  # see unique
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    value = models.CharField(max_length=255)
    first_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "kind", "value"], name="identity_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", "Granted"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Consent(models.Model):
    """The latest consent a customer gave or withdrew for contact on one channel."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=ConsentStatus.choices)
    changed_at = models.DateTimeField()
    source = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "channel"], name="consent_unique_channel")
        ]

    def __str__(self) -> str:
        return f"{self.channel}: {self.status}"


class CustomerMerge(models.Model):
    """Audit record: ``merged`` was found to be the same person as ``survivor`` and folded into it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    survivor = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges")
    merged = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=500)
    merged_by = models.CharField(max_length=150, default="identity resolution")
    merged_at = models.DateTimeField(auto_now_add=True)
    rows_moved = models.PositiveIntegerField(default=0)
    moved = models.JSONField(
        default=dict, blank=True, help_text="What each app moved (ids, snapshots), for an unmerge."
    )
    unmerged_at = models.DateTimeField(null=True, blank=True, db_index=True)  # for MAX()
    unmerged_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-merged_at"]

    def __str__(self) -> str:
        return f"{self.merged_id} → {self.survivor_id}"


class SuppressionSalt(models.Model):
    """A workspace's random salt for :class:`Suppression` digests (made at its first erasure)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE)
    salt = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"suppression salt of {self.workspace_id}"


class Suppression(models.Model):
    """An identifier of an erased person that must not create a profile again.

    Only a salted SHA-256 of the identity kind and normalized value is kept, never the value;
    a message carrying a fresh consent grant lifts it (the person came back and agreed).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, db_index=False)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "digest"], name="suppression_unique")
        ]

    def __str__(self) -> str:
        return self.digest[:12]
