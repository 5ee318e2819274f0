"""集中缴费期: progress by day against the target and the last campaign, the weekly bulletin, SMS reminder lists."""

from datetime import date

import streamlit as st

from monitor.cases import reminders
from monitor.outputs import bulletins, release
from monitor.security.access import ADMIN, ENROLLMENT
from monitor.storage import queries
from monitor.storage.queries import division_names
from monitor.web import charts, tables
from monitor.web.markup import plain
from monitor.web.ui import audited_download, cached, engine, page_viewer, require_data, root, settings
from monitor.web.views import campaign, common

viewer = page_viewer(__file__)
require_data()
cfg, top = settings(), root()
when = cached(queries.campaign_period, cfg)
names = cached(division_names)
st.header(f"集中缴费期 · {when.target_year} 年度")
st.caption(
    f"缴费期 {when.start} 至 {when.end}；数据截至 {when.status_day}"
    + ("（进行中）" if when.running else "")
    + f"；目标为应参保人数 × {float(cfg.target_overall):.2f}%。"
)

levels = common.levels_below(top)
every = cached(campaign.progress, cfg)
daily, towns = every[levels[0]], every[levels[1]]
today = daily[daily["day"] == when.status_day].iloc[0]
cols = st.columns(4)
cols[0].metric(
    "已缴费人数",
    f"{int(today['enrolled']):,}",
    delta=None
    if today["previous_enrolled"] != today["previous_enrolled"]
    else f"{int(today['enrolled'] - today['previous_enrolled']):+,} 人",
    help="变化为较上一个集中缴费期的同一天",  # in the help: beside the number it was cut off in a narrow window
)
cols[1].metric("目标完成率", common.percent_text(today["enrolled"], today["target"]))
cols[2].metric("参保率", f"{today['rate']:.2f}%", help="已缴费人数 ÷ 应参保人数")
cols[3].metric(
    "困难群众缴费率",
    "—" if today["vulnerable_rate"] != today["vulnerable_rate"] else f"{today['vulnerable_rate']:.2f}%",
    help="困难群众由资助参保，须达到 100%",
)

chosen = st.selectbox("查看", ["全区", *towns["name"].drop_duplicates().tolist()], key="campaign_place")
curve = daily if chosen == "全区" else towns[towns["name"] == chosen]
st.altair_chart(charts.campaign_curve(curve, str(when.status_day)), width="stretch")
if chosen != "全区":
    code = curve["code"].iloc[0]
    villages = every["村社区"]
    mine = villages[common.inside(villages["code"], code) & (villages["day"] == when.status_day)]
    tables.show(
        mine[["name", "in_scope", "target", "enrolled", "rate", "vulnerable_rate", "previous_enrolled"]].rename(
            columns={
                "name": "村社区",
                "in_scope": "应参保",
                "target": "目标",
                "enrolled": "已缴费",
                "rate": "参保率(%)",
                "vulnerable_rate": "困难群众(%)",
                "previous_enrolled": "上期同日",
            }
        ),
        hide_index=True,
        width="stretch",
    )

st.subheader("进度通报")
on = st.date_input("通报日期", value=when.status_day, min_value=when.start, max_value=when.end, key="bulletin_day")
ranking = campaign.bulletin(engine(), cfg, on, every)
title = f"{when.target_year}年度城乡居民医保集中缴费进度通报"
subtitle = f"截至 {on:%Y年%m月%d日}" + ("" if ranking["change"].isna().all() else "（较上期：一周前）")
shown = bulletins.table(ranking)
lowest = ranking["lowest"]
styled = shown.style.apply(
    lambda row: ["color: #c00000; font-weight: bold" if lowest[row.name] else ""] * len(row), axis=1
).format({"完成率(%)": "{:.2f}", "较上期(百分点)": "{:+.2f}"}, na_rep="")
tables.show(styled, hide_index=True, width="stretch")
st.caption("红色为完成率最低的三个乡镇。")
buttons = st.columns(2)
with buttons[0]:
    audited_download(
        "下载通报（xlsx）",
        release.file_export(bulletins.xlsx(ranking, title, subtitle), "进度通报", str(on), len(ranking)),
        f"进度通报_{on}.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="bulletin_xlsx",
    )
with buttons[1]:
    audited_download(
        "下载打印版（A4，HTML）",
        release.file_export(
            bulletins.printable(ranking, title, subtitle).encode("utf-8"), "进度通报", f"{on} 打印版", len(ranking)
        ),
        f"进度通报_{on}.html",
        "text/html",
        key="bulletin_html",
    )

if viewer.role in (ENROLLMENT, ADMIN):
    st.subheader("短信提醒名单")
    st.caption("未缴费的应参保人员；没有有效手机号的、走访结果为已在外地参保或已死亡/迁出的不发。每批都记录并审计。")
    scope_towns = [c for c in cached(queries.towns).index if viewer.towns is None or c in viewer.towns]
    pick = st.columns(3)
    town = pick[0].selectbox("乡镇", scope_towns, format_func=lambda c: names.get(c, c), key="sms_town")
    village_codes = common.villages_in(names.index.to_series(), town)
    village = pick[1].selectbox(
        "村社区",
        ["全部", *sorted(village_codes)],
        key="sms_village",
        format_func=lambda c: "全部村社区" if c == "全部" else names.get(c, c),
    )
    priorities = pick[2].multiselect(
        "优先级",
        [1, 2, 3],
        key="sms_priorities",
        placeholder="全部",
        format_func={1: "1 困难群众", 2: "2 新生儿", 3: "3 其他"}.get,
    )
    if st.button("生成短信名单", key="sms_button"):
        place = town if village == "全部" else village
        rows, left_out = reminders.sms_batch(engine(), cfg, viewer, place, priorities)
        st.session_state["sms_rows"] = (place, rows, left_out)
    if "sms_rows" in st.session_state:
        place, rows, left_out = st.session_state["sms_rows"]
        st.success(
            plain(
                f"{names.get(place, place)}：{len(rows)} 条短信；未发送："
                + "，".join(f"{k} {v} 人" for k, v in left_out.items())
            )
        )
        tables.show(
            rows.rename(columns={"phone": "手机号", "name": "姓名", "message": "短信内容"}),
            hide_index=True,
            width="stretch",
            height=240,
        )
        audited_download(  # the batch was recorded when it was made (cases.reminders); each download is too
            "下载短信批次 CSV（供短信网关）",
            release.csv_export(
                rows.rename(columns={"phone": "手机号", "name": "姓名", "message": "短信内容"}),
                "短信提醒名单 CSV",
                names.get(place, place),
            ),
            f"短信提醒_{place}_{date.today()}.csv",
            "text/csv",
            key="sms_csv",
        )
