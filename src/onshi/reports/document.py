"""A generic A4 document: page template, header/footer, Japanese text and tables that split.

Reused by every PDF onshi writes (drug and checkup reports, VPN invoices): a caller builds
:class:`Page` metadata and a list of reportlab flowables with the helpers here, then calls
:func:`render`. Nothing here knows about drugs or checkups.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as _escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from onshi.reports.fonts import japanese_font

JST = dt.timezone(dt.timedelta(hours=9), "JST")
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 15 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
HEADER_RULE = colors.HexColor("#555555")
GRID = colors.HexColor("#9a9a9a")
SHADE = colors.HexColor("#eeeeee")


@dataclass(frozen=True)
class Page:
    """What every page of a document shows around its content."""

    title: str
    issued_at: dt.datetime
    facility_code: str = ""
    subject: str = ""  # PDF metadata only; keep personal data out of it


@dataclass(frozen=True)
class Styles:
    """Paragraph styles in the registered Japanese font (CJK line breaking: any character)."""

    font: str
    title: ParagraphStyle
    name: ParagraphStyle
    heading: ParagraphStyle
    subheading: ParagraphStyle
    month: ParagraphStyle
    body: ParagraphStyle
    cell: ParagraphStyle
    cell_small: ParagraphStyle
    cell_right: ParagraphStyle
    cell_note: ParagraphStyle
    note: ParagraphStyle


@cache
def _styles(font: str) -> Styles:
    def style(name: str, size: float, **kw: Any) -> ParagraphStyle:
        return ParagraphStyle(
            name, fontName=font, fontSize=size, leading=size * 1.35, wordWrap="CJK", **kw
        )

    return Styles(
        font=font,
        title=style("title", 15, spaceAfter=2 * mm),
        name=style("name", 12),
        # headings stay on the page of what they announce
        heading=style(
            "heading",
            11.5,
            spaceBefore=4 * mm,
            spaceAfter=1.5 * mm,
            keepWithNext=1,
            borderPadding=(1.2 * mm, 0, 0.8 * mm, 0),
            textColor=colors.HexColor("#1a1a1a"),
        ),
        subheading=style(
            "subheading", 9.5, spaceBefore=2.5 * mm, spaceAfter=1 * mm, keepWithNext=1
        ),
        month=style(
            "month",
            10.5,
            spaceBefore=3.5 * mm,
            spaceAfter=0.5 * mm,
            keepWithNext=1,
            backColor=colors.HexColor("#dde6ef"),
            borderPadding=(1 * mm, 1.5 * mm, 1 * mm, 1.5 * mm),
            leftIndent=1.5 * mm,
        ),
        body=style("body", 9),
        cell=style("cell", 8.5),
        cell_right=style("cell_right", 8.5, alignment=TA_RIGHT),
        cell_note=style("cell_note", 7, textColor=colors.HexColor("#555555")),
        cell_small=style("cell_small", 7.5, textColor=colors.HexColor("#333333")),
        note=style("note", 7.5, textColor=colors.HexColor("#444444")),
    )


def styles(font_path: Path | None = None) -> Styles:
    return _styles(japanese_font(font_path))


def escape(value: object) -> str:
    """Text for reportlab's paragraph markup: data cannot inject tags."""
    return _escape(str(value)).replace("\n", "<br/>")


def text(value: object, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (markup characters escaped)."""
    return Paragraph(escape(value), style)


class Lines(Flowable):  # type: ignore[misc]  # reportlab is untyped
    """Short lines of text in a cell (a name and a smaller note below it), drawn directly.

    Use :func:`lines` to get one: it falls back to a wrapping paragraph when a line is too long.
    """

    def __init__(self, parts: Sequence[tuple[str, ParagraphStyle]]) -> None:
        super().__init__()
        self.parts = list(parts)

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        self.height = sum(style.leading for _, style in self.parts)
        return self.width, self.height

    def draw(self) -> None:
        y = self.height
        for words, style in self.parts:
            y -= style.leading
            self.canv.setFont(style.fontName, style.fontSize)
            self.canv.setFillColor(style.textColor)
            self.canv.drawString(0, y + (style.leading - style.fontSize) / 2 + 0.5, words)


def lines(parts: Sequence[tuple[str, ParagraphStyle]], width: float) -> Flowable:
    """``parts`` one under another in a cell ``width`` wide (wrapped only if one is too long)."""
    parts = [(" ".join(w.split()), style) for w, style in parts if w and w.strip()]
    if all(stringWidth(w, st.fontName, st.fontSize) <= width - 5.5 for w, st in parts):
        return Lines(parts)
    return Paragraph(
        "<br/>".join(
            f"<font size='{st.fontSize}' color='{st.textColor.hexval()[2:].join(['#', ''])}'>"
            f"{escape(w)}</font>"
            for w, st in parts
        ),
        parts[0][1],
    )


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    widths: Sequence[float],
    st: Styles,
    *,
    extra: Sequence[tuple[Any, ...]] = (),
    right: Sequence[int] = (),
) -> Table:
    """A grid table whose header row repeats on every page it splits onto.

    Text that fits its column is drawn as it is; longer text becomes a paragraph that wraps
    (Japanese: at any character). Laying out a paragraph costs far more than measuring a
    string, and most cells (dates, quantities) are short. Columns in ``right`` are aligned
    right (numbers); flowables are kept as they are.
    """
    pad = 2.5

    def cell(value: object, column: int, style: ParagraphStyle) -> object:
        if isinstance(value, Flowable):
            return value
        words = "" if value is None else " ".join(str(value).split())
        if stringWidth(words, style.fontName, style.fontSize) <= widths[column] - 2 * pad - 0.5:
            return words
        return text(words, st.cell_right if column in right and style is st.cell else style)

    data = [[cell(h, i, st.cell_small) for i, h in enumerate(header)]]
    data += [[cell(v, i, st.cell) for i, v in enumerate(row)] for row in rows]
    t = Table(data, colWidths=list(widths), repeatRows=1, splitByRow=True)
    t.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), st.font, st.cell.fontSize, st.cell.leading),
                ("FONT", (0, 0), (-1, 0), st.font, st.cell_small.fontSize, st.cell_small.leading),
                ("TEXTCOLOR", (0, 0), (-1, 0), st.cell_small.textColor),
                ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ("LEFTPADDING", (0, 0), (-1, -1), pad),
                ("RIGHTPADDING", (0, 0), (-1, -1), pad),
                *(("ALIGN", (i, 1), (i, -1), "RIGHT") for i in right),
                *extra,
            ]
        )
    )
    return t


def notice(words: str, st: Styles) -> Table:
    """A boxed remark the reader must not miss (e.g. information left out for lack of consent)."""
    box = Table([[text(words, st.body)]], colWidths=[CONTENT_WIDTH])
    box.setStyle(
        [
            ("BOX", (0, 0), (-1, -1), 0.8, colors.HexColor("#b36b00")),
            ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#fff4e0")),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ]
    )
    return box


def spacer(height_mm: float) -> Spacer:
    return Spacer(1, height_mm * mm)


class _Template(BaseDocTemplate):  # type: ignore[misc]  # reportlab is untyped
    def __init__(self, buffer: io.BytesIO, page: Page, st: Styles) -> None:
        super().__init__(
            buffer,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN + 8 * mm,
            bottomMargin=MARGIN + 6 * mm,
            title=page.title,
            subject=page.subject,
            creator="onshi",
            author="onshi",
            invariant=True,  # same input, same bytes (no random ids or creation stamps)
        )
        frame = Frame(
            self.leftMargin,
            self.bottomMargin,
            self.width,
            self.height,
            id="body",
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        self.addPageTemplates([PageTemplate(id="a4", frames=[frame])])


def _framed_canvas(page: Page, font: str) -> type[Canvas]:
    """A canvas that draws header and footer once the page count is known ("page x / y").

    Pages are held back until ``save``: one layout pass instead of two.
    """

    class FramedCanvas(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # the canvas' own default is Helvetica, which would be named but not embedded
            super().__init__(*args, **{**kwargs, "initialFontName": font})
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            for state in self._held:
                self.__dict__.update(state)
                _decorate(self, page, font, total)
                super().showPage()
            super().save()

    return FramedCanvas


def _decorate(canvas: Canvas, p: Page, font: str, total: int) -> None:
    canvas.saveState()
    top = PAGE_HEIGHT - MARGIN
    canvas.setFont(font, 8)
    canvas.setFillColor(colors.HexColor("#333333"))
    canvas.drawString(MARGIN, top, p.title)
    right = f"発行 {p.issued_at.astimezone(JST):%Y年%m月%d日 %H:%M} (JST)"
    if p.facility_code:
        right = f"医療機関等コード {p.facility_code}　{right}"
    canvas.drawRightString(PAGE_WIDTH - MARGIN, top, right)
    canvas.setStrokeColor(HEADER_RULE)
    canvas.setLineWidth(0.5)
    canvas.line(MARGIN, top - 2 * mm, PAGE_WIDTH - MARGIN, top - 2 * mm)
    bottom = MARGIN
    canvas.line(MARGIN, bottom + 4 * mm, PAGE_WIDTH - MARGIN, bottom + 4 * mm)
    canvas.drawCentredString(PAGE_WIDTH / 2, bottom, f"{canvas.getPageNumber()} / {total} ページ")
    canvas.restoreState()


def render(page: Page, story: Sequence[Flowable], *, font_path: Path | None = None) -> bytes:
    """The PDF for ``story`` on A4 pages framed by ``page``'s header and footer."""
    st = styles(font_path)
    buffer = io.BytesIO()
    _Template(buffer, page, st).build(list(story), canvasmaker=_framed_canvas(page, st.font))
    return buffer.getvalue()
