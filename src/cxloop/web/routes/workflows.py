"""URL routes of the closing-the-loop pages (views in cxloop.web.views.workflows, .runs, .rules
and .loop_report); the public intake form is ``/w/<token>/``."""

from django.urls import path

from cxloop.web.views import loop_report, rules, runs, workflow_calendar
from cxloop.web.views import workflows as views

urlpatterns: list = [
    path("workflows/", views.workflow_list, name="workflow-list"),
    path("workflows/new/", views.workflow_new, name="workflow-new"),
    path("workflows/<int:template_id>/", views.workflow_edit, name="workflow-edit"),
    path("workflows/<int:template_id>/process/", views.workflow_process, name="workflow-process"),
    path("workflows/runs/", runs.run_board, name="run-board"),
    path("workflows/runs/poll/", runs.run_board_poll, name="run-board-poll"),
    path("workflows/runs/<int:run_id>/", runs.run_detail, name="run-detail"),
    path("workflows/runs/<int:run_id>/files/<str:field>/", runs.run_file, name="run-file"),
    path(
        "workflows/runs/<int:run_id>/steps/<int:step_id>/files/<str:field>/",
        runs.run_file,
        name="run-step-file",
    ),
    path("workflows/runs/<int:run_id>/assign/", runs.run_assign, name="run-assign"),
    path("workflows/runs/<int:run_id>/extend/", runs.run_extend, name="run-extend"),
    path("workflows/tasks/", runs.my_tasks, name="my-tasks"),
    path("workflows/rules/", rules.rule_list, name="rule-list"),
    path("workflows/rules/new/", rules.rule_new, name="rule-new"),
    path("workflows/rules/<int:rule_id>/", rules.rule_edit, name="rule-edit"),
    path("workflows/rules/<int:rule_id>/delete/", rules.rule_delete, name="rule-delete"),
    path("workflows/report/", loop_report.loop_report, name="loop-report"),
    path("workflows/calendar/", workflow_calendar.workflow_calendar, name="workflow-calendar"),
    path("w/<str:token>/", views.workflow_intake, name="workflow-intake"),
]
