"""Small trend charts (reportlab graphics): one item's values across checkup visits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors

SERIES_COLOURS = (colors.HexColor("#1f5f99"), colors.HexColor("#c0392b"))
LIMIT_COLOUR = colors.HexColor("#d98c1a")


@dataclass(frozen=True)
class Series:
    label: str
    points: tuple[tuple[dt.date, Decimal], ...]
    limit: Decimal | None = None  # the 保健指導判定値, drawn as a dashed line


def trend_chart(
    title: str, unit: str, series: Sequence[Series], *, width: float, height: float, font: str
) -> Drawing:
    """A line chart of ``series`` over time; x is the visit date, labelled yyyy/mm."""
    drawing = Drawing(width, height)
    drawing.add(String(4, height - 11, f"{title}（{unit}）", fontName=font, fontSize=8.5))
    plotted = [s for s in series if s.points]
    if not plotted:
        drawing.add(
            String(
                width / 2, height / 2, "記録なし", fontName=font, fontSize=8, textAnchor="middle"
            )
        )
        return drawing
    days = sorted({d for s in plotted for d, _ in s.points})
    ordinal0 = days[0].toordinal()
    values = [float(v) for s in plotted for _, v in s.points]
    limits = [float(s.limit) for s in plotted if s.limit is not None]
    low, high = min(values + limits), max(values + limits)
    pad = max((high - low) * 0.15, abs(high) * 0.03, 0.5)
    plot = LinePlot()
    plot.x, plot.y = 30, 18
    plot.width, plot.height = width - 40, height - 38
    plot.data = [[(d.toordinal() - ordinal0, float(v)) for d, v in s.points] for s in plotted]
    span = max(days[-1].toordinal() - ordinal0, 1)
    plot.xValueAxis.valueMin = -span * 0.05
    plot.xValueAxis.valueMax = span * 1.05
    ticks = days if len(days) <= 6 else days[:: max(1, len(days) // 5)]
    plot.xValueAxis.valueSteps = [d.toordinal() - ordinal0 for d in ticks]
    labels = {d.toordinal() - ordinal0: f"{d:%Y/%m}" for d in ticks}
    plot.xValueAxis.labelTextFormat = lambda x: labels.get(round(x), "")
    plot.yValueAxis.valueMin = low - pad
    plot.yValueAxis.valueMax = high + pad
    for axis in (plot.xValueAxis, plot.yValueAxis):
        axis.labels.fontName = font
        axis.labels.fontSize = 6.5
        axis.strokeColor = colors.HexColor("#777777")
    plot.yValueAxis.visibleGrid = True
    plot.yValueAxis.gridStrokeColor = colors.HexColor("#e4e4e4")
    for i, _ in enumerate(plotted):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        plot.lines[i].strokeColor = colour
        plot.lines[i].strokeWidth = 1.2
        plot.lines[i].symbol = makeMarker(
            "FilledCircle", size=3.5, fillColor=colour, strokeColor=colour
        )
    drawing.add(plot)
    y_min, y_max = plot.yValueAxis.valueMin, plot.yValueAxis.valueMax
    for s in plotted:
        if s.limit is None:
            continue
        y = plot.y + (float(s.limit) - y_min) / (y_max - y_min) * plot.height
        drawing.add(
            Line(
                plot.x,
                y,
                plot.x + plot.width,
                y,
                strokeColor=LIMIT_COLOUR,
                strokeDashArray=[3, 2],
                strokeWidth=0.8,
            )
        )
    if len(plotted) > 1:
        x = width - 6
        for i, s in enumerate(plotted):
            drawing.add(
                String(
                    x,
                    height - 11 - i * 9,
                    f"● {s.label}",
                    fontName=font,
                    fontSize=7,
                    textAnchor="end",
                    fillColor=SERIES_COLOURS[i % len(SERIES_COLOURS)],
                )
            )
    return drawing
