"""Writes for workflows: templates and their versions, runs and steps, rules and their firings.

The public interface other apps, the pages, the API and the CLI import. The work is done in
private modules: ``_templates``, ``_runs`` (start, complete, assign, extend, overdue) and
``_rules`` (WHEN → IF → THEN, each action once), ``_triggers`` (segment, metric and schedule
triggers the worker's cycle evaluates) and ``_replay`` (test against history).
"""

from __future__ import annotations

from cxloop.workflows._calendar import calendar_clear, calendar_set
from cxloop.workflows._intake import intake_form_class, intake_submit
from cxloop.workflows._replay import WouldFire, replay_note, rule_test
from cxloop.workflows._rules import (
    MAX_DEPTH,
    firings_resume,
    rule_create,
    rule_delete,
    rule_update,
    rules_fire,
    rules_react_response,
    rules_scan_events,
)
from cxloop.workflows._runs import (
    RunError,
    email_customer,
    history_add,
    run_cancel,
    run_start,
    runs_start_for_customers,
    step_complete,
    step_form_class,
)
from cxloop.workflows._steps import step_assign, step_assign_role, step_extend, steps_mark_overdue
from cxloop.workflows._templates import template_archive, template_create, template_new_version
from cxloop.workflows._triggers import (
    REPLAY_NOTES,
    rules_scan_metrics,
    rules_scan_schedules,
    rules_scan_segments,
)
from cxloop.workflows._webhooks import (
    deliveries_retry_due,
    delivery_resend,
    signature,
)
from cxloop.workflows.calendar import CalendarError
from cxloop.workflows.definition import DefinitionError

__all__ = [
    "MAX_DEPTH",
    "REPLAY_NOTES",
    "CalendarError",
    "DefinitionError",
    "RunError",
    "WouldFire",
    "calendar_clear",
    "calendar_set",
    "deliveries_retry_due",
    "delivery_resend",
    "email_customer",
    "firings_resume",
    "history_add",
    "intake_form_class",
    "intake_submit",
    "replay_note",
    "rule_create",
    "rule_delete",
    "rule_test",
    "rule_update",
    "rules_fire",
    "rules_react_response",
    "rules_scan_events",
    "rules_scan_metrics",
    "rules_scan_schedules",
    "rules_scan_segments",
    "run_cancel",
    "run_start",
    "runs_start_for_customers",
    "signature",
    "step_assign",
    "step_assign_role",
    "step_complete",
    "step_extend",
    "step_form_class",
    "steps_mark_overdue",
    "template_archive",
    "template_create",
    "template_new_version",
]
