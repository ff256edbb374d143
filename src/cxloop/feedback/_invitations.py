"""Triggers and invitations: scanning events, sending due invitations by email."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from cxloop.core.models import Workspace
from cxloop.customers import selectors as customer_selectors
from cxloop.events import selectors as event_selectors
from cxloop.feedback import selectors
from cxloop.feedback.logic import (
    FieldError,
    SurveyInvalid,
    SurveyUnavailable,
)
from cxloop.feedback.models import (
    Invitation,
    InvitationStatus,
    Survey,
    Trigger,
)

if TYPE_CHECKING:
    from cxloop.customers.models import Customer

from cxloop.feedback._surveys import HISTORY_AFTER, PUBLIC_PATH, _token, survey_check_open

# ---------------------------------------------------------------- triggers and invitations


def trigger_create(
    *,
    survey: Survey,
    event_name: str,
    conditions: Mapping | None = None,
    delay_minutes: int = 0,
    frequency_cap_days: int = 90,
    consent_channel: str = "email",
    send_channel: str = "email",
    from_event_id: int | None = None,
) -> Trigger:
    """Ask ``survey`` after each ``event_name`` event from now on (or after ``from_event_id``)."""
    errors = []
    if not isinstance(event_name, str) or not event_name.strip():
        errors.append(FieldError("event_name", "name the event, e.g. 'Order Completed'"))
    if conditions is not None and (
        not isinstance(conditions, Mapping)
        or any(not isinstance(v, str | int | float | bool) for v in conditions.values())
    ):
        errors.append(FieldError("conditions", 'expected {"property": value} with plain values'))
    for name, value in (
        ("delay_minutes", delay_minutes),
        ("frequency_cap_days", frequency_cap_days),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors.append(FieldError(name, "expected a whole number ≥ 0"))
    if send_channel != "email":
        errors.append(FieldError("send_channel", "only email sending is available"))
    if survey.is_review_inbox:
        errors.append(FieldError("survey", "reviews are imported, not asked"))
    if errors:
        raise SurveyInvalid(errors)
    cursor = (
        from_event_id
        if from_event_id is not None
        else event_selectors.latest_event_id(workspace_id=survey.workspace_id)
    )
    return Trigger.objects.create(
        workspace_id=survey.workspace_id,
        survey=survey,
        event_name=event_name.strip(),
        conditions=dict(conditions or {}),
        delay_minutes=delay_minutes,
        frequency_cap_days=frequency_cap_days,
        consent_channel=consent_channel.strip().lower(),
        send_channel=send_channel,
        cursor_event_id=cursor,
    )


def trigger_set_active(*, trigger: Trigger, active: bool) -> None:
    trigger.active = active
    trigger.save(update_fields=["active"])


def _matches(conditions: Mapping, event) -> bool:
    for key, wanted in conditions.items():
        actual = event.channel if key == "channel" else event.properties.get(key)
        if actual != wanted and str(actual) != str(wanted):
            return False
    return True


def triggers_scan(
    *, workspace: Workspace | None = None, batch: int = 5000, now: datetime | None = None
) -> int:
    """Schedule invitations for events that arrived since each trigger's cursor.

    Idempotent on (trigger, event); a customer already asked this survey within the trigger's
    frequency cap gets a ``skipped`` invitation saying so. Returns how many were scheduled.
    """
    triggers = Trigger.objects.filter(active=True).select_related("survey")
    if workspace is not None:
        triggers = triggers.filter(workspace=workspace)
    scheduled = 0
    for trigger in triggers:
        while True:
            done, more = _scan_one(trigger, batch)
            scheduled += done
            if not more:
                break
    return scheduled


@transaction.atomic
def _scan_one(trigger: Trigger, batch: int) -> tuple[int, bool]:
    trigger = Trigger.objects.select_for_update().select_related("survey").get(pk=trigger.pk)
    ceiling = event_selectors.latest_event_id(workspace_id=trigger.workspace_id)
    events = event_selectors.events_after(
        workspace_id=trigger.workspace_id,
        name=trigger.event_name,
        after_id=trigger.cursor_event_id,
        up_to_id=ceiling,
        limit=batch,
    )
    more = len(events) == batch
    if not events:
        # nothing matched: later scans start after the events seen so far
        if ceiling > trigger.cursor_event_id:
            trigger.cursor_event_id = ceiling
            trigger.save(update_fields=["cursor_event_id"])
        return 0, False
    live = customer_selectors.customer_survivor_ids(customer_ids={e.customer_id for e in events})
    cap = timedelta(days=trigger.frequency_cap_days)
    last_asked = selectors.last_invited(
        survey_id=trigger.survey_id, customer_ids=set(live.values())
    )
    rows = []
    for event in events:
        if not _matches(trigger.conditions, event):
            continue
        customer_id = live[event.customer_id]
        due = event.occurred_at + timedelta(minutes=trigger.delay_minutes)
        previous = last_asked.get(customer_id)
        status, reason = InvitationStatus.SCHEDULED, ""
        if event.received_at - event.occurred_at > HISTORY_AFTER:
            status = InvitationStatus.SKIPPED  # imported history: too late to ask about it
            reason = f"the event arrived {(event.received_at - event.occurred_at).days} days late"
        elif previous is not None and cap and abs(due - previous) < cap:
            status = InvitationStatus.SKIPPED
            reason = f"already asked on {previous:%d %b %Y} (at most once in {cap.days} days)"
        else:
            last_asked[customer_id] = due
        rows.append(
            Invitation(
                workspace_id=trigger.workspace_id,
                survey_id=trigger.survey_id,
                trigger=trigger,
                customer_id=customer_id,
                event_id=event.pk,
                token=_token(),
                channel=event.channel,
                touchpoint=event.name,
                send_channel=trigger.send_channel,
                due_at=due,
                status=status,
                reason=reason,
            )
        )
    Invitation.objects.bulk_create(rows, ignore_conflicts=True)
    trigger.cursor_event_id = events[-1].pk if more else ceiling
    trigger.save(update_fields=["cursor_event_id"])
    return sum(r.status == InvitationStatus.SCHEDULED for r in rows), more


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    reasons: list[str] = field(default_factory=list)


def invitation_link(invitation: Invitation) -> str:
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    path = PUBLIC_PATH.format(token=invitation.survey.public_token)
    return f"{base}{path}?i={invitation.token}"


def invitations_send_due(
    *, workspace: Workspace | None = None, now: datetime | None = None, limit: int = 500
) -> SendReport:
    """Email every invitation that is due, honouring consent and the frequency cap.

    Each one ends ``sent``, ``skipped`` (with the reason: no consent, no address, asked recently,
    survey closed) or ``failed`` (the SMTP error), so a retry never sends twice.
    """
    now = now or timezone.now()
    report = SendReport()
    due = (
        Invitation.objects.filter(status=InvitationStatus.SCHEDULED, due_at__lte=now)
        .select_related("survey", "survey__workspace", "trigger", "customer")
        .order_by("due_at", "pk")
    )
    if workspace is not None:
        due = due.filter(workspace=workspace)
    due = due[:limit]
    connection = None
    try:
        for invitation in due:
            reason = _why_not_send(invitation, now)
            if reason:
                invitation.status, invitation.reason = InvitationStatus.SKIPPED, reason
                invitation.save(update_fields=["status", "reason", "customer"])
                report.skipped += 1
                report.reasons.append(reason)
                continue
            if connection is None:  # a server that is down leaves everything scheduled
                connection = get_connection()
                connection.open()
            # claim it first: an overlapping round (worker + `cxloop feedback send`) skips it
            claimed = Invitation.objects.filter(
                pk=invitation.pk, status=InvitationStatus.SCHEDULED
            ).update(status=InvitationStatus.SENT, sent_at=now)
            if not claimed:
                continue
            try:
                _email(invitation, connection)
            except Exception as exc:  # noqa: BLE001 (SMTP, socket, encoding: recorded, the batch goes on)
                invitation.status = InvitationStatus.FAILED
                invitation.reason = f"{type(exc).__name__}: {exc}"[:300]
                report.failed += 1
                report.reasons.append(invitation.reason)
            else:
                invitation.status, invitation.sent_at = InvitationStatus.SENT, now
                report.sent += 1
            invitation.save(update_fields=["status", "reason", "sent_at", "email", "customer"])
    finally:
        if connection is not None:
            connection.close()
    return report


def _why_not_send(invitation: Invitation, now: datetime) -> str:
    customer = invitation.customer
    while customer.merged_into_id:
        customer = customer.merged_into or customer
    invitation.customer = customer
    try:
        survey_check_open(survey=invitation.survey, now=now)
    except SurveyUnavailable as exc:
        return str(exc)
    trigger = invitation.trigger
    consent = {c.channel: c.status for c in customer_selectors.customer_consents(customer=customer)}
    if consent.get(invitation.send_channel) == "withdrawn":  # always honoured
        return f"{invitation.send_channel} consent withdrawn"
    wanted = trigger.consent_channel if trigger else "email"
    if wanted and consent.get(wanted) != "granted":
        return f"no {wanted} consent"
    cap_days = trigger.frequency_cap_days if trigger else 0
    if cap_days:
        recent = selectors.last_sent(
            survey_id=invitation.survey_id,
            customer_id=customer.pk,
            since=now - timedelta(days=cap_days),
        )
        if recent is not None:
            return f"already asked on {recent:%d %b %Y} (at most once in {cap_days} days)"
    email = selectors.customer_email(customer=customer)
    if not email:
        return "no email address"
    invitation.email = email
    return ""


_EMAIL_TEXT = {
    "en": {"hello": "Hello", "ask": "{name} would like to hear about your experience.",
           "answer": "Answer the survey", "here": "Answer here (it takes less than a minute):",
           "thanks": "It takes less than a minute. Thank you!"},
    "fr": {"hello": "Bonjour", "ask": "{name} aimerait connaître votre avis.",
           "answer": "Répondre au questionnaire", "here": "Répondez ici (moins d'une minute) :",
           "thanks": "Cela prend moins d'une minute. Merci !"},
    "de": {"hello": "Hallo", "ask": "{name} möchte gern von Ihren Erfahrungen hören.",
           "answer": "Zur Umfrage", "here": "Hier antworten (dauert weniger als eine Minute):",
           "thanks": "Es dauert weniger als eine Minute. Danke!"},
}  # fmt: skip
_SUBJECTS = {
    "en": "{name}: how did we do?",
    "fr": "{name} : qu'avez-vous pensé de nous ?",
    "de": "{name}: Wie waren wir?",
}


def _email(invitation: Invitation, connection) -> None:
    survey = invitation.survey
    traits = invitation.customer.traits or {}
    wanted = str(traits.get("language") or traits.get("locale") or "").replace("_", "-")
    language = selectors.pick_language(survey=survey, accept_language=wanted)
    first = survey.questions.order_by("position").first()
    link = invitation_link(invitation)
    if language != survey.default_language:
        link += f"&lang={language}"
    context = {
        "survey": survey,
        "workspace": survey.workspace,
        "language": language,
        "link": link,
        "text": {
            key: value.format(name=survey.workspace.name)
            for key, value in _EMAIL_TEXT.get(language, _EMAIL_TEXT["en"]).items()
        },
        "question": selectors.localized_question(first, language) if first else None,
        "customer": invitation.customer,
    }
    subject = _SUBJECTS.get(language, _SUBJECTS["en"]).format(name=survey.workspace.name)
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("feedback/email/invitation.txt", context),
        to=[invitation.email],
        connection=connection,
        headers={"X-Cxloop-Invitation": invitation.token},
    )
    message.attach_alternative(
        render_to_string("feedback/email/invitation.html", context), "text/html"
    )
    message.send()


def feedback_cycle(*, now: datetime | None = None) -> tuple[int, SendReport]:
    """One round of the background work: schedule from new events, then send what is due."""
    scheduled = triggers_scan(now=now)
    return scheduled, invitations_send_due(now=now)


def invitation_create(
    *, survey: Survey, customer: Customer, due_at: datetime | None = None, touchpoint: str = ""
) -> Invitation:
    """A one-off personal invitation (no trigger): sent by the next send round."""
    return Invitation.objects.create(
        workspace_id=survey.workspace_id,
        survey=survey,
        customer=customer,
        token=_token(),
        touchpoint=touchpoint,
        due_at=due_at or timezone.now(),
    )
