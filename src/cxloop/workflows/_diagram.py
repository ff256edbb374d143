"""A workflow's flowchart laid out once, in pixels, and drawn as SVG (the page and the HTML
download) or by the PDF writer from the same boxes, lines and arrowheads. Pure Python: no
renderer to install, no request to anything outside the document.

Top to bottom: "Run starts", each step in order, "Run closed". A step with a condition is
entered by an arrow labelled with it, and a dashed "otherwise" line goes round it on the
right, from the node before it to the node after it (alternating between two lanes, so two
conditional steps in a row keep their lines apart)."""

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


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _wrap(title: str) -> tuple[str, ...]:
    lines = textwrap.wrap(title, TITLE_CHARS, break_long_words=True) or [""]
    if len(lines) > 2:
        lines = [lines[0], _clip(" ".join(lines[1:]), TITLE_CHARS)]
    return tuple(lines)


def _down(x: float, y0: float, y1: float, label: str = "", dashed: bool = False) -> Edge:
    head = ((x, y1), (x - HEAD / 2 - 1, y1 - HEAD), (x + HEAD / 2 + 1, y1 - HEAD))
    return Edge(((x, y0), (x, y1 - HEAD)), head, label, (x - 8, (y0 + y1) / 2 + 4), "end", dashed)


def layout(boxes: Sequence[StepBox]) -> Layout:
    """Where everything goes, for the steps in order."""
    nodes: list[Node] = []
    y = float(TOP)

    def add(key: str, lines: tuple[str, ...], sub: str, terminal: bool) -> None:
        nonlocal y
        w, h = (END_W, END_H) if terminal else (BOX_W, BOX_H)
        nodes.append(Node(key, CENTRE - w / 2, y, w, h, lines, sub, terminal))
        y += h + GAP

    add("start", ("Run starts",), "", True)
    for box in boxes:
        add(box.key, _wrap(box.title), _clip(box.sub, 48), False)
    add("done", ("Run closed",), "", True)
    edges: list[Edge] = []
    for i in range(len(nodes) - 1):
        upper, lower = nodes[i], nodes[i + 1]
        condition = boxes[i].condition if i < len(boxes) else ""
        label = _clip(f"if {condition}", LABEL_CHARS) if condition else ""
        edges.append(_down(CENTRE, upper.y + upper.h, lower.y, label))
    for i, box in enumerate(boxes):
        if not box.condition:
            continue
        before, after = nodes[i], nodes[i + 2]
        lane = LANES[i % 2]
        x_in = after.x + after.w
        points = ((before.x + before.w, before.cy), (lane, before.cy), (lane, after.cy),
                  (x_in + HEAD, after.cy))  # fmt: skip
        head = ((x_in, after.cy), (x_in + HEAD, after.cy - HEAD / 2 - 1),
                (x_in + HEAD, after.cy + HEAD / 2 + 1))  # fmt: skip
        label_y = (before.cy + after.cy) / 2 + 4
        edges.append(Edge(points, head, "otherwise", (lane + 6, label_y), "start", True))
    breaks = tuple(n.y + n.h + 3 for n in nodes[:-1])  # labels sit lower, mid-gap
    return Layout(WIDTH, y - GAP + TOP, tuple(nodes), tuple(edges), breaks)


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
            out.append(f'<text x="{CENTRE:g}" y="{y:g}" font-size="{size}" '
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
