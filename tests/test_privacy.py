"""Data-subject rights: subject-access export, erasure with suppression, unmerge, audit, roles.

Everything goes through the real routes (REST API, web pages, tracking API, bulk import) and the
database; the expected values are the ones written into the fixtures by hand.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model

from cxloop.core import services as core_services
from cxloop.core.models import AuditEntry
from cxloop.customers.models import Consent, Customer, CustomerMerge, Identity, Suppression
from cxloop.events.importing import import_file
from cxloop.events.models import Event
from cxloop.feedback import services as feedback_services
from cxloop.feedback.models import Answer, Invitation, Response
from cxloop.journeys import services as journey_services
from cxloop.journeys.models import CustomerStage
from factories import ingest, member_make

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
EMAIL, PHONE = "erin.example@mail.test", "+447700900123"
COMMENT = "Parcel late again, ring me"
SECRETS = (EMAIL, PHONE, COMMENT, "u-erin", "anon-erin", "Erin Example")
JOURNEY = {
    "name": "Shop",
    "stages": ["Discover", "Buy"],
    "touchpoints": [
        {"stage": "Discover", "name": "Site", "rules": [{"event": "Home"}]},
        {"stage": "Buy", "name": "Order", "rules": [{"event": "Order Completed"}]},
    ],
}


def _at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def _uid(workspace, kind: str, value: str) -> int:
    return Identity.objects.get(workspace=workspace, kind=kind, value=value).customer_id


@pytest.fixture
def erin(workspace):
    """Two profiles of one person, merged: an anonymous visitor (older, with email consent) and
    a signed-up user with an email, phone, an NPS response with a comment and an invitation."""
    result = ingest(
        workspace,
        [
            {"type": "track", "anonymousId": "anon-erin", "event": "Home", "timestamp": _at(0),
             "messageId": "m-home", "context": {"consent": {"categoryPreferences": {"email": True}}}},
            {"type": "identify", "userId": "u-erin", "timestamp": _at(1), "messageId": "m-id",
             "traits": {"name": "Erin Example", "email": EMAIL, "phone": PHONE}},
            {"type": "track", "userId": "u-erin", "event": "Order Completed", "timestamp": _at(2),
             "messageId": "m-order"},
        ],
    )  # fmt: skip
    assert not result.rejected
    visitor = _uid(workspace, "anonymous_id", "anon-erin")
    user = _uid(workspace, "user_id", "u-erin")
    survey = feedback_services.survey_create_from_template(workspace=workspace, template="nps")
    feedback_services.response_submit(
        survey=survey,
        answers={"nps": 3, "why_detractor": COMMENT},
        response_key=f"key-{EMAIL}",
        customer=Customer.objects.get(pk=user),
    )
    feedback_services.invitation_create(survey=survey, customer=Customer.objects.get(pk=user))
    Invitation.objects.update(email=EMAIL)
    journey = journey_services.journey_create(workspace=workspace, definition=JOURNEY)
    link = ingest(
        workspace,
        [{"type": "identify", "userId": "u-erin", "anonymousId": "anon-erin",
          "timestamp": _at(3), "messageId": "m-link"}],
    )  # fmt: skip
    assert not link.rejected
    merge = CustomerMerge.objects.get(workspace=workspace)
    assert (merge.survivor_id, merge.merged_id) == (visitor, user)
    return {"visitor": visitor, "user": user, "merge": merge, "journey": journey}


def _login(client, workspace, role: str):
    user = member_make(workspace=workspace, username=f"x-{role}", role=role)
    client.force_login(user)
    return user


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def _track(client, key: str, body: dict):
    return client.post(
        "/v1/track", json.dumps(body), content_type="application/json",
        headers={"Authorization": _basic(key)},
    )  # fmt: skip


# ------------------------------------------------------------------ merge handlers


def test_a_merge_keeps_one_stage_row_per_customer_the_furthest(workspace, erin):
    # the visitor reached Discover, the user Buy; merged, the survivor has one row: Buy
    rows = CustomerStage.objects.filter(journey=erin["journey"])
    assert list(rows.values_list("customer_id", "stage__name")) == [(erin["visitor"], "Buy")]


def test_merge_moves_events_responses_and_invitations_to_the_survivor(workspace, erin):
    assert set(Event.objects.values_list("customer_id", flat=True)) == {erin["visitor"]}
    assert Response.objects.get().customer_id == erin["visitor"]
    assert Invitation.objects.get().customer_id == erin["visitor"]
    assert erin["merge"].rows_moved == 3 + 2 + 1 + 1 + 1  # identities, events, resp., inv., stage


def test_an_automatic_merge_is_in_the_audit_log_without_personal_data(workspace, erin):
    entry = AuditEntry.objects.get(action="customers_merged")
    assert entry.actor is None
    assert entry.target == f"#{erin['user']} into #{erin['visitor']}"
    assert entry.detail == {
        "merged_id": erin["user"], "survivor_id": erin["visitor"], "by": "identity resolution"
    }  # fmt: skip
    assert EMAIL not in str(entry.detail) and PHONE not in str(entry.detail)


# ------------------------------------------------------------------ unmerge


def test_merge_then_unmerge_gives_back_two_profiles_with_their_own_rows(client, workspace, erin):
    # given: an event after the merge, under the user's own id
    ingest(workspace, [{"type": "track", "userId": "u-erin", "event": "Cart",
                        "timestamp": _at(4), "messageId": "m-cart"}])  # fmt: skip
    admin = _login(client, workspace, "admin")
    [listed] = client.get(f"/api/customers/{erin['visitor']}").json()["merges"]
    assert (listed["id"], listed["unmerged_at"]) == (erin["merge"].pk, None)
    # when
    answer = client.post(f"/api/merges/{listed['id']}/unmerge")
    # then
    assert answer.status_code == 200, answer.content
    visitor, user = erin["visitor"], erin["user"]
    assert answer.json() == {"merge_id": erin["merge"].pk, "survivor_id": visitor,
                             "restored_id": user}  # fmt: skip
    assert Customer.objects.get(pk=user).merged_into_id is None

    def identities(customer_id):
        return set(Identity.objects.filter(customer_id=customer_id).values_list("kind", "value"))

    assert identities(visitor) == {("anonymous_id", "anon-erin")}
    assert identities(user) == {("user_id", "u-erin"), ("email", EMAIL), ("phone", PHONE)}

    def events(customer_id):
        return set(
            Event.objects.filter(customer_id=customer_id).values_list("message_id", flat=True)
        )

    assert events(visitor) == {"m-home"}
    # the user's own events, the link (it carries their user id) and the one after the merge
    assert events(user) == {"m-id", "m-order", "m-link", "m-cart"}
    assert Response.objects.get().customer_id == user
    assert Invitation.objects.get().customer_id == user
    assert list(Consent.objects.values_list("customer_id", "channel")) == [(visitor, "email")]
    survivor, restored = Customer.objects.get(pk=visitor), Customer.objects.get(pk=user)
    assert (survivor.traits, survivor.display_name) == ({}, "")
    assert restored.traits["email"] == EMAIL and restored.display_name == "Erin Example"
    assert EMAIL in restored.search_text and EMAIL not in survivor.search_text
    stages = CustomerStage.objects.filter(journey=erin["journey"])
    assert set(stages.values_list("customer_id", "stage__name")) == {
        (visitor, "Discover"),
        (user, "Buy"),
    }
    entry = AuditEntry.objects.get(action="customer_unmerge")
    assert (entry.actor, entry.target) == (admin, f"merge #{erin['merge'].pk}")
    assert entry.detail == {"survivor": visitor, "restored": user}
    # and the same merge cannot be undone twice
    again = client.post(f"/api/merges/{erin['merge'].pk}/unmerge")
    assert again.status_code == 409 and "already undone" in again.json()["detail"]


def test_unmerge_from_the_360_page(client, workspace, erin):
    _login(client, workspace, "admin")
    page = client.get(f"/customers/{erin['visitor']}/")
    assert f"/merges/{erin['merge'].pk}/unmerge/" in page.content.decode()
    answer = client.post(f"/merges/{erin['merge'].pk}/unmerge/")
    assert answer.status_code == 302 and answer["Location"] == f"/customers/{erin['user']}/"
    assert Customer.objects.filter(workspace=workspace, merged_into__isnull=True).count() == 2


# ------------------------------------------------------------------ export


def test_export_holds_everything_about_the_person_and_is_audited(client, workspace, erin):
    admin = _login(client, workspace, "admin")
    # asking with the absorbed profile's id exports the same person
    answer = client.get(f"/api/customers/{erin['user']}/export")
    assert answer.status_code == 200
    assert (
        answer["Content-Disposition"] == f'attachment; filename="customer-{erin["visitor"]}.json"'
    )
    data = answer.json()
    tables = data["tables"]
    assert data["customer_id"] == erin["visitor"]
    assert sorted(p["id"] for p in tables["profiles"]) == [erin["visitor"], erin["user"]]
    assert {(i["kind"], i["value"]) for i in tables["identities"]} == {
        ("anonymous_id", "anon-erin"), ("user_id", "u-erin"), ("email", EMAIL), ("phone", PHONE),
    }  # fmt: skip
    assert [(c["channel"], c["status"]) for c in tables["consents"]] == [("email", "granted")]
    assert sorted(e["message_id"] for e in tables["events"]) == [
        "m-home", "m-id", "m-link", "m-order",
    ]  # fmt: skip
    assert [(r["nps_score"], r["comment"]) for r in tables["responses"]] == [(3, COMMENT)]
    assert {(a["question__key"], a["value"]) for a in tables["answers"]} == {
        ("nps", 3), ("why_detractor", COMMENT),
    }  # fmt: skip
    assert [i["email"] for i in tables["invitations"]] == [EMAIL]
    assert [(m["survivor_id"], m["merged_id"]) for m in tables["merges"]] == [
        (erin["visitor"], erin["user"])
    ]
    assert [(s["journey__name"], s["stage__name"]) for s in tables["journey_stages"]] == [
        ("Shop", "Buy")
    ]
    entry = AuditEntry.objects.get(action="customer_export")
    assert (entry.actor, entry.target) == (admin, f"customer #{erin['visitor']}")
    assert entry.detail["rows"]["events"] == 4
    assert not any(secret in json.dumps(entry.detail) for secret in SECRETS)


def test_export_as_csv_zip_and_from_the_360_page(client, workspace, erin):
    _login(client, workspace, "admin")
    page = client.get(f"/customers/{erin['visitor']}/").content.decode()
    assert f"/customers/{erin['visitor']}/export/" in page
    answer = client.get(f"/customers/{erin['visitor']}/export/?format=csv")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert {"profiles.csv", "identities.csv", "events.csv", "responses.csv"} <= set(
        archive.namelist()
    )
    assert EMAIL in archive.read("identities.csv").decode()
    assert COMMENT in archive.read("answers.csv").decode()
    assert AuditEntry.objects.filter(action="customer_export").count() == 1


def test_export_csv_cells_a_spreadsheet_would_run_are_escaped(client, workspace, erin):
    # given: a tracker sent a formula as the person's name and as an event name
    ingest(workspace, [
        {"type": "identify", "userId": "u-erin", "timestamp": _at(5), "messageId": "m-f1",
         "traits": {"name": '=HYPERLINK("http://evil","n")'}},
        {"type": "track", "userId": "u-erin", "event": "@SUM(1)", "timestamp": _at(5),
         "messageId": "m-f2"},
    ])  # fmt: skip
    _login(client, workspace, "admin")

    answer = client.get(f"/api/customers/{erin['visitor']}/export?format=csv")

    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    profiles = list(csv.reader(io.StringIO(archive.read("profiles.csv").decode())))
    events = list(csv.reader(io.StringIO(archive.read("events.csv").decode())))
    cells = {cell for row in profiles + events for cell in row}
    assert "'@SUM(1)" in cells and "@SUM(1)" not in cells
    assert not any(cell.startswith(("=", "@")) for cell in cells)
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)


# ------------------------------------------------------------------ erasure


def _every_stored_value() -> list[str]:
    """Every non-empty column value of every row of every model, as text."""
    found = []
    for model in apps.get_models():
        fields = [f.attname for f in model._meta.concrete_fields]
        for row in model.objects.values_list(*fields):
            found.extend(
                json.dumps(v, default=str) if isinstance(v, (dict, list)) else str(v)
                for v in row
                if v not in (None, "")
            )
    return found


def test_erase_leaves_no_personal_data_anywhere(client, workspace, erin):
    admin = _login(client, workspace, "admin")
    assert any(EMAIL in value for value in _every_stored_value())  # the scan does find it
    # when: the confirm form on the 360 page, with a wrong number first
    wrong = client.post(f"/customers/{erin['visitor']}/erase/", {"confirm": "999"})
    assert wrong.status_code == 422 and Customer.objects.filter(pk=erin["visitor"]).exists()
    answer = client.post(f"/customers/{erin['visitor']}/erase/", {"confirm": str(erin["visitor"])})
    # then
    assert answer.status_code == 302
    stored = _every_stored_value()
    for secret in SECRETS:
        assert not [value for value in stored if secret.lower() in value.lower()], secret
    assert not Customer.objects.filter(workspace=workspace).exists()
    assert not Event.objects.exists() and not Invitation.objects.exists()
    assert not CustomerStage.objects.exists() and not CustomerMerge.objects.exists()
    # the anonymous aggregate stays: the NPS score, no customer, no comment, no free text
    response = Response.objects.get()
    assert (response.nps_score, response.customer_id, response.comment) == (3, None, "")
    assert list(Answer.objects.values_list("question__key", "value")) == [("nps", 3)]
    # audited, with counts and the id only
    entry = AuditEntry.objects.get(action="customer_erase")
    assert (entry.actor, entry.target) == (admin, f"customer #{erin['visitor']}")
    assert entry.detail["profiles"] == 2 and entry.detail["events"] == 4
    assert entry.detail["suppressed_identifiers"] == 4 == Suppression.objects.count()


def test_erase_through_the_api_and_the_django_admin(client, workspace, erin):
    _login(client, workspace, "admin")
    answer = client.post(f"/api/customers/{erin['user']}/erase")  # an absorbed id: the person
    assert answer.status_code == 200
    assert answer.json()["erased"]["profiles"] == 2
    # the Django admin's delete is the same erasure
    ingest(workspace, [{"type": "track", "userId": "u-other", "event": "Home",
                        "timestamp": _at(5), "messageId": "m-other"}])  # fmt: skip
    other = _uid(workspace, "user_id", "u-other")
    staff = get_user_model().objects.create_superuser("root", "", "root-pass-1234")
    client.force_login(staff)
    deleted = client.post(f"/admin/customers/customer/{other}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not Customer.objects.filter(pk=other).exists()
    assert AuditEntry.objects.filter(action="customer_erase").count() == 2
    assert Suppression.objects.count() == 5
    assert not any("u-other" in value for value in _every_stored_value())


def test_suppression_blocks_tracking_until_consent_is_given_again(client, workspace, erin):
    key = workspace.write_keys.get().key
    _login(client, workspace, "admin")
    client.post(f"/api/customers/{erin['visitor']}/erase")
    client.logout()
    # a message with the erased user id is rejected, and says why
    blocked = _track(client, key, {"userId": "u-erin", "event": "Home", "messageId": "n1"})
    assert blocked.status_code == 400
    assert "erased on request" in blocked.json()["errors"][0]["error"]
    # so is one that only carries the erased email, under a new anonymous id
    by_email = _track(
        client, key,
        {"anonymousId": "fresh", "event": "Home", "messageId": "n2",
         "context": {"traits": {"email": EMAIL.upper()}}},
    )  # fmt: skip
    assert by_email.status_code == 400
    assert not Customer.objects.filter(workspace=workspace).exists()
    assert not Event.objects.exists()
    # a batch keeps the others and reports the dropped one
    batch = client.post(
        "/v1/batch",
        json.dumps({"batch": [
            {"type": "track", "userId": "u-erin", "event": "Home", "messageId": "n3"},
            {"type": "track", "userId": "u-new", "event": "Home", "messageId": "n4"},
        ]}),
        content_type="application/json", headers={"Authorization": _basic(key)},
    )  # fmt: skip
    body = batch.json()
    assert (batch.status_code, body["accepted"], [e["index"] for e in body["errors"]]) == (
        200, 1, [0],
    )  # fmt: skip
    # consent granted again: the person is recorded, and later messages are accepted too
    again = _track(
        client, key,
        {"userId": "u-erin", "event": "Home", "messageId": "n5",
         "context": {"consent": {"categoryPreferences": {"email": True}}}},
    )  # fmt: skip
    assert again.status_code == 200 and again.json()["accepted"] == 1
    back = _uid(workspace, "user_id", "u-erin")
    assert Consent.objects.get(customer_id=back).status == "granted"
    later = _track(client, key, {"userId": "u-erin", "event": "Cart", "messageId": "n6"})
    assert later.status_code == 200
    assert Event.objects.filter(customer_id=back).count() == 2
    assert Suppression.objects.count() == 3  # the email, phone and anonymous id stay suppressed


def test_suppression_blocks_the_bulk_import(client, workspace, erin, tmp_path):
    _login(client, workspace, "admin")
    client.post(f"/api/customers/{erin['visitor']}/erase")
    path = tmp_path / "events.jsonl"
    rows = [
        {"type": "identify", "userId": "u-erin", "messageId": "i1", "timestamp": _at(9)},
        {"type": "track", "anonymousId": "anon-erin", "event": "Home", "messageId": "i2",
         "timestamp": _at(9)},
        {"type": "track", "userId": "u-new", "event": "Home", "messageId": "i3",
         "timestamp": _at(9)},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    report = import_file(workspace=workspace, path=path, kind="events", workers=0)
    assert report.accepted == 1
    assert len(report.rejected) == 2
    assert all("erased on request" in r.reason for r in report.rejected)
    assert list(Identity.objects.values_list("value", flat=True)) == ["u-new"]


# ------------------------------------------------------------------ who may


@pytest.mark.parametrize("role", ["analyst", "agent", "viewer"])
def test_only_admins_may_export_erase_or_unmerge(client, workspace, erin, role):
    _login(client, workspace, role)
    visitor, merge = erin["visitor"], erin["merge"].pk
    assert client.get(f"/api/customers/{visitor}/export").status_code == 403
    assert client.post(f"/api/customers/{visitor}/erase").status_code == 403
    assert client.post(f"/api/merges/{merge}/unmerge").status_code == 403
    assert client.get(f"/customers/{visitor}/export/").status_code == 403
    assert client.post(f"/customers/{visitor}/erase/", {"confirm": visitor}).status_code == 403
    assert client.post(f"/merges/{merge}/unmerge/").status_code == 403
    assert Customer.objects.filter(workspace=workspace).count() == 2
    # nothing audited but the setup's own role and key entries (core records those)
    assert not AuditEntry.objects.exclude(
        action__regex=r"^(member|key)_|^customers_merged$"
    ).exists()
    if role != "viewer":  # viewers may not open the 360 page at all (another change)
        page = client.get(f"/customers/{visitor}/").content.decode()
        assert "/erase/" not in page and "/unmerge/" not in page


def test_another_workspaces_customer_is_404(client, workspace, other_workspace, erin):
    user = _login(client, workspace, "admin")
    core_services.membership_set(user=user, workspace=other_workspace, role="admin")
    answer = client.post(f"/api/customers/{erin['visitor']}/erase?workspace=globex")
    assert answer.status_code == 404
    assert Customer.objects.filter(pk=erin["visitor"]).exists()


# ------------------------------------------------------------------ in a real browser


@pytest.mark.browser
@pytest.mark.live
def test_an_admin_erases_a_customer_from_the_360_page(transactional_db, live_server, page):
    from django.test import Client
    from playwright.sync_api import expect

    workspace = core_services.workspace_create(name="Acme Retail", slug="acme")
    ingest(workspace, [{"type": "identify", "userId": "u-erin", "timestamp": _at(0),
                        "traits": {"email": EMAIL}, "messageId": "b1"}])  # fmt: skip
    customer_id = _uid(workspace, "user_id", "u-erin")
    admin = core_services.user_create_or_reset(username="boss", password="admin-pass-123")
    core_services.membership_set(user=admin, workspace=workspace, role="admin")
    client = Client()
    client.force_login(admin)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/customers/{customer_id}/")
    card = page.locator("#privacy")
    expect(card.get_by_role("link", name="Export JSON")).to_be_visible()
    card.get_by_role("link", name="Erase this customer…").click()
    page.get_by_label("Type the customer number to confirm").fill(str(customer_id))
    page.get_by_role("button", name="Erase permanently").click()
    expect(page).to_have_url(f"{live_server.url}/customers/")
    expect(page.locator(".messages")).to_contain_text(f"Customer #{customer_id} erased")
    assert not Customer.objects.filter(pk=customer_id).exists()


def test_every_app_with_rows_per_customer_registers_its_handlers():
    # a model of another app pointing at Customer without handlers would be left behind by
    # merges, unmerges and exports
    from cxloop.customers.handlers import customer_handlers

    pointing = {
        relation.related_model._meta.app_label
        for relation in Customer._meta.related_objects
        if relation.related_model._meta.app_label != "customers"
    }
    assert pointing == {"events", "feedback", "journeys", "text", "workflows"}
    assert pointing <= {handlers.app_label for handlers in customer_handlers()}


def test_the_constraint_migration_keeps_the_furthest_of_duplicate_stage_rows(transactional_db):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    before, after = [("journeys", "0001_initial")], [("journeys", "0002_customerstage_unique")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    workspace = old.get_model("core", "Workspace").objects.create(name="W", slug="w")
    journey = old.get_model("journeys", "JourneyMap").objects.create(workspace=workspace, name="J")
    stage = old.get_model("journeys", "Stage")
    first, second = (stage.objects.create(journey=journey, position=i, name=str(i)) for i in (0, 1))
    customer_model = old.get_model("customers", "Customer")
    one, two = (customer_model.objects.create(workspace=workspace) for _ in range(2))
    rows = old.get_model("journeys", "CustomerStage").objects
    t = datetime(2026, 1, 1, tzinfo=UTC)
    for customer, at_stage, hours in (
        (one, first, 0), (one, second, 5), (one, second, 2),  # furthest, reached first: (2 h)
        (two, first, 3), (two, first, 1),  # same stage twice: the earliest
    ):  # fmt: skip
        rows.create(workspace=workspace, journey=journey, stage=at_stage, customer=customer,
                    reached_at=t + timedelta(hours=hours))  # fmt: skip
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    kept = CustomerStage.objects.order_by("customer_id").values_list(
        "customer_id", "stage__position", "reached_at"
    )
    assert list(kept) == [(one.pk, 1, t + timedelta(hours=2)), (two.pk, 0, t + timedelta(hours=1))]


def test_an_import_session_forgets_its_cache_when_a_merge_is_undone(workspace, erin):
    from cxloop.customers import privacy
    from cxloop.customers.services import ResolutionSession
    from cxloop.events.services import events_prepare, events_store, events_validate

    def store(message: dict) -> None:
        valid, _ = events_validate(messages=[message], received_at=T0)
        prepared, _ = events_prepare(
            messages=valid, received_at=T0, workspace_id=workspace.pk, region="US"
        )
        events_store(workspace=workspace, messages=prepared, session=session)

    session = ResolutionSession(workspace.pk)
    store({"type": "track", "userId": "u-erin", "event": "A", "messageId": "s1"})
    assert Event.objects.get(message_id="s1").customer_id == erin["visitor"]  # merged
    privacy.customer_unmerge(merge=erin["merge"], actor=None)
    store({"type": "track", "userId": "u-erin", "event": "B", "messageId": "s2"})
    assert Event.objects.get(message_id="s2").customer_id == erin["user"]  # not the cached one
