"""Undoing the last merge or split of themes: every theme, text and weight as it was."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.urls import reverse

from cxloop.text import _undo, selectors, services
from cxloop.text.models import TextAnalysis, TextTheme, Theme, ThemeUndo
from factories import member_make, response_make, survey_make

AT = datetime(2025, 3, 10, 12, tzinfo=UTC)
TEXTS = [f"the courier left parcel number {i} outside" for i in range(6)] + [
    f"password reset email number {i} never came" for i in range(6)
]


def links(theme_id: int) -> dict[int, tuple[float, bool]]:
    rows = TextTheme.objects.filter(theme_id=theme_id).values_list(
        "analysis_id", "weight", "by_rule"
    )
    return {pk: (weight, by_rule) for pk, weight, by_rule in rows}


@pytest.fixture
def two(workspace):
    """Themes A (texts 0-6) and B (texts 6-11 and 0, with stronger links to 0 and 6) made by
    hand, so what a merge and its undo must leave is known exactly."""
    survey = survey_make(workspace)
    responses = [response_make(workspace, survey, AT, comment=c) for c in TEXTS]
    services.text_analyse_responses(responses=responses)
    ids = list(
        TextAnalysis.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True)
    )
    a = Theme.objects.create(workspace=workspace, name="Parcels", phrases=["parcel", "courier"])
    b = Theme.objects.create(
        workspace=workspace, name="Passwords", phrases=["password"], rules=["2fa"], hidden=True,
        curated=True,
    )  # fmt: skip
    TextTheme.objects.bulk_create(
        [TextTheme(analysis_id=ids[i], theme=a, weight=0.5) for i in range(6)]
        + [TextTheme(analysis_id=ids[6], theme=a, weight=0.2)]
        + [TextTheme(analysis_id=ids[i], theme=b, weight=0.7) for i in range(6, 12)]
        + [TextTheme(analysis_id=ids[0], theme=b, weight=0.9, by_rule=True)]
    )
    return a, b, ids


def test_undo_of_a_merge_puts_both_themes_back_as_they_were(workspace, two):
    a, b, ids = two
    b_pk = b.pk  # a merge deletes b, and Django forgets a deleted instance's id
    a_before, b_before = links(a.pk), links(b_pk)
    # when: B is merged into A
    services.themes_merge(into=a, other=b)
    # then (by hand): A holds the 12 texts, the stronger weight where both had one
    merged = links(a.pk)
    assert set(merged) == set(ids)
    assert merged[ids[0]][0] == 0.9 and merged[ids[6]][0] == 0.7 and merged[ids[1]][0] == 0.5
    change = selectors.theme_last_change(workspace=workspace)
    assert change is not None and change.said == "Merged “Passwords” into “Parcels”."
    # when: undone
    services.theme_undo(workspace=workspace, change_id=change.pk)
    # then: both themes as before, B with its own id, name, phrases, rules and flags
    a_now, b_now = Theme.objects.get(pk=a.pk), Theme.objects.get(pk=b_pk)
    assert (a_now.name, a_now.phrases, a_now.rules, a_now.hidden, a_now.curated) == (
        "Parcels", ["parcel", "courier"], [], False, False,
    )  # fmt: skip
    assert (b_now.name, b_now.phrases, b_now.rules, b_now.hidden, b_now.curated) == (
        "Passwords", ["password"], ["2fa"], True, True,
    )  # fmt: skip
    assert links(a.pk) == a_before and links(b_pk) == b_before
    assert b_before[ids[0]] == (0.9, True)  # the keyword rule's link is one again
    assert Theme.objects.filter(workspace=workspace).count() == 2
    # and it cannot be undone twice
    assert selectors.theme_last_change(workspace=workspace) is None
    with pytest.raises(services.ThemeError, match="only the latest merge or split"):
        services.theme_undo(workspace=workspace, change_id=change.pk)


def test_texts_analysed_between_a_merge_and_its_undo_keep_what_they_got(workspace, two):
    a, b, ids = two
    b_pk = b.pk  # a merge deletes b, and Django forgets a deleted instance's id
    services.themes_merge(into=a, other=b)
    change = selectors.theme_last_change(workspace=workspace)
    # given: a new text the merged theme picks up by its phrases, and one of B's texts erased
    survey = survey_make(workspace)
    new = response_make(workspace, survey, AT, comment="the courier lost my parcel")
    services.text_analyse_responses(responses=[new])
    new_id = TextAnalysis.objects.get(response=new).pk
    assert new_id in links(a.pk)
    TextAnalysis.objects.filter(pk=ids[11]).delete()
    # when
    services.theme_undo(workspace=workspace, change_id=change.pk)
    # then: the new text stays in A; B is back without the erased text
    assert set(links(a.pk)) == {*ids[:7], new_id}
    assert set(links(b_pk)) == {ids[0], *ids[6:11]}


def test_undo_of_a_split_puts_the_theme_back_with_its_id(workspace):
    # given: a theme holding two topics, split in two
    survey = survey_make(workspace)
    comments = [f"parcel courier late delivery {i}" for i in range(6)] + [
        f"password reset login broken {i}" for i in range(6)
    ]
    responses = [response_make(workspace, survey, AT, comment=c) for c in comments]
    services.text_analyse_responses(responses=responses)
    ids = list(TextAnalysis.objects.filter(workspace=workspace).values_list("pk", flat=True))
    mixed = Theme.objects.create(workspace=workspace, name="Mixed", phrases=["x"], curated=True)
    TextTheme.objects.bulk_create(
        TextTheme(analysis_id=pk, theme=mixed, weight=0.1 * (n % 5 + 1)) for n, pk in enumerate(ids)
    )
    mixed_pk = mixed.pk  # the split deletes it
    before = links(mixed_pk)
    parts = services.theme_split(theme=mixed)
    change = selectors.theme_last_change(workspace=workspace)
    assert change.said == f"Split “Mixed” into “{parts[0].name}” and “{parts[1].name}”."
    # and a new text one half picks up meanwhile
    new = response_make(workspace, survey, AT, comment=f"again: {parts[0].phrases[0]}")
    services.text_analyse_responses(responses=[new])
    new_id = TextAnalysis.objects.get(response=new).pk
    assert new_id in links(parts[0].pk)
    # when
    services.theme_undo(workspace=workspace, change_id=change.pk)
    # then: the halves are gone, the theme is back with its id, texts and weights, plus the
    # new text
    assert not Theme.objects.filter(pk__in=[p.pk for p in parts]).exists()
    back = Theme.objects.get(pk=mixed_pk)
    assert (back.name, back.phrases, back.curated) == ("Mixed", ["x"], True)
    assert {pk: v for pk, v in links(mixed_pk).items() if pk != new_id} == before
    assert new_id in links(mixed_pk)


def test_any_later_curation_or_another_workspace_cannot_undo(workspace, other_workspace, two):
    a, b, _ = two
    b_pk = b.pk  # a merge deletes b, and Django forgets a deleted instance's id
    services.themes_merge(into=a, other=b)
    first = selectors.theme_last_change(workspace=workspace)
    # another workspace cannot undo this one's change
    with pytest.raises(services.ThemeError, match="only the latest"):
        services.theme_undo(workspace=other_workspace, change_id=first.pk)
    # a rename after the merge: undo would revert more than the person saw, so it is forgotten
    services.theme_rename(theme=a, name="Everything")
    assert selectors.theme_last_change(workspace=workspace) is None
    with pytest.raises(services.ThemeError, match="only the latest"):
        services.theme_undo(workspace=workspace, change_id=first.pk)
    assert Theme.objects.get(pk=a.pk).name == "Everything"
    assert not Theme.objects.filter(pk=b_pk).exists()
    # so do hiding, rules and finding themes again
    for curate in (
        lambda theme: services.theme_set_hidden(theme=theme, hidden=True),
        lambda theme: services.theme_set_rules(theme=theme, rules=["parcel"]),
        lambda theme: services.themes_discover(workspace=workspace, k=2),
    ):
        into = Theme.objects.create(workspace=workspace, name="One")
        services.themes_merge(
            into=into, other=Theme.objects.create(workspace=workspace, name="Two")
        )
        assert selectors.theme_last_change(workspace=workspace) is not None
        curate(into)
        assert selectors.theme_last_change(workspace=workspace) is None


def test_the_themes_page_offers_the_undo_to_analysts_only(client, workspace, two):
    a, b, _ = two
    b_pk = b.pk  # a merge deletes b, and Django forgets a deleted instance's id
    client.force_login(member_make(workspace=workspace, username="ana", role="analyst"))
    url = reverse("text-themes")
    assert client.post(url, {"op": "merge", "theme": b_pk, "into": a.pk}).status_code == 302
    change = selectors.theme_last_change(workspace=workspace)
    html = client.get(url).content.decode()
    assert (
        "Merged “Passwords” into “Parcels”." in html
        and f'name="change" value="{change.pk}"' in html
    )
    # an agent sees the page but cannot undo
    client.force_login(member_make(workspace=workspace, username="al", role="agent"))
    agent_html = client.get(url).content.decode()
    assert "Merged “Passwords” into “Parcels”." not in agent_html
    assert client.post(url, {"op": "undo", "change": change.pk}).status_code == 403
    # the analyst undoes it; a second click (another tab) is refused by name, not a 5xx
    client.force_login(member_make(workspace=workspace, username="ana2", role="analyst"))
    done = client.post(url, {"op": "undo", "change": change.pk}, follow=True)
    assert "Undone: Merged “Passwords” into “Parcels”." in done.content.decode()
    assert Theme.objects.filter(pk=b_pk).exists()
    again = client.post(url, {"op": "undo", "change": change.pk})
    assert again.status_code == 422 and "only the latest merge or split" in again.content.decode()
    for data in ({"op": "undo"}, {"op": "undo", "change": "x"}, {"op": "undo", "change": 2**70}):
        assert client.post(url, data).status_code == 422, data


@pytest.mark.django_db(transaction=True)
def test_two_merges_at_once_in_one_workspace_both_finish(workspace, monkeypatch):
    # given: four themes, and a first merge held open right after it kept its change
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite runs one writing transaction at a time anyway")
    one, two, three, four = (
        Theme.objects.create(workspace=workspace, name=name) for name in ("T1", "T2", "T3", "T4")
    )
    held, go = threading.Event(), threading.Event()
    remember = _undo.remember

    def remember_then_hold(**kwargs):
        change = remember(**kwargs)
        if not held.is_set():
            held.set()
            go.wait(timeout=5)
        return change

    monkeypatch.setattr(_undo, "remember", remember_then_hold)

    def merge(into, other):
        try:
            services.themes_merge(into=into, other=other)
        finally:
            connection.close()

    # when: a second merge in the same workspace starts meanwhile
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(merge, one, two)
        assert held.wait(timeout=10)
        second = pool.submit(merge, three, four)
        time.sleep(0.5)  # the second reaches the workspace's lock (or, without it, the insert)
        go.set()
        first.result(timeout=30)
        second.result(timeout=30)  # without the lock: IntegrityError, one change per workspace
    # then: both merged, and the later one is the change that can be undone
    assert set(Theme.objects.filter(workspace=workspace).values_list("name", flat=True)) == {
        "T1", "T3",
    }  # fmt: skip
    assert [c.said for c in ThemeUndo.objects.filter(workspace=workspace)] == [
        "Merged “T4” into “T3”."
    ]
