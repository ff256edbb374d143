"""Triggers the worker's cycle evaluates: a segment entered or left, a metric crossing its
threshold, schedules. A fixed clock, exact scenarios, expected values counted by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cxloop.metrics import selectors as metric_selectors
from cxloop.segments import services as segment_services
from cxloop.workflows import services
from cxloop.workflows.models import Notice, Rule, RuleFiring, RuleMember, StepStatus
from factories import (
    customer_id,
    identify,
    ingest,
    member_make,
    response_make,
    survey_make,
    track,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOTIFY = [{"type": "notify", "role": "agent", "text": "{segment_name}: {value}"}]


@pytest.fixture
def agent(workspace):
    return member_make(workspace=workspace, username="al", role="agent")


def _people(workspace, tiers: dict[str, str], at: datetime) -> dict[str, int]:
    ingest(workspace, [identify(user, {"tier": tier, "email": f"{user}@example.com"}, at)
                       for user, tier in tiers.items()])  # fmt: skip
    return {user: customer_id(workspace, user) for user in tiers}


def _rule(workspace, trigger, params, *, conditions=(), actions=NOTIFY, at=T0, name="r"):
    return services.rule_create(
        workspace=workspace, name=name, trigger=trigger, conditions=list(conditions),
        actions=list(actions), params=params, active=True, at=at,
    )  # fmt: skip


def _subjects(rule) -> list[str]:
    return list(
        RuleFiring.objects.filter(rule=rule).order_by("pk").values_list("subject", flat=True)
    )


# ------------------------------------------------------------------ segments


def test_entering_and_leaving_a_segment_fire_once_per_change(workspace, agent):
    ids = _people(workspace, {"a": "gold", "b": "silver"}, T0)
    gold = segment_services.segment_create(
        workspace=workspace, name="Gold", definition={"all": [
            {"trait": "tier", "op": "eq", "value": "gold"}]})  # fmt: skip
    entered = _rule(workspace, "segment_entered", {"segment_id": gold.pk}, name="in")
    left = _rule(workspace, "segment_left", {"segment_id": str(gold.pk)}, name="out")
    a, b = ids["a"], ids["b"]

    # round 1 notes who is in: a was not "entering", nothing fires
    assert services.rules_scan_segments(now=T0) == 0
    assert set(RuleMember.objects.filter(rule=entered).values_list("customer_id", "inside")) == {
        (a, True)
    }
    # b turns gold: one entry, fired once however often the cycle runs
    _people(workspace, {"b": "gold"}, T0 + timedelta(hours=1))
    assert services.rules_scan_segments(now=T0 + timedelta(hours=2)) == 1
    assert services.rules_scan_segments(now=T0 + timedelta(hours=3)) == 0
    # b leaves, then comes back: one exit, then a second entry
    _people(workspace, {"b": "silver"}, T0 + timedelta(hours=4))
    assert services.rules_scan_segments(now=T0 + timedelta(hours=5)) == 1
    assert services.rules_scan_segments(now=T0 + timedelta(hours=6)) == 0
    _people(workspace, {"b": "gold"}, T0 + timedelta(hours=7))
    assert services.rules_scan_segments(now=T0 + timedelta(hours=8)) == 1

    assert _subjects(entered) == [f"entered:{gold.pk}:{b}:1", f"entered:{gold.pk}:{b}:3"]
    assert _subjects(left) == [f"left:{gold.pk}:{b}:2"]
    firing = RuleFiring.objects.filter(rule=entered).order_by("pk").first()
    assert firing.customer_id == b and firing.status == "fired"
    assert firing.why == "entered segment 'Gold'; no conditions"
    assert firing.at == T0 + timedelta(hours=2)
    assert (
        list(Notice.objects.order_by("pk").values_list("text", flat=True)) == ["Gold: {value}"] * 3
    )
    # the memory is in the database: a fresh read of the rule sees b inside after 3 changes
    member = RuleMember.objects.get(rule=entered, customer_id=b)
    assert (member.inside, member.changes) == (True, 3)


def test_segment_rule_conditions_read_the_customer(workspace, agent):
    ids = _people(workspace, {"a": "silver", "b": "silver"}, T0)
    ingest(workspace, [identify("a", {"region": "north"}, T0)])
    gold = segment_services.segment_create(
        workspace=workspace, name="Gold", definition={"all": [
            {"trait": "tier", "op": "eq", "value": "gold"}]})  # fmt: skip
    rule = _rule(workspace, "segment_entered", {"segment_id": gold.pk},
                 conditions=[{"field": "trait.region", "op": "eq", "value": "north"}])  # fmt: skip
    services.rules_scan_segments(now=T0)
    _people(workspace, {"a": "gold", "b": "gold"}, T0 + timedelta(hours=1))

    assert services.rules_scan_segments(now=T0 + timedelta(hours=2)) == 1

    assert _subjects(rule) == [f"entered:{gold.pk}:{ids['a']}:1"]
    # b's entry was noted though it did not fire: it is not "entering" again next round
    assert services.rules_scan_segments(now=T0 + timedelta(hours=3)) == 0


def test_a_segment_rule_needs_a_segment_of_the_workspace(workspace):
    with pytest.raises(services.DefinitionError) as caught:
        _rule(workspace, "segment_entered", {"segment_id": 999})
    assert caught.value.errors == ["segment: no saved segment 999 here"]
    with pytest.raises(services.DefinitionError) as caught:
        _rule(workspace, "segment_left", {})
    assert caught.value.errors == ["segment: required"]


# ------------------------------------------------------------------ metrics


def test_a_metric_crossing_fires_once_and_rearms_when_it_comes_back(workspace, agent):
    survey = survey_make(workspace)
    rule = _rule(
        workspace, "metric_crossed",
        {"metric": "nps", "days": 7, "direction": "below", "threshold": "0"},
        actions=[{"type": "notify", "role": "agent", "text": "NPS {value} < {threshold}"}],
    )  # fmt: skip

    def answer(at, *scores):
        for score in scores:
            response_make(workspace, survey, at, nps=score)

    # 2 promoters, 1 detractor: NPS = (2 − 1) / 3 = +33.3, in range
    answer(T0 - timedelta(days=3), 10, 9, 3)
    assert services.rules_scan_metrics(now=T0) == 0
    # 2 more detractors: (2 − 3) / 5 = −20: crosses below 0, fires once
    answer(T0 + timedelta(hours=1), 3, 5)
    assert services.rules_scan_metrics(now=T0 + timedelta(hours=2)) == 1
    assert services.rules_scan_metrics(now=T0 + timedelta(hours=3)) == 0
    # 3 promoters: (5 − 3) / 8 = +25: back in range, re-armed without firing
    answer(T0 + timedelta(hours=4), 10, 10, 9)
    assert services.rules_scan_metrics(now=T0 + timedelta(hours=5)) == 0
    # 4 detractors: (5 − 7) / 12 = −16.67: the second crossing
    answer(T0 + timedelta(hours=6), 0, 1, 2, 6)
    assert services.rules_scan_metrics(now=T0 + timedelta(hours=7)) == 1

    firings = list(RuleFiring.objects.filter(rule=rule).order_by("pk"))
    assert [f.subject for f in firings] == ["metric:1", "metric:2"]
    assert firings[0].why == (
        "NPS (−100 to 100) over the last 7 days = -20.0 (n = 5) falls below 0; no conditions"
    )
    assert firings[1].context["facts"] == {
        "metric": "nps", "value": -16.67, "threshold": 0.0, "window": 7, "n": 12, "survey": None,
    }  # fmt: skip
    assert list(Notice.objects.order_by("pk").values_list("text", flat=True)) == [
        "NPS -20.0 < 0.0", "NPS -16.67 < 0.0"]  # fmt: skip
    rule.refresh_from_db()
    assert (rule.state["outside"], rule.state["crossings"]) == (True, 2)


def test_window_metrics_are_counted_over_the_trailing_days(workspace):
    survey = survey_make(workspace, name="CSAT", kind="csat")
    for score, days_ago in ((4, 1), (5, 2), (2, 3), (1, 9)):  # the last is outside 7 days
        response_make(workspace, survey, T0 - timedelta(days=days_ago), csat=score)
    ingest(workspace, [track("u", "Order Completed", T0 - timedelta(hours=h)) for h in (1, 5, 30)])
    start = T0 - timedelta(days=7)

    def value(metric, **kw):
        return metric_selectors.metric_window(
            workspace=workspace, metric=metric, start=start, end=T0, **kw
        )

    mean, n = value("csat_mean")
    assert (round(mean, 4), n) == (round(11 / 3, 4), 3)
    assert value("responses") == (3.0, 3)
    assert value("csat") == (pytest.approx(200 / 3), 3)  # 4 and 5 in the top box of 1–5
    assert value("event_count", event="Order Completed") == (3.0, 3)
    assert value("nps") == (None, 0)


def test_an_event_count_crossing_above_fires(workspace, agent):
    rule = _rule(workspace, "metric_crossed", {"metric": "event_count", "event": "Refund",
                                               "days": 1, "direction": "above", "threshold": 2})  # fmt: skip
    ingest(workspace, [track("u", "Refund", T0 - timedelta(hours=h)) for h in (1, 2, 3)])

    assert services.rules_scan_metrics(now=T0) == 1
    assert _subjects(rule) == ["metric:1"]
    # a day later the three refunds have left the window: back in range, no firing
    assert services.rules_scan_metrics(now=T0 + timedelta(days=1)) == 0
    rule.refresh_from_db()
    assert rule.state["outside"] is False


def test_bad_metric_parameters_name_their_field(workspace):
    with pytest.raises(services.DefinitionError) as caught:
        _rule(workspace, "metric_crossed", {"metric": "mood", "days": 0, "direction": "sideways",
                                            "threshold": "low", "survey_id": 5})  # fmt: skip
    assert caught.value.errors == [
        "metric: 'mood' is not one of nps, csat, csat_mean, responses, event_count",
        "days: 0 is outside 1–365",
        "direction: 'sideways' is not below, above or outside",
        "threshold: 'low' is not a number",
        "survey: no survey 5 here",
    ]


# ------------------------------------------------------------------ schedules


def test_n_days_after_the_last_reply_fires_once(workspace, agent):
    survey = survey_make(workspace)
    ids = _people(workspace, {"c": "gold", "d": "gold"}, T0 - timedelta(days=1))
    c_reply = response_make(workspace, survey, T0, nps=4, customer_id=ids["c"])
    response_make(workspace, survey, T0, nps=8, customer_id=ids["d"])
    d_last = response_make(workspace, survey, T0 + timedelta(days=1), nps=9, customer_id=ids["d"])
    rule = _rule(workspace, "schedule", {"schedule": "after_reply", "days": 3},
                 actions=[{"type": "tag_customer", "trait": "nudged", "value": "yes"}])  # fmt: skip

    assert services.rules_scan_schedules(now=T0 + timedelta(days=2)) == 0
    # c's reply is 3 days old; d's first is not d's last (d answered again a day later)
    assert services.rules_scan_schedules(now=T0 + timedelta(days=3, minutes=1)) == 1
    assert services.rules_scan_schedules(now=T0 + timedelta(days=3, minutes=2)) == 0
    assert services.rules_scan_schedules(now=T0 + timedelta(days=4, minutes=1)) == 1
    assert services.rules_scan_schedules(now=T0 + timedelta(days=9)) == 0

    assert _subjects(rule) == [f"after_reply:{c_reply.pk}", f"after_reply:{d_last.pk}"]
    assert RuleFiring.objects.filter(rule=rule).first().status == "fired"


def test_a_lost_round_does_not_lose_or_repeat_an_occurrence(workspace, agent):
    survey = survey_make(workspace)
    ids = _people(workspace, {"c": "gold"}, T0 - timedelta(days=1))
    reply = response_make(workspace, survey, T0, nps=4, customer_id=ids["c"])
    rule = _rule(workspace, "schedule", {"schedule": "after_reply", "days": 3})
    # a worker died after firing but before moving the cursor: the next round sees the same
    # occurrence again, and the firing's unique subject keeps it to one
    assert services.rules_scan_schedules(now=T0 + timedelta(days=3, minutes=1)) == 1
    Rule.objects.filter(pk=rule.pk).update(state={"cursor": T0.isoformat()})
    assert services.rules_scan_schedules(now=T0 + timedelta(days=3, minutes=2)) == 0
    assert _subjects(rule) == [f"after_reply:{reply.pk}"]


def test_n_days_after_a_step_with_no_newer_reply(workspace, agent):
    survey = survey_make(workspace)
    ids = _people(workspace, {"c": "gold", "d": "gold"}, T0 - timedelta(days=1))
    template = services.template_create(
        workspace=workspace, name="Fix", steps=[{"key": "fix", "title": "Fix it", "fields": []}]
    )
    steps = []
    for user in ("c", "d"):
        customer = workspace.customer_set.get(pk=ids[user])
        run = services.run_start(template=template, customer=customer, at=T0)
        step = run.steps.get()
        services.step_complete(step=step, answers={}, at=T0)
        steps.append(step)
    response_make(workspace, survey, T0 + timedelta(days=1), nps=9, customer_id=ids["d"])
    rule = _rule(workspace, "schedule",
                 {"schedule": "after_step", "days": 2, "template_id": template.pk, "step": "fix"})  # fmt: skip

    assert services.rules_scan_schedules(now=T0 + timedelta(days=2, seconds=1)) == 1
    assert services.rules_scan_schedules(now=T0 + timedelta(days=5)) == 0
    assert _subjects(rule) == [f"after_step:{steps[0].pk}"]
    steps[0].refresh_from_db()
    assert steps[0].status == StepStatus.DONE


def test_a_daily_schedule_fires_at_the_calendar_time_once_a_day(workspace, agent):
    # New York is UTC−5 in early March 2026 (summer time starts on the 8th): 09:00 is 14:00 UTC
    services.calendar_set(workspace=workspace, raw={"zone": "America/New_York", "days": [0, 1, 2, 3, 4],
                                                    "opens": "09:00", "closes": "17:00"})  # fmt: skip
    rule = _rule(workspace, "schedule", {"schedule": "daily", "time": "09:00"})

    assert services.rules_scan_schedules(now=datetime(2026, 3, 2, 13, 59, tzinfo=UTC)) == 0
    assert services.rules_scan_schedules(now=datetime(2026, 3, 2, 14, 0, tzinfo=UTC)) == 1
    assert services.rules_scan_schedules(now=datetime(2026, 3, 2, 14, 30, tzinfo=UTC)) == 0
    # the worker was down for three days: one firing for the latest morning, not a backlog
    assert services.rules_scan_schedules(now=datetime(2026, 3, 5, 15, 0, tzinfo=UTC)) == 1

    assert _subjects(rule) == ["daily:2026-03-02", "daily:2026-03-05"]


def test_bad_schedules_name_their_field(workspace):
    with pytest.raises(services.DefinitionError) as caught:
        _rule(workspace, "schedule", {"schedule": "daily", "time": "25:00"})
    assert caught.value.errors == ["time: '25:00' is not a time like 09:00"]
    with pytest.raises(services.DefinitionError) as caught:
        _rule(workspace, "schedule", {"schedule": "hourly"})
    assert caught.value.errors == [
        "schedule: 'hourly' is not one of after_reply, after_step, daily", "days: required"]  # fmt: skip


# ------------------------------------------------------------------ test against history

D1 = datetime(2026, 2, 1, tzinfo=UTC)


def _day(n: int, hour: int = 0) -> datetime:
    return D1 + timedelta(days=n - 1, hours=hour)


def test_metric_crossings_replay_day_by_day(workspace):
    survey = survey_make(workspace)
    # one answer a day: 10, 0, 10, 0 → a 1-day NPS of +100, −100, +100, −100
    for n, score in ((1, 10), (2, 0), (3, 10), (4, 0)):
        response_make(workspace, survey, _day(n, 12), nps=score)
    params = {"metric": "nps", "days": 1, "direction": "below", "threshold": 0}

    seen, fired, listed = services.rule_test(
        workspace=workspace, trigger="metric_crossed", conditions=[], params=params,
        start=_day(1), end=_day(6),
    )  # fmt: skip

    # evaluated at the end of each day: day 1 +100 (in), day 2 −100 (crossing 1), day 3 +100
    # (back), day 4 −100 (crossing 2), day 5 no answers
    assert (seen, fired) == (2, 2)
    assert [w.at for w in listed] == [_day(3), _day(5)]
    assert listed[0].subject.startswith("metric:1 (NPS (−100 to 100) over the last 1 days = -100.0")


def test_segment_changes_replay_day_by_day(workspace):
    survey = survey_make(workspace)
    ids = _people(workspace, {"a": "x", "b": "x", "c": "x"}, _day(0))
    # "detractor lately": latest NPS in the last 2 days at most 6
    segment = segment_services.segment_create(
        workspace=workspace, name="Recent detractors", definition={"all": [
            {"score": "nps", "op": "lte", "value": 6, "within_days": 2}]})  # fmt: skip
    response_make(workspace, survey, _day(2, 12), nps=3, customer_id=ids["a"])  # in days 3–4
    response_make(workspace, survey, _day(2, 12), nps=9, customer_id=ids["b"])  # never
    response_make(workspace, survey, _day(0, 12), nps=5, customer_id=ids["c"])  # in at the start

    def replay(trigger):
        return services.rule_test(
            workspace=workspace, trigger=trigger, conditions=[], start=_day(1), end=_day(7),
            params={"segment_id": segment.pk},
        )  # fmt: skip

    seen, fired, listed = replay("segment_entered")
    assert (seen, fired) == (1, 1)
    assert [(w.customer.pk, w.at) for w in listed] == [(ids["a"], _day(3))]
    seen, fired, listed = replay("segment_left")
    assert (seen, fired) == (2, 2)
    assert [(w.customer.pk, w.at) for w in listed] == [(ids["c"], _day(3)), (ids["a"], _day(5))]
    with pytest.raises(services.DefinitionError, match="end: a segment rule replays at most 92"):
        services.rule_test(workspace=workspace, trigger="segment_left", conditions=[],
                           start=_day(1), end=_day(100), params={"segment_id": segment.pk})  # fmt: skip


def test_schedule_occurrences_replay_from_history(workspace):
    survey = survey_make(workspace)
    ids = _people(workspace, {"a": "x", "b": "x"}, _day(0))
    response_make(workspace, survey, _day(1, 9), nps=4, customer_id=ids["a"])  # due day 4 09:00
    response_make(workspace, survey, _day(3, 9), nps=2, customer_id=ids["b"])  # due day 6 09:00
    response_make(workspace, survey, _day(6, 9), nps=8, customer_id=ids["a"])  # due day 9: out

    seen, fired, listed = services.rule_test(
        workspace=workspace, trigger="schedule", start=_day(1), end=_day(8),
        conditions=[{"field": "nps", "op": "lte", "value": 3}],
        params={"schedule": "after_reply", "days": 3},
    )  # fmt: skip

    assert (seen, fired) == (2, 1)
    assert [(w.customer.pk, w.at) for w in listed] == [(ids["b"], _day(6, 9))]


# ------------------------------------------------------------------ each action once


def test_a_firing_cut_short_is_resumed_after_its_lease_without_redoing_an_action(
    workspace, agent, monkeypatch
):
    from cxloop.workflows import _actions
    from cxloop.workflows.models import WorkflowRun

    ids = _people(workspace, {"c": "gold"}, T0)
    template = services.template_create(
        workspace=workspace, name="Fix", steps=[{"key": "fix", "title": "Fix it", "fields": []}]
    )
    rule = _rule(workspace, "response_received", None,
                 conditions=[{"field": "nps", "op": "lte", "value": 6}],
                 actions=[{"type": "start_workflow", "template_id": template.pk},
                          {"type": "notify", "role": "agent", "text": "run {template}"}])  # fmt: skip
    reply = response_make(workspace, survey_make(workspace), T0, nps=2, customer_id=ids["c"])

    def dies(action, c):  # the worker dies during the second action
        raise KeyboardInterrupt

    monkeypatch.setitem(_actions.ACTIONS, "notify", dies)
    with pytest.raises(KeyboardInterrupt):
        services.rules_react_response(workspace_id=workspace.pk, response_id=reply.pk)
    monkeypatch.undo()
    firing = RuleFiring.objects.get(rule=rule)
    assert (firing.status, len(firing.outcomes)) == ("acting", 1)
    # a retry of the reaction does nothing: the firing is claimed
    assert services.rules_react_response(workspace_id=workspace.pk, response_id=reply.pk) == []
    # within its lease nobody takes it over; after it, the remaining action runs once
    assert services.firings_resume(now=firing.lease_until - timedelta(seconds=1)) == 0
    assert services.firings_resume(now=firing.lease_until + timedelta(seconds=1)) == 1
    assert services.firings_resume(now=firing.lease_until + timedelta(minutes=10)) == 0

    firing.refresh_from_db()
    run = WorkflowRun.objects.get()
    assert firing.status == "fired" and firing.context["run"] == run.pk
    assert [o["detail"] for o in firing.outcomes] == [
        f"started run #{run.pk}", "notified 1 member(s)"]  # fmt: skip
    assert list(Notice.objects.values_list("text", "run")) == [(f"run {template.pk}", run.pk)]
