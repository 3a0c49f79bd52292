"""Server-rendered SVG charts: the geometry is computed here, the template
(console/chart.html) only draws it, with a title, axis labels and a data table."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

WIDTH = 640
HEIGHT = 240
LEFT = 56
RIGHT = 12
TOP = 12
BOTTOM = 48
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
# Colour-blind-safe (Okabe-Ito), told apart by the legend and the table too.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
MAX_X_LABELS = 10


@dataclass
class Series:
    name: str
    values: list[float]
    color: str = ""


@dataclass
class Chart:
    """One chart: ``kind`` "bars" (stacked, one bar per category) or "lines"."""

    key: str
    title: str
    kind: str
    categories: list[str]
    series: list[Series]
    y_label: str = ""
    x_label: str = ""
    percent: bool = False
    note: str = ""
    geometry: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(value for series in self.series for value in series.values)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The data table: one row per category, one cell per series."""
        return [
            {
                "category": category,
                "cells": [_format(series.values[index], self.percent) for series in self.series],
            }
            for index, category in enumerate(self.categories)
        ]


def _format(value: float, percent: bool) -> str:
    if percent:
        return f"{value:.0f}%"
    return f"{value:g}" if value != int(value) else str(int(value))


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _y(value: float, top: float) -> float:
    return TOP + PLOT_HEIGHT - (value / top) * PLOT_HEIGHT


def chart_layout(chart: Chart) -> Chart:
    """Fill ``chart.geometry``: axes, ticks, bars or polylines, legend, x labels."""
    for index, series in enumerate(chart.series):
        series.color = series.color or PALETTE[index % len(PALETTE)]
    count = max(len(chart.categories), 1)
    if chart.kind == "bars":
        totals = [
            sum(series.values[index] for series in chart.series)
            for index in range(len(chart.categories))
        ]
    else:
        totals = [value for series in chart.series for value in series.values]
    if chart.percent:
        top = 100.0
    else:
        # Counts: four whole-number steps between the ticks.
        top = float(max(4, math.ceil(_nice_max(max(totals, default=0)) / 4) * 4))
    ticks = [
        {"y": round(_y(top * step / 4, top), 1), "label": _format(top * step / 4, chart.percent)}
        for step in range(5)
    ]
    slot = PLOT_WIDTH / count
    every = max(1, math.ceil(count / MAX_X_LABELS))
    x_labels = [
        {"x": round(LEFT + slot * (index + 0.5), 1), "label": category}
        for index, category in enumerate(chart.categories)
        if index % every == 0
    ]
    bars: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    if chart.kind == "bars":
        width = min(max(slot * 0.7, 1), 96)
        for index, category in enumerate(chart.categories):
            base = 0.0
            for series in chart.series:
                value = series.values[index]
                if value:
                    y_top = _y(base + value, top)
                    bars.append(
                        {
                            "x": round(LEFT + slot * index + (slot - width) / 2, 1),
                            "y": round(y_top, 1),
                            "width": round(width, 1),
                            "height": round(_y(base, top) - y_top, 1),
                            "color": series.color,
                            "title": f"{category} · {series.name}: {_format(value, chart.percent)}",
                        }
                    )
                base += value
    else:
        for series in chart.series:
            points = [
                (round(LEFT + slot * (index + 0.5), 1), round(_y(value, top), 1))
                for index, value in enumerate(series.values)
            ]
            lines.append(
                {
                    "color": series.color,
                    "points": " ".join(f"{x},{y}" for x, y in points),
                    "dots": [{"x": x, "y": y} for x, y in points] if count <= 31 else [],
                }
            )
    chart.geometry = {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": TOP + PLOT_HEIGHT,
        "ticks": ticks,
        "x_labels": x_labels,
        "x_label_y": TOP + PLOT_HEIGHT + 18,
        "x_title_y": HEIGHT - 6,
        "y_title_x": 14,
        "y_title_y": TOP + PLOT_HEIGHT / 2,
        "bars": bars,
        "lines": lines,
    }
    return chart
