"""Navigation only: the title, the monitoring year, the last run's status, and the pages."""

import streamlit as st

from monitor import queries
from monitor.ui import cached, engine
from monitor.views.common import years

st.set_page_config(page_title="参保与防返贫监测看板", page_icon=":material/health_and_safety:", layout="wide")

PAGES = [
    st.Page("pages/1_overview.py", title="总览", icon=":material/dashboard:", url_path="home", default=True),
    st.Page("pages/2_map.py", title="参保地图", icon=":material/map:", url_path="coverage-map"),
    st.Page("pages/3_outreach.py", title="扩面名单", icon=":material/checklist:", url_path="outreach-lists"),
    st.Page("pages/4_alerts.py", title="预警", icon=":material/warning:", url_path="alert-list"),
    st.Page("pages/5_data.py", title="数据", icon=":material/database:", url_path="data-runs"),
]

st.sidebar.markdown("### 参保与防返贫监测看板")
known = cached(years)
if known:
    st.sidebar.selectbox("监测年度", known, key="year", format_func=lambda y: f"{y} 年")
st.sidebar.text_input("操作人", key="operator", placeholder="推送、核实、走访记录时必填",
                      help="记入每一次推送、反馈导入、办结和走访结果")
last_ok = queries.latest_run(engine())
last_any = queries.latest_run(engine(), status=None)
if last_ok:
    st.sidebar.caption(f"最近成功运行：{last_ok['finished_at']}（#{last_ok['id']}，{last_ok['year']} 年，"
                       f"截至 {last_ok['as_of']}）")
if last_any and last_any["status"] == "failed":
    st.sidebar.warning(f"最近一次运行失败（{last_any['finished_at']}）：{last_any['message']}")
st.navigation(PAGES).run()
