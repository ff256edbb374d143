"""Segment definitions: strict validation with errors that name the bad condition (pure)."""

from __future__ import annotations

import pytest

from cxloop.segments.definition import SegmentDefinitionError, definition_validate, describe


def errors_of(definition) -> list[str]:
    with pytest.raises(SegmentDefinitionError) as caught:
        definition_validate(definition)
    return caught.value.errors


def test_valid_definition_is_cleaned():
    cleaned = definition_validate(
        {
            "all": [
                {"trait": " loyalty_tier ", "op": "eq", "value": "gold"},
                {"event": "Order Completed", "did": False, "within_days": "60"},
                {
                    "any": [
                        {"score": "nps", "op": "lte", "value": "6"},
                        {"trait": "age", "op": "gt", "value": "40"},
                    ]
                },
                {"event": "Store Visit", "channel": "Store", "min_count": 2},
                {"trait": "email", "op": "exists"},
            ]
        }
    )

    assert cleaned == {
        "all": [
            {"trait": "loyalty_tier", "op": "eq", "value": "gold"},
            {"event": "Order Completed", "did": False, "within_days": 60},
            {
                "any": [
                    {"score": "nps", "op": "lte", "value": 6},
                    {"trait": "age", "op": "gt", "value": 40},
                ]
            },
            {"event": "Store Visit", "did": True, "channel": "store", "min_count": 2},
            {"trait": "email", "op": "exists", "value": True},
        ]
    }
    assert describe(cleaned) == (
        "loyalty_tier is gold and did not do Order Completed in the last 60 days and "
        "(latest NPS ≤ 6 or age > 40) and did Store Visit at least 2 times on store and email is set"
    )


def test_every_bad_condition_is_named():
    errors = errors_of(
        {
            "all": [
                {"trait": "tier", "op": "like", "value": "gold"},
                {"event": "  ", "did": True},
                {"event": "Order Completed", "within_days": -5},
                {"score": "effort", "op": "lt", "value": 3},
                {"any": [{"score": "nps", "op": "gte", "value": 11}, {"colour": "red"}]},
                {"event": "Store Visit", "min_count": 0, "when": "today"},
            ]
        }
    )

    assert errors == [
        "condition 1 (trait): unknown operator 'like' for trait 'tier'; use eq, neq, gt, gte, lt, "
        "lte, contains or exists",
        "condition 2 (event): event name is empty",
        "condition 3 (event): within_days must not be negative (got -5)",
        "condition 4 (score): unknown score 'effort'; use nps, csat or ces",
        "condition 5.1 (score): nps score must be between 0 and 10, got 11",
        'condition 5.2: must have exactly one of "trait", "event", "score", "stage", '
        '"prediction", "theme" (got keys [\'colour\'])',
        'condition 6 (event): unknown field "when"',
        "condition 6 (event): min_count must be a whole number of at least 1",
    ]


@pytest.mark.parametrize(
    ("definition", "error"),
    [
        ([], 'definition: must be an object like {"all": [...]} or {"any": [...]}'),
        (
            {"all": [], "any": []},
            "definition: must have exactly one key, \"all\" or \"any\" (got ['all', 'any'])",
        ),
        ({"all": {"trait": "x"}}, 'definition: "all" must be a list of conditions'),
        ({"all": ["tier"]}, "condition 1: must be an object, got str"),
        (
            {"all": [{"trait": "", "op": "eq", "value": 1}]},
            "condition 1 (trait): trait name is empty",
        ),
        (
            {"all": [{"trait": "a__b", "op": "eq", "value": 1}]},
            "condition 1 (trait): trait name 'a__b' must start with a letter and use letters, "
            "digits, spaces, '-', '.' or single '_' only",
        ),
        (
            {"all": [{"trait": "tier", "op": "eq"}]},
            "condition 1 (trait): 'eq' needs a value (text, number or true/false)",
        ),
        (
            {"all": [{"trait": "age", "op": "gt", "value": [1]}]},
            "condition 1 (trait): 'gt' needs a number (or a date like 2025-01-31)",
        ),
        (
            {"all": [{"trait": "city", "op": "contains", "value": " "}]},
            "condition 1 (trait): 'contains' needs some text to look for in trait 'city'",
        ),
        (
            {"all": [{"trait": "vip", "op": "exists", "value": "yes"}]},
            "condition 1 (trait): 'exists' takes true or false, got 'yes'",
        ),
        (
            {"all": [{"event": "Order", "did": "no"}]},
            "condition 1 (event): 'did' must be true or false, got 'no'",
        ),
        (
            {"all": [{"event": "Order", "within_days": 2.5}]},
            "condition 1 (event): within_days must be a whole number of days",
        ),
        (
            {"all": [{"score": "nps", "op": "about", "value": 5}]},
            "condition 1 (score): unknown operator 'about' for score; use eq, neq, gt, gte, lt or lte",
        ),
        (
            {"all": [{"score": "csat", "op": "eq", "value": "high"}]},
            "condition 1 (score): csat score needs a number, got 'high'",
        ),
        (
            {"all": [{"stage": "Purchase"}]},
            "condition 1 (stage): name the journey (its id or name) the stage 'Purchase' belongs to",
        ),
        ({"all": [{"stage": " ", "journey": 1}]}, "condition 1 (stage): stage name is empty"),
        (
            {"all": [{"trait": "a", "event": "b"}]},
            'condition 1: must have exactly one of "trait", "event", "score", "stage", '
            '"prediction", "theme" (got trait, event)',
        ),
        (
            {"all": [{"any": [{"all": [{"any": []}]}]}]},
            "condition 1.1.1: groups nest at most 3 levels deep",
        ),
    ],
)
def test_bad_definitions(definition, error):
    assert errors_of(definition) == [error]


def test_too_many_conditions():
    definition = {"any": [{"trait": "n", "op": "eq", "value": i} for i in range(51)]}

    assert errors_of(definition) == ["definition: at most 50 conditions"]


def test_empty_groups_read_as_everyone_or_nobody():
    assert describe(definition_validate({"all": []})) == "every customer"
    assert describe(definition_validate({"any": []})) == "nobody"


def test_score_conditions_take_ces_and_a_window():
    cleaned = definition_validate(
        {
            "all": [
                {"score": "ces", "op": "lte", "value": "3"},
                {"score": "nps", "op": "lte", "value": 6, "within_days": "90"},
            ]
        }
    )

    assert cleaned == {
        "all": [
            {"score": "ces", "op": "lte", "value": 3},
            {"score": "nps", "op": "lte", "value": 6, "within_days": 90},
        ]
    }
    assert describe(cleaned) == "latest CES ≤ 3 and latest NPS ≤ 6 in the last 90 days"
    assert errors_of({"all": [{"score": "ces", "op": "eq", "value": 0}]}) == [
        "condition 1 (score): ces score must be between 1 and 7, got 0"
    ]
    assert errors_of({"all": [{"score": "nps", "op": "eq", "value": 0, "within_days": -1}]}) == [
        "condition 1 (score): within_days must not be negative (got -1)"
    ]
