"""Rules: WHEN → IF → THEN with every firing logged with why, once per subject, loops stopped,
actions (start a workflow, assign, extend, tag, email, webhook to a real local HTTP server,
notify) and "test against history" counted by hand."""

from __future__ import annotations

import http.server
import threading
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.core import mail

from cxloop.feedback import services as feedback_services
from cxloop.workflows import selectors, services
from cxloop.workflows.models import Notice, RuleFiring, WebhookDelivery, WorkflowRun
from factories import customer_id, identify, ingest, member_make, response_make, survey_make, track

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
STEPS = [
    {"key": "contact", "title": "Call", "assignee": {"kind": "role", "role": "agent"},
     "deadline_hours": 48, "fields": [{"key": "reached", "label": "Reached", "type": "choice",
                                       "choices": ["yes", "no"], "required": True}]},
    {"key": "close", "title": "Close", "fields": []},
]  # fmt: skip
DETRACTOR = [{"field": "nps", "op": "lte", "value": 6}]


@pytest.fixture
def customer(workspace):
    ingest(workspace, [identify("u-1", {"email": "zoe@example.com", "name": "Zoe",
                                        "tier": "gold"}, T0)])  # fmt: skip
    return workspace.customer_set.get(pk=customer_id(workspace, "u-1"))


@pytest.fixture
def template(workspace):
    member_make(workspace=workspace, username="al", role="agent")
    return services.template_create(workspace=workspace, name="Follow-up", steps=STEPS)


def _rule(workspace, trigger, conditions, actions, name="r"):
    return services.rule_create(
        workspace=workspace, name=name, trigger=trigger, conditions=conditions, actions=actions,
        active=True,
    )  # fmt: skip


def test_a_bad_rule_names_every_field_at_fault(workspace, template):
    with pytest.raises(services.DefinitionError) as caught:
        services.rule_create(
            workspace=workspace, name="", trigger="response_received",
            conditions=[{"field": "nps", "op": "lte", "value": "six"},
                        {"field": "mood", "op": "eq", "value": 1}],
            actions=[{"type": "start_workflow", "template_id": 999999},
                     {"type": "webhook", "url": "ftp://example.com"},
                     {"type": "send_email", "to": "nobody", "subject": "Hi", "body": "x"},
                     {"type": "launch"}],
        )  # fmt: skip

    assert caught.value.errors == [
        "name: required",
        "condition 1: value: 'six' is not a number",
        "condition 2: field: 'mood' is not one of nps, csat, ces, survey, survey_name, channel, "
        "source, comment, trait.<name>, in_segment, stage.<map>, reached.<map>, sentiment, "
        "sentiment_score, theme, prediction.clv, prediction.churn_risk, "
        "prediction.p_alive, prediction.expected_purchases_90, prediction.value_at_risk",
        "action 1: template_id: no workflow template 999999 here",
        "action 2: url: 'ftp://example.com' is not an http(s) address",
        "action 3: to: 'nobody' is not customer or an email address",
        "action 4: type: 'launch' is not one of start_workflow, assign, extend_deadline, "
        "tag_customer, add_to_segment, send_email, webhook, notify",
    ]
    with pytest.raises(services.DefinitionError, match="an event rule names its event"):
        services.rule_create(workspace=workspace, name="e", trigger="event_received",
                             conditions=[], actions=[{"type": "notify", "role": "agent", "text": "x"}])  # fmt: skip


def test_a_detractors_answer_starts_a_follow_up_through_the_feedback_hook(
    workspace, template, customer, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    rule = _rule(workspace, "response_received", DETRACTOR,
                 [{"type": "start_workflow", "template_id": template.pk}], name="Detractors")  # fmt: skip
    survey = feedback_services.survey_create_from_template(workspace=workspace, template="nps")

    with django_capture_on_commit_callbacks(execute=True):
        feedback_services.response_submit(
            survey=survey, answers={"nps": 3}, response_key="r1", customer=customer
        )
    with django_capture_on_commit_callbacks(execute=True):
        feedback_services.response_submit(
            survey=survey, answers={"nps": 9}, response_key="r2", customer=customer
        )

    run = WorkflowRun.objects.get()
    assert run.customer == customer and run.source == f"rule:{rule.pk}"
    assert run.context["nps"] == 3
    firing = RuleFiring.objects.get()
    assert firing.why == "nps = 3 ≤ 6"
    assert firing.outcomes == [
        {"action": f"start workflow #{template.pk}", "ok": True, "detail": f"started run #{run.pk}"}
    ]


def test_a_response_fires_a_rule_once_however_often_it_is_reacted_to(workspace, template, customer):
    _rule(workspace, "response_received", DETRACTOR,
          [{"type": "start_workflow", "template_id": template.pk}])  # fmt: skip
    survey = survey_make(workspace)
    response = response_make(workspace, survey, T0, nps=2, customer=customer)

    for _ in range(3):
        services.rules_react_response(workspace_id=workspace.pk, response_id=response.pk)

    assert WorkflowRun.objects.count() == 1
    assert RuleFiring.objects.count() == 1


def test_a_rule_that_restarts_its_own_workflow_is_stopped_and_logged(workspace, template, customer):
    rule = _rule(workspace, "run_started", [{"field": "template", "op": "eq", "value": template.pk}],
                 [{"type": "start_workflow", "template_id": template.pk}], name="Again")  # fmt: skip

    services.run_start(template=template, customer=customer, at=T0)

    assert WorkflowRun.objects.count() == 4  # the manual one, then three from the rule
    statuses = list(RuleFiring.objects.order_by("pk").values_list("status", "chain"))
    assert statuses == [
        ("fired", []), ("fired", [rule.pk]), ("fired", [rule.pk, rule.pk]),
        ("loop_stopped", [rule.pk, rule.pk, rule.pk]),
    ]  # fmt: skip
    stopped = RuleFiring.objects.get(status="loop_stopped")
    assert stopped.why.endswith(
        "Loop stopped: Again → Again → Again → Again is 4 firings deep (limit 3)"
    )


def test_an_overdue_step_notifies_the_lead_and_extends_its_deadline(workspace, template, customer):
    lead = member_make(workspace=workspace, username="lead", role="admin")
    _rule(workspace, "step_overdue", [{"field": "step", "op": "eq", "value": "contact"}],
          [{"type": "notify", "role": "admin", "text": "{run.title} is late"},
           {"type": "extend_deadline", "hours": 24}])  # fmt: skip
    run = services.run_start(template=template, customer=customer, at=T0)

    services.steps_mark_overdue(now=T0 + timedelta(hours=49))

    notice = Notice.objects.get()
    assert (notice.user, notice.text, notice.run) == (lead, "Follow-up: Zoe is late", run)
    step = selectors.run_steps(run=run).first()
    assert step.due_at == T0 + timedelta(hours=72)
    assert step.overdue_at is None  # due again later: overdue again is news again


def test_a_completed_step_tags_the_customer_and_emails_the_team(workspace, template, customer):
    _rule(workspace, "step_completed", [{"field": "answer.reached", "op": "eq", "value": "no"}],
          [{"type": "tag_customer", "trait": "unreachable", "value": "yes"},
           {"type": "send_email", "to": "team@example.com", "subject": "{customer.name} unreachable",
            "body": "Tier {trait.tier}"}])  # fmt: skip
    run = services.run_start(template=template, customer=customer, at=T0)
    seen = (customer.first_seen_at, customer.last_seen_at)

    services.step_complete(step=selectors.run_steps(run=run).first(), answers={"reached": "no"})

    customer.refresh_from_db()
    assert customer.traits["unreachable"] == "yes" and customer.traits["tier"] == "gold"
    assert (customer.first_seen_at, customer.last_seen_at) == seen  # a tag is not activity
    assert [(m.to, m.subject, m.body) for m in mail.outbox] == [
        (["team@example.com"], "Zoe unreachable", "Tier gold")
    ]


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list = []
    raw: list = []
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, self.headers["Content-Type"], orjson.loads(body)))
        type(self).raw.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received, _Receiver.raw, _Receiver.status = [], [], 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_a_webhook_is_posted_to_a_real_server_and_its_answer_logged(
    workspace, template, customer, receiver
):
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    rule = _rule(workspace, "response_received", DETRACTOR, [{"type": "webhook", "url": url}])
    survey = survey_make(workspace)
    first = response_make(workspace, survey, T0, nps=4, customer=customer)
    second = response_make(workspace, survey, T0, nps=5, customer=customer)

    services.rules_react_response(workspace_id=workspace.pk, response_id=first.pk)
    _Receiver.status = 500
    services.rules_react_response(workspace_id=workspace.pk, response_id=second.pk)

    path, content_type, body = _Receiver.received[0]
    assert (path, content_type) == ("/hook", "application/json")
    assert body["rule"] == rule.pk and body["facts"]["nps"] == 4
    assert body["facts"]["trait.tier"] == "gold"
    ok, failed = RuleFiring.objects.order_by("pk")
    assert ok.status == "fired" and ok.outcomes[0]["detail"].startswith("HTTP 200 in ")
    assert failed.status == "partial"
    assert failed.outcomes[0]["detail"].startswith("not delivered: HTTP 500 after ")
    assert "retry at " in failed.outcomes[0]["detail"]


def test_a_webhook_is_signed_with_the_rules_secret_and_a_timestamp(
    workspace, template, customer, receiver
):
    import hashlib
    import hmac

    rule = _rule(workspace, "response_received", DETRACTOR,
                 [{"type": "webhook", "url": f"http://127.0.0.1:{receiver.server_port}/h"}])  # fmt: skip
    response = response_make(workspace, survey_make(workspace), T0, nps=2, customer=customer)

    services.rules_react_response(workspace_id=workspace.pk, response_id=response.pk)

    headers, body = _Receiver.raw[0]
    parts = dict(part.split("=", 1) for part in headers["Cxloop-Signature"].split(","))
    expected = hmac.new(rule.webhook_secret.encode(), f"{parts['t']}.".encode() + body,
                        hashlib.sha256).hexdigest()  # fmt: skip
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(int(parts["t"]) - time.time()) < 60
    delivery = WebhookDelivery.objects.get()
    assert headers["Cxloop-Delivery"] == str(delivery.pk)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)


def test_a_failed_webhook_is_retried_with_backoff_until_it_is_accepted(
    workspace, template, customer, receiver
):
    _rule(workspace, "response_received", DETRACTOR,
          [{"type": "webhook", "url": f"http://127.0.0.1:{receiver.server_port}/h"}])  # fmt: skip
    response = response_make(workspace, survey_make(workspace), T0, nps=2, customer=customer)
    _Receiver.status = 503
    services.rules_react_response(workspace_id=workspace.pk, response_id=response.pk)
    delivery = WebhookDelivery.objects.get()
    first_retry = delivery.next_attempt_at

    early = services.deliveries_retry_due(now=first_retry - timedelta(seconds=1))
    again = services.deliveries_retry_due(now=first_retry)  # 503 again: wait 5 minutes now
    delivery.refresh_from_db()
    second_retry = delivery.next_attempt_at
    _Receiver.status = 200
    last = services.deliveries_retry_due(now=second_retry)

    assert (early, again, last) == (0, 1, 1)
    assert second_retry == first_retry + timedelta(minutes=5)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 3, 200)
    assert len({headers["Cxloop-Delivery"] for headers, _ in _Receiver.raw}) == 1  # one id
    assert len(_Receiver.raw) == 3


def test_a_delivery_gives_up_after_six_attempts_and_can_be_resent(
    workspace, template, customer, receiver
):
    _rule(workspace, "response_received", DETRACTOR,
          [{"type": "webhook", "url": f"http://127.0.0.1:{receiver.server_port}/h"}])  # fmt: skip
    response = response_make(workspace, survey_make(workspace), T0, nps=2, customer=customer)
    _Receiver.status = 500
    services.rules_react_response(workspace_id=workspace.pk, response_id=response.pk)
    delivery = WebhookDelivery.objects.get()
    while delivery.status == "pending":
        services.deliveries_retry_due(now=delivery.next_attempt_at)
        delivery.refresh_from_db()

    assert (delivery.status, delivery.attempts) == ("failed", 6)
    _Receiver.status = 200
    resent = services.delivery_resend(delivery=delivery)
    assert (resent.status, resent.attempts) == ("delivered", 1)


def test_an_unreachable_webhook_is_logged_not_raised(workspace, template, customer, receiver):
    port = receiver.server_port
    receiver.shutdown()
    receiver.server_close()
    _rule(workspace, "response_received", DETRACTOR,
          [{"type": "webhook", "url": f"http://127.0.0.1:{port}/gone"}])  # fmt: skip
    response = response_make(workspace, survey_make(workspace), T0, nps=1, customer=customer)

    services.rules_react_response(workspace_id=workspace.pk, response_id=response.pk)

    firing = RuleFiring.objects.get()
    assert firing.status == "partial"
    assert firing.outcomes[0]["detail"].startswith("not delivered: ")


def test_an_event_rule_reads_events_from_its_cursor_once(workspace, template, customer):
    ingest(workspace, [track("u-1", "Return Requested", T0)])  # before the rule: history
    _rule(workspace, "event_received",
          [{"field": "event", "op": "eq", "value": "Return Requested"},
           {"field": "property.amount", "op": "gte", "value": 100}],
          [{"type": "start_workflow", "template_id": template.pk}])  # fmt: skip
    ingest(workspace, [track("u-1", "Return Requested", T0, amount=150),
                       track("u-1", "Return Requested", T0, amount=20),
                       track("u-1", "Order Completed", T0, amount=500)])  # fmt: skip

    first = services.rules_scan_events()
    again = services.rules_scan_events()

    assert (first, again) == (1, 0)
    assert WorkflowRun.objects.get().context["event"] == "Return Requested"


def test_test_against_history_counts_what_would_have_fired_without_acting(
    workspace, template, customer
):
    survey = survey_make(workspace)
    # in March: scores 2, 6, 7, 10 and an unanswered NPS; one detractor in February
    for day, score in ((1, 2), (5, 6), (9, 7), (20, 10), (21, None)):
        response_make(workspace, survey, datetime(2026, 3, day, 12, tzinfo=UTC), nps=score,
                      customer=customer)  # fmt: skip
    response_make(workspace, survey, datetime(2026, 2, 27, tzinfo=UTC), nps=0)

    seen, fired, listed = services.rule_test(
        workspace=workspace, trigger="response_received", conditions=DETRACTOR,
        start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 4, 1, tzinfo=UTC),
    )  # fmt: skip

    assert (seen, fired) == (5, 2)
    assert [w.at.day for w in listed] == [1, 5]
    assert [w.why for w in listed] == ["nps = 2 ≤ 6", "nps = 6 ≤ 6"]
    assert WorkflowRun.objects.count() == 0 and RuleFiring.objects.count() == 0


def test_test_against_history_on_events_with_a_trait_condition(workspace, template, customer):
    ingest(workspace, [identify("u-2", {"tier": "silver"}, T0)])
    ingest(workspace, [track("u-1", "Complaint", T0 + timedelta(days=d)) for d in (1, 2)]
           + [track("u-2", "Complaint", T0 + timedelta(days=3))])  # fmt: skip

    seen, fired, listed = services.rule_test(
        workspace=workspace, trigger="event_received",
        conditions=[{"field": "event", "op": "eq", "value": "Complaint"},
                    {"field": "trait.tier", "op": "eq", "value": "gold"}],
        start=T0, end=T0 + timedelta(days=30),
    )  # fmt: skip

    assert (seen, fired) == (3, 2)
    assert {w.customer.pk for w in listed} == {customer.pk}


def test_the_worker_cycle_marks_overdue_steps(workspace, template, customer, settings):
    from cxloop.workflows.tasks import workflows_cycle

    settings.TASKS = IMMEDIATE
    services.run_start(template=template, customer=customer, at=T0)  # due T0 + 48 h, long past

    result = workflows_cycle.enqueue(repeat=False)

    assert result.return_value == {
        "overdue": 1, "event_firings": 0, "segment_firings": 0, "metric_firings": 0,
        "schedule_firings": 0, "resumed": 0, "webhook_retries": 0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("actual", "op", "expected", "holds"),
    [
        (3, "lte", 6, True), (7, "lte", 6, False), (6, "eq", "6", True), ("6.0", "eq", "6", True),
        ("web", "eq", "web", True), ("web", "neq", "app", True), ("inf", "eq", "infinity", True),
        ("gold", "in", "gold, silver", True), ("Late parcel", "contains", "late", True),
        (None, "lte", 6, False), (None, "neq", "x", True), (None, "exists", False, True),
        ("10", "gt", "9", True), ("b", "gt", "a", True), (True, "eq", 1, False),
    ],
)  # fmt: skip
def test_compare_numbers_as_numbers_and_the_rest_as_text(actual, op, expected, holds):
    from cxloop.workflows.definition import compare

    assert compare(actual, op, expected) is holds


def test_a_delivery_whose_worker_died_after_its_claim_is_sent_again_once(
    workspace, template, customer, receiver
):
    from django.db.models import F

    from cxloop.workflows import _webhooks

    _rule(workspace, "response_received", DETRACTOR,
          [{"type": "webhook", "url": f"http://127.0.0.1:{receiver.server_port}/h"}])  # fmt: skip
    response = response_make(workspace, survey_make(workspace), T0, nps=2, customer=customer)
    _Receiver.status = 500
    services.rules_react_response(workspace_id=workspace.pk, response_id=response.pk)
    delivery = WebhookDelivery.objects.get()
    due = delivery.next_attempt_at
    # a worker claims the retry (as delivery_attempt does) and dies before sending
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=F("attempts") + 1, next_attempt_at=due + _webhooks.LEASE
    )
    _Receiver.status = 200

    during = services.deliveries_retry_due(now=due + timedelta(seconds=30))
    after = services.deliveries_retry_due(now=due + _webhooks.LEASE)
    later = services.deliveries_retry_due(now=due + _webhooks.LEASE * 10)

    assert (during, after, later) == (0, 1, 0)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert {h["Cxloop-Delivery"] for h, _ in _Receiver.raw} == {str(delivery.pk)}
    assert len(_Receiver.raw) == 2  # the first (refused) and the one after the lease
