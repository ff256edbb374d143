"""Team, write keys and audit log (web and REST), and what a viewer does not see."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from cxloop.core import selectors as core_selectors
from cxloop.core import services as core_services
from cxloop.core.models import Membership, WriteKey
from cxloop.customers.models import Customer
from cxloop.feedback.models import Response, Survey

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def boss(admin_member) -> Client:
    return signed_in(admin_member)


def member_of(workspace, username: str, role: str):
    user = core_services.user_create_or_reset(username=username, password=f"{username}-pass-12")
    core_services.membership_set(user=user, workspace=workspace, role=role)
    return user


def actions(workspace) -> list[tuple[str, str, str, dict]]:
    return [
        (e.actor_label, e.action, e.target, e.detail)
        for e in core_selectors.audit_entries(workspace=workspace).order_by("id")
        if e.action.startswith("member_") or e.actor_label
    ]


# ------------------------------------------------------------------ team (web)


def test_admin_adds_a_new_user_with_a_role_and_it_is_audited(boss, workspace):
    response = boss.post(
        "/team/",
        {"username": "val", "role": "viewer", "email": "val@example.com",
         "password": "a long enough pass 42"},
        follow=True,
    )  # fmt: skip

    assert response.status_code == 200
    assert "val created and added as Viewer." in response.content.decode()
    val = get_user_model().objects.get(username="val")
    assert val.check_password("a long enough pass 42")
    assert Membership.objects.get(user=val, workspace=workspace).role == "viewer"
    assert ("boss", "member_role_set", "val", {"role": "viewer", "previous": None}) in actions(
        workspace
    )


def test_adding_an_existing_user_keeps_their_password(boss, workspace, other_workspace):
    someone = member_of(other_workspace, "sam", "admin")

    boss.post("/team/", {"username": "sam", "role": "agent", "password": "ignored pass 12345"})

    someone.refresh_from_db()
    assert someone.check_password("sam-pass-12")
    assert Membership.objects.get(user=someone, workspace=workspace).role == "agent"


def test_a_new_user_needs_a_valid_password(boss, workspace):
    missing = boss.post("/team/", {"username": "nopass", "role": "agent"})
    weak = boss.post("/team/", {"username": "weak", "role": "agent", "password": "pw"})

    assert missing.status_code == 422
    assert "give a password to create one" in missing.content.decode()
    assert weak.status_code == 422
    assert "This password is too short" in weak.content.decode()
    assert not get_user_model().objects.filter(username__in=["nopass", "weak"]).exists()


def test_admin_changes_a_role_and_removes_a_member(boss, workspace):
    agent = member_of(workspace, "andy", "agent")

    boss.post(f"/team/{agent.pk}/role/", {"role": "analyst"})
    assert Membership.objects.get(user=agent).role == "analyst"
    boss.post(f"/team/{agent.pk}/remove/")

    assert not Membership.objects.filter(user=agent).exists()
    assert [a[:3] for a in actions(workspace) if a[2] == "andy"] == [
        ("", "member_role_set", "andy"),  # member_of (no actor)
        ("boss", "member_role_set", "andy"),
        ("boss", "member_removed", "andy"),
    ]


def test_the_last_admin_cannot_be_demoted_or_removed(boss, admin_member, workspace):
    demote = boss.post(f"/team/{admin_member.pk}/role/", {"role": "viewer"}, follow=True)
    remove = boss.post(f"/team/{admin_member.pk}/remove/", follow=True)

    assert "boss is the last admin" in demote.content.decode()
    assert "boss is the last admin" in remove.content.decode()
    assert Membership.objects.get(user=admin_member).role == "admin"


def test_with_a_second_admin_the_first_may_step_down(boss, admin_member, workspace):
    member_of(workspace, "deputy", "admin")

    boss.post(f"/team/{admin_member.pk}/role/", {"role": "analyst"})

    assert Membership.objects.get(user=admin_member).role == "analyst"
    assert boss.get("/team/").status_code == 403  # no longer an admin


def test_members_of_another_workspace_are_not_found(boss, other_workspace):
    stranger = member_of(other_workspace, "stranger", "agent")

    assert boss.post(f"/team/{stranger.pk}/role/", {"role": "admin"}).status_code == 404
    assert boss.post(f"/team/{stranger.pk}/remove/").status_code == 404
    assert Membership.objects.get(user=stranger).role == "agent"


# ------------------------------------------------------------------ write keys (web)


def test_a_server_key_is_shown_in_full_once(boss, workspace):
    response = boss.post("/sources/keys/", {"label": "backend", "kind": "server"}, follow=True)

    key = WriteKey.objects.get(workspace=workspace, label="backend")
    assert key.kind == "server"
    page = response.content.decode()
    assert 'id="new-key"' in page and key.key in page
    again = boss.get("/sources/").content.decode()
    assert key.key not in again  # masked from now on
    assert f"{key.key[:4]}…" in again
    entry = core_selectors.audit_entries(workspace=workspace).get(
        action="key_created", actor_label="boss"
    )
    assert entry.detail == {"label": "backend", "kind": "server"}  # never the key itself


def test_a_bad_key_form_creates_nothing(boss, workspace):
    response = boss.post("/sources/keys/", {"label": "", "kind": "root"}, follow=True)

    assert "Key not created: label: This field is required." in response.content.decode()
    assert WriteKey.objects.filter(workspace=workspace).count() == 1


def test_revoking_a_key_stops_tracking_with_it(boss, workspace, write_key):
    key = WriteKey.objects.get(key=write_key)

    boss.post(f"/sources/keys/{key.pk}/revoke/")

    key.refresh_from_db()
    assert key.revoked_at is not None
    assert core_selectors.workspace_for_write_key(key=write_key) is None
    assert core_selectors.audit_entries(workspace=workspace).filter(action="key_revoked").exists()


def test_audit_page_lists_changes_for_admins_only(boss, workspace, member):
    boss.post("/sources/keys/", {"label": "app", "kind": "browser"})

    page = boss.get("/audit/").content.decode()

    assert "key_created" in page and "boss" in page
    assert signed_in(member).get("/audit/").status_code == 403


# ------------------------------------------------------------------ REST


def test_rest_members_and_keys(boss, workspace, admin_member):
    created = boss.post(
        "/api/members",
        {"username": "rita", "role": "agent", "password": "a long enough pass 42"},
        content_type="application/json",
    )
    assert created.status_code == 201
    rita = created.json()
    assert rita["role"] == "agent"
    changed = boss.patch(
        f"/api/members/{rita['user_id']}", {"role": "viewer"}, content_type="application/json"
    )
    assert changed.json()["role"] == "viewer"
    bad_role = boss.patch(
        f"/api/members/{rita['user_id']}", {"role": "owner"}, content_type="application/json"
    )
    assert bad_role.status_code == 422
    assert bad_role.json()["detail"].startswith("role: Select a valid choice. owner")
    last = boss.delete(f"/api/members/{admin_member.pk}")
    assert last.status_code == 409
    assert boss.delete(f"/api/members/{rita['user_id']}").status_code == 204
    assert [m["username"] for m in boss.get("/api/members").json()] == ["boss"]

    key = boss.post(
        "/api/keys", {"label": "srv", "kind": "server"}, content_type="application/json"
    )
    assert key.status_code == 201
    full = key.json()["key"]
    assert len(full) >= 32
    listed = {k["label"]: k["key"] for k in boss.get("/api/keys").json()}
    assert listed["srv"] == f"{full[:4]}…"
    assert boss.delete(f"/api/keys/{key.json()['id']}").status_code == 204
    assert WriteKey.objects.get(pk=key.json()["id"]).revoked_at is not None
    audit = [e["action"] for e in boss.get("/api/audit").json()]
    assert audit[:5] == ["key_revoked", "key_created", "member_removed", "member_role_set",
                         "member_role_set"]  # fmt: skip


def test_rest_key_kind_is_validated(boss):
    response = boss.post(
        "/api/keys", {"label": "x", "kind": "root"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("kind: Select a valid choice. root")


# ------------------------------------------------------------------ what a viewer sees


@pytest.fixture
def feedback_with_comment(workspace):
    jane = Customer.objects.create(workspace=workspace, display_name="Jane Doe")
    survey = Survey.objects.create(workspace=workspace, name="Pulse", kind="nps", public_token="p1")
    now = datetime.now(UTC)
    Response.objects.create(
        workspace=workspace, survey=survey, response_key="r1", started_at=now, submitted_at=now,
        completed=True, nps_score=2, comment="Parcel arrived broken", customer=jane,
    )  # fmt: skip
    return survey


def test_viewer_sees_scores_without_comments_or_customers(workspace, feedback_with_comment):
    viewer = signed_in(member_of(workspace, "vic", "viewer"))

    assert viewer.get("/").url == "/dashboard/"
    dashboard = viewer.get("/dashboard/").content.decode()
    detail = viewer.get(f"/surveys/{feedback_with_comment.pk}/").content.decode()

    assert "Parcel arrived broken" not in dashboard
    assert "Latest comments" not in dashboard
    assert "Parcel arrived broken" not in detail and "Jane Doe" not in detail
    assert 'id="stat-nps"' in detail  # the aggregate is there
    assert ">Customers<" not in dashboard and ">Sources<" not in dashboard
    assert viewer.get("/api/metrics/comments").status_code == 403
    assert viewer.get(f"/api/surveys/{feedback_with_comment.pk}/responses").status_code == 403


def test_agent_sees_comments_but_no_edit_buttons(workspace, feedback_with_comment):
    agent = signed_in(member_of(workspace, "amy", "agent"))

    detail = agent.get(f"/surveys/{feedback_with_comment.pk}/").content.decode()

    assert "Parcel arrived broken" in detail
    for hidden in ("Export CSV", "Import results", "Publish", "Add a trigger", "Edit questions"):
        assert hidden not in detail, hidden
    assert "New survey" not in agent.get("/surveys/").content.decode()


def test_admin_sees_the_edit_buttons(boss, feedback_with_comment):
    detail = boss.get(f"/surveys/{feedback_with_comment.pk}/").content.decode()

    for shown in ("Export CSV", "Import results", "Add a trigger", ">Team<", ">Sources<"):
        assert shown in detail, shown
