"""Chart geometry: whole-number axes, bars inside the plot, 100 % rows."""

import pytest

from reviews.web.charts import bar_rows, column_chart, stacked_rows


@pytest.mark.parametrize(
    ("peak", "top"), [(0, 1), (1, 1), (3, 3), (5, 8), (7, 8), (10, 12), (37, 40), (1000, 1000)]
)
def test_column_axis_reads_in_whole_numbers(peak, top):
    chart = column_chart([("a", peak), ("b", 0)])
    values = [t["value"] for t in chart["ticks"]]
    assert values[0] == 0 and values[-1] == top
    assert all(isinstance(v, int) for v in values)
    tallest = chart["bars"][0]
    assert tallest["y"] >= 10 and tallest["y"] + tallest["h"] == pytest.approx(chart["baseline"])


def test_stacked_rows_fill_the_bar_and_skip_empty_rows_gracefully():
    chart = stacked_rows(
        [
            {"label": "A", "counts": {"x": 1, "y": 3}},
            {"label": "B", "counts": {"x": 0, "y": 0}},
        ],
        [("x", "X"), ("y", "Y")],
    )
    first, empty = chart["rows"]
    assert [s["percent"] for s in first["segments"]] == [25, 75]
    assert sum(s["w"] for s in first["segments"]) == pytest.approx(640 - 190 - 60)
    assert empty["segments"] == [] and empty["total"] == 0


def test_bar_rows_scale_to_the_longest_and_stay_inside_the_chart():
    chart = bar_rows(
        [("Spinal fusion, standard", 30.5), ("ESI, expedited", 0), ("ESI", 61)], width=900
    )
    longest, empty, widest = chart["rows"]
    assert widest["w"] == pytest.approx(900 - 230 - 90)
    assert longest["w"] == pytest.approx(widest["w"] / 2)
    assert empty["w"] == 0
    assert all(r["value_x"] <= 900 - 80 for r in chart["rows"])
    assert chart["height"] >= 3 * chart["row_h"]
    assert bar_rows([])["rows"] == []
