"""Chart geometry for the dashboard, computed here and drawn as inline SVG by the templates.

No chart library and no CDN: payer networks that hold patient data are often closed, and a
few rectangles need none.
"""

SHARE_COLORS = {
    "approved": "#067647",
    "pended": "#b54708",
    "in_review": "#1f5f99",
    "denied": "#b42318",
    "on_time": "#067647",
    "late": "#b42318",
    "open_overdue": "#7a271a",
    "physician_review": "#6941c6",
    "partially_approved": "#dc6803",
}


# Tick steps a reader takes in at a glance; all whole numbers, since the charts count requests.
_STEPS = sorted({1, 2, 3, 4, 5} | {int(m * 10**e) for e in range(1, 10) for m in (1, 2, 2.5, 5)})


def _axis(peak: int) -> tuple[int, int]:
    """(top value, number of steps): whole-number ticks, at most four steps, top >= peak."""
    if peak <= 4:
        return max(1, peak), max(1, peak)
    step = next(s for s in _STEPS if s * 4 >= peak)
    return step * 4, 4


def column_chart(points: list[tuple[str, int]], *, width=640, height=220, label_every=1) -> dict:
    """Vertical bars, one per (label, value), with a y axis of four ticks."""
    left, bottom, top = 36, 34, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    top_value, steps = _axis(max((v for _, v in points), default=0))
    slot = plot_w / max(1, len(points))
    bars = []
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top_value
        bars.append(
            {
                "x": round(left + i * slot + slot * 0.15, 1),
                "y": round(top + plot_h - h, 1),
                "w": round(slot * 0.7, 1),
                "h": round(h, 1),
                "label": label,
                "value": value,
                "show_label": i % label_every == 0,
                "label_x": round(left + i * slot + slot / 2, 1),
            }
        )
    ticks = [
        {"y": round(top + plot_h - plot_h * i / steps, 1), "value": top_value * i // steps}
        for i in range(steps + 1)
    ]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "ticks": ticks,
        "left": left,
        "right": width - 8,
        "baseline": top + plot_h,
        "label_y": height - bottom + 16,
    }


def stacked_rows(rows: list[dict], keys: list[tuple[str, str]], *, width=640, row_h=26) -> dict:
    """Horizontal 100 % bars, one per row ({"label", "counts": {key: n}}), segments per key."""
    label_w, gap = 190, 10
    bar_w = width - label_w - 60
    out = []
    for i, row in enumerate(rows):
        total = sum(row["counts"].get(k, 0) for k, _ in keys)
        x = label_w
        segments = []
        for key, key_label in keys:
            count = row["counts"].get(key, 0)
            w = bar_w * count / total if total else 0
            if w:
                segments.append(
                    {
                        "x": round(x, 1),
                        "w": round(w, 1),
                        "color": SHARE_COLORS.get(key, "#888"),
                        "title": f"{key_label}: {count} of {total} ({round(100 * count / total)} %)",
                        "percent": round(100 * count / total),
                    }
                )
            x += w
        out.append(
            {
                "y": i * (row_h + gap),
                "label": row["label"],
                "total": total,
                "segments": segments,
                "text_y": i * (row_h + gap) + row_h * 0.68,
            }
        )
    return {
        "width": width,
        "height": max(row_h, len(rows) * (row_h + gap)),
        "row_h": row_h,
        "label_w": label_w,
        "total_x": label_w + bar_w + 8,
        "rows": out,
        "legend": [{"label": lbl, "color": SHARE_COLORS.get(k, "#888")} for k, lbl in keys],
    }


def bar_rows(rows: list[tuple[str, float]], *, unit: str = "", width=640, row_h=22) -> dict:
    """Horizontal bars, one per (label, value), scaled to the largest value: long labels read
    better down the side than under narrow columns."""
    label_w, gap = 230, 8
    bar_w = width - label_w - 90
    peak = max((v for _, v in rows), default=0) or 1
    out = []
    for i, (label, value) in enumerate(rows):
        y = i * (row_h + gap)
        w = bar_w * value / peak
        out.append(
            {
                "y": y,
                "w": round(w, 1),
                "label": label,
                "value": value,
                "text_y": y + row_h * 0.7,
                "value_x": round(label_w + w + 6, 1),
            }
        )
    return {
        "width": width,
        "height": max(row_h, len(rows) * (row_h + gap)),
        "row_h": row_h,
        "label_w": label_w,
        "unit": unit,
        "rows": out,
    }
