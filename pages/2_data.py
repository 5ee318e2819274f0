"""数据: run history with per-file counts, and every rejected row, downloadable."""

import streamlit as st

from monitor import exports, queries
from monitor.ui import engine

st.header("数据")
db = engine()
runs = queries.runs(db)
if runs.empty:
    st.info("尚无运行记录。")
    st.stop()
st.subheader("运行记录")
st.dataframe(runs.rename(columns={"id": "运行", "started_at": "开始", "finished_at": "结束", "status": "结果",
                                  "message": "原因", "year": "年度", "as_of": "截止日", "root": "区划",
                                  "inbox": "文件夹", "trigger": "方式"}), hide_index=True, width="stretch")
run_id = st.selectbox("查看运行的文件", runs["id"].tolist(), key="run")
files = queries.run_files(db, int(run_id))
st.dataframe(files.rename(columns={"source": "来源", "file": "文件", "checksum": "SHA-256", "rows_read": "读入",
                                   "rows_loaded": "载入", "rows_rejected": "拒收"}).drop(columns="run_id"),
             hide_index=True, width="stretch")
st.subheader("拒收行")
rejects = exports.rejects_frame(queries.rejects(db))
reasons = sorted(rejects["原因"].unique())
chosen = st.multiselect("原因", reasons, default=reasons, key="reasons")
shown = rejects[rejects["原因"].isin(chosen)]
st.caption(f"共 {len(rejects)} 行被拒收，显示 {len(shown)} 行")
st.dataframe(shown, hide_index=True, width="stretch")
st.download_button("下载拒收行 CSV", shown.to_csv(index=False).encode("utf-8-sig"), file_name="拒收行.csv",
                   mime="text/csv")
