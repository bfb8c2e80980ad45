"""Charts of the verdict against ERM: per-task dot plots, the method × family matrix, gain against cost."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

import charts
import verdicts

ERM_LABEL = "erm (reference)"


def _verdict_color(title: str) -> alt.Color:
    shown = [v for v in verdicts.ORDER if v]
    return alt.Color(
        "verdict_label:N",
        title=title,
        scale=alt.Scale(domain=[verdicts.label(v) for v in shown], range=[verdicts.COLORS[v] for v in shown]),
        legend=alt.Legend(orient="bottom", direction="horizontal", columns=2, labelLimit=200, titleLimit=300),
    )


def ci_dots(
    rows: pd.DataFrame, metric: str, higher_is_better: bool = True, baseline: float | None = None, title: str = ""
) -> alt.Chart:
    """Mean with its 95% CI per method, best on top, coloured by the verdict against ERM; ERM's row is named
    and drawn as a diamond, with a dashed line at its mean."""
    rows = rows[rows["mean"].notna()].sort_values(["rank", "method"])
    data = rows.assign(
        verdict_label=rows["verdict"].map(verdicts.label),
        shown=[ERM_LABEL if m == verdicts.BASELINE else m for m in rows["method"]],
        is_erm=rows["method"] == verdicts.BASELINE,
    )[["method", "shown", "mean", "std", "ci_low", "ci_high", "rank", "verdict_label", "is_erm", "n"]]
    direction = "higher is better" if higher_is_better else "lower is better"
    y = alt.Y("shown:N", sort=list(data["shown"]), title=None, axis=alt.Axis(labelLimit=160))
    color = _verdict_color("vs ERM")
    tooltip = [
        alt.Tooltip("method:N"),
        alt.Tooltip("mean:Q", format=".4f"),
        alt.Tooltip("ci_low:Q", format=".4f", title="CI low"),
        alt.Tooltip("ci_high:Q", format=".4f", title="CI high"),
        alt.Tooltip("verdict_label:N", title="vs ERM"),
        alt.Tooltip("n:Q", title="seeds"),
    ]
    x_title = f"{metric}: mean, 95% CI ({direction})"
    base = alt.Chart(data)
    bars = base.mark_rule(strokeWidth=2).encode(
        y=y,
        x=alt.X("ci_low:Q", scale=alt.Scale(zero=False, nice=False, padding=12), title=x_title),
        x2="ci_high:Q",
        color=color,
    )
    dots = base.mark_point(filled=True, opacity=1).encode(
        y=y,
        x="mean:Q",
        color=color,
        shape=alt.condition("datum.is_erm", alt.value("diamond"), alt.value("circle")),
        size=alt.condition("datum.is_erm", alt.value(160), alt.value(80)),
        tooltip=tooltip,
    )
    layers = [bars, dots]
    if baseline is not None and pd.notna(baseline):
        layers.insert(
            0,
            alt.Chart(pd.DataFrame({"erm": [baseline]}))
            .mark_rule(strokeDash=[4, 4], color=charts.REFERENCE_COLOR)
            .encode(x="erm:Q", tooltip=[alt.Tooltip("erm:Q", title="ERM mean", format=".4f")]),
        )
    return charts.sized(alt.layer(*layers), len(data), title)


def robust_bound(values: pd.Series, quantile: float = 0.9) -> float:
    """The colour scale's end: a high quantile of |value|, so a single outlier saturates only itself."""
    finite = values.abs().replace([np.inf, -np.inf], np.nan).dropna()
    return float(finite.quantile(quantile)) if len(finite) and finite.quantile(quantile) > 0 else 1.0


def effect_matrix(cells: pd.DataFrame, methods: list[str], families: list[str], bound: float) -> alt.Chart:
    """Method × family pooled effect against ERM (a fraction, written in %), ▲/▼ where the verdict says
    better/worse."""
    mark = {"better": " ▲", "worse": " ▼"}
    data = cells.assign(
        label=[
            f"{e:+.1%}{mark.get(v, '')}" if pd.notna(e) else "—"
            for e, v in zip(cells["effect"], cells["verdict"], strict=True)
        ]
    )
    return charts.heatmap(
        data.rename(columns={"effect": "pooled_effect"}),
        "family",
        "method",
        "pooled_effect",
        text="label",
        diverging=True,
        x_sort=families,
        y_sort=methods,
        bound=bound,
        legend_format="+.0%",
    )


def cost_scatter(points: pd.DataFrame, title: str = "") -> alt.Chart:
    """Per method of a family: pooled effect (with CI) against cost ×ERM (log scale); ERM sits at (1, 0)."""
    data = points.assign(
        verdict_label=points["verdict"].map(verdicts.label),
        is_erm=points["method"] == verdicts.BASELINE,
    )[["method", "effect", "lo", "hi", "cost", "verdict_label", "is_erm"]]
    x = alt.X(
        "cost:Q", title="cost ×ERM (wall time per run, log scale)", scale=alt.Scale(type="log", nice=False, padding=12)
    )
    color = _verdict_color("vs ERM")
    base = alt.Chart(data)
    whiskers = base.mark_rule(opacity=0.6).encode(x=x, y="lo:Q", y2="hi:Q", color=color)
    dots = base.mark_point(filled=True, opacity=1).encode(
        x=x,
        y=alt.Y("effect:Q", title="pooled effect vs ERM", axis=alt.Axis(format="+%")),
        color=color,
        shape=alt.condition("datum.is_erm", alt.value("diamond"), alt.value("circle")),
        size=alt.condition("datum.is_erm", alt.value(180), alt.value(70)),
        tooltip=[
            "method:N",
            alt.Tooltip("effect:Q", format="+.2%", title="pooled effect"),
            alt.Tooltip("lo:Q", format="+.2%", title="CI low"),
            alt.Tooltip("hi:Q", format="+.2%", title="CI high"),
            alt.Tooltip("cost:Q", format=".2f", title="cost ×ERM"),
            alt.Tooltip("verdict_label:N", title="vs ERM"),
        ],
    )
    # names only where the verdict is not 'not separable': the crowd around ERM has tooltips instead
    named = base.transform_filter(alt.datum.verdict_label != verdicts.label("not separable"))
    names = named.mark_text(align="left", dx=7, fontSize=10).encode(x=x, y="effect:Q", text="method:N")
    zero = (
        alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(color=charts.REFERENCE_COLOR, strokeDash=[4, 4]).encode(y="y:Q")
    )
    chart = (zero + whiskers + dots + names).properties(height=320, width="container")
    return chart.properties(title=title) if title else chart
