"""The bulk import pipeline: worker processes, the resolution session kept across batches, and
first/last-seen times written once at the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db.models import Max, Min

from cxloop.customers.models import Customer, CustomerMerge, Identity
from cxloop.customers.services import ResolutionSession, profiles_flush_seen
from cxloop.events import importing
from cxloop.events import services as event_services
from cxloop.events.importing import import_file
from cxloop.events.models import Event
from factories import workspace_make

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def _messages(count: int) -> list[dict]:
    """Anonymous browsing, then sign-up (userId + anonymousId + email), then server-side events
    by userId only; every 17th message is broken in some way."""
    out = []
    for n in range(count):
        person = n % 23
        at = (T0 + timedelta(minutes=n)).isoformat().replace("+00:00", "Z")
        message: dict = {"messageId": f"m{n}", "timestamp": at, "type": "track", "event": "Seen"}
        if n < 60:
            message["anonymousId"] = f"anon-{person}"
        elif n < 120:
            message.update(type="identify", anonymousId=f"anon-{person}", userId=f"u{person}")
            message["traits"] = {"email": f"P{person}@Shop.io", "plan": f"p{n}"}
        else:
            message["userId"] = f"u{person}"
        if n % 17 == 5:
            message.pop("event", None)
            message["type"] = "track"  # a track without a name
        out.append(message)
    return out


def _write_jsonl(path, messages) -> None:
    path.write_bytes(b"".join(orjson.dumps(m) + b"\n" for m in messages))


def _state(workspace) -> dict:
    events = Event.objects.filter(workspace=workspace)
    by_customer = {}
    for message_id, customer_id in events.values_list("message_id", "customer_id"):
        owner = Identity.objects.filter(customer_id=customer_id).order_by("kind", "value").first()
        by_customer[message_id] = (owner.kind, owner.value)
    customers = Customer.objects.filter(workspace=workspace, merged_into__isnull=True)
    return {
        "events": by_customer,
        "profiles": sorted(
            (c.display_name, c.first_seen_at, c.last_seen_at, tuple(sorted(c.traits.items())))
            for c in customers
        ),
        "identities": sorted(
            Identity.objects.filter(workspace=workspace).values_list("kind", "value")
        ),
    }


def test_worker_processes_give_the_same_result_as_preparing_inline(
    workspace, other_workspace, tmp_path
):
    path = tmp_path / "events.jsonl"
    _write_jsonl(path, _messages(300))

    inline = import_file(workspace=workspace, path=path, kind="events", chunk_rows=40, workers=0)
    pooled = import_file(
        workspace=other_workspace, path=path, kind="events", chunk_rows=40, workers=1
    )

    assert (pooled.rows, pooled.accepted, pooled.duplicates) == (300, 282, 0)
    assert [(r.position, r.reason) for r in pooled.rejected] == [
        (r.position, r.reason) for r in inline.rejected
    ]
    assert pooled.rejected[0].position == 6  # file line numbers survive the trip
    assert _state(other_workspace) == _state(workspace)


def test_seen_times_cover_every_event_after_an_import_in_many_batches(workspace, tmp_path):
    path = tmp_path / "events.jsonl"
    messages = _messages(300)
    messages.reverse()  # newest first: every batch moves first_seen earlier
    _write_jsonl(path, messages)

    import_file(workspace=workspace, path=path, kind="events", chunk_rows=25)

    expected = {
        row["customer_id"]: (row["first"], row["last"])
        for row in Event.objects.filter(workspace=workspace)
        .values("customer_id")
        .annotate(first=Min("occurred_at"), last=Max("occurred_at"))
    }
    live = Customer.objects.filter(workspace=workspace, merged_into__isnull=True)
    assert len(expected) == live.count() == 23
    for customer in live:
        assert (customer.first_seen_at, customer.last_seen_at) == expected[customer.pk]


def _prepared(workspace, *messages):
    received_at = datetime.now(UTC)
    valid, rejected = event_services.events_validate(messages=messages, received_at=received_at)
    prepared, unidentified = event_services.events_prepare(
        messages=valid, received_at=received_at, workspace_id=workspace.pk, region="US"
    )
    assert not rejected
    assert not unidentified
    return prepared


def test_session_forgets_its_cache_when_someone_else_merges_profiles(workspace):
    session = ResolutionSession(workspace.pk)
    first = _prepared(
        workspace,
        {"messageId": "a", "type": "track", "event": "E", "anonymousId": "anon-1"},
        {"messageId": "b", "type": "track", "event": "E", "anonymousId": "anon-2"},
    )
    event_services.events_store(workspace=workspace, messages=first, session=session)
    older = Event.objects.get(message_id="a").customer_id
    # meanwhile, live traffic shows both anonymous ids belong to one signed-up customer
    event_services.events_ingest(
        workspace=workspace,
        messages=[
            {"messageId": "c", "type": "identify", "userId": "u1", "anonymousId": "anon-1"},
            {"messageId": "d", "type": "identify", "userId": "u1", "anonymousId": "anon-2"},
        ],
    )
    assert CustomerMerge.objects.filter(workspace=workspace).count() == 1

    later = _prepared(
        workspace, {"messageId": "e", "type": "track", "event": "E", "anonymousId": "anon-2"}
    )
    event_services.events_store(workspace=workspace, messages=later, session=session)

    assert Event.objects.get(message_id="e").customer_id == older  # the survivor, not a tombstone


def test_merges_made_by_the_import_itself_keep_later_batches_on_the_survivor(workspace, tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [
        {"messageId": "1", "type": "track", "event": "E", "anonymousId": "a1"},
        {"messageId": "2", "type": "track", "event": "E", "anonymousId": "a2"},
        {"messageId": "3", "type": "identify", "userId": "u", "anonymousId": "a1"},
        {"messageId": "4", "type": "identify", "userId": "u", "anonymousId": "a2"},  # merge
        {"messageId": "5", "type": "track", "event": "E", "anonymousId": "a2"},
        {"messageId": "6", "type": "track", "event": "E", "anonymousId": "a1"},
    ]
    for n, line in enumerate(lines):
        line["timestamp"] = (T0 + timedelta(hours=n)).isoformat()
    _write_jsonl(path, lines)

    import_file(workspace=workspace, path=path, kind="events", chunk_rows=1)

    live = Customer.objects.get(workspace=workspace, merged_into__isnull=True)
    assert set(Event.objects.values_list("customer_id", flat=True)) == {live.pk}
    assert (live.first_seen_at, live.last_seen_at) == (T0, T0 + timedelta(hours=5))


def test_a_failing_batch_stops_the_import_and_keeps_what_was_stored(
    workspace, tmp_path, monkeypatch
):
    path = tmp_path / "events.jsonl"
    _write_jsonl(path, _messages(100))
    real_store = event_services._store
    calls = []

    def store_failing_on_third_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real_store(*args, **kwargs)

    monkeypatch.setattr(event_services, "_store", store_failing_on_third_batch)

    with pytest.raises(RuntimeError, match="disk full"):
        import_file(workspace=workspace, path=path, kind="events", chunk_rows=20, workers=0)

    stored = Event.objects.filter(workspace=workspace)
    assert stored.count() == 37  # two batches of 20 rows: lines 6, 23 and 40 are broken
    latest = stored.order_by("-occurred_at").first()
    assert latest.customer.last_seen_at == latest.occurred_at  # seen-times of stored batches


def test_flushing_a_session_twice_writes_nothing_more(workspace):
    session = ResolutionSession(workspace.pk)
    prepared = _prepared(
        workspace,
        {"messageId": "x", "type": "track", "event": "E", "anonymousId": "a", "timestamp": "2026-01-01T00:00:00Z"},
    )  # fmt: skip
    event_services.events_store(workspace=workspace, messages=prepared, session=session)
    customer = Customer.objects.get(workspace=workspace)
    assert customer.last_seen_at is None  # deferred to the end of the import

    profiles_flush_seen(session)
    profiles_flush_seen(session)

    customer.refresh_from_db()
    assert customer.first_seen_at == customer.last_seen_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_small_files_are_prepared_inline_and_large_ones_by_workers(monkeypatch):
    monkeypatch.setattr(importing.os, "cpu_count", lambda: 8)
    assert importing._default_workers(1_000) == 0
    assert importing._default_workers(importing.WORKERS_FROM_BYTES) == importing.MAX_WORKERS
    monkeypatch.setattr(importing.os, "cpu_count", lambda: 1)
    assert importing._default_workers(10**9) == 0


def test_reimport_with_new_rows_redoes_the_batch_and_keeps_newer_traits(workspace, tmp_path):
    old = {"messageId": "old-identify", "type": "identify", "userId": "u1",
           "timestamp": "2026-01-01T00:00:00Z", "traits": {"plan": "basic"}}  # fmt: skip
    path = tmp_path / "first.jsonl"
    _write_jsonl(path, [old])
    import_file(workspace=workspace, path=path, kind="events")
    event_services.events_ingest(
        workspace=workspace,
        messages=[{"messageId": "upgrade", "type": "identify", "userId": "u1",
                   "timestamp": "2026-02-01T00:00:00Z", "traits": {"plan": "pro"}}],
    )  # fmt: skip
    again = tmp_path / "second.jsonl"
    _write_jsonl(
        again,
        [{"messageId": "new", "type": "track", "event": "E", "userId": "u1",
          "timestamp": "2026-03-01T00:00:00Z"}, old],
    )  # fmt: skip

    report = import_file(workspace=workspace, path=again, kind="events")

    assert (report.accepted, report.duplicates) == (1, 1)
    customer = Customer.objects.get(workspace=workspace)
    assert customer.traits == {"plan": "pro"}  # the old identify was not applied again
    assert Event.objects.filter(workspace=workspace).count() == 3


def test_assuming_new_messages_gives_the_same_result_as_looking_them_up(workspace):
    stored = {"messageId": "s", "type": "identify", "userId": "u", "traits": {"n": 2},
              "timestamp": "2026-02-01T00:00:00Z"}  # fmt: skip
    event_services.events_ingest(workspace=workspace, messages=[stored])
    batch = [
        {**stored, "traits": {"n": 1}, "timestamp": "2026-01-01T00:00:00Z"},  # a stale resend
        {"messageId": "t", "type": "track", "event": "E", "userId": "u"},
        {"messageId": "t", "type": "track", "event": "E", "userId": "u"},  # repeated in the batch
    ]
    session = ResolutionSession(workspace.pk)

    result = event_services.events_store(
        workspace=workspace, messages=_prepared(workspace, *batch), session=session,
        assume_new=True,
    )  # fmt: skip

    assert (result.accepted, result.duplicates) == (1, 2)
    assert Customer.objects.get(workspace=workspace).traits == {"n": 2}
    # the rolled-back first attempt had counted the stale resend; its span did not survive
    [(first, _last)] = session.seen.values()
    assert first > datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_a_profile_deleted_during_an_import_gets_its_events_on_a_new_profile():
    workspace = workspace_make(name="Acme", slug="acme-tx")
    session = ResolutionSession(workspace.pk)
    message = {"type": "track", "event": "E"}
    first = _prepared(
        workspace, {**message, "messageId": "1", "userId": "u1"},
        {**message, "messageId": "2", "userId": "u2"},
    )  # fmt: skip
    event_services.events_store(workspace=workspace, messages=first, session=session)
    # erased on request meanwhile; the newest identity (u2's) is still there
    Customer.objects.filter(workspace=workspace, identities__value="u1").delete()

    result = event_services.events_store(
        workspace=workspace, messages=_prepared(workspace, {**message, "messageId": "3", "userId": "u1"}),
        session=session,
    )  # fmt: skip

    assert result.accepted == 1
    customer = Event.objects.get(message_id="3").customer
    assert Identity.objects.get(workspace=workspace, value="u1").customer == customer
    assert Customer.objects.filter(workspace=workspace).count() == 2


def _at(hours: int) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def test_seen_times_of_two_profiles_merged_into_one_both_count(workspace, tmp_path):
    track = {"type": "track", "event": "E"}
    path = tmp_path / "e.jsonl"
    _write_jsonl(path, [
        {**track, "messageId": "1", "anonymousId": "a0", "timestamp": _at(10)},
        {**track, "messageId": "2", "anonymousId": "a1", "timestamp": _at(1)},
        {**track, "messageId": "3", "anonymousId": "a2", "timestamp": _at(5)},
        # second chunk: all three are one signed-up user; a1's and a2's profiles merge into a0's
        {"messageId": "4", "type": "identify", "userId": "u", "anonymousId": "a0", "timestamp": _at(20)},
        {"messageId": "5", "type": "identify", "userId": "u", "anonymousId": "a1", "timestamp": _at(20)},
        {"messageId": "6", "type": "identify", "userId": "u", "anonymousId": "a2", "timestamp": _at(20)},
    ])  # fmt: skip

    import_file(workspace=workspace, path=path, kind="events", chunk_rows=3, workers=0)

    live = Customer.objects.get(workspace=workspace, merged_into__isnull=True)
    assert CustomerMerge.objects.filter(workspace=workspace).count() == 2
    assert (live.first_seen_at, live.last_seen_at) == (
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=20),
    )


def test_a_merge_during_an_import_keeps_the_traits_of_the_most_recently_seen(workspace, tmp_path):
    event_services.events_ingest(workspace=workspace, messages=[
        {"messageId": "old", "type": "identify", "userId": "u1", "traits": {"plan": "old"},
         "timestamp": "2025-01-01T00:00:00Z"},
    ])  # fmt: skip
    path = tmp_path / "e.jsonl"
    _write_jsonl(path, [
        {"messageId": "n1", "type": "identify", "anonymousId": "a1", "traits": {"plan": "new"},
         "timestamp": "2026-03-01T00:00:00Z"},
        {"messageId": "n2", "type": "identify", "userId": "u1", "anonymousId": "a1",
         "timestamp": "2026-03-02T00:00:00Z"},
    ])  # fmt: skip

    import_file(workspace=workspace, path=path, kind="events", chunk_rows=1, workers=0)

    live = Customer.objects.get(workspace=workspace, merged_into__isnull=True)
    assert live.traits == {"plan": "new"}


def test_reimporting_repairs_seen_times_an_interrupted_import_did_not_write(workspace, tmp_path):
    messages = [
        {"messageId": f"m{n}", "type": "track", "event": "E", "anonymousId": "a",
         "timestamp": f"2026-01-0{n + 1}T00:00:00Z"}
        for n in range(3)
    ]  # fmt: skip
    path = tmp_path / "e.jsonl"
    _write_jsonl(path, messages)
    # the first run stored its batches, then the process was killed before the final write
    event_services.events_store(
        workspace=workspace, messages=_prepared(workspace, *messages),
        session=ResolutionSession(workspace.pk), assume_new=True,
    )  # fmt: skip
    assert Customer.objects.get(workspace=workspace).last_seen_at is None

    report = import_file(workspace=workspace, path=path, kind="events", workers=0)

    assert report.duplicates == 3
    customer = Customer.objects.get(workspace=workspace)
    assert (customer.first_seen_at, customer.last_seen_at) == (
        datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC),
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("deleted", ["older", "newer"])
def test_a_deleted_profile_met_in_a_join_is_looked_up_again(deleted):
    """The session remembers u1 -> P1 and a2 -> P2; one of them is deleted; then a message joins
    u1 and a2. Whichever was deleted, the join must neither crash nor lose an identifier."""
    workspace = workspace_make(name="Acme", slug=f"acme-{deleted}")
    session = ResolutionSession(workspace.pk)
    track = {"type": "track", "event": "E"}
    first = _prepared(
        workspace, {**track, "messageId": "1", "userId": "u1"},
        {**track, "messageId": "2", "anonymousId": "a2"},
        {**track, "messageId": "3", "anonymousId": "newest"},  # keeps the highest identity id
    )  # fmt: skip
    event_services.events_store(workspace=workspace, messages=first, session=session)
    gone = "u1" if deleted == "older" else "a2"
    Customer.objects.filter(workspace=workspace, identities__value=gone).delete()

    result = event_services.events_store(
        workspace=workspace, session=session,
        messages=_prepared(workspace, {**track, "messageId": "4", "userId": "u1", "anonymousId": "a2"}),
    )  # fmt: skip

    assert result.accepted == 1
    owner = Event.objects.get(message_id="4").customer
    assert set(owner.identities.values_list("value", flat=True)) == {"u1", "a2"}


def test_worker_code_runs_without_loading_django_apps(tmp_path):
    """Workers start without django.setup(): a quick start, and no settings side effects."""
    import os
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from cxloop.events.rows import Job, RawChunk, prepare_chunk\n"
        'line = b\'{"type": "track", "event": "E", "userId": "u"}\'\n'
        "out = prepare_chunk(Job('events', 1, 'US', 'sqlite'), RawChunk([line, b'{bad'], 9))\n"
        "import django.apps\n"
        "assert not django.apps.apps.ready\n"
        "print(out.rows, len(out.messages), len(out.rejected))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "1", "1"]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_file_that_cannot_be_read_further_keeps_the_chunks_before_the_fault(
    workspace, tmp_path, workers
):
    rows = [f"m{n},track,E,u{n},2026-01-01T00:00:00Z\n" for n in range(100)]
    rows[95] = "m95,track,E," + "x" * 200_000 + ",2026-01-01T00:00:00Z\n"  # over csv's field limit
    path = tmp_path / "e.csv"
    path.write_text("messageId,type,event,userId,timestamp\n" + "".join(rows))

    with pytest.raises(Exception, match="field larger than field limit"):
        import_file(workspace=workspace, path=path, kind="events", chunk_rows=10, workers=workers)

    assert Event.objects.filter(workspace=workspace).count() == 90  # whatever the worker count


@pytest.mark.skipif("not __import__('os').environ.get('DATABASE_URL')", reason="row locks: PG")
@pytest.mark.django_db(transaction=True)
def test_a_resent_message_does_not_deadlock_with_a_batch_resolving_the_same_profile():
    """Repairing seen-times for a resent message locks profile rows: it must take the
    workspace's resolution lock first, as every other writer does."""
    import threading
    import time

    from django.db import connection, transaction

    from cxloop.core.db import lock_workspace_for_resolution

    def track(message_id, user, day):
        return {"messageId": message_id, "type": "track", "event": "E", "userId": user,
                "timestamp": f"2026-01-0{day}T00:00:00Z"}  # fmt: skip

    workspace = workspace_make(name="Acme", slug="acme-deadlock")
    event_services.events_ingest(workspace=workspace, messages=[track("m1", "u1", 1)])
    errors: dict = {}
    locked = threading.Event()

    def resend():  # a client retries m1 together with a new message
        try:
            locked.wait(5)
            event_services.events_ingest(
                workspace=workspace, messages=[track("m1", "u1", 1), track("m2", "u9", 2)]
            )
        except Exception as exc:
            errors["resend"] = exc
        finally:
            connection.close()

    def resolve():  # another batch, resolving under the workspace lock, touches u1's profile
        try:
            with transaction.atomic():
                lock_workspace_for_resolution(workspace.pk)
                locked.set()
                time.sleep(1.0)
                event_services.events_ingest(workspace=workspace, messages=[track("m3", "u1", 3)])
        except Exception as exc:
            errors["resolve"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=resolve), threading.Thread(target=resend)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors, {name: repr(exc) for name, exc in errors.items()}
    assert Event.objects.filter(workspace=workspace).count() == 3
