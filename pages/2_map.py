"""参保地图: choropleth with drill-down from the root to villages, a metric picker and the table beside it."""

import streamlit as st

from monitor.outputs import release
from monitor.storage.queries import division_names
from monitor.web import charts, tables
from monitor.web.markup import plain
from monitor.web.ui import audited_download, cached, page_viewer, require_data, root, settings, year
from monitor.web.views import common, coverage_map
from monitor.web.views.common import METRIC_BY_LABEL, band_colours

page_viewer(__file__)
require_data()
y, cfg, top = year(), settings(), root()
names = cached(division_names)
parent = st.session_state.setdefault("map_parent", top)

st.header("参保地图")
trail = coverage_map.breadcrumb(parent, top, names)
crumbs = st.columns(len(trail) + 4)
for i, (code, name) in enumerate(trail):
    with crumbs[i]:
        if st.button(plain(name), key=f"crumb_{code}", disabled=code == parent, width="stretch"):
            st.session_state["map_parent"] = code
            st.rerun()
metric = METRIC_BY_LABEL[st.radio("指标", list(METRIC_BY_LABEL), horizontal=True, key="map_metric")]

rows = coverage_map.with_bands(cached(coverage_map.children, y, parent), metric, cfg)
if rows.empty:
    st.info(f"{plain(names.get(parent, parent))} 下没有下级区划的数据。")
    st.stop()
features, missing = cached(coverage_map.features, rows)
level = rows["level"].iloc[0]
drillable = level != "村社区"

map_column, table_column = st.columns([3, 2])
with map_column:
    if features:
        st.caption(
            f"{plain(names.get(parent, parent))} · {len(rows)} 个{level}" + ("；点击区域查看下级" if drillable else "")
        )
        chart = charts.choropleth(
            features,
            metric,
            band_colours(cfg),
            cfg.colours.get("no_data", "#bdbdbd"),
            height=coverage_map.MAP_HEIGHT,
            labels=coverage_map.labels(features),  # towns at the root, villages once drilled in: those that fit
        )
        event = st.altair_chart(chart, on_select="rerun", key=f"map_{parent}", width="stretch")
        picked = (event or {}).get("selection", {}).get("pick") or []
        if isinstance(picked, list) and picked and drillable:
            code = picked[0].get("code")
            if code and common.level_of(code) == level:
                st.session_state["map_parent"] = code
                st.rerun()
    else:
        st.warning(f"{level}层级缺少边界数据，无法绘制地图；请在数据页上传 boundaries 文件。下表仍列出全部区划。")
    if features and not missing.empty:
        st.caption("以下区划没有边界，未在地图上显示：" + "、".join(plain(n) for n in missing["name"]))
with table_column:
    table = coverage_map.table(rows)
    tables.show(
        table,
        hide_index=True,
        width="stretch",
        height=520,
        column_config={
            c: st.column_config.NumberColumn(format="%.2f") for c in ("参保率", "困难群众参保率", "新生儿参保率")
        },
    )
    audited_download(
        "下载本表 CSV",
        release.csv_export(table, "参保率表 CSV", f"{y} 年；{names.get(parent, parent)} 的{level}"),
        f"参保率_{names.get(parent, parent)}_{level}_{y}.csv",
        "text/csv",
        key="map_csv",
    )
    if drillable:
        options = dict(zip(rows["name"], rows["code"], strict=False))
        chosen = st.selectbox(f"查看{level}的下级", ["—"] + list(options), key=f"drill_{parent}")
        if chosen != "—":
            st.session_state["map_parent"] = options[chosen]
            st.rerun()
