"""Charts drawn on the server as SVG: no script, nothing from another origin.

Each function returns markup built from escaped parts only (``markupsafe``), so a label
taken from the audit log (an address, a user agent) can never become markup. No ``style``
attribute is written: the default CSP refuses inline style, so every look is a class
styled in ``web/static/css/admin.css``. Each chart is an image to assistive technology
(``role="img"`` with a ``<title>`` and a ``<desc>`` giving the numbers in words).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

WIDTH = 640
HEIGHT = 200
_TOP = 10  # room above the highest bar for its value
_BOTTOM = 24  # room below the axis for the labels
_SIDE = 16  # room left and right for the first and last labels


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a line chart: its name, its CSS class suffix and a value per bucket."""

    name: str
    values: Sequence[int]
    css: str = "a"


def _svg(chart_id: str, title: str, description: str, body: Markup, css: str) -> Markup:
    return Markup(
        '<svg class="chart {css}" id="{id}" viewBox="-{pad} 0 {vw} {h}" role="img" '
        'aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>{body}</svg>'
    ).format(
        css=css,
        id=chart_id,
        pad=_SIDE,
        vw=WIDTH + 2 * _SIDE,
        h=HEIGHT,
        title=title,
        desc=description,
        body=body,
    )


def _label_every(count: int) -> int:
    """Label every n-th bucket so that labels never overlap (about 12 at most)."""
    return max(1, -(-count // 12))


def _axis(labels: Sequence[str], slot: float) -> Markup:
    base = HEIGHT - _BOTTOM
    parts = [
        Markup('<line class="chart-axis" x1="0" y1="{y}" x2="{w}" y2="{y}"/>').format(
            y=base, w=WIDTH
        )
    ]
    step = _label_every(len(labels))
    for index in range(0, len(labels), step):
        parts.append(
            Markup(
                '<text class="chart-label" x="{x:.1f}" y="{y}" text-anchor="middle">{t}</text>'
            ).format(x=slot * index + slot / 2, y=HEIGHT - 8, t=labels[index])
        )
    return Markup("").join(parts)


def _words(labels: Sequence[str], values: Sequence[int]) -> str:
    return "; ".join(f"{label}: {value}" for label, value in zip(labels, values, strict=True))


def bar_chart(chart_id: str, title: str, labels: Sequence[str], values: Sequence[int]) -> Markup:
    """A bar per time bucket, scaled to the largest; an empty chart says "none"."""
    if len(labels) != len(values):
        raise ValueError("a bar chart needs one label per value")
    if not labels:
        raise ValueError("a bar chart needs at least one bucket")
    highest = max(values, default=0)
    slot = WIDTH / len(values)
    plot = HEIGHT - _BOTTOM - _TOP
    bars = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = plot * value / highest if highest else 0.0
        bars.append(
            Markup(
                '<rect class="chart-bar" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
                'height="{h:.1f}"><title>{label}: {value}</title></rect>'
            ).format(
                x=slot * index + slot * 0.1,
                y=HEIGHT - _BOTTOM - height,
                w=slot * 0.8,
                h=height,
                label=label,
                value=value,
            )
        )
    total = sum(values)
    description = f"{total} in all. " + (_words(labels, values) if total else "None.")
    body = Markup("").join(bars) + _axis(labels, slot)
    return _svg(chart_id, title, description, body, "chart-bars")


def line_chart(
    chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series]
) -> Markup:
    """A line per series over the time buckets, all on the scale of the largest value."""
    if not labels:
        raise ValueError("a line chart needs at least one bucket")
    for one in series:
        if len(one.values) != len(labels):
            raise ValueError(f"series {one.name!r} needs one value per label")
    highest = max((max(one.values) for one in series), default=0)
    slot = WIDTH / len(labels)
    plot = HEIGHT - _BOTTOM - _TOP
    lines = []
    for one in series:
        points = " ".join(
            f"{slot * index + slot / 2:.1f},"
            f"{HEIGHT - _BOTTOM - (plot * value / highest if highest else 0.0):.1f}"
            for index, value in enumerate(one.values)
        )
        lines.append(
            Markup(
                '<polyline class="chart-line chart-line-{css}" points="{points}">'
                "<title>{name}</title></polyline>"
            ).format(css=one.css, points=points, name=one.name)
        )
    description = " ".join(
        f"{one.name}: {sum(one.values)} in all ({_words(labels, one.values)})." for one in series
    )
    body = Markup("").join(lines) + _axis(labels, slot)
    return _svg(chart_id, title, description, body, "chart-lines")


def top_list(title: str, rows: Sequence[tuple[str, int]], *, empty: str = "None.") -> Markup:
    """A table of the top entries, each with a bar scaled to the first (the largest).

    A table is its own text equivalent; the bars are decoration (``aria-hidden``).
    """
    caption = Markup('<table class="top-list"><caption>{}</caption>').format(title)
    if not rows:
        return caption + Markup('<tbody><tr><td class="empty">{}</td></tr></tbody></table>').format(
            empty
        )
    highest = max(count for _, count in rows) or 1
    body = [
        Markup(
            '<thead><tr><th scope="col">Source</th><th scope="col">Count</th>'
            '<th scope="col"><span class="visually-hidden">Share</span></th></tr></thead>'
            "<tbody>"
        )
    ]
    for name, count in rows:
        body.append(
            Markup(
                '<tr><th scope="row" class="top-name">{name}</th><td class="top-count">{count}</td>'
                '<td class="top-bar"><svg viewBox="0 0 100 8" preserveAspectRatio="none" '
                'aria-hidden="true" focusable="false" xmlns="http://www.w3.org/2000/svg">'
                '<rect class="chart-bar" x="0" y="0" width="{w:.1f}" height="8"/></svg></td></tr>'
            ).format(name=name, count=count, w=100 * count / highest)
        )
    return caption + Markup("").join(body) + Markup("</tbody></table>")
