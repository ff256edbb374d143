"""The permission model: roles × capabilities, in one table.

Every web view and every API operation names the capability it needs; ``role_can`` is the only
place that decides. docs/architecture.md ("Permissions") describes the table in words.
"""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    READ_ANALYTICS = "read_analytics"  # dashboards, journeys, funnels, paths, segments, personas
    READ_CUSTOMERS = "read_customers"  # customer list, 360 page, timelines, identities
    READ_FEEDBACK = "read_feedback"  # free-text comments and respondents' emails / identities
    EDIT_SURVEYS = "edit_surveys"  # create, edit, close, delete surveys, triggers, invitations
    EDIT_JOURNEYS = "edit_journeys"  # journey maps, stages, touchpoints, saved funnels
    EDIT_SEGMENTS = "edit_segments"  # saved segments and personas
    EXPORT = "export"  # response/customer exports with personal data
    IMPORT = "import"  # customer, event, result and review imports
    MANAGE_WORKSPACE = "manage_workspace"  # users, roles, write keys, audit log
    MANAGE_CUSTOMERS = "manage_customers"  # merge, unmerge, erase, subject-access export
    DELETE_DATA = "delete_data"  # delete a survey with all its answers (cannot be undone)
    MANAGE_WORKFLOWS = "manage_workflows"  # workflow templates, intake forms, rules
    WORK_TASKS = "work_tasks"  # runs board, run detail, my tasks: complete, assign, extend
    READ_PII = "read_pii"  # free text as written: emails, phones, cards, addresses not redacted


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    AGENT = "agent"
    VIEWER = "viewer"


_ALL = frozenset(Capability)

ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.ADMIN: _ALL,
    Role.ANALYST: frozenset(
        {
            Capability.READ_ANALYTICS,
            Capability.READ_CUSTOMERS,
            Capability.READ_FEEDBACK,
            Capability.EDIT_SURVEYS,
            Capability.EDIT_JOURNEYS,
            Capability.EDIT_SEGMENTS,
            Capability.EXPORT,
            Capability.IMPORT,
            Capability.MANAGE_WORKFLOWS,
            Capability.WORK_TASKS,
        }
    ),
    # support agents work with individual customers and their feedback; they change no setup
    Role.AGENT: frozenset(
        {
            Capability.READ_ANALYTICS,
            Capability.READ_CUSTOMERS,
            Capability.READ_FEEDBACK,
            Capability.WORK_TASKS,
            # an agent answers this customer: the phone number or address they wrote is the job
            Capability.READ_PII,
        }
    ),
    # read-only: aggregates only, no personal data
    Role.VIEWER: frozenset({Capability.READ_ANALYTICS}),
}


def role_can(role: str | None, capability: Capability | str) -> bool:
    """Whether a member with ``role`` (None: not a member) holds ``capability``."""
    if role is None:
        return False
    return Capability(capability) in ROLE_CAPABILITIES.get(role, frozenset())
