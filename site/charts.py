"""Altair chart builders. Each takes a tidy frame and returns a chart; none reads files or Streamlit state."""

from __future__ import annotations

import altair as alt
import pandas as pd

ROW = 24  # pixels per row of a method axis
REFERENCE_COLOR = "#1f3a93"  # ERM, wherever it is drawn
alt.data_transformers.disable_max_rows()  # pages cap what they draw (tables.shortlist); never fail on size


def sized(chart, rows: int, title: str = ""):
    """Height = ROW pixels per row of the plot area (axes and legend come on top); width = the container's."""
    chart = chart.properties(
        height=max(60, ROW * rows),
        width="container",
        autosize=alt.AutoSizeParams(type="fit-x", contains="padding"),
    )
    return chart.properties(title=title) if title else chart


def heatmap(
    data: pd.DataFrame,
    x: str,
    y: str,
    value: str,
    text: str | None = None,
    title: str = "",
    diverging: bool = False,
    fmt: str = ".3f",
    x_sort=None,
    y_sort=None,
    reverse: bool = False,
    bound: float | None = None,
    legend_format: str | None = None,
) -> alt.Chart:
    """Rectangles coloured by `value` with their number (or `text`) written inside. Diverging scales are
    symmetric around zero and end at `bound` (cells beyond it take the end colour), so one outlier does not
    wash out every other cell."""
    if diverging:
        bound = bound or float(data[value].abs().max() or 0) or 1.0
        scale = alt.Scale(scheme="redblue", domain=[-bound, bound], clamp=True)
    else:
        scale = alt.Scale(scheme="blues", reverse=reverse)
    values = data[value].astype(float)
    if diverging:
        strength = (values.abs() / bound).clip(upper=1)
    else:  # how dark the cell is, 0..1
        span = (values.max() - values.min()) or 1.0
        strength = ((values.max() - values) if reverse else (values - values.min())) / span
    data = data.assign(ink=["white" if s > 0.6 else "black" for s in strength.fillna(0)])
    base = alt.Chart(data).encode(
        x=alt.X(
            f"{x}:O",
            title=x.replace("_", " "),
            sort=x_sort,
            axis=alt.Axis(orient="top", labelAngle=0, labelLimit=200),
        ),
        y=alt.Y(f"{y}:O", title=y.replace("_", " "), sort=y_sort, axis=alt.Axis(labelLimit=200)),
    )
    rect = base.mark_rect().encode(
        color=alt.Color(
            f"{value}:Q",
            scale=scale,
            title=value.replace("_", " "),
            legend=alt.Legend(format=legend_format, orient="bottom") if legend_format else alt.Legend(orient="bottom"),
        ),
        tooltip=[alt.Tooltip(f"{x}:O"), alt.Tooltip(f"{y}:O"), alt.Tooltip(f"{value}:Q", format=".4f")],
    )
    words = base.mark_text(fontSize=11).encode(
        text=alt.Text(f"{text}:N") if text else alt.Text(f"{value}:Q", format=fmt),
        color=alt.Color("ink:N", scale=None),
    )
    return sized((rect + words).resolve_scale(color="independent"), data[y].nunique(), title)


def lines(
    data: pd.DataFrame,
    x: str,
    y: str,
    color: str,
    dash: str | None = None,
    title: str = "",
    x_title: str | None = None,
    y_title: str | None = None,
    rule: float | None = None,
) -> alt.Chart:
    enc = {
        "x": alt.X(f"{x}:Q", title=x_title or x),
        "y": alt.Y(f"{y}:Q", title=y_title or y, scale=alt.Scale(zero=False)),
        "color": alt.Color(f"{color}:N", title=color),
        "tooltip": [color, x, alt.Tooltip(f"{y}:Q", format=".4f")],
    }
    if dash:
        enc["strokeDash"] = alt.StrokeDash(f"{dash}:N", title=dash)
        enc["tooltip"] = [dash, *enc["tooltip"]]
    chart = alt.Chart(data).mark_line(point=data[x].nunique() <= 5).encode(**enc)  # dots on short curves
    if rule is not None:
        chart += alt.Chart(pd.DataFrame({"x": [rule]})).mark_rule(strokeDash=[3, 3], color="gray").encode(x="x:Q")
    chart = chart.properties(height=300, width="container")
    return chart.properties(title=title) if title else chart


def roc(data: pd.DataFrame, reference: str = "erm", title: str = "") -> alt.Chart:
    """ROC curves of a few methods (ID = positive class), the reference (ERM) dashed in dark blue, with the
    chance diagonal and the 95% TPR line."""
    methods = sorted(data["method"].unique(), key=lambda m: (m == reference, m))
    palette = ["#e45756", "#4c78a8", "#f58518", "#54a24b"]
    colors = [REFERENCE_COLOR if m == reference else palette[i % len(palette)] for i, m in enumerate(methods)]
    data = data.assign(line=["ERM (reference)" if m == reference else "method" for m in data["method"]])
    curves = (
        alt.Chart(data)
        .mark_line(strokeWidth=2.5)
        .encode(
            x=alt.X("fpr:Q", title="false positive rate (OOD accepted as ID)", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("tpr:Q", title="true positive rate (ID accepted)", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color(
                "method:N",
                scale=alt.Scale(domain=methods, range=colors),
                legend=alt.Legend(orient="bottom", labelLimit=300, title=None),
            ),
            strokeDash=alt.StrokeDash(
                "line:N", scale=alt.Scale(domain=["method", "ERM (reference)"], range=[[1, 0], [6, 3]]), legend=None
            ),
            tooltip=["method:N", alt.Tooltip("fpr:Q", format=".3f"), alt.Tooltip("tpr:Q", format=".3f")],
        )
    )
    guides = pd.DataFrame({"fpr": [0, 1], "tpr": [0, 1]})
    diagonal = alt.Chart(guides).mark_line(strokeDash=[3, 3], color="gray").encode(x="fpr:Q", y="tpr:Q")
    tpr95 = alt.Chart(pd.DataFrame({"tpr": [0.95]})).mark_rule(strokeDash=[2, 4], color="gray").encode(y="tpr:Q")
    chart = (diagonal + tpr95 + curves).properties(height=340, width="container")
    return chart.properties(title=title) if title else chart


def differences(data: pd.DataFrame, title: str = "") -> alt.Chart:
    """Paired differences (method − reference) per task with 95% CI; the zero line marks 'no difference'."""
    y = alt.Y("task:N", title=None, sort=list(dict.fromkeys(data["task"])), axis=alt.Axis(labelLimit=200))
    color = alt.Color(
        "verdict:N",
        scale=alt.Scale(
            domain=["better", "not separable", "worse", "too few seeds"],
            range=["#2e7d32", "#757575", "#c62828", "#bdbdbd"],
        ),
    )
    tooltip = [
        "family:N",
        "task:N",
        "method:N",
        "reference:N",
        alt.Tooltip("diff:Q", format="+.4f"),
        alt.Tooltip("ci_low:Q", format="+.4f"),
        alt.Tooltip("ci_high:Q", format="+.4f"),
        "n_pairs:Q",
    ]
    base = alt.Chart(data)
    bars = base.mark_rule(strokeWidth=2).encode(
        y=y, x=alt.X("ci_low:Q", title="paired difference (95% CI)"), x2="ci_high:Q", color=color
    )
    dots = base.mark_point(filled=True, size=80, opacity=1).encode(y=y, x="diff:Q", color=color, tooltip=tooltip)
    zero = alt.Chart(pd.DataFrame({"x": [0]})).mark_rule(color="black").encode(x="x:Q")
    return sized(zero + bars + dots, data["task"].nunique(), title)


def gain_bars(profile: pd.DataFrame, title: str = "") -> alt.Chart:
    """A method's gain over ERM per family with its CI (the method page's profile)."""
    base = alt.Chart(profile).encode(y=alt.Y("family:N", title=None, axis=alt.Axis(labelLimit=200)))
    bars = base.mark_bar(opacity=0.7).encode(
        x=alt.X("gain:Q", title="gain over ERM (relative)", axis=alt.Axis(format="+%")),
        color=alt.condition("datum.gain >= 0", alt.value("#2e7d32"), alt.value("#c62828")),
        tooltip=[
            "family:N",
            alt.Tooltip("gain:Q", format="+.2%"),
            alt.Tooltip("ci_low:Q", format="+.2%"),
            alt.Tooltip("ci_high:Q", format="+.2%"),
            "n_tasks:Q",
        ],
    )
    whiskers = base.mark_rule(color="black").encode(x="ci_low:Q", x2="ci_high:Q")
    return sized(bars + whiskers, len(profile), title)
