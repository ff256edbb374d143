"""The process document as a PDF, with fpdf2 (pure Python, docs/architecture.md says why): the
steps' sentences, the flowchart drawn from the same layout as the SVG (boxes, lines and
arrowheads, split across pages only between two nodes), and the run statistics as a table.

The PDF's built-in Helvetica covers Latin-1 only, and we ship no font: typographic quotes,
dashes and comparison signs are written in ASCII, accented letters outside Latin-1 lose their
accent, and anything else prints as "?" (the HTML and Markdown downloads keep every
character)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from fpdf import FPDF

from cxloop.workflows._diagram import END_FILL, Layout, Node, node_lines

MARGIN = 15.0  # mm
PT = 0.3528  # mm per point
_ASCII = str.maketrans({
    "“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "−": "-",
    "…": "...", "≤": "<=", "≥": ">=", "≠": "!=", "→": "->", "•": "-", "\u00a0": " ",
})  # fmt: skip


def latin1(text: str) -> str:
    """``text`` in the characters Helvetica has."""
    out = []
    for char in text.translate(_ASCII):
        if ord(char) < 256:
            out.append(char)
            continue
        bare = "".join(c for c in unicodedata.normalize("NFKD", char) if ord(c) < 128)
        out.append(bare or "?")
    return "".join(out)


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def render(doc) -> bytes:
    """``doc`` (a ``process.Document``) as the bytes of a PDF file."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=MARGIN)
    pdf.set_title(latin1(f"{doc.name} (version {doc.version})"))
    pdf.set_creator("cxloop")
    pdf.add_page()
    width = pdf.w - 2 * MARGIN

    def heading(text: str, size: int) -> None:
        pdf.set_font("helvetica", "B", size)
        pdf.multi_cell(width, size * PT * 1.4, latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)

    def para(text: str, size: int = 10) -> None:
        pdf.set_font("helvetica", "", size)
        pdf.multi_cell(width, size * PT * 1.45, latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.2)

    heading(f"{doc.name} (version {doc.version})", 18)
    if doc.description:
        para(doc.description, 11)
    heading("Steps", 14)
    for n, (title, lines) in enumerate(doc.steps, start=1):
        pdf.set_font("helvetica", "B", 10)
        pdf.multi_cell(width, 5, latin1(f"{n}. {title}"), new_x="LMARGIN", new_y="NEXT")
        para(" ".join(lines))
    heading("What real runs show", 14)
    for line in doc.findings:
        para(line)
    _table(pdf, doc.stats_rows, width)
    para("Hours run from a step opening to it being done; p90: 90th percentile. Taken: of the "
         "runs that reached a conditional step, the share in which it ran. On time: of the "
         "steps with a deadline done or past it, the share done by it.", 8)  # fmt: skip
    room, page = pdf.h - MARGIN - pdf.get_y(), pdf.h - 2 * MARGIN - 12
    tall = doc.layout.height * width / doc.layout.width
    if room < 70 or (tall + 12 > room and tall <= page):  # whole on a fresh page, if it can be
        pdf.add_page()
    heading("Flow", 14)
    _flow(pdf, doc.layout, width)
    return bytes(pdf.output())


def _table(pdf: FPDF, rows, width: float) -> None:
    from cxloop.workflows.process import STATS_HEADER

    pdf.set_font("helvetica", "", 8)
    first = 44.0
    rest = (width - first) / (len(STATS_HEADER) - 1)
    with pdf.table(
        col_widths=(first, *([rest] * (len(STATS_HEADER) - 1))), width=width,
        text_align=("LEFT", *(["RIGHT"] * (len(STATS_HEADER) - 1))), line_height=4,
        first_row_as_headings=True,
    ) as table:  # fmt: skip
        for row in (STATS_HEADER, *rows):
            cells = table.row()
            for value in row:
                cells.cell(latin1(value))
    pdf.ln(3)


def _flow(pdf: FPDF, plan: Layout, width: float) -> None:
    """The flowchart at a scale that fits the page width, continued on the next page between
    two nodes when it is taller than the room left."""
    scale = width / plan.width
    offset = 0.0
    while offset < plan.height:
        room = (pdf.h - MARGIN - pdf.get_y()) / scale
        end = plan.height if plan.height - offset <= room else None
        if end is None:
            fitting = [b for b in plan.breaks if offset < b <= offset + room]
            if fitting:
                end = fitting[-1]
            elif pdf.get_y() > MARGIN + 20:  # not at the top yet: a fresh page has more room
                pdf.add_page()
                continue
            else:  # one node taller than a page (cannot happen at this scale): cut anywhere
                end = offset + room
        top = pdf.get_y()
        with pdf.rect_clip(MARGIN, top, width, (end - offset) * scale):
            _draw(pdf, plan, _placer(scale, offset, top), scale)
        pdf.set_y(top + (end - offset) * scale)
        offset = end
        if offset < plan.height:
            pdf.add_page()


def _placer(
    scale: float, offset: float, top: float
) -> Callable[[float, float], tuple[float, float]]:
    """Layout pixels → page millimetres, for the slice of the chart from ``offset`` down
    drawn at ``top``."""

    def at(x: float, y: float) -> tuple[float, float]:
        return MARGIN + x * scale, top + (y - offset) * scale

    return at


def _draw(pdf: FPDF, plan: Layout, at: Callable[[float, float], tuple[float, float]],
          scale: float) -> None:  # fmt: skip
    from cxloop.workflows._diagram import BOX_FILL, INK, LINE, MUTED

    pdf.set_line_width(0.4)
    pdf.set_draw_color(*_rgb(LINE))
    pdf.set_fill_color(*_rgb(LINE))
    for edge in plan.edges:
        if edge.dashed:
            pdf.set_dash_pattern(dash=1.8, gap=1.2)
        pdf.polyline([at(x, y) for x, y in edge.points], style="D")
        pdf.set_dash_pattern()
        if edge.head:
            pdf.polygon([at(x, y) for x, y in edge.head], style="F")
        if edge.label:
            pdf.set_font("helvetica", "", 12 * scale / PT)
            pdf.set_text_color(*_rgb(MUTED))
            text = latin1(edge.label)
            x, y = at(*edge.label_at)
            if edge.label_anchor == "end":
                x -= pdf.get_string_width(text)
            pdf.text(x, y, text)
    for node in plan.nodes:
        _node(pdf, node, at, scale, END_FILL if node.terminal else BOX_FILL, INK, MUTED)


def _node(pdf: FPDF, node: Node, at, scale: float, fill: str, ink: str, muted: str) -> None:
    x, y = at(node.x, node.y)
    pdf.set_draw_color(*_rgb(ink))
    pdf.set_fill_color(*_rgb(fill))
    radius = (node.h / 2 if node.terminal else 6) * scale
    pdf.rect(x, y, node.w * scale, node.h * scale, style="DF", round_corners=True,
             corner_radius=radius)  # fmt: skip
    for text, baseline, size, weight in node_lines(node):
        text = latin1(text)
        points = size * scale / PT
        pdf.set_font("helvetica", "B" if weight == 600 else "", points)
        room = node.w * scale - 4
        while pdf.get_string_width(text) > room and points > 5:
            points -= 0.5
            pdf.set_font("helvetica", "B" if weight == 600 else "", points)
        pdf.set_text_color(*_rgb(ink if weight == 600 else muted))
        centre, base = at(node.x + node.w / 2, baseline)
        pdf.text(centre - pdf.get_string_width(text) / 2, base, text)
    pdf.set_text_color(0, 0, 0)
