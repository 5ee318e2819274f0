"""Navigation only: the title, the pages, and the last run's status."""

import streamlit as st

from monitor import queries
from monitor.ui import engine

st.set_page_config(page_title="参保与防返贫监测看板", layout="wide")

PAGES = [
    st.Page("pages/1_coverage.py", title="参保率", url_path="coverage-rates", default=True),
    st.Page("pages/2_data.py", title="数据", url_path="data-runs"),
]

st.sidebar.title("参保与防返贫监测看板")
last_ok = queries.latest_run(engine())
last_any = queries.latest_run(engine(), status=None)
if last_ok:
    st.sidebar.caption(f"最近成功运行：{last_ok['finished_at']}（{last_ok['year']} 年，截至 {last_ok['as_of']}）")
if last_any and last_any["status"] == "failed":
    st.sidebar.warning(f"最近一次运行失败：{last_any['message']}")
st.navigation(PAGES).run()
