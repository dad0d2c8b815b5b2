"""Server-rendered SVG charts: scaled bars, escaped labels, a text equivalent, no style."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from bastion.web.charts import HEIGHT, Series, bar_chart, line_chart, top_list

SVG = "{http://www.w3.org/2000/svg}"


def _parse(markup: str) -> ElementTree.Element:
    return ElementTree.fromstring(markup)  # noqa: S314 - our own output, well-formed or not


def test_bars_are_scaled_to_the_largest_value() -> None:
    svg = _parse(bar_chart("fails", "Sign-in failures", ["00:00", "01:00", "02:00"], [2, 0, 4]))
    bars = svg.findall(f"{SVG}rect")
    heights = [float(bar.get("height", "")) for bar in bars]
    assert len(bars) == 3
    assert heights[2] == pytest.approx(2 * heights[0])
    assert heights[1] == 0
    # Bars stand on one axis line.
    bottoms = {float(bar.get("y", "")) + float(bar.get("height", "")) for bar in bars}
    assert len(bottoms) == 1 and bottoms.pop() < HEIGHT
    assert [bar.findtext(f"{SVG}title") for bar in bars] == ["00:00: 2", "01:00: 0", "02:00: 4"]


def test_a_chart_is_an_image_with_title_and_text_equivalent() -> None:
    svg = _parse(bar_chart("fails", "Sign-in failures", ["00:00", "01:00"], [3, 1]))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "fails-title fails-desc"
    assert svg.findtext(f"{SVG}title") == "Sign-in failures"
    assert svg.findtext(f"{SVG}desc") == "4 in all. 00:00: 3; 01:00: 1"


def test_an_empty_chart_says_none_and_draws_flat_bars() -> None:
    svg = _parse(bar_chart("none", "Lockouts", ["a", "b"], [0, 0]))
    assert svg.findtext(f"{SVG}desc") == "0 in all. None."
    assert {bar.get("height") for bar in svg.findall(f"{SVG}rect")} == {"0.0"}


def test_labels_and_titles_are_escaped() -> None:
    hostile = '<script>alert(1)</script>" onload="x'
    markup = bar_chart("x", hostile, [hostile], [1]) + top_list(hostile, [(hostile, 5)])
    assert "<script>" not in markup
    assert 'onload="x' not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34; onload=&#34;x" in markup


def test_no_inline_style_is_written() -> None:
    markup = (
        bar_chart("a", "A", ["1", "2"], [1, 2])
        + line_chart("b", "B", ["1", "2"], [Series("one", [1, 2]), Series("two", [2, 0], "b")])
        + top_list("C", [("10.0.0.1", 3)])
    )
    assert "style=" not in markup
    assert "<style" not in markup


def test_labels_are_thinned_to_twelve_at_most() -> None:
    labels = [f"{hour:02d}:00" for hour in range(24)]
    svg = _parse(bar_chart("day", "Day", labels, [1] * 24))
    shown = [text.text for text in svg.findall(f"{SVG}text")]
    assert shown == labels[::2]


def test_line_chart_draws_one_line_per_series_on_one_scale() -> None:
    svg = _parse(
        line_chart("l", "Refusals", ["a", "b"], [Series("one", [0, 4]), Series("two", [2, 2], "b")])
    )
    lines = svg.findall(f"{SVG}polyline")
    assert [line.get("class") for line in lines] == [
        "chart-line chart-line-a",
        "chart-line chart-line-b",
    ]
    first = [tuple(map(float, p.split(","))) for p in lines[0].get("points", "").split()]
    second = [tuple(map(float, p.split(","))) for p in lines[1].get("points", "").split()]
    base = HEIGHT - 24
    assert first[0][1] == base  # zero on the axis
    assert base - second[0][1] == pytest.approx((base - first[1][1]) / 2)
    assert svg.findtext(f"{SVG}desc") == "one: 4 in all (a: 0; b: 4). two: 4 in all (a: 2; b: 2)."


def test_top_list_is_a_table_with_bars_scaled_to_the_first() -> None:
    markup = top_list("Top sources", [("10.0.0.1", 8), ("10.0.0.2", 2)])
    table = ElementTree.fromstring(markup)  # noqa: S314
    assert table.findtext("caption") == "Top sources"
    rows = table.findall("tbody/tr")
    assert [(row.findtext("th"), row.findtext("td")) for row in rows] == [
        ("10.0.0.1", "8"),
        ("10.0.0.2", "2"),
    ]
    widths = [float(m) for m in re.findall(r'width="([\d.]+)"', markup)]
    assert widths == [100.0, 25.0]


def test_an_empty_top_list_says_so() -> None:
    table = ElementTree.fromstring(top_list("Top sources", [], empty="No refusals."))  # noqa: S314
    assert table.findtext("tbody/tr/td") == "No refusals."


def test_mismatched_labels_are_refused() -> None:
    with pytest.raises(ValueError, match="one label per value"):
        bar_chart("x", "X", ["a"], [1, 2])
