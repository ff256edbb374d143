"""Event triggers, invitations by email through a real SMTP server, and answers tied to them."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

import factories
from cxloop.customers.models import Customer
from cxloop.events import selectors as event_selectors
from cxloop.feedback import _invitations, services
from cxloop.feedback.models import Invitation, Response

# recent, so the events count as live touches rather than imported history
T0 = (datetime.now(UTC) - timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)


class Sink:
    """Collects every message the SMTP server receives."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    """A real SMTP server on localhost; Django's SMTP backend points at it."""
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.PUBLIC_BASE_URL = "https://cx.example"
    settings.DEFAULT_FROM_EMAIL = "Acme <feedback@acme.example>"
    yield sink
    controller.stop()


def at(days: float) -> str:
    return (T0 + timedelta(days=days)).isoformat()


def person(user: str, email: str, *, consent: bool | None = True) -> dict:
    message = {
        "type": "identify", "userId": user, "timestamp": at(0),
        "traits": {"email": email, "name": user.title()},
    }  # fmt: skip
    if consent is not None:
        message["context"] = {"consent": {"categoryPreferences": {"email": consent}}}
    return message


def order(user: str, day: float, channel: str = "web", **props) -> dict:
    return {
        "type": "track", "userId": user, "event": "Order Completed", "timestamp": at(day),
        "properties": {"channel": channel, "order_id": f"{user}-{day}", **props},
    }  # fmt: skip


def ingest(workspace, messages: list[dict]) -> None:
    """``factories.ingest``, one message at a time, because these tests stamp messages up to 100
    days after today: those arrive live, received when they happen (ingestion refuses timestamps
    over a day after receipt), so each needs its own receipt time; the others arrive now."""
    now = datetime.now(UTC)
    for message in messages:
        stamp = datetime.fromisoformat(message.get("timestamp", now.isoformat()))
        factories.ingest(workspace, [message], received_at=stamp if stamp > now else None)


@pytest.fixture
def post_purchase(workspace):
    survey = services.survey_create_from_template(workspace=workspace, template="post_purchase")
    trigger = services.trigger_create(
        survey=survey, event_name="Order Completed", delay_minutes=3 * 24 * 60,
        frequency_cap_days=90, consent_channel="email",
    )  # fmt: skip
    return survey, trigger


def test_trigger_schedules_one_invitation_per_event_with_delay_and_cap(workspace, post_purchase):
    _, trigger = post_purchase
    ingest(workspace, [person("ann", "ann@example.com"), order("ann", 1), order("ann", 20),
                       order("ann", 100, channel="store"), {**order("ann", 5), "event": "Order Refunded"}])  # fmt: skip
    # when
    scheduled = services.triggers_scan(workspace=workspace)
    again = services.triggers_scan(workspace=workspace)
    # then: day 1 asked, day 20 within 90 days of it, day 100 asked again
    rows = list(
        Invitation.objects.order_by("due_at").values_list("due_at", "status", "channel", "reason")
    )
    assert (scheduled, again) == (2, 0)
    assert rows == [
        (T0 + timedelta(days=4), "scheduled", "web", ""),
        (T0 + timedelta(days=23), "skipped", "web",
         f"already asked on {T0 + timedelta(days=4):%d %b %Y} (at most once in 90 days)"),
        (T0 + timedelta(days=103), "scheduled", "store", ""),
    ]  # fmt: skip
    assert all(i.touchpoint == "Order Completed" for i in Invitation.objects.all())
    trigger.refresh_from_db()
    assert trigger.cursor_event_id == event_selectors.latest_event_id(workspace_id=workspace.pk)


def test_trigger_conditions_and_events_before_it_existed(workspace):
    ingest(workspace, [person("bo", "bo@example.com"), order("bo", 1)])  # before the trigger
    survey = services.survey_create_from_template(workspace=workspace, template="csat")
    services.trigger_create(
        survey=survey, event_name="Order Completed", conditions={"channel": "store"}
    )
    ingest(workspace, [order("bo", 2, channel="web"), order("bo", 3, channel="store")])
    assert services.triggers_scan(workspace=workspace) == 1
    assert list(Invitation.objects.values_list("channel", "due_at")) == [
        ("store", T0 + timedelta(days=3))
    ]


def test_due_invitations_are_emailed_through_smtp_honouring_consent(workspace, post_purchase, smtp):
    # given: Ann consented, Bob withdrew, Cy was never asked, Di has no email identity
    ingest(workspace, [
        person("ann", "ann@example.com"), person("bob", "bob@example.com", consent=False),
        person("cy", "cy@example.com", consent=None),
        {"type": "identify", "userId": "di", "timestamp": at(0),
         "context": {"consent": {"categoryPreferences": {"email": True}}}},
        order("ann", 1), order("bob", 1), order("cy", 1), order("di", 1),
    ])  # fmt: skip
    services.triggers_scan(workspace=workspace)
    # when: not yet due, then due
    early = services.invitations_send_due(workspace=workspace, now=T0 + timedelta(days=3))
    report = services.invitations_send_due(workspace=workspace, now=T0 + timedelta(days=4, hours=1))
    # then
    assert (early.sent, early.skipped) == (0, 0)
    assert (report.sent, report.skipped, report.failed) == (1, 3, 0)
    reasons = dict(Invitation.objects.values_list("customer__display_name", "reason"))
    assert reasons == {"Ann": "", "Bob": "email consent withdrawn", "Cy": "no email consent",
                       "di": "no email address"}  # fmt: skip
    [(recipients, message)] = smtp.messages
    invitation = Invitation.objects.get(status="sent")
    link = f"https://cx.example/s/{survey_token(invitation)}/?i={invitation.token}"
    assert recipients == ["ann@example.com"]
    assert message["Subject"] == "Acme Retail: how did we do?"
    assert message["From"] == "Acme <feedback@acme.example>"
    assert message["X-Cxloop-Invitation"] == invitation.token
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "How satisfied are you with your recent order?" in text
    assert link in text
    assert f"{link}&amp;csat=5" in html
    assert invitation.email == "ann@example.com"
    # and a second round sends nothing again
    assert services.invitations_send_due(workspace=workspace, now=T0 + timedelta(days=9)).sent == 0
    assert len(smtp.messages) == 1


def survey_token(invitation) -> str:
    return invitation.survey.public_token


def test_smtp_failure_is_recorded_and_not_retried_blindly(workspace, post_purchase, settings):
    ingest(workspace, [person("ann", "ann@example.com"), order("ann", 1)])
    services.triggers_scan(workspace=workspace)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    with pytest.raises(ConnectionRefusedError):
        services.invitations_send_due(workspace=workspace, now=T0 + timedelta(days=5))
    assert Invitation.objects.get().status == "scheduled"  # the server was down: try next round


def test_answer_through_invitation_is_tied_to_customer_and_touchpoint(workspace, post_purchase):
    survey, _ = post_purchase
    ingest(workspace, [person("ann", "ann@example.com"), order("ann", 1, channel="app")])
    services.triggers_scan(workspace=workspace)
    invitation = Invitation.objects.get()
    # when
    result = services.response_submit(
        survey=survey, answers={"csat": 2, "problem": "late_delivery"},
        response_key=f"inv-{invitation.token}", invitation=invitation, source="email",
    )  # fmt: skip
    # then
    response = Response.objects.get()
    ann = Customer.objects.get(display_name="Ann")
    assert result.created
    assert (response.customer_id, response.channel, response.touchpoint, response.source) == (
        ann.pk, "app", "Order Completed", "email",
    )  # fmt: skip
    assert response.invitation_id == invitation.pk


def test_feedback_task_runs_a_cycle_and_queues_the_next(workspace, post_purchase, smtp, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    ingest(workspace, [person("ann", "ann@example.com"), order("ann", -10)])
    from cxloop.feedback.tasks import feedback_cycle

    # when (immediate backend: runs now; repeat=False so it does not recurse forever)
    result = feedback_cycle.enqueue(repeat=False)
    # then: the order was 10 days ago, so the invitation (due 3 days later) went out at once
    assert result.return_value == {"scheduled": 1, "sent": 1, "skipped": 0, "failed": 0}
    assert [r for r, _ in smtp.messages] == [["ann@example.com"]]


def test_worker_chain_is_started_once(db):
    from django_tasks_db.models import DBTaskResult

    from cxloop.feedback.tasks import ensure_feedback_cycle, feedback_cycle

    # when: `cxloop serve` starts twice
    first, second = ensure_feedback_cycle(), ensure_feedback_cycle()
    # then: one queued run, which the db_worker picks up
    queued = DBTaskResult.objects.filter(task_path=feedback_cycle.module_path)
    assert (first, second) == (True, False)
    assert list(queued.values_list("status", flat=True)) == ["READY"]


def test_invitation_email_in_the_customers_language(workspace, smtp):
    survey = services.survey_create_from_template(workspace=workspace, template="ces")
    services.trigger_create(survey=survey, event_name="Ticket Closed", consent_channel="")
    ingest(workspace, [
        {"type": "identify", "userId": "lea", "timestamp": at(0),
         "traits": {"email": "lea@example.fr", "name": "Léa", "locale": "fr_FR"}},
        {"type": "track", "userId": "lea", "event": "Ticket Closed", "timestamp": at(1),
         "properties": {"channel": "phone"}},
    ])  # fmt: skip
    services.triggers_scan(workspace=workspace)
    report = services.invitations_send_due(workspace=workspace, now=T0 + timedelta(days=2))
    [(_, message)] = smtp.messages
    token = Invitation.objects.get().token
    assert report.sent == 1
    assert message["Subject"] == "Acme Retail : qu'avez-vous pensé de nous ?"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Bonjour Léa,\n\nAcme Retail aimerait connaître votre avis.")
    assert "Dans quelle mesure a-t-il été facile d'obtenir ce dont vous aviez besoin ?" in text
    assert f"https://cx.example/s/{survey.public_token}/?i={token}&lang=fr" in text


def test_withdrawn_consent_is_honoured_even_when_the_trigger_does_not_require_consent(
    workspace, smtp
):
    survey = services.survey_create_from_template(workspace=workspace, template="csat")
    services.trigger_create(survey=survey, event_name="Order Completed", consent_channel="")
    ingest(workspace, [
        person("ann", "ann@example.com", consent=None), person("bob", "bob@example.com", consent=False),
        order("ann", 1), order("bob", 1),
    ])  # fmt: skip
    services.triggers_scan(workspace=workspace)

    report = services.invitations_send_due(workspace=workspace, now=T0 + timedelta(days=30))

    assert (report.sent, report.skipped) == (1, 1)
    assert [r for r, _ in smtp.messages] == [["ann@example.com"]]


def test_an_invitation_claimed_by_another_round_is_not_sent_again(workspace, post_purchase, smtp):
    ingest(workspace, [person("ann", "ann@example.com"), order("ann", 1)])
    services.triggers_scan(workspace=workspace)
    invitation = Invitation.objects.get()
    real_email = _invitations._email

    def overlapping_round(inv, connection):  # another sender runs while this one is sending
        services.invitations_send_due(workspace=workspace, now=T0 + timedelta(days=5))
        real_email(inv, connection)

    _invitations._email = overlapping_round
    try:
        report = services.invitations_send_due(workspace=workspace, now=T0 + timedelta(days=5))
    finally:
        _invitations._email = real_email

    assert report.sent == 1
    assert len(smtp.messages) == 1
    invitation.refresh_from_db()
    assert invitation.status == "sent"


def test_history_imported_after_the_trigger_is_not_asked_about(workspace, post_purchase):
    long_ago = (datetime.now(UTC) - timedelta(days=200)).isoformat()
    ingest(workspace, [
        person("ann", "ann@example.com"),
        {"type": "track", "userId": "ann", "event": "Order Completed", "timestamp": long_ago,
         "properties": {"channel": "web"}},
    ])  # fmt: skip

    assert services.triggers_scan(workspace=workspace) == 0
    invitation = Invitation.objects.get()
    assert invitation.status == "skipped"
    assert invitation.reason.startswith("the event arrived 2")
