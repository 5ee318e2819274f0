"""数据: upload and run a load; run history with per-file counts; rejected rows (a page at a time); findings;
identity changes."""

from pathlib import Path

import streamlit as st

from monitor.config import data_path
from monitor.files.uploads import UploadError, save_uploads
from monitor.load.locks import LockBusy
from monitor.load.operations import load_upload
from monitor.load.pipeline import RunError
from monitor.outputs import exports, release
from monitor.storage import queries
from monitor.web import tables
from monitor.web.markup import plain
from monitor.web.ui import audited_download, cached, engine, operator, page_viewer, require, settings, year
from monitor.web.views.common import FINDING_LABELS

PAGE_ROWS = 500  # rejected rows shown at a time: a big upload rejects millions

page_viewer(__file__)

require("load")
st.header("数据")
db, cfg = engine(), settings()


def _load(folder: Path, run_year: int, accept_shrink: frozenset[str] = frozenset()) -> None:
    """Run the load of an uploaded folder, showing its progress; the folder is archived afterwards (or set aside as
    failed). A run that held a shrunk snapshot (SPEC §3) is remembered with where its folder went, so that the same
    files can be run again with the shrink accepted."""
    st.session_state.pop("held_load", None)
    with st.status("正在运行…", expanded=True) as status:
        try:
            result = load_upload(
                folder,
                cfg,
                db,
                f"页面上传（{operator()}）",
                year=run_year,
                trigger="页面上传",
                user=operator(),
                progress=lambda message: st.text(message),  # plain text: a message may name a file
                accept_shrink=accept_shrink,
            )
        except (RunError, LockBusy) as exc:
            status.update(label=plain(f"运行失败：{exc}"), state="error")
            if isinstance(exc, RunError) and exc.held:
                st.session_state["held_load"] = {
                    "folder": str(exc.folder or folder),
                    "year": run_year,
                    "held": list(exc.held),
                    "message": str(exc),
                }
        else:
            status.update(
                label=f"运行 #{result.run_id} 完成：未参保名单 {result.outreach} 人，预警 {result.alerts} 人",
                state="complete",
            )
            st.cache_data.clear()


with st.expander("上传文件并立即运行", expanded=queries.latest_run(db) is None or "held_load" in st.session_state):
    st.caption(
        "文件按名称前缀识别来源：population、deaths、enrollment、identities、settlements、divisions、boundaries；"
        "支持 csv（UTF-8 或 GBK）、xlsx、GeoJSON/GeoPackage/zip。快照类文件整体替换，结算为增量。"
    )
    uploaded = st.file_uploader("选择文件", accept_multiple_files=True, key="upload_files")
    run_year = st.number_input("监测年度", min_value=2000, max_value=2100, value=year(), step=1, key="upload_year")
    if st.button("运行", type="primary", disabled=not uploaded, key="upload_run"):
        try:
            folder = save_uploads([(f.name, f.getvalue()) for f in uploaded], data_path(cfg) / "uploads", cfg)
        except UploadError as exc:
            st.session_state.pop("held_load", None)
            st.error(plain(f"运行失败：{exc}"))
        else:
            _load(folder, int(run_year))
    held = st.session_state.get("held_load")
    if held:  # the run before held a shrunk snapshot: the same files again, the shrink accepted (and audited)
        notice = st.empty()
        notice.warning(
            f"{held['message']}。若文件确实完整（如人员大批迁出），在此确认即可应用同一批文件，确认记入审计日志。",
            icon="⚠️",
        )
        if st.button(f"确认应用缩小的快照（{'、'.join(held['held'])}）", key="accept_shrink"):
            notice.empty()
            _load(Path(held["folder"]), int(held["year"]), frozenset(held["held"]))

runs = cached(queries.runs)
if runs.empty:
    st.info("尚无运行记录。")
    st.stop()

st.subheader("运行记录")
runs = runs.assign(
    status=runs["status"]
    .map({"ok": "成功", "failed": "失败", "running": "运行中", "interrupted": "中断"})
    .fillna(runs["status"])
)
tables.show(
    runs.rename(
        columns={
            "id": "运行",
            "started_at": "开始",
            "finished_at": "结束",
            "status": "结果",
            "message": "原因",
            "year": "年度",
            "as_of": "截止日",
            "root": "区划",
            "inbox": "文件夹",
            "trigger": "方式",
            "archived_to": "文件现存于",
        }
    ),
    hide_index=True,
    width="stretch",
    height=220,
)
run_id = st.selectbox("查看运行的文件", runs["id"].tolist(), key="run", format_func=lambda r: f"#{r}")
files = cached(queries.run_files, int(run_id))
tables.show(
    files.rename(
        columns={
            "source": "来源",
            "file": "文件",
            "checksum": "SHA-256",
            "rows_read": "读入",
            "rows_loaded": "载入",
            "rows_rejected": "拒收",
        }
    ).drop(columns="run_id"),
    hide_index=True,
    width="stretch",
)

st.subheader("拒收行")
counts = cached(queries.reject_counts)  # counted by the database: the rows themselves are read a page at a time
if counts.empty:
    st.success("没有被拒收的行。")
else:
    by_reason = counts.pivot_table(index="reason", columns="source", values="rows", aggfunc="sum", fill_value=0)
    by_reason.columns.name = None
    tables.show(by_reason.rename_axis("原因"), width="stretch")
    chosen = st.multiselect("原因", sorted(counts["reason"].unique()), key="reasons", placeholder="全部原因")
    reasons = tuple(sorted(chosen))
    total = int(counts["rows"].sum())
    matching = int(counts.loc[counts["reason"].isin(reasons), "rows"].sum()) if reasons else total
    pages = -(-matching // PAGE_ROWS)
    page = 1
    if pages > 1:  # keyed by the filter: another choice of reasons starts again at its first page
        label = f"页（共 {pages:,} 页，每页 {PAGE_ROWS} 行）"
        page = int(st.number_input(label, 1, pages, 1, key=f"rejects_page:{','.join(reasons)}"))
    shown = exports.rejects_frame(cached(queries.rejects, reasons, PAGE_ROWS, (page - 1) * PAGE_ROWS))
    st.caption(f"共 {total:,} 行被拒收，符合所选原因 {matching:,} 行，本页显示 {len(shown):,} 行")
    tables.show(shown, hide_index=True, width="stretch", height=300)
    audited_download(  # every matching row, read only when the button is clicked
        f"下载拒收行 CSV（{matching:,} 行）",
        release.file_export(b"", "拒收行", f"原因 {('、'.join(reasons) or '全部')}", matching),
        "拒收行.csv",
        "text/csv",
        key="rejects_csv",
        make=lambda reasons=reasons: release.csv_bytes(exports.rejects_frame(queries.rejects(db, reasons))),
    )

st.subheader("数据质量发现")
findings = cached(queries.findings, year())
if findings.empty:
    st.success("没有发现问题。")
else:
    findings["问题"] = findings["kind"].map(FINDING_LABELS)
    tables.show(findings["问题"].value_counts().rename_axis("问题").reset_index(name="人数"), hide_index=True)
    kind = st.selectbox("查看", list(findings["问题"].unique()), key="finding_kind")
    part = findings[findings["问题"] == kind]
    tables.show(
        part.rename(columns={"id_number": "身份证号", "name": "姓名", "detail": "说明"})[["身份证号", "姓名", "说明"]],
        hide_index=True,
        width="stretch",
        height=260,
    )

st.subheader("困难群众身份变动清单")
changes = cached(queries.identity_changes)
if changes.empty:
    st.caption("身份名单载入两次以上后，这里列出新增、变更和取消的人员。")
else:
    tables.show(changes["change"].value_counts().rename_axis("变动").reset_index(name="人数"), hide_index=True)
    table = changes.rename(
        columns={
            "id_number": "身份证号",
            "name": "姓名",
            "change": "变动",
            "identity_type_before": "原身份",
            "identity_type_after": "现身份",
        }
    ).drop(columns="run_id")
    tables.show(table, hide_index=True, width="stretch", height=260)
    audited_download(
        "下载变动清单 CSV",
        release.csv_export(table, "身份变动清单", ""),
        "身份变动清单.csv",
        "text/csv",
        key="changes_csv",
    )
