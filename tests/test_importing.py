"""Bulk CSV/JSONL import: good rows kept, every bad row reported with its line, re-runs add nothing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from cxloop.cli import app
from cxloop.customers.models import Consent, Customer, Identity
from cxloop.events.importing import ImportFileError, import_file
from cxloop.events.models import Event

CUSTOMERS_CSV = """\
user_id,email,phone,first_name,last_name,city,orders,consent_email,consent_phone
c-1,ann@shop.io,+44 7700 900001,Ann,Lee,Leeds,3,yes,no
c-2,bob@shop.io,,Bob,Ray,York,1,no,
c-3,not-an-email,,Cy,Fox,Hull,0,,
,,,Nobody,Known,Bath,0,,
c-4,dee@shop.io,,Dee,Moss,Kent,2,maybe,
"""

EVENTS_CSV = """\
type,event,user_id,anonymous_id,email,timestamp,channel,revenue,message_id
track,Order Completed,c-1,,,2026-02-01T10:00:00Z,store,49.90,
track,Email Opened,,,bob@shop.io,2026-02-02T10:00:00Z,email,,
page,Home,,anon-5,,2026-02-03T10:00:00Z,,,
track,,c-1,,,2026-02-04T10:00:00Z,web,,
track,Ticket Opened,c-2,,,yesterday,chat,,
track,Call,c-2,,,2026-02-05T10:00:00Z,phone,,fixed-id
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_customer_csv_keeps_good_rows_and_reports_bad_ones(workspace, tmp_path):
    path = _write(tmp_path, "customers.csv", CUSTOMERS_CSV)

    report = import_file(workspace=workspace, path=path, kind="customers")

    assert (report.rows, report.accepted) == (5, 3)
    assert [(r.position, r.reason) for r in report.rejected] == [
        (5, "no identifier: send userId or anonymousId (or a valid email/phone trait)"),
        (6, "consent_email: 'maybe' is not yes/no"),
    ]
    ann = Customer.objects.get(identities__value="c-1")
    assert ann.traits == {
        "email": "ann@shop.io", "phone": "+44 7700 900001", "first_name": "Ann",
        "last_name": "Lee", "city": "Leeds", "orders": 3,
    }  # fmt: skip
    assert ann.display_name == "Ann Lee"
    assert Identity.objects.get(kind="phone", value="+447700900001").customer == ann
    assert dict(Consent.objects.filter(customer=ann).values_list("channel", "status")) == {
        "email": "granted",
        "phone": "withdrawn",
    }
    cy = Customer.objects.get(identities__value="c-3")
    assert not cy.identities.filter(kind="email").exists()  # invalid email is a trait, not an id


def test_reimporting_the_same_file_adds_nothing(workspace, tmp_path):
    customers = _write(tmp_path, "customers.csv", CUSTOMERS_CSV)
    events = _write(tmp_path, "events.csv", EVENTS_CSV)
    import_file(workspace=workspace, path=customers, kind="customers")
    first = import_file(workspace=workspace, path=events, kind="events")
    counts = (Customer.objects.count(), Event.objects.count(), Identity.objects.count())

    again = import_file(workspace=workspace, path=events, kind="events")
    import_file(workspace=workspace, path=customers, kind="customers")

    assert first.accepted == 4
    assert (again.accepted, again.duplicates) == (0, 4)
    assert (Customer.objects.count(), Event.objects.count(), Identity.objects.count()) == counts


def test_event_csv_rows_land_on_the_right_profiles(workspace, tmp_path):
    import_file(
        workspace=workspace, path=_write(tmp_path, "c.csv", CUSTOMERS_CSV), kind="customers"
    )

    report = import_file(
        workspace=workspace, path=_write(tmp_path, "e.csv", EVENTS_CSV), kind="events"
    )

    assert [(r.position, r.reason) for r in report.rejected] == [
        (5, "event: a track call needs an event name"),
        (6, "timestamp: 'yesterday' is not an ISO-8601 date"),
    ]
    order = Event.objects.get(name="Order Completed")
    assert (order.channel, order.properties) == ("store", {"revenue": 49.9})
    assert order.customer.identities.filter(value="c-1").exists()
    opened = Event.objects.get(name="Email Opened")  # matched by email alone
    assert opened.customer.identities.filter(value="c-2").exists()
    assert Event.objects.get(type="page").channel == "web"
    assert Event.objects.get(name="Call").message_id == "fixed-id"


def test_jsonl_segment_messages_with_bad_lines(workspace, tmp_path):
    lines = [
        orjson.dumps({"type": "identify", "userId": "j1", "traits": {"email": "j@x.io"}}).decode(),
        "{not json",
        "",
        orjson.dumps(
            {"type": "track", "userId": "j1", "event": "Viewed", "properties": []}
        ).decode(),
        orjson.dumps({"type": "screen", "anonymousId": "dev-1", "name": "Cart"}).decode(),
        orjson.dumps(["not", "an", "object"]).decode(),
    ]
    path = _write(tmp_path, "events.jsonl", "\n".join(lines) + "\n")

    report = import_file(workspace=workspace, path=path, kind="events")

    assert report.accepted == 2
    reasons = {r.position: r.reason for r in report.rejected}
    assert sorted(reasons) == [2, 4, 6]
    assert reasons[2].startswith("not valid JSON")
    assert reasons[4] == "properties: expected an object, got list"
    assert Event.objects.get(type="screen").channel == "app"


def test_unknown_format_is_a_clear_error(workspace, tmp_path):
    with pytest.raises(ImportFileError, match=r"expected a \.csv or \.jsonl file"):
        import_file(workspace=workspace, path=_write(tmp_path, "x.xlsx", "x"), kind="events")


def test_ragged_csv_row_is_reported(workspace, tmp_path):
    path = _write(tmp_path, "c.csv", "user_id,email\nr-1,r@x.io\nr-2,r2@x.io,extra\n")

    report = import_file(workspace=workspace, path=path, kind="customers")

    assert report.accepted == 1
    assert [(r.position, r.reason) for r in report.rejected] == [
        (3, "has 3 fields but the header has 2")
    ]


def test_chunks_give_the_same_result_as_one_batch(workspace, other_workspace, tmp_path):
    rows = ["user_id,event,timestamp,email"]
    rows += [f"u{i % 7},E{i % 3},2026-01-01T00:{i % 60:02d}:00Z,u{i % 7}@x.io" for i in range(200)]
    path = _write(tmp_path, "e.csv", "\n".join(rows) + "\n")

    import_file(workspace=workspace, path=path, kind="events", chunk_rows=13)
    import_file(workspace=other_workspace, path=path, kind="events", chunk_rows=10_000)

    for ws in (workspace, other_workspace):
        assert Customer.objects.filter(workspace=ws).count() == 7
        assert Event.objects.filter(workspace=ws).count() == 200


def test_cli_import_prints_progress_and_writes_error_report(workspace, tmp_path):
    path = _write(tmp_path, "customers.csv", CUSTOMERS_CSV)

    result = CliRunner().invoke(app, ["import", "customers", str(path), "--workspace", "acme"])

    assert result.exit_code == 0, result.output
    assert "5 rows: 3 stored, 0 already there, 2 rejected" in result.output
    report = (tmp_path / "customers.csv.errors.csv").read_text()
    assert report.splitlines()[0] == "line,reason"
    assert "6,consent_email: 'maybe' is not yes/no" in report


def test_empty_csv_is_a_clear_error(workspace, tmp_path):
    with pytest.raises(ImportFileError, match="the file is empty"):
        import_file(workspace=workspace, path=_write(tmp_path, "c.csv", ""), kind="customers")


def test_large_file_in_many_chunks_keeps_every_row_and_line_number(workspace, tmp_path):
    lines = ["user_id,event,timestamp,n"]
    lines += [f"u{i % 50},Viewed,2026-01-01T00:00:{i % 60:02d}Z,{i}" for i in range(997)]
    lines[500] = "u1,,2026-01-01T00:00:00Z,x"  # line 501 of the file: no event name
    path = _write(tmp_path, "e.csv", "\n".join(lines) + "\n")
    progress: list[int] = []

    report = import_file(
        workspace=workspace, path=path, kind="events", chunk_rows=100, on_progress=progress.append
    )

    assert (report.rows, report.accepted) == (997, 996)
    assert [(r.position, r.reason) for r in report.rejected] == [
        (501, "event: a track call needs an event name")
    ]
    assert len(progress) == 10
    assert progress == sorted(progress)


# --- odd values in files (issue #8) ------------------------------------------------------------


def test_jsonl_odd_values_are_screened_per_line(workspace, tmp_path):
    # given lines as Python's json module writes them: NaN, a 70-bit id, and one nested too deep
    deep: dict = {}
    for _ in range(100):
        deep = {"a": deep}
    lines = [
        '{"type":"track","event":"A","userId":"u","messageId":"nan","properties":{"x":NaN}}',
        f'{{"type":"track","event":"A","userId":"u","messageId":"big","properties":{{"id":{2**70}}}}}',
        orjson.dumps(
            {"type": "track", "event": "A", "userId": "u", "messageId": "deep", "properties": deep}
        ).decode(),
        '{"type":"track","event":"A","userId":"u","messageId":"far",'
        '"timestamp":"9999-12-31T23:59:59Z"}',
    ]
    path = _write(tmp_path, "events.jsonl", "\n".join(lines) + "\n")

    report = import_file(workspace=workspace, path=path, kind="events")

    assert report.accepted == 2
    assert [(r.position, r.reason.split(":")[0]) for r in report.rejected] == [
        (3, "properties"),
        (4, "timestamp"),
    ]
    assert report.rejected[0].reason == "properties: nested more than 64 levels deep"
    assert [(w.position, w.reason) for w in report.warnings] == [
        (1, "properties.x: NaN is not a JSON number; stored as null"),
        (2, "properties.id: integer beyond 64 bits; stored exactly, as a string"),
    ]
    assert Event.objects.get(message_id="nan").properties == {"x": None}
    assert Event.objects.get(message_id="big").properties == {"id": str(2**70)}


def test_csv_properties_column_with_nan_keeps_the_row(workspace, tmp_path):
    text = 'event,user_id,properties,price\nA,u,"{""x"": NaN, ""y"": 1}",NaN\n'
    path = _write(tmp_path, "events.csv", text)

    report = import_file(workspace=workspace, path=path, kind="events")

    assert (report.accepted, report.rejected) == (1, [])
    assert [(w.position, w.reason) for w in report.warnings] == [
        (2, "properties.x: NaN is not a JSON number; stored as null")
    ]
    # a NaN cell outside JSON is just text, as every CSV cell that is not a plain number
    assert Event.objects.get().properties == {"x": None, "y": 1, "price": "NaN"}


# --- identical rows are distinct events (issue #8) ---------------------------------------------

ORDERS_CSV = """\
event,user_id,timestamp,sku,price
Order Completed,c-1,2026-02-01T10:00:00Z,A-1,9.99
Order Completed,c-1,2026-02-01T10:00:00Z,A-1,9.99
Order Completed,c-2,2026-02-01T10:00:00Z,A-1,9.99
Order Completed,c-1,2026-02-01T10:00:00Z,A-1,9.99
"""


@pytest.mark.parametrize("chunk_rows", [5000, 1])
def test_identical_csv_rows_without_ids_are_distinct_orders(workspace, tmp_path, chunk_rows):
    # given an order export without message ids where c-1 bought the same item 3 times
    path = _write(tmp_path, "orders.csv", ORDERS_CSV)

    # when it is imported (in one chunk, or one row per chunk)
    first = import_file(workspace=workspace, path=path, kind="events", chunk_rows=chunk_rows)

    # then every line is an order, and importing it again adds nothing
    assert (first.accepted, first.duplicates) == (4, 0)
    again = import_file(workspace=workspace, path=path, kind="events", chunk_rows=chunk_rows)
    assert (again.accepted, again.duplicates) == (0, 4)
    assert Event.objects.filter(user_id="c-1").count() == 3
    assert Event.objects.values("message_id").distinct().count() == 4


def test_a_longer_export_adds_only_the_new_repeats(workspace, tmp_path):
    # given the file imported once, then an export with one more identical order at the top
    import_file(workspace=workspace, path=_write(tmp_path, "a.csv", ORDERS_CSV), kind="events")
    header, *rows = ORDERS_CSV.splitlines()
    longer = "\n".join([header, rows[0], *rows]) + "\n"

    report = import_file(workspace=workspace, path=_write(tmp_path, "b.csv", longer), kind="events")

    # then only the fourth c-1 order is new (the rows are matched by content and occurrence)
    assert (report.accepted, report.duplicates) == (1, 4)
    assert Event.objects.filter(user_id="c-1").count() == 4


def test_identical_jsonl_lines_without_ids_are_distinct(workspace, tmp_path):
    line = '{"type":"track","event":"Call","userId":"u","timestamp":"2026-02-01T10:00:00Z"}\n'
    path = _write(tmp_path, "calls.jsonl", line * 3)

    assert import_file(workspace=workspace, path=path, kind="events").accepted == 3
    assert import_file(workspace=workspace, path=path, kind="events").duplicates == 3


def test_identical_rows_with_the_same_message_id_stay_one_event(workspace, tmp_path):
    text = "event,user_id,message_id\nCall,u,m-1\nCall,u,m-1\n"

    report = import_file(workspace=workspace, path=_write(tmp_path, "c.csv", text), kind="events")

    assert (report.accepted, report.duplicates) == (1, 1)


def test_a_local_import_may_join_two_known_users_by_alias(workspace, tmp_path):
    # the CLI's import is trusted like a server key (the browser-key refusal does not apply)
    lines = [
        '{"type":"identify","userId":"user-a","messageId":"i-a"}',
        '{"type":"identify","userId":"user-b","messageId":"i-b"}',
        '{"type":"alias","userId":"user-b","previousId":"user-a","messageId":"al"}',
    ]
    path = _write(tmp_path, "aliases.jsonl", "\n".join(lines) + "\n")

    report = import_file(workspace=workspace, path=path, kind="events", chunk_rows=2)

    assert (report.accepted, report.rejected) == (3, [])
    assert Customer.objects.filter(workspace=workspace, merged_into__isnull=True).count() == 1


def test_a_lone_surrogate_next_to_nan_rejects_only_its_line(workspace, tmp_path):
    # the lenient parser (used for NaN) also lets "\ud800" through, which nothing can store
    lines = [
        '{"type":"track","event":"A","userId":"u","messageId":"s","properties":{"x":NaN,'
        '"y":"\\ud800"}}',
        '{"type":"track","event":"A","userId":"u","messageId":"ok"}',
    ]
    path = _write(tmp_path, "events.jsonl", "\n".join(lines) + "\n")

    report = import_file(workspace=workspace, path=path, kind="events")

    assert report.accepted == 1
    assert [r.position for r in report.rejected] == [1]
    assert report.rejected[0].reason.startswith("message: cannot be stored as JSON")
