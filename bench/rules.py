"""Rules benchmark: how fast facts go through 100 active rules, and how long a detractor's
answer takes to become a workflow run.

Run from the repository root::

    .venv/bin/python bench/rules.py            # 20,000 fact sets × 100 rules, 200 responses
    .venv/bin/python bench/rules.py --quick    # 2,000 × 100, 50 responses

1. **Evaluation rate.** ``workflows.ruledefs.conditions_check`` (the engine: JSON conditions,
   the reason written out) over N fact sets × 100 rules, against a plain Python loop over the same
   100 rules written as hand-made comparisons (no JSON, no reasons): fact sets per second through
   all 100 rules for each, and the ratio, measured in the same run. Both must agree on every match.
2. **Response → run latency.** A scratch SQLite workspace (``CXLOOP_HOME`` in a temporary
   directory, the immediate task backend): ``feedback.services.response_submit`` of an NPS 0–6
   answer, until its run exists (the hook after commit, the task, the rule, ``run_start``).
   p50 and p95 over the responses. With the database queue a worker adds its polling interval
   (1 s) on top; that is not measured here.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

RULES = 100
CHANNELS = ("web", "app", "email", "chat", "phone", "store", "social")
TIERS = ("bronze", "silver", "gold")


def make_rules(rng: random.Random) -> list[list[dict]]:
    rules = []
    for _ in range(RULES):
        conditions = [
            {"field": "nps", "op": rng.choice(("lte", "gte")), "value": rng.randint(0, 10)}
        ]
        if rng.random() < 0.7:
            conditions.append({"field": "channel", "op": "eq", "value": rng.choice(CHANNELS)})
        if rng.random() < 0.5:
            conditions.append({"field": "trait.tier", "op": "eq", "value": rng.choice(TIERS)})
        rules.append(conditions)
    return rules


def make_facts(rng: random.Random, n: int) -> list[dict]:
    return [
        {"nps": rng.randint(0, 10), "channel": rng.choice(CHANNELS), "survey": 1,
         "trait.tier": rng.choice(TIERS), "comment": "", "source": "link"}
        for _ in range(n)
    ]  # fmt: skip


def plain(rules: list[list[dict]]):
    """The same rules as hand-written Python comparisons: the baseline."""
    compiled = []
    for conditions in rules:
        tests = []
        for c in conditions:
            field, op, value = c["field"], c["op"], c["value"]
            if op == "lte":
                tests.append(lambda f, k=field, v=value: f.get(k) is not None and f[k] <= v)
            elif op == "gte":
                tests.append(lambda f, k=field, v=value: f.get(k) is not None and f[k] >= v)
            else:
                tests.append(lambda f, k=field, v=value: f.get(k) == v)
        compiled.append(tests)
    return compiled


def evaluation(n: int) -> tuple[float, float, int]:
    from cxloop.workflows.ruledefs import conditions_check, conditions_validate

    rng = random.Random(12)
    rules = [conditions_validate("response_received", r) for r in make_rules(rng)]
    facts = make_facts(rng, n)
    started = time.perf_counter()
    ours = [i for f in facts for i, r in enumerate(rules) if conditions_check(r, f)[0]]
    engine = time.perf_counter() - started
    compiled = plain(rules)
    started = time.perf_counter()
    theirs = [i for f in facts for i, tests in enumerate(compiled) if all(t(f) for t in tests)]
    baseline = time.perf_counter() - started
    if ours != theirs:
        raise SystemExit("the engine and the plain loop disagree")
    return n / engine, n / baseline, len(ours)


def latency(count: int) -> list[float]:
    home = tempfile.mkdtemp(prefix="cxloop-bench-rules-")
    os.environ.update(CXLOOP_HOME=home, CXLOOP_TASKS="immediate",
                      DJANGO_SETTINGS_MODULE="cxloop.settings")  # fmt: skip
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from cxloop.core import services as core_services
    from cxloop.feedback import services as feedback_services
    from cxloop.workflows import services
    from cxloop.workflows.models import WorkflowRun

    call_command("migrate", verbosity=0)
    workspace = core_services.workspace_create(name="Bench", slug="bench")
    template = services.template_create(
        workspace=workspace, name="Follow-up",
        steps=[{"key": "call", "title": "Call", "assignee": {"kind": "role", "role": "agent"},
                "deadline_hours": 48, "fields": []}],
    )  # fmt: skip
    services.rule_create(
        workspace=workspace, name="Detractors", trigger="response_received",
        conditions=[{"field": "nps", "op": "lte", "value": 6}],
        actions=[{"type": "start_workflow", "template_id": template.pk}], active=True,
    )  # fmt: skip
    survey = feedback_services.survey_create_from_template(workspace=workspace, template="nps")
    times = []
    for i in range(count):
        started = time.perf_counter()
        with transaction.atomic():
            result = feedback_services.response_submit(
                survey=survey, answers={"nps": i % 7}, response_key=f"bench-{i}"
            )
        run = WorkflowRun.objects.filter(context__response=result.response.pk).exists()
        times.append((time.perf_counter() - started) * 1000)
        if not run:
            raise SystemExit("no run for a detractor's answer")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n, count = (2_000, 50) if args.quick else (20_000, 200)
    engine, baseline, matches = evaluation(n)
    print(f"rule evaluation, {RULES} active rules, {n:,} fact sets ({matches:,} matches)")
    print(f"  engine (JSON conditions + reasons): {engine:>10,.0f} fact sets/s")
    print(f"  plain Python loop (same rules):     {baseline:>10,.0f} fact sets/s")
    print(f"  ratio engine / plain:               {engine / baseline:>10.2f}")
    times = latency(count)
    p95 = statistics.quantiles(times, n=20, method="inclusive")[-1]
    print(f"response → run, {count} detractor answers (SQLite, immediate task backend)")
    print(f"  p50 {statistics.median(times):.1f} ms   p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
