"""参保率: coverage of every division of a level, from the stored results."""

import streamlit as st

from monitor import exports, queries
from monitor.divisions import levels_below
from monitor.ui import engine, settings

st.header("参保率")
db = engine()
root = queries.root(db, settings().region_code)
year = queries.default_year(db, settings().year)
if queries.latest_run(db) is None:
    st.info("尚无数据。请先运行 `python -m etl run --inbox 文件夹` 载入数据。")
    st.stop()
level = st.radio("层级", levels_below(root), horizontal=True, key="level")
table = exports.coverage_frame(queries.coverage(db, year, level, root))
st.caption(f"{year} 年，{len(table)} 个区划；目标：总体 {float(settings().target_overall):.2f}%，"
           f"困难群众 {float(settings().target_vulnerable):.2f}%，新生儿 {float(settings().target_newborn):.2f}%")
st.dataframe(table, hide_index=True, width="stretch")
st.download_button("下载 CSV", table.to_csv(index=False).encode("utf-8-sig"), file_name=f"参保率_{level}_{year}.csv",
                   mime="text/csv")
