"""Process documentation from a template version: each step as plain sentences, a Mermaid
flowchart, and Markdown; the numbers of real runs come from ``selectors.step_stats``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cxloop.workflows.definition import describe_condition, step_groups


def _who(rule: Mapping[str, Any] | None, names: Mapping[int, str]) -> str:
    kind = (rule or {}).get("kind", "unassigned")
    if kind == "member":
        user_id = int(rule.get("user_id") or 0)  # type: ignore[union-attr]
        return names.get(user_id, f"member #{user_id}")
    if kind == "role":
        return f"anyone with the {rule['role']} role"  # type: ignore[index]
    if kind == "round_robin":
        return f"each {rule['role']} in turn"  # type: ignore[index]
    if kind == "owner":
        return f"the customer's owner (else anyone with the {rule['role']} role)"  # type: ignore[index]
    return "whoever takes it"


def _field(field: Mapping[str, Any]) -> str:
    kind = field["type"]
    what = {"text": "text", "date": "a date", "rating": f"a rating 1–{field.get('max', 5)}",
            "file": "a file",
            "choice": " / ".join(field.get("choices", []))}.get(kind, kind)  # fmt: skip
    return f"{field['label']} ({what}{', required' if field.get('required') else ''})"


def step_sentences(step: Mapping[str, Any], names: Mapping[int, str]) -> list[str]:
    """A step in words: who, by when, only when, what they record, what follows."""
    lines = [f"Done by {_who(step.get('assignee'), names)}."]
    if step.get("parallel"):
        lines.insert(
            0,
            "Runs at the same time as the step before it; the run goes on once every "
            "step of the group is done or skipped.",
        )
    hours = step.get("deadline_hours")
    if hours is not None:
        since = "the run's start" if step.get("deadline_from") == "start" else "the step opening"
        unit = "business hours" if step.get("deadline_business") else "hours"
        lines.append(f"Due within {hours} {unit} of {since}.")
    if step.get("escalate"):
        lines.append(f"When late, it goes to {_who(step['escalate'], names)}.")
    if step.get("condition"):
        lines.append(f"Only when {describe_condition(step['condition'])}; otherwise skipped.")
    if step.get("fields"):
        lines.append("Records: " + "; ".join(_field(f) for f in step["fields"]) + ".")
    if step.get("email"):
        lines.append(f"When done, the customer is emailed “{step['email']['subject']}”.")
    return lines


def _label(text: str) -> str:
    return text.replace('"', "'").replace("|", "/")


def mermaid(steps: Sequence[Mapping[str, Any]]) -> str:
    """A Mermaid flowchart of the steps; a conditional step has a dotted "otherwise" edge past
    it; steps that run at the same time fork from one node and join at another."""
    groups = step_groups(steps)
    ends = []  # (entry, exit) node of each group
    lines = ["flowchart TD", "  start([Run starts])"]
    for g, members in enumerate(groups, start=1):
        if len(members) > 1:
            lines.append(f'  fork_{g}{{{{"at the same time"}}}}')
        lines += [f'  s_{steps[i]["key"]}["{_label(steps[i]["title"])}"]' for i in members]
        if len(members) > 1:
            lines.append(f'  join_{g}{{{{"all done"}}}}')
            ends.append((f"fork_{g}", f"join_{g}"))
        else:
            ends.append((f"s_{steps[members[0]]['key']}",) * 2)
    lines.append("  done([Run closed])")
    exits = ["start", *(end for _, end in ends)]
    entries = [*(entry for entry, _ in ends), "done"]
    for g, members in enumerate(groups):
        before, after = exits[g], entries[g + 1]
        if len(members) > 1:
            lines.append(f"  {before} --> {entries[g]}")
            before, after = entries[g], exits[g + 1]
        for i in members:
            here, condition = f"s_{steps[i]['key']}", steps[i].get("condition")
            if condition:
                lines.append(f"  {before} -->|{_label(describe_condition(condition))}| {here}")
                lines.append(f"  {before} -.->|otherwise| {after}")
            else:
                lines.append(f"  {before} --> {here}")
            if len(members) > 1:
                lines.append(f"  {here} --> {after}")
    lines.append(f"  {exits[-1]} --> done")
    return "\n".join(lines)


def markdown(*, name: str, description: str, version: int, steps: Sequence[Mapping[str, Any]],
             names: Mapping[int, str], stats: Mapping[str, Any] | None = None) -> str:  # fmt: skip
    """The whole process as a Markdown document."""
    out = [f"# {name} (version {version})", ""]
    if description:
        out += [description, ""]
    out += ["## Steps", ""]
    for n, step in enumerate(steps, start=1):
        out.append(f"{n}. **{step['title']}**. " + " ".join(step_sentences(step, names)))
    out += ["", "## Flow", "", "```mermaid", mermaid(steps), "```", ""]
    if stats:
        out += ["## What real runs show", "",
                "| step | done | skipped | open now | median hours | on time |",
                "| --- | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
        for row in stats["steps"]:
            median = "—" if row["median_hours"] is None else f"{row['median_hours']:.1f}"
            on_time = "—" if row["on_time"] is None else f"{row['on_time']:.0%}"
            out.append(f"| {row['title']} | {row['done']} | {row['skipped']} | {row['open']} | "
                       f"{median} | {on_time} |")  # fmt: skip
        if stats.get("stall"):
            out += ["", f"Runs stall most at **{stats['stall']}**."]
        out.append("")
    return "\n".join(out)
