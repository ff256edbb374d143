"""Process documentation from a template version: each step as plain sentences, a flowchart
(our own SVG, and Mermaid text for Markdown), what real runs show (``selectors.step_stats``),
and the whole as one :class:`Document` written out as Markdown, PDF (``_process_pdf``, fpdf2)
or, by the web layer's template, a standalone HTML file."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cxloop.workflows import _diagram
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


def _who_short(rule: Mapping[str, Any] | None, names: Mapping[int, str]) -> str:
    kind = (rule or {}).get("kind", "unassigned")
    role = (rule or {}).get("role") or ""
    if kind == "member":
        user_id = int(rule.get("user_id") or 0)  # type: ignore[union-attr]
        return names.get(user_id, f"member #{user_id}")
    return {"role": f"any {role}", "round_robin": f"{role}s in turn",
            "owner": "customer's owner"}.get(kind, "anyone")  # fmt: skip


def _when_short(step: Mapping[str, Any]) -> str:
    hours = step.get("deadline_hours")
    if hours is None:
        return "no deadline"
    unit = "business h" if step.get("deadline_business") else "h"
    since = "of start" if step.get("deadline_from") == "start" else ""
    return f"due in {hours} {unit} {since}".strip()


def step_boxes(steps: Sequence[Mapping[str, Any]], names: Mapping[int, str]) -> list:
    """What the flowchart shows of each step (keys it does not know are ignored)."""
    return [
        _diagram.StepBox(
            key=str(step.get("key", "")),
            title=str(step.get("title", "")),
            sub=f"{_who_short(step.get('assignee'), names)} · {_when_short(step)}",
            condition=describe_condition(step["condition"]) if step.get("condition") else "",
            parallel=step.get("parallel") is True,
        )
        for step in steps
    ]


def diagram(steps: Sequence[Mapping[str, Any]], names: Mapping[int, str]) -> _diagram.Layout:
    return _diagram.layout(step_boxes(steps, names))


def diagram_svg(
    steps: Sequence[Mapping[str, Any]], names: Mapping[int, str], *, title: str,
    element_id: str = "flow",
) -> str:  # fmt: skip
    """The flowchart as an inline SVG element; its description lists the steps in order."""
    order = "; ".join(
        f"{n}. {s.get('title', '')}" + (f" (only when {describe_condition(s['condition'])})"
                                        if s.get("condition") else "")
        for n, s in enumerate(steps, start=1)
    )  # fmt: skip
    return _diagram.svg(
        diagram(steps, names), title=f"Flow of {title}",
        description=f"Run starts; {order}; run closed.", element_id=element_id,
    )  # fmt: skip


def _label(text: str) -> str:
    """Text safe inside a Mermaid label (and its Markdown fence): no quotes, bars or
    backticks, angle brackets as Mermaid's entity codes."""
    for bad, good in (('"', "'"), ("`", "'"), ("|", "/"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(bad, good)
    return text


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


# ------------------------------------------------------------------ what real runs show

STATS_HEADER = ("Step", "Done", "Skipped", "Taken", "Open now", "Overdue now",
                "Median hours", "p90 hours", "On time")  # fmt: skip


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def stats_rows(stats: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """One row of text per step, in the order of :data:`STATS_HEADER`."""
    return [
        (
            row["title"],
            str(row["done"]),
            str(row["skipped"]),
            _share(row["taken"]),
            str(row["open"]),
            str(row["overdue"]),
            _hours(row["median_hours"]),
            _hours(row["p90_hours"]),
            _share(row["on_time"]),
        )
        for row in stats["steps"]
    ]


def _duration(hours: float) -> str:
    """Hours up to two days, days after."""
    return f"{hours:.1f} hours" if hours <= 48 else f"{hours / 24:.1f} days"


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def findings(stats: Mapping[str, Any], version: int) -> list[str]:
    """The numbers in sentences: how many runs, where they stall, how often each branch."""
    out = [
        f"{_runs(stats['runs']).capitalize()} of version {version}: {stats['runs_open']} open, "
        f"{stats['runs_done']} closed, {stats['runs_cancelled']} cancelled."
    ]
    if stats["stall"]:
        overdue = f" ({stats['stall_overdue']} overdue)" if stats["stall_overdue"] else ""
        longest = (f", the longest for {_duration(stats['stall_hours'])}"
                   if stats["stall_hours"] is not None else "")  # fmt: skip
        out.append(f"Runs stall most at “{stats['stall']}”: {_runs(stats['stall_open'])} "
                   f"waiting there{overdue}{longest}.")  # fmt: skip
    for row in stats["steps"]:
        if row["conditional"] and row["taken"] is not None:
            ran = row["done"] + row["open"]
            out.append(f"“{row['title']}” ran in {ran} of {ran + row['skipped']} runs that "
                       f"reached it ({row['taken']:.0%}); skipped in {row['skipped']}.")  # fmt: skip
    return out


# ------------------------------------------------------------------ the document


@dataclass(frozen=True)
class Document:
    """Everything the downloads print, prepared once."""

    name: str
    description: str
    version: int
    steps: tuple[tuple[str, tuple[str, ...]], ...]  # (title, sentences)
    mermaid: str
    svg: str
    layout: _diagram.Layout
    stats_rows: tuple[tuple[str, ...], ...]
    findings: tuple[str, ...]


def document(*, name: str, description: str, version: int,
             steps: Sequence[Mapping[str, Any]], names: Mapping[int, str],
             stats: Mapping[str, Any]) -> Document:  # fmt: skip
    return Document(
        name=name, description=description, version=version,
        steps=tuple((str(s.get("title", "")), tuple(step_sentences(s, names))) for s in steps),
        mermaid=mermaid(steps), svg=diagram_svg(steps, names, title=name),
        layout=diagram(steps, names), stats_rows=tuple(stats_rows(stats)),
        findings=tuple(findings(stats, version)),
    )  # fmt: skip


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def markdown(doc: Document) -> str:
    """The whole process as a Markdown document (the flowchart as a Mermaid block)."""
    out = [f"# {doc.name} (version {doc.version})", ""]
    if doc.description:
        out += [doc.description, ""]
    out += ["## Steps", ""]
    for n, (title, lines) in enumerate(doc.steps, start=1):
        out.append(f"{n}. **{title}**. " + " ".join(lines))
    out += ["", "## Flow", "", "```mermaid", doc.mermaid, "```", ""]
    out += ["## What real runs show", ""]
    out += [f"- {line}" for line in doc.findings]
    out += ["", "| " + " | ".join(STATS_HEADER) + " |",
            "| --- |" + " ---: |" * (len(STATS_HEADER) - 1)]  # fmt: skip
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in doc.stats_rows]
    out += ["", "Hours run from a step opening to it being done; p90: 90th percentile. Taken: "
            "of the runs that reached a conditional step, the share in which it ran. On time: "
            "of the steps with a deadline done or past it, the share done by it.", ""]  # fmt: skip
    return "\n".join(out)


def pdf(doc: Document) -> bytes:
    """The document as a PDF (fpdf2, imported here: only this download needs it)."""
    from cxloop.workflows import _process_pdf

    return _process_pdf.render(doc)


def filename(name: str, version: int, extension: str) -> str:
    """A download's file name from the template's name: ASCII letters, digits and hyphens only
    (nothing a browser or a shell could read as a path, a quote or a header break)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    return f"{slug or 'workflow'}-v{int(version)}.{extension}"
