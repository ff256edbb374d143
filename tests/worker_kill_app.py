"""The app the worker-kill test runs in its own processes: cxloop's settings on a fresh SQLite
home (``CXLOOP_HOME``) whose tables are made straight from the models (no migration replay,
seconds instead of half a minute), and the steps the test drives:

``python worker_kill_app.py setup <webhook url>``: tables, a workspace, a detractor's response, a
rule whose first action is a webhook (to the test's slow server) and second starts a workflow;
the rule's reaction is queued on the database task queue.
``python worker_kill_app.py requeue``: queue the reaction again (a queue retrying the lost task)
and one round of the workflows cycle (which resumes firings whose worker died).
"""

from __future__ import annotations

import os
import sys

from cxloop.settings import *  # noqa: F403 (this module is a settings module)


class _NoMigrations(dict):
    """Every app without migrations: ``migrate --run-syncdb`` makes its tables directly."""

    def __contains__(self, item: object) -> bool:
        return True

    def __getitem__(self, item: str) -> None:
        return None


MIGRATION_MODULES = _NoMigrations()


def _setup(url: str) -> None:
    from datetime import UTC, datetime

    from django.core.management import call_command

    from cxloop.workflows import services
    from cxloop.workflows.tasks import react_to_response
    from factories import customer_id, identify, ingest, response_make, survey_make, workspace_make

    call_command("migrate", run_syncdb=True, verbosity=0)
    workspace = workspace_make()
    now = datetime.now(UTC)
    ingest(workspace, [identify("u-1", {"email": "zoe@example.com", "name": "Zoe"}, now)])
    template = services.template_create(
        workspace=workspace,
        name="Follow-up",
        steps=[{"key": "call", "title": "Call", "fields": []}],
    )
    services.rule_create(
        workspace=workspace, name="Slow hook", trigger="response_received", active=True,
        conditions=[{"field": "nps", "op": "lte", "value": 6}],
        actions=[{"type": "webhook", "url": url},
                 {"type": "start_workflow", "template_id": template.pk}],
    )  # fmt: skip
    response = response_make(
        workspace, survey_make(workspace), now, nps=3, customer_id=customer_id(workspace, "u-1")
    )
    react_to_response.enqueue(workspace_id=workspace.pk, response_id=response.pk)


def _requeue() -> None:
    from cxloop.core.models import Workspace
    from cxloop.feedback import selectors as feedback_selectors
    from cxloop.workflows.tasks import react_to_response, workflows_cycle

    workspace = Workspace.objects.get()
    response = feedback_selectors.workspace_responses(workspace=workspace).get()
    react_to_response.enqueue(workspace_id=workspace.pk, response_id=response.pk)
    workflows_cycle.enqueue(repeat=False)


if __name__ == "__main__":
    os.environ["DJANGO_SETTINGS_MODULE"] = "worker_kill_app"
    import django

    django.setup()
    if sys.argv[1] == "setup":
        _setup(sys.argv[2])
    else:
        _requeue()
