"""Every chart and map as a value: functions that return Altair charts (`alt.Chart`, or a layered one), testable
through `to_dict()`."""

from __future__ import annotations

from typing import Any, TypeVar

import altair as alt
import pandas as pd

from monitor.rules.alert_rules import ALERT_LEVELS
from monitor.web.views.common import BANDS, Metric
from monitor.web.views.coverage_map import LABEL_SIZE

LEVEL_COLOURS = ("level_red", "level_orange", "level_yellow")
FONT = "Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, sans-serif"
# As many legend columns as the map's width holds: a column is as wide as the longest band (低于目标1个百分点以内)
LEGEND_COLUMNS = alt.ExprRef("max(1, floor(width / 155))")


# alt.layer() gives a LayerChart, or a FacetChart when every layer has the same facet encoding.
Layered = alt.LayerChart | alt.FacetChart
ChartT = TypeVar("ChartT", bound=alt.Chart | alt.LayerChart | alt.FacetChart)


def _themed(chart: ChartT) -> ChartT:
    return chart.configure(font=FONT).configure_view(strokeWidth=0)


def choropleth(
    features: list[dict],
    metric: Metric,
    band_colours: list[str],
    no_data: str,
    height: int = 520,
    labels: list[dict] | None = None,
) -> Layered:
    """Divisions coloured by target band (rates) or by a sequential scale (counts); clicking one selects its code.
    The legend stands above the map, in as many rows as the width needs, so it is in view with the map; `labels`
    ({name, lon, lat}, see views.coverage_map.labels) writes the names that fit, with a white halo. Clicks and
    tooltips go through the names to the shape beneath."""
    pick = alt.selection_point(fields=["code"], name="pick", on="click", clear="dblclick")
    tooltip = [
        alt.Tooltip("name:N", title="名称"),
        alt.Tooltip("in_scope:Q", title="应参保人数", format=","),
        alt.Tooltip("enrolled:Q", title="已参保人数", format=","),
        alt.Tooltip("rate:Q", title="参保率(%)", format=".2f"),
        alt.Tooltip("vulnerable_rate:Q", title="困难群众参保率(%)", format=".2f"),
        alt.Tooltip("newborn_rate:Q", title="新生儿参保率(%)", format=".2f"),
        alt.Tooltip("unenrolled:Q", title="未参保人数", format=","),
        alt.Tooltip("alerts:Q", title="预警人数", format=","),
    ]
    if metric.target:
        colour = alt.Color(
            "band:N",
            title=f"{metric.label}（距目标）",
            scale=alt.Scale(domain=list(BANDS), range=band_colours),
            legend=alt.Legend(
                orient="top",
                direction="horizontal",
                columns=LEGEND_COLUMNS,
                labelFontSize=11,
                labelLimit=0,
                titleLimit=0,
            ),
        )
    else:
        colour = alt.condition(
            "datum.value == null",
            alt.value(no_data),
            alt.Color(
                "value:Q",
                title=metric.label,
                scale=alt.Scale(scheme="oranges"),
                legend=alt.Legend(orient="top", direction="horizontal", gradientLength=220, titleLimit=0),
            ),
        )
    shapes = (
        alt.Chart(alt.Data(values=features))
        .mark_geoshape(stroke="#ffffff", strokeWidth=0.8)
        .encode(
            color=colour,
            tooltip=tooltip,
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.55)),
        )
        .add_params(pick)
    )
    layers: list[alt.Chart] = [shapes]
    if labels:
        halo = _names(labels, stroke="#ffffff", strokeWidth=3, strokeOpacity=0.85, strokeJoin="round")
        layers += [halo, _names(labels, color="#1a1a1a")]
    chart = alt.layer(*layers).project(type="mercator").properties(height=height, width="container")
    return _themed(chart)


def _names(labels: list[dict], **paint: Any) -> alt.Chart:
    """The map's names that fit at the size it is drawn (views.coverage_map.labels), without a tooltip of their own,
    so hovering and clicking reach the shape beneath."""
    fits = "min(width / datum.across, height / datum.down) >= datum.scale"
    return (
        alt.Chart(alt.Data(values=labels))
        .mark_text(fontSize=LABEL_SIZE, align="center", baseline="middle", tooltip=None, **paint)
        .encode(longitude="lon:Q", latitude="lat:Q", text=alt.condition(fits, "name:N", alt.value("")))
    )


def town_ranking(rows: pd.DataFrame, target: float, bar_colour: str, below_colour: str) -> Layered:
    """Towns ranked by coverage with the target line."""
    data = rows[["name", "rate"]].dropna().astype({"rate": "float64"})
    data["meets"] = data["rate"] >= target
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "rate:Q",
                title="参保率(%)",
                scale=alt.Scale(domain=[max(0, data["rate"].min() - 3) if len(data) else 0, 100], clamp=True),
            ),
            # every town named: Vega-Lite drops labels it thinks overlap, and CJK glyphs made it drop half of 25
            y=alt.Y("name:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False, labelLimit=160)),
            color=alt.condition("datum.meets", alt.value(bar_colour), alt.value(below_colour)),
            tooltip=[alt.Tooltip("name:N", title="乡镇"), alt.Tooltip("rate:Q", title="参保率(%)", format=".2f")],
        )
    )
    marked = alt.Chart(pd.DataFrame({"target": [target], "label": [f"目标 {target:g}%"]}))
    rule = marked.mark_rule(color="#333333", strokeDash=[4, 3]).encode(x="target:Q")
    label = marked.mark_text(align="left", baseline="top", dx=3, fontSize=11, color="#333333").encode(
        x="target:Q", y=alt.value(0), text="label:N"
    )
    return _themed(alt.layer(bars, rule, label).properties(height=max(200, 22 * len(data)), width="container"))


def alert_levels(counts: pd.DataFrame, colours: list[str]) -> alt.Chart:
    """Alerts by type and level as stacked bars (counts: alert_type, level, count)."""
    return _themed(
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("count:Q", title="人数"),
            y=alt.Y("alert_type:N", title=None),
            color=alt.Color("level:N", title="预警等级", scale=alt.Scale(domain=list(ALERT_LEVELS), range=colours)),
            order=alt.Order("level_rank:Q"),
            tooltip=[
                alt.Tooltip("alert_type:N", title="类型"),
                alt.Tooltip("level:N", title="等级"),
                alt.Tooltip("count:Q", title="人数"),
            ],
        )
        .properties(height=120, width="container")
    )


def funnel(stages: pd.DataFrame, colour: str) -> alt.Chart:
    """The push funnel: triggered → pushed → verified → assisted (stages: stage, count, order)."""
    return _themed(
        alt.Chart(stages)
        .mark_bar(color=colour)
        .encode(
            x=alt.X("count:Q", title="人数"),
            y=alt.Y("stage:N", sort=alt.SortField("order"), title=None),
            tooltip=[alt.Tooltip("stage:N", title="环节"), alt.Tooltip("count:Q", title="人数")],
        )
        .properties(height=150, width="container")
    )


def cost_by_fund(funds: pd.DataFrame) -> alt.Chart:
    """A person's year: what each fund paid and what was left to the person (funds: fund, yuan)."""
    return _themed(
        alt.Chart(funds)
        .mark_bar()
        .encode(
            x=alt.X("yuan:Q", title="金额(元)"),
            y=alt.Y("fund:N", sort=None, title=None),
            color=alt.Color("fund:N", legend=None),
            tooltip=[alt.Tooltip("fund:N", title="项目"), alt.Tooltip("yuan:Q", title="金额(元)", format=",.2f")],
        )
        .properties(height=180, width="container")
    )


def cumulative_cost(points: pd.DataFrame, threshold_yuan: float, trigger_date: str | None) -> Layered:
    """Running cost measure over the year (points: settle_date, cumulative, settlement_id, visit_type, measure)
    with the alert threshold and the trigger date."""
    line = (
        alt.Chart(points)
        .mark_line(point=True, interpolate="step-after")
        .encode(
            x=alt.X("settle_date:T", title="结算日期", axis=alt.Axis(format="%m-%d")),
            y=alt.Y("cumulative:Q", title="累计个人负担(元)"),
            tooltip=[
                alt.Tooltip("settle_date:T", title="结算日期", format="%Y-%m-%d"),
                alt.Tooltip("visit_type:N", title="就诊类型"),
                alt.Tooltip("measure:Q", title="本次个人负担(元)", format=",.2f"),
                alt.Tooltip("cumulative:Q", title="累计(元)", format=",.2f"),
            ],
        )
    )
    layers = [
        line,
        alt.Chart(pd.DataFrame({"y": [threshold_yuan], "label": ["预警阈值"]}))
        .mark_rule(color="#d73027", strokeDash=[5, 4])
        .encode(y="y:Q", tooltip=[alt.Tooltip("y:Q", title="预警阈值(元)", format=",.2f")]),
    ]
    if trigger_date:
        layers.append(
            alt.Chart(pd.DataFrame({"x": [trigger_date]}))
            .mark_rule(color="#555555")
            .encode(x="x:T", tooltip=[alt.Tooltip("x:T", title="触发日期", format="%Y-%m-%d")])
        )
    return _themed(alt.layer(*layers).properties(height=260, width="container"))


def campaign_curve(daily: pd.DataFrame, status_day: str) -> Layered:
    """One division's cumulative payments per day: this campaign, the last one on the same days, the target."""
    rows = daily[["day", "enrolled", "previous_enrolled", "target"]].copy()
    rows["day"] = rows["day"].astype("str")
    this = rows[rows["day"] <= status_day]
    long = pd.concat(
        [
            this.assign(series="本期", value=this["enrolled"]),
            rows.assign(series="上期同日", value=rows["previous_enrolled"]),
        ],
        ignore_index=True,
    )
    lines = (
        alt.Chart(long.dropna(subset=["value"]))
        .mark_line()
        .encode(
            x=alt.X("day:T", title="日期", axis=alt.Axis(format="%m-%d")),
            y=alt.Y("value:Q", title="累计缴费人数"),
            # one legend for both channels (Vega-Lite merges them when they match): with the dashes' legend
            # turned off, it drew none at all
            color=alt.Color(
                "series:N",
                title=None,
                legend=alt.Legend(orient="top"),
                scale=alt.Scale(domain=["本期", "上期同日"], range=["#1f77b4", "#aaaaaa"]),
            ),
            strokeDash=alt.StrokeDash(
                "series:N",
                title=None,
                legend=alt.Legend(orient="top"),
                scale=alt.Scale(domain=["本期", "上期同日"], range=[[1, 0], [4, 3]]),
            ),
            tooltip=[
                alt.Tooltip("day:T", title="日期", format="%Y-%m-%d"),
                alt.Tooltip("series:N", title="序列"),
                alt.Tooltip("value:Q", title="累计人数", format=","),
            ],
        )
    )
    goal = alt.Chart(rows.iloc[[0]].assign(label=lambda r: "目标 " + r["target"].map("{:,.0f} 人".format)))
    target = goal.mark_rule(color="#d73027", strokeDash=[6, 3]).encode(
        y="target:Q", tooltip=[alt.Tooltip("target:Q", title="目标人数", format=",")]
    )
    label = goal.mark_text(align="right", baseline="bottom", dy=-3, fontSize=11, color="#d73027").encode(
        y="target:Q", x=alt.value("width"), text="label:N"
    )  # the dashed line named where it ends, as the two series are in the legend
    return _themed(alt.layer(lines, target, label).properties(height=280, width="container"))
