"""Funnel modes (ordered, strict, any order) and exclusion steps on hand-built sequences, with
the exact depth of every customer, on every engine.

Same-time rules: a step is never "after" an event at the same moment; in strict mode other
events at the same moment as a step do not break the chain; an excluded event at the same
moment as one of the steps it sits between is not "between" them.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from cxloop.analytics import selectors as analytics_selectors
from cxloop.analytics.walk import as_datetime
from cxloop.journeys import selectors
from cxloop.journeys.definitions import (
    DefinitionError,
    parse_exclusions,
    parse_mode,
    parse_steps,
)
from factories import customer_id, ingest, track

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("each_engine")]

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def history(workspace, people: dict[str, str]) -> None:
    """``people``: who → "A0 B1 X1.5 ..." (event name, minutes after T0)."""
    messages = []
    for who, text in people.items():
        for item in text.split():
            name, minutes = item[0], float(item[1:])
            at = T0 + timedelta(minutes=minutes)
            messages.append(track(who, name, at, message_id=f"{who}-{item}"))
    ingest(workspace, messages)


def depths(workspace, people, steps="ABC", window=None, mode="ordered", exclusions=()):
    rules = parse_steps(list(steps))
    found = parse_exclusions(list(exclusions), steps=len(rules))
    report = selectors.funnel(
        workspace=workspace, steps=rules, window=window, mode=parse_mode(mode, rules),
        exclusions=found,
    )  # fmt: skip
    run = analytics_selectors.funnel_run(
        workspace=workspace, steps=rules, window=window, mode=mode, exclusions=found
    )
    by_id = {customer_id(workspace, who): who for who in people}
    return report.counts, {by_id[c]: d for c, d in run.depth.items()}, run, by_id


STRICT = {
    "s1": "A0 B1 C2",
    "s2": "A0 X1 B2 C3",  # X in between: stops after A
    "s3": "A0 B1 X1 C2",  # X at the same moment as B: not in between
    "s4": "A0 A1 B2",  # the second A is right before B
    "s5": "A0 B0",  # B at the same moment as A is not after it
    "s6": "A0 B1 C90",  # C outside the hour
    "s7": "A0 X0 B1",  # X at the start's moment
}


def test_strict_mode_allows_nothing_in_between(workspace):
    history(workspace, STRICT)
    counts, depth, _, _ = depths(workspace, STRICT, window=HOUR, mode="strict")
    assert depth == {"s1": 3, "s2": 1, "s3": 3, "s4": 2, "s5": 1, "s6": 2, "s7": 2}
    assert counts == [7, 5, 2]


def test_the_same_histories_in_order_allow_other_events(workspace):
    history(workspace, STRICT)
    counts, depth, _, _ = depths(workspace, STRICT, window=HOUR)
    assert depth == {"s1": 3, "s2": 3, "s3": 3, "s4": 2, "s5": 1, "s6": 2, "s7": 2}
    assert counts == [7, 6, 3]


ANY = {
    "a1": "C0 B5 A10",
    "a2": "B0",
    "a3": "B0 A30 C70",  # C outside the hour of either start
    "a4": "A0 A5",  # one step twice is one step
    "a5": "C0 A0 B0",  # all at once
}


def test_any_order_counts_how_many_of_the_steps_each_customer_did(workspace):
    history(workspace, ANY)
    counts, depth, run, by_id = depths(workspace, ANY, window=HOUR, mode="any")
    assert depth == {"a1": 3, "a2": 1, "a3": 2, "a4": 1, "a5": 3}
    assert counts == [5, 3, 2]
    a3 = {who: c for c, who in by_id.items()}["a3"]
    assert [str(t)[11:16] for t in run.times[a3]] == ["12:00", "12:30"]  # from the first start


def test_the_same_histories_in_order_need_a_first(workspace):
    history(workspace, ANY)
    counts, depth, _, _ = depths(workspace, ANY, window=HOUR)
    assert depth == {"a1": 1, "a3": 1, "a4": 1, "a5": 1}
    assert counts == [4, 0, 0]


EXCLUDED = {
    "e1": "A0 B1 E2 C3",  # E between B and C: stops at B
    "e2": "A0 B1 C3 E4",  # E after C
    "e3": "A0 E0.5 B1 C3",  # E between A and B: not the excluded gap
    "e4": "A0 B1 E1 C3",  # E at the same moment as B: not between
    "e5": "A0 B1 E2 C3 A10 B11 C12",  # a clean second attempt from step 1 converts
    "e6": "A0 B1 E2 B3 C4",  # the chain takes the first B, so E is between B and C
}


def test_an_exclusion_stops_conversion_past_its_step(workspace):
    history(workspace, EXCLUDED)
    counts, depth, _, _ = depths(workspace, EXCLUDED, exclusions=[{"event": "E", "after": 2}])
    assert depth == {"e1": 2, "e2": 3, "e3": 3, "e4": 3, "e5": 3, "e6": 2}
    assert counts == [6, 6, 4]


def test_exclusions_apply_in_strict_and_any_order_modes_too(workspace):
    history(workspace, {"x1": "A0 B1 E1 C2", "x2": "C0 E1 A2 B3", "x3": "B0 A1 E3 C4"})
    people = {"x1": "", "x2": "", "x3": ""}
    exclusion = [{"event": "E", "after": 2}]
    # strict: x1's E is at B's moment (not between); x2 and x3 never do A then B then C
    _, depth, _, _ = depths(workspace, people, mode="strict", exclusions=exclusion)
    assert depth == {"x1": 3, "x2": 2, "x3": 1}
    # any order: the 2nd and 3rd steps done are x2's A2 and B3 with E1 before them; x3's are
    # A1 and C4 with E3 between
    _, depth, _, _ = depths(workspace, people, mode="any", exclusions=exclusion)
    assert depth == {"x1": 3, "x2": 3, "x3": 2}


def test_bad_modes_and_exclusions_say_what_is_wrong():
    steps = parse_steps(["A", "A"])
    with pytest.raises(DefinitionError, match="each step must differ"):
        parse_mode("any", steps)
    with pytest.raises(DefinitionError, match="not a mode"):
        parse_mode("sideways", steps)
    with pytest.raises(DefinitionError, match=r"exclusions\[0\]\.after: give a step number"):
        parse_exclusions([{"event": "E", "after": 2}], steps=2)
    with pytest.raises(DefinitionError, match=r"exclusions\[0\]\.event"):
        parse_exclusions([{"after": 1}], steps=2)


@pytest.mark.parametrize("mode", ["ordered", "strict", "any"])
def test_random_histories_get_the_same_answers_in_every_mode(workspace, chdb_engine, mode):
    """Ties, repeats, channels, exclusions with a property condition: the engine's SQL and the
    walk agree on every customer's depth, times and start channel, and on the summary."""
    from cxloop.analytics.services import engine_drain
    from cxloop.analytics.sqlengine import SqlEngine

    rng = random.Random(20261130)
    messages = []
    for person in range(50):
        at = rng.randrange(0, 60 * 24 * 60)
        for i in range(rng.randrange(1, 14)):
            at += rng.choice([0, 0, 0.5, 1, 7, 60, 60 * 30])
            name = rng.choice(["A", "A", "B", "C", "D", "E", "Other"])
            messages.append(
                track(f"p{person}", name, T0 + timedelta(minutes=at), message_id=f"{person}-{i}",
                      channel=rng.choice(["web", "app"]), code=rng.choice(["x", "y"]))
            )  # fmt: skip
    ingest(workspace, messages)
    while engine_drain(engine=chdb_engine):
        pass
    sql = SqlEngine()
    steps = parse_steps(["A", "B", {"event": "C", "channel": "web"}, "D"])
    exclusions = parse_exclusions(
        [{"event": "E", "after": 2, "conditions": [{"property": "code", "op": "eq", "value": "x"}]},
         {"event": "Other", "after": 1}], steps=4,
    )  # fmt: skip
    for window, excluded in ((timedelta(days=1), ()), (None, exclusions), (HOUR, exclusions)):
        args = {"workspace_id": workspace.pk, "steps": steps, "window": window, "mode": mode}
        a = sql.funnel(**args, exclusions=excluded)
        b = chdb_engine.funnel(**args, exclusions=excluded)
        assert b.depth == a.depth
        assert b.start_channel == a.start_channel
        assert {c: [as_datetime(t) for t in ts] for c, ts in b.times.items()} == {
            c: [as_datetime(t) for t in ts] for c, ts in a.times.items()
        }
        x = sql.funnel_summary(**args, exclusions=excluded, latest=5)
        y = chdb_engine.funnel_summary(**args, exclusions=excluded, latest=5)
        assert (y.counts, y.by_channel, y.stopped, y.latest) == (
            x.counts, x.by_channel, x.stopped, x.latest
        )  # fmt: skip
        assert y.median_seconds == pytest.approx(x.median_seconds)
    assert a.depth  # the histories reach the funnel
    # an exclusion nobody does changes nothing: the query walking every start agrees with the
    # grouped-start ordered query
    never = parse_exclusions([{"event": "Never", "after": 1}], steps=4)
    args = {"workspace_id": workspace.pk, "steps": steps, "window": timedelta(days=1), "mode": mode}
    plain, walked = chdb_engine.funnel(**args), chdb_engine.funnel(**args, exclusions=never)
    assert (walked.depth, walked.times, walked.start_channel) == (
        plain.depth, plain.times, plain.start_channel
    )  # fmt: skip
