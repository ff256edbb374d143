"""A workflow's flowchart laid out once, in pixels, and drawn as SVG (the page and the HTML
download) or by the PDF writer from the same boxes, lines and arrowheads. Pure Python: no
renderer to install, no request to anything outside the document.

Top to bottom: "Run starts", each step in order, "Run closed". A step with a condition is
entered by an arrow labelled with it, and a dashed "otherwise" line goes round it on the
right, from the node before it to the node after it (alternating between two lanes, so two
conditional steps in a row keep their lines apart). A parallel group's steps stand side by side
between a fork bar and a join bar; a conditional step in a group is entered by an arrow labelled
with its condition (when it does not hold, the step is skipped and the group goes on without it)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 600
BOX_X, BOX_W, BOX_H = 100, 320, 70
END_W, END_H = 160, 40
GAP = 56  # between nodes: room for an arrow and its label
TOP = 16
CENTRE = BOX_X + BOX_W / 2
LANES = (BOX_X + BOX_W + 28, BOX_X + BOX_W + 56)
TITLE_CHARS = 38  # per title line at 14 px in a 320 px box
LABEL_CHARS = 36  # a condition label left of the arrow, 12 px
HEAD = 7  # arrowhead length
GROUP_GAP = 84  # above and below a parallel group: room for its fork or join bar
GROUP_LEFT, GROUP_RIGHT, GROUP_SPACE = 16.0, LANES[0] - 14.0, 12.0  # a group's boxes, side by side
GROUP_LABEL_CHARS = 22


@dataclass(frozen=True)
class Node:
    key: str
    x: float
    y: float
    w: float
    h: float
    lines: tuple[str, ...]  # the title, wrapped
    sub: str  # who and by when, small
    terminal: bool  # start or end: a rounded pill

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass(frozen=True)
class Edge:
    points: tuple[tuple[float, float], ...]
    head: tuple[tuple[float, float], ...]  # the arrowhead triangle at the last point
    label: str
    label_at: tuple[float, float]
    label_anchor: str  # "end": the label ends at label_at; "start": it begins there
    dashed: bool


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    breaks: tuple[float, ...]  # y just under each node: a page may end there, cutting nothing


@dataclass(frozen=True)
class StepBox:
    """What the diagram shows of a step: its key, title, a short "who · when", and the
    condition that shows it (empty: always shown)."""

    key: str
    title: str
    sub: str
    condition: str
    parallel: bool = False  # runs at the same time as the step before it (drawn beside it)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _wrap(title: str, chars: int = TITLE_CHARS) -> tuple[str, ...]:
    lines = textwrap.wrap(title, chars, break_long_words=True) or [""]
    if len(lines) > 2:
        lines = [lines[0], _clip(" ".join(lines[1:]), chars)]
    return tuple(lines)


def _arrow(x: float, y0: float, y1: float, label: str = "", anchor: str = "end") -> Edge:
    head = ((x, y1), (x - HEAD / 2 - 1, y1 - HEAD), (x + HEAD / 2 + 1, y1 - HEAD))
    at = (x - 8, (y0 + y1) / 2 + 4) if anchor == "end" else (x + 6, (y0 + y1) / 2 + 4)
    return Edge(((x, y0), (x, y1 - HEAD)), head, label, at, anchor, False)


def _line(*points: tuple[float, float]) -> Edge:
    """A plain line (no arrowhead): the stems and bars of a fork or a join."""
    return Edge(tuple(points), (), "", points[0], "start", False)


def _rows(boxes: Sequence[StepBox]) -> list[list[int]]:
    rows: list[list[int]] = []
    for i, box in enumerate(boxes):
        if box.parallel and rows:
            rows[-1].append(i)
        else:
            rows.append([i])
    return rows


def layout(boxes: Sequence[StepBox]) -> Layout:
    """Where everything goes, for the steps in order; a parallel group side by side."""
    rows = _rows(boxes)
    placed: list[list[Node]] = []
    y = float(TOP)
    grouped = [len(row) > 1 for row in rows]

    def gap_after(r: int) -> float:  # r: index into [start, *rows, done]
        around = (r >= 1 and grouped[r - 1]) or (r < len(rows) and grouped[r])
        return GROUP_GAP if around else GAP

    placed.append([Node("start", CENTRE - END_W / 2, y, END_W, END_H, ("Run starts",), "", True)])
    y += END_H + gap_after(0)
    for r, row in enumerate(rows, start=1):
        if len(row) == 1:
            box = boxes[row[0]]
            nodes = [Node(box.key, BOX_X, y, BOX_W, BOX_H, _wrap(box.title),
                          _clip(box.sub, 48), False)]  # fmt: skip
        else:
            width = (GROUP_RIGHT - GROUP_LEFT - (len(row) - 1) * GROUP_SPACE) / len(row)
            chars = max(8, int(width / 9.4))  # bold 14 px: about 9 px a character
            nodes = [
                Node(boxes[i].key, GROUP_LEFT + k * (width + GROUP_SPACE), y, width, BOX_H,
                     _wrap(boxes[i].title, chars), _clip(boxes[i].sub, chars + 10), False)
                for k, i in enumerate(row)
            ]  # fmt: skip
        placed.append(nodes)
        y += BOX_H + gap_after(r)
    placed.append([Node("done", CENTRE - END_W / 2, y, END_W, END_H, ("Run closed",), "", True)])
    y += END_H + GAP

    edges: list[Edge] = []
    conditions = [""] + [boxes[row[0]].condition if len(row) == 1 else "" for row in rows] + [""]
    for r in range(len(placed) - 1):
        upper, lower = placed[r], placed[r + 1]
        top = upper[0].y + upper[0].h
        bottom = lower[0].y
        if len(upper) == 1 and len(lower) == 1:
            label = _clip(f"if {conditions[r + 1]}", LABEL_CHARS) if conditions[r + 1] else ""
            edges.append(_arrow(CENTRE, top, bottom, label))
            continue
        bar = top + (bottom - top) * 0.4
        xs = [n.x + n.w / 2 for n in (*upper, *lower)]
        for node in upper:
            edges.append(_line((node.x + node.w / 2, top), (node.x + node.w / 2, bar)))
        edges.append(_line((min(xs), bar), (max(xs), bar)))
        members = rows[r] if r < len(rows) and len(lower) > 1 else []
        for k, node in enumerate(lower):
            condition = boxes[members[k]].condition if members else conditions[r + 1]
            label = _clip(f"if {condition}", GROUP_LABEL_CHARS) if condition else ""
            edges.append(_arrow(node.x + node.w / 2, bar, bottom, label, "start"))
    for r, row in enumerate(rows, start=1):  # "otherwise" round a conditional single step
        if len(row) > 1 or not boxes[row[0]].condition:
            continue
        before, after = placed[r - 1][-1], placed[r + 1][-1]
        lane = LANES[row[0] % 2]
        x_in = after.x + after.w
        points = ((before.x + before.w, before.cy), (lane, before.cy), (lane, after.cy),
                  (x_in + HEAD, after.cy))  # fmt: skip
        head = ((x_in, after.cy), (x_in + HEAD, after.cy - HEAD / 2 - 1),
                (x_in + HEAD, after.cy + HEAD / 2 + 1))  # fmt: skip
        label_y = (before.cy + after.cy) / 2 + 4
        edges.append(Edge(points, head, "otherwise", (lane + 6, label_y), "start", True))
    every = tuple(n for row_nodes in placed for n in row_nodes)
    breaks = tuple(row_nodes[0].y + row_nodes[0].h + 3 for row_nodes in placed[:-1])
    return Layout(WIDTH, y - GAP + TOP, every, tuple(edges), breaks)


# ------------------------------------------------------------------ SVG

INK, BOX_FILL, END_FILL, LINE, MUTED = "#1d3557", "#eef4fb", "#dfe9e2", "#44546a", "#4a5563"


def svg(plan: Layout, *, title: str, description: str = "", element_id: str = "flow") -> str:
    """The layout as an inline ``<svg>`` element (for an HTML page: no namespace declaration,
    no styles or fonts from elsewhere; every text escaped)."""
    out = [
        f'<svg id="{escape(element_id)}" viewBox="0 0 {plan.width:g} {plan.height:g}" '
        f'width="{plan.width:g}" height="{plan.height:g}" role="img" '
        f'aria-labelledby="{escape(element_id)}-t {escape(element_id)}-d" '
        'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">',
        f'<title id="{escape(element_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(element_id)}-d">{escape(description)}</desc>',
    ]
    for edge in plan.edges:
        points = " ".join(f"{x:g},{y:g}" for x, y in edge.points)
        dash = ' stroke-dasharray="6 4"' if edge.dashed else ""
        out.append(f'<polyline points="{points}" fill="none" stroke="{LINE}" '
                   f'stroke-width="1.5"{dash}/>')  # fmt: skip
        if edge.head:
            head = " ".join(f"{x:g},{y:g}" for x, y in edge.head)
            out.append(f'<polygon points="{head}" fill="{LINE}"/>')
        if edge.label:
            x, y = edge.label_at
            out.append(f'<text x="{x:g}" y="{y:g}" font-size="12" fill="{MUTED}" '
                       f'text-anchor="{edge.label_anchor}">{escape(edge.label)}</text>')  # fmt: skip
    for node in plan.nodes:
        radius = node.h / 2 if node.terminal else 6
        fill = END_FILL if node.terminal else BOX_FILL
        out.append(f'<rect x="{node.x:g}" y="{node.y:g}" width="{node.w:g}" height="{node.h:g}" '
                   f'rx="{radius:g}" fill="{fill}" stroke="{INK}" stroke-width="1.5"/>')  # fmt: skip
        for text, y, size, weight in node_lines(node):
            out.append(f'<text x="{node.x + node.w / 2:g}" y="{y:g}" font-size="{size}" '
                       f'font-weight="{weight}" fill="{INK if weight == 600 else MUTED}" '
                       f'text-anchor="middle">{escape(text)}</text>')  # fmt: skip
    out.append("</svg>")
    return "\n".join(out)


def node_lines(node: Node) -> list[tuple[str, float, int, int]]:
    """Each line of text in a node: text, baseline y, size (px), weight."""
    if node.terminal:
        return [(node.lines[0], node.cy + 5, 14, 600)]
    if len(node.lines) == 1:
        lines = [(node.lines[0], node.y + 29, 14, 600)]
    else:
        lines = [(node.lines[0], node.y + 22, 14, 600), (node.lines[1], node.y + 40, 14, 600)]
    if node.sub:
        lines.append((node.sub, node.y + node.h - 12, 12, 400))
    return lines
