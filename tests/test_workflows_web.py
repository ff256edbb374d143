"""The workflow pages through Django's test client: the form-based template editor (add,
reorder, remove, save as a version), completing a step, the board's poll answering 204 until
something changes, the rule editor's test against history, and the public intake form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from cxloop.workflows import selectors, services
from cxloop.workflows.models import WorkflowRun, WorkflowTemplate
from factories import identify, ingest, member_make, response_make, survey_make

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STEPS = [
    {"key": "call", "title": "Call", "assignee": {"kind": "role", "role": "agent"},
     "deadline_hours": 48,
     "fields": [{"key": "reached", "label": "Reached", "type": "choice", "choices": ["yes", "no"],
                 "required": True}]},
    {"key": "close", "title": "Close", "fields": [{"key": "outcome", "label": "Outcome",
                                                    "type": "text"}]},
]  # fmt: skip


@pytest.fixture
def analyst(client, member):
    client.force_login(member)
    return member


@pytest.fixture
def template(workspace):
    return services.template_create(
        workspace=workspace, name="Follow-up", steps=STEPS, intake_public=True,
        intake_fields=[{"key": "issue", "label": "What went wrong?", "type": "text",
                        "required": True}],
    )  # fmt: skip


def _editor_post(**extra) -> dict:
    data = {
        "name": "Callback", "steps": "2", "intakes": "0",
        "s0-key": "first", "s0-title": "First", "s0-assignee_kind": "unassigned", "s0-fields": "1",
        "s0f0-key": "note", "s0f0-label": "Note", "s0f0-type": "text",
        "s1-key": "second", "s1-title": "Second", "s1-assignee_kind": "role",
        "s1-assignee_role": "agent", "s1-deadline_hours": "24", "s1-fields": "0",
    }  # fmt: skip
    data.update(extra)
    return data


def test_the_editor_moves_and_adds_steps_without_saving(client, analyst, workspace):
    moved = client.post("/workflows/new/", _editor_post(op="down-0"))
    added = client.post("/workflows/new/", _editor_post(op="add_step"))

    assert moved.status_code == 200 and added.status_code == 200
    titles = [s["title"] for s in moved.context["steps"]]
    assert titles == ["Second", "First"]
    assert len(added.context["steps"]) == 3
    assert WorkflowTemplate.objects.count() == 0


def test_the_editor_saves_a_template_and_a_new_version(client, analyst, workspace):
    created = client.post("/workflows/new/", _editor_post(op="save"))
    template = WorkflowTemplate.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/workflows/{template.pk}/"
    assert template.current.steps[1]["assignee"] == {"kind": "role", "role": "agent"}
    assert template.current.steps[1]["deadline_hours"] == 24

    saved = client.post(
        f"/workflows/{template.pk}/", _editor_post(op="save", **{"s1-title": "2nd"})
    )

    assert saved.status_code == 302
    template.refresh_from_db()
    assert template.current.number == 2 and template.current.steps[1]["title"] == "2nd"


def test_the_editor_names_what_is_wrong_with_a_422(client, analyst, workspace):
    response = client.post(
        "/workflows/new/", _editor_post(op="save", **{"s1-deadline_hours": "soon", "s0-key": "1x"})
    )

    assert response.status_code == 422
    assert "step 1: key: &#x27;1x&#x27; must be lower-case letters" in response.text
    assert (
        "step 2 (second): deadline_hours: &#x27;soon&#x27; is not a whole number" in response.text
    )


def test_completing_the_open_step_on_the_run_page(client, analyst, workspace, template):
    run = services.run_start(template=template)

    refused = client.post(f"/workflows/runs/{run.pk}/", {"reached": "perhaps"})
    done = client.post(f"/workflows/runs/{run.pk}/", {"reached": "no"})

    assert refused.status_code == 422
    assert "Reached: Select a valid choice." in refused.text
    assert done.status_code == 302
    assert [s.status for s in selectors.run_steps(run=run)] == ["done", "open"]
    page = client.get(f"/workflows/runs/{run.pk}/")
    assert "ana</strong> completed · Call" in page.text


def test_the_board_poll_answers_204_until_a_run_changes(client, analyst, workspace, template):
    run = services.run_start(template=template)
    board = client.get("/workflows/runs/")
    version = board.context["version"]

    same = client.get(f"/workflows/runs/poll/?v={version}")
    services.step_extend(step=selectors.run_steps(run=run).first(), hours=2)
    changed = client.get(f"/workflows/runs/poll/?v={version}")

    assert same.status_code == 204 and same["ETag"] == f'"{version}"'
    assert changed.status_code == 200 and changed.context["version"] != version
    assert 'id="board"' in changed.text


def test_the_board_marks_overdue_runs_and_filters_by_assignee(client, analyst, workspace, template):
    agent = member_make(workspace=workspace, username="al", role="agent")
    late = services.run_start(template=template, at=timezone.now() - timedelta(hours=50))
    services.step_assign(step=selectors.run_steps(run=late).first(), user=agent)
    services.run_start(template=template)

    everyone = client.get("/workflows/runs/?view=table")
    als = client.get(f"/workflows/runs/?assignee={agent.pk}")

    assert everyone.context["overdue"] == 1 and len(everyone.context["rows"]) == 2
    assert [r["run"] for r in als.context["rows"]] == [late]
    assert client.get("/workflows/runs/?assignee=x").status_code == 400


def test_my_tasks_lists_mine_and_my_roles_unclaimed_steps(client, workspace, template):
    agent = member_make(workspace=workspace, username="al", role="agent")
    run = services.run_start(template=template)
    client.force_login(agent)

    page = client.get("/workflows/tasks/")

    assert [t["step"].run for t in page.context["tasks"]] == [run]


def test_the_rule_editor_tests_against_history_without_saving(client, analyst, workspace, template):
    survey = survey_make(workspace)
    for day, score in ((3, 1), (4, 6), (5, 9)):
        response_make(workspace, survey, datetime(2026, 3, day, tzinfo=UTC), nps=score)

    response = client.post("/workflows/rules/new/", {
        "name": "Detractors", "trigger": "response_received", "conditions": "1", "actions": "1",
        "c0-field": "nps", "c0-op": "lte", "c0-value": "6",
        "a0-type": "start_workflow", "a0-template_id": str(template.pk),
        "op": "test", "start": "2026-03-01", "end": "2026-03-31",
    })  # fmt: skip

    assert response.status_code == 200
    assert response.context["tested"]["fired"] == 2 and response.context["tested"]["seen"] == 3
    assert "Would have fired <strong>2</strong> times" in response.text
    assert [w.why for w in response.context["tested"]["listed"]] == ["nps = 1 ≤ 6", "nps = 6 ≤ 6"]
    assert not selectors.rule_list(workspace=workspace).exists()


def test_the_rule_editor_saves_and_refuses_with_the_field(client, analyst, workspace, template):
    base = {"name": "Detractors", "trigger": "response_received", "conditions": "1",
            "actions": "1", "c0-field": "nps", "c0-op": "lte", "c0-value": "6",
            "a0-type": "start_workflow", "op": "save", "active": "on"}  # fmt: skip

    refused = client.post("/workflows/rules/new/", base)
    saved = client.post("/workflows/rules/new/", {**base, "a0-template_id": str(template.pk)})

    assert refused.status_code == 422 and "action 1: template_id: required" in refused.text
    assert saved.status_code == 302
    rule = selectors.rule_list(workspace=workspace).get()
    assert rule.active and rule.actions == [{"type": "start_workflow", "template_id": template.pk}]


def test_the_public_intake_form_starts_a_run_for_the_customer_by_email(client, workspace, template):
    ingest(workspace, [identify("u-1", {"email": "zoe@example.com"}, T0)])
    url = f"/w/{template.intake_token}/"

    page = client.get(url)
    bad = client.post(url, {"email": "not an email", "issue": ""})
    good = client.post(url, {"email": "ZOE@example.com", "name": "Zoe", "issue": "Late parcel"})
    new = client.post(url, {"email": "new@example.com", "issue": "Broken lid"})

    assert page.status_code == 200 and 'name="issue"' in page.text
    assert bad.status_code == 422
    assert "Email: Enter a valid email address." in bad.text
    assert "What went wrong?: This field is required." in bad.text
    assert good.status_code == 200 and "Thank you" in good.text
    runs = list(WorkflowRun.objects.order_by("pk"))
    assert [r.intake for r in runs] == [{"issue": "Late parcel"}, {"issue": "Broken lid"}]
    assert runs[0].customer == workspace.identity_set.get(value="zoe@example.com").customer
    assert runs[1].customer == workspace.identity_set.get(value="new@example.com").customer
    assert new.status_code == 200


def test_a_private_or_unknown_intake_form_is_404(client, workspace, template):
    services.template_new_version(template=template, steps=STEPS, intake_public=False)

    assert client.get(f"/w/{template.intake_token}/").status_code == 404
    assert client.post("/w/nope/", {"email": "a@b.co"}).status_code == 404


def test_the_loop_report_page_reads_a_date_range(client, analyst, workspace):
    assert client.get("/workflows/report/?start=2026-03-01&end=2026-03-31").status_code == 200
    assert client.get("/workflows/report/?start=2026-04-01&end=2026-03-01").status_code == 400
    assert client.get("/workflows/report/?start=yesterday").status_code == 400


def test_a_webhook_delivery_is_resent_from_the_rule_page(client, analyst, workspace, template):
    import socket

    with socket.socket() as probe:  # a port nobody listens on: the attempt fails at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rule = services.rule_create(
        workspace=workspace, name="Hook", trigger="response_received", active=True,
        conditions=[], actions=[{"type": "webhook", "url": f"http://127.0.0.1:{port}/h"}],
    )  # fmt: skip
    response = response_make(workspace, survey_make(workspace), T0, nps=3)
    services.rules_react_response(workspace_id=workspace.pk, response_id=response.pk)
    delivery = selectors.rule_deliveries(rule=rule)[0]
    for _ in range(2):
        services.deliveries_retry_due(now=delivery.next_attempt_at)
        delivery.refresh_from_db()
    assert delivery.attempts == 3

    page = client.get(f"/workflows/rules/{rule.pk}/")
    resent = client.post(f"/workflows/rules/{rule.pk}/", {"op": f"resend-{delivery.pk}"})
    unknown = client.post(f"/workflows/rules/{rule.pk}/", {"op": "resend-999999"})

    assert rule.webhook_secret in page.text and "Resend delivery" in page.text
    assert resent.status_code == 302 and unknown.status_code == 404
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.status == "pending" and delivery.last_error


def test_the_board_filters_by_customer_segment(client, analyst, workspace, template):
    from cxloop.segments import services as segment_services

    ingest(workspace, [identify("u-1", {"email": "a@example.com", "tier": "gold"}, T0),
                       identify("u-2", {"email": "b@example.com", "tier": "silver"}, T0)])  # fmt: skip
    gold, silver = (
        workspace.identity_set.get(kind="user_id", value=u).customer for u in ("u-1", "u-2")
    )
    golden = services.run_start(template=template, customer=gold)
    services.run_start(template=template, customer=silver)
    segment = segment_services.segment_create(
        workspace=workspace,
        name="Gold",
        definition={"all": [{"trait": "tier", "op": "eq", "value": "gold"}]},
    )

    page = client.get(f"/workflows/runs/?segment={segment.pk}&view=table")

    assert [r["run"] for r in page.context["rows"]] == [golden]
    assert page.context["query"] == f"segment={segment.pk}&view=table"
    assert client.get("/workflows/runs/?segment=999999").status_code == 404


def test_business_hours_page_saves_names_errors_and_clears(client, workspace):
    from cxloop.workflows import selectors as wf_selectors
    from factories import member_make

    client.force_login(member_make(workspace=workspace, username="boss", role="admin"))
    url = "/workflows/calendar/"
    assert "None set yet" in client.get(url).content.decode()
    # bad values are named by field, nothing saved
    bad = client.post(url, {"zone": "Nowhere/City", "days": ["0"], "opens": "18:00",
                            "closes": "09:00", "holidays": "2026-13-01"})  # fmt: skip
    assert bad.status_code == 422
    body = bad.content.decode()
    assert "zone: &#x27;Nowhere/City&#x27;" in body and 'id="zone-error"' in body
    assert "closes: 09:00 is not after opens 18:00" in body
    assert "holidays: &#x27;2026-13-01&#x27;" in body
    assert wf_selectors.calendar_definition(workspace_id=workspace.pk) is None
    # good values are saved
    good = client.post(url, {"zone": "Europe/Paris", "days": ["0", "1", "2"], "opens": "08:30",
                             "closes": "16:00", "holidays": "2026-12-25\n2026-12-24"})  # fmt: skip
    assert good.status_code == 302
    assert wf_selectors.calendar_definition(workspace_id=workspace.pk) == {
        "zone": "Europe/Paris", "days": [0, 1, 2], "opens": "08:30", "closes": "16:00",
        "holidays": ["2026-12-24", "2026-12-25"],
    }  # fmt: skip
    assert client.post(url, {"days": ["9"]}).status_code == 422  # not a weekday: the form says so
    assert client.post(url, {"op": "clear"}).status_code == 302
    assert wf_selectors.calendar_definition(workspace_id=workspace.pk) is None


def test_the_rule_editor_offers_a_metric_trigger_with_errors_at_the_field(
    client, analyst, workspace
):
    base = {"name": "NPS alert", "trigger": "metric_crossed", "conditions": "0", "actions": "1",
            "a0-type": "notify", "a0-role": "agent", "a0-text": "NPS is {value}",
            "p-metric": "nps", "p-direction": "below", "op": "save", "active": "on"}  # fmt: skip

    redraw = client.post("/workflows/rules/new/", {**base, "op": "refresh", "p-days": "x"})
    refused = client.post("/workflows/rules/new/", {**base, "p-days": "0", "p-threshold": "low"})
    saved = client.post("/workflows/rules/new/", {**base, "p-days": "30", "p-threshold": "20"})

    # a redraw shows the fields back without judging them
    assert redraw.status_code == 200 and 'id="p-days" name="p-days" value="x"' in redraw.text
    assert 'aria-invalid="true"' not in redraw.text
    assert refused.status_code == 422
    assert '<p class="field-error" id="p-days-error">0 is outside 1–365</p>' in refused.text
    assert '<p class="field-error" id="p-threshold-error">Enter a number.</p>' in refused.text
    assert saved.status_code == 302
    rule = selectors.rule_list(workspace=workspace).get()
    assert rule.params == {"metric": "nps", "days": 30, "direction": "below", "threshold": 20.0}
    page = client.get(f"/workflows/rules/{rule.pk}/")
    assert 'id="p-threshold" name="p-threshold" value="20.0"' in page.text
    assert "Replayed at the end of each day" in page.text
    listing = client.get("/workflows/rules/")
    assert "NPS (−100 to 100) over the last 30 days falls below 20.0" in listing.text


def test_the_rule_editor_saves_segment_and_schedule_triggers(client, analyst, workspace):
    from cxloop.segments import services as segment_services

    gold = segment_services.segment_create(
        workspace=workspace, name="Gold", definition={"all": [
            {"trait": "tier", "op": "eq", "value": "gold"}]})  # fmt: skip
    base = {"conditions": "0", "actions": "1", "a0-type": "notify", "a0-role": "agent",
            "a0-text": "hi", "op": "save"}  # fmt: skip

    missing = client.post(
        "/workflows/rules/new/", {**base, "name": "In", "trigger": "segment_entered"}
    )
    entered = client.post("/workflows/rules/new/", {**base, "name": "In", "trigger": "segment_entered",
                                                    "p-segment_id": str(gold.pk)})  # fmt: skip
    bad_time = client.post("/workflows/rules/new/", {**base, "name": "Daily", "trigger": "schedule",
                                                     "p-schedule": "daily", "p-time": "9am"})  # fmt: skip
    daily = client.post("/workflows/rules/new/", {**base, "name": "Daily", "trigger": "schedule",
                                                  "p-schedule": "daily", "p-time": "09:00",
                                                  "p-days": "5"})  # fmt: skip

    assert missing.status_code == 422
    assert '<p class="field-error" id="p-segment_id-error">required</p>' in missing.text
    assert entered.status_code == 302
    assert bad_time.status_code == 422
    assert "&#x27;9am&#x27; is not a time like 09:00" in bad_time.text
    assert daily.status_code == 302
    rules = {r.name: r for r in selectors.rule_list(workspace=workspace)}
    assert rules["In"].params == {"segment_id": gold.pk}
    assert rules["Daily"].params == {"schedule": "daily", "time": "09:00"}
    # test against history says what a segment replay can rebuild
    tested = client.post(f"/workflows/rules/{rules['In'].pk}/", {
        **base, "name": "In", "trigger": "segment_entered", "p-segment_id": str(gold.pk),
        "op": "test", "start": "2026-03-01", "end": "2026-03-10"})  # fmt: skip
    assert tested.status_code == 200 and tested.context["tested"]["fired"] == 0
    assert "Trait conditions use today&#x27;s traits" in tested.text


@pytest.mark.parametrize("trigger", ["segment_entered", "metric_crossed", "schedule"])
def test_hostile_trigger_fields_are_refused_at_the_field_never_a_500(
    client, analyst, workspace, trigger
):
    hostile = ["\x00", "9" * 40, "-1", "nan", "inf", "<script>", "1e999", " ", "0x10", "２"]
    for value in hostile:
        data = {"name": "x", "trigger": trigger, "conditions": "0", "actions": "1",
                "a0-type": "notify", "a0-role": "agent", "a0-text": "x", "op": "save",
                **{f"p-{name}": value for name in ("segment_id", "metric", "survey_id", "event",
                                                  "days", "direction", "threshold", "schedule",
                                                  "time", "template_id", "step")}}  # fmt: skip
        for op in ("save", "test", "refresh"):
            response = client.post("/workflows/rules/new/", {**data, "op": op})
            assert response.status_code in (200, 422), (value, op, response.status_code)
    assert not selectors.rule_list(workspace=workspace).exists()


def test_the_rule_editor_offers_segment_stage_and_text_conditions_with_selects(
    client, analyst, workspace
):
    from cxloop.journeys.models import JourneyMap, Stage
    from cxloop.segments import services as segment_services
    from cxloop.text.models import Theme

    gold = segment_services.segment_create(
        workspace=workspace, name="Gold", definition={"all": [{"trait": "tier", "op": "eq", "value": "gold"}]}
    )  # fmt: skip
    shop = JourneyMap.objects.create(workspace=workspace, name="Shop")
    buy = Stage.objects.create(journey=shop, position=0, name="Buy")
    late = Theme.objects.create(workspace=workspace, name="Late delivery", rules=["late"])
    base = {"name": "Angry gold buyers", "trigger": "response_received", "conditions": "4",
            "actions": "1", "c0-field": "in_segment", "c0-op": "eq", "c0-value": str(gold.pk),
            "c1-field": f"stage.{shop.pk}", "c1-op": "eq", "c1-value": str(buy.pk),
            "c2-field": "sentiment", "c2-op": "eq", "c2-value": "negative",
            "c3-field": "theme", "c3-op": "neq", "c3-value": str(late.pk),
            "a0-type": "add_to_segment", "a0-segment_id": str(gold.pk), "op": "refresh"}  # fmt: skip

    redraw = client.post("/workflows/rules/new/", base)
    assert redraw.status_code == 200
    html = redraw.text
    assert f'<option value="{gold.pk}" selected>Gold</option>' in html
    assert f'<option value="{buy.pk}" selected>Buy</option>' in html
    assert '<option value="negative" selected>negative</option>' in html
    assert f'<option value="{late.pk}" selected>Late delivery</option>' in html
    assert '<option value="neq" selected>does not mention</option>' in html
    assert '<option value="eq" selected>is in</option>' in html
    assert f'<option value="stage.{shop.pk}">stage in Shop</option>' in html
    assert 'id="a0-segment_id"' in html
    assert "today&#x27;s membership" in html or "today's membership" in html

    refused = client.post("/workflows/rules/new/", {
        **base, "op": "save", "c0-value": "999999", "c2-value": "<script>", "c1-op": "gt",
        "a0-segment_id": "nope",
    })  # fmt: skip
    assert refused.status_code == 422
    assert (
        '<p class="field-error" id="c0-value-error">no saved segment 999999 here</p>'
        in refused.text
    )
    assert (
        '<p class="field-error" id="c1-op-error">&#x27;gt&#x27; here is eq (is) or neq (is not)</p>'
        in refused.text
    )
    assert (
        'id="c2-value-error">&#x27;&lt;script&gt;&#x27; is not one of negative, neutral, positive'
        in refused.text
    )
    assert (
        '<p class="field-error" id="a0-segment_id-error">&#x27;nope&#x27; is not a whole number</p>'
        in refused.text
    )

    saved = client.post("/workflows/rules/new/", {**base, "op": "save"})
    assert saved.status_code == 302
    rule = selectors.rule_list(workspace=workspace).get()
    assert rule.conditions == [
        {"field": "in_segment", "op": "eq", "value": gold.pk},
        {"field": f"stage.{shop.pk}", "op": "eq", "value": buy.pk},
        {"field": "sentiment", "op": "eq", "value": "negative"},
        {"field": "theme", "op": "neq", "value": late.pk},
    ]
    assert rule.actions == [{"type": "add_to_segment", "segment_id": gold.pk}]
    tested = client.post(f"/workflows/rules/{rule.pk}/", {**base, "op": "test"})
    assert tested.status_code == 200 and tested.context["tested"]["seen"] == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("in_segment", "1e9"), ("stage.x", "1"), ("reached.99999999999999999999", "1"),
     ("sentiment_score", "nan"), ("theme", "-1"), ("in_segment", "9" * 40), ("sentiment", "\x00")],
)  # fmt: skip
def test_hostile_condition_values_never_5xx(client, analyst, workspace, field, value):
    for op in ("refresh", "save", "test"):
        response = client.post("/workflows/rules/new/", {
            "name": "x", "trigger": "response_received", "conditions": "1", "actions": "1",
            "c0-field": field, "c0-op": "eq", "c0-value": value, "a0-type": "notify",
            "a0-role": "agent", "a0-text": "x", "op": op,
        })  # fmt: skip
        assert response.status_code in (200, 422), (op, response.status_code)
