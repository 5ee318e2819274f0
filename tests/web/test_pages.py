"""AppTest runs every page on the demo district and checks its key figures against the ETL's exports."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import ROOT, open_page
from streamlit.testing.v1 import AppTest

from monitor.cases import alert_case
from monitor.outputs import exports
from monitor.security.access import ADMIN, AUDITOR, SECURITY, Viewer
from monitor.security.access import PAGES as REGISTRY
from monitor.security.access import ROLES_BY_PAGE as ROLE_PAGES
from monitor.storage import queries

PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py"))


@pytest.fixture
def demo(demo_db, monkeypatch):
    monkeypatch.setenv("MONITOR_DB_URL", demo_db)
    return sa.create_engine(demo_db)


ADMIN_VIEWER = Viewer("admin", ADMIN)
ROLE_USERS = {ADMIN: "admin", SECURITY: "anquan", AUDITOR: "shenji"}


def _app(page: str, viewer: Viewer | None | str = "default", **state) -> AppTest:
    """The app on a page, signed in as `viewer` (default: the administrator whose page it is)."""
    if viewer == "default":
        role = ADMIN if ADMIN in ROLE_PAGES.get(page, (ADMIN,)) else ROLE_PAGES[page][0]
        viewer = Viewer(ROLE_USERS.get(role, "tester"), role)
    return open_page(os.environ["MONITOR_DB_URL"], page, viewer, **state)


def _coverage(engine, level: str) -> pd.DataFrame:
    return exports.coverage_frame(queries.coverage(engine, 2025, level, "990101000000"))


def _registered() -> list[tuple[str, str]]:
    """(file, url path) of every page of the registry app.py builds its navigation from."""
    return [(page.file, page.url_path) for page in REGISTRY]


def test_every_page_file_is_registered_and_has_a_role():
    signing_in = ["0_password.py", "0_second_factor.py", "0_sign_in.py"]  # app.py declares these three itself
    files = [f for f, _ in _registered()]
    assert sorted(files + signing_in) == PAGES
    assert all(f"pages/{f}" in (ROOT / "app.py").read_text(encoding="utf-8") for f in signing_in)
    assert "current.pages()" in (ROOT / "app.py").read_text(encoding="utf-8")  # the menu comes from the registry
    assert set(ROLE_PAGES) == set(files) and all(ROLE_PAGES.values())


def test_url_paths_differ_from_file_routes():
    """A url_path equal to a pages/ file's own route makes a deep link skip app.py under plain `streamlit run`."""
    for _file, path in _registered():
        for page in PAGES:
            assert path != re.sub(r"^\d+_", "", Path(page).stem)


@pytest.mark.parametrize("page", [p for p in PAGES if not p.startswith("0_")])
def test_every_page_runs_on_the_demo(demo, page):
    at = _app(page)
    assert not at.exception, at.exception
    assert not at.error


def test_overview_shows_the_exported_rates(demo):
    at = _app("1_overview.py")
    root = _coverage(demo, "区县").iloc[0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["参保率"] == f"{root['参保率']}%"
    assert metrics["困难群众参保率"] == f"{root['困难群众参保率']}%"
    assert metrics["新生儿参保率"] == f"{root['新生儿参保率']}%"
    assert metrics["待扩面人数"] == f"{len(queries.outreach(demo, 2025)):,}"
    assert metrics["预警人数"] == f"{len(alert_case.alert_list(demo, 2025)):,}"
    assert "较上年" in " ".join(m.value for m in at.markdown)  # the 2024 recompute gives a comparison


def test_map_shows_towns_and_drills_into_a_town(demo):
    at = _app("2_map.py")
    towns = _coverage(demo, "乡镇")
    spec = at.get("vega_lite_chart")[0].proto.spec
    assert spec.count('"Feature"') == len(towns)
    table = at.dataframe[0].value
    assert table["名称"].tolist() == towns["名称"].tolist()
    assert [f"{v:.2f}" for v in table["参保率"]] == towns["参保率"].tolist()

    town = towns.iloc[3]
    at.selectbox(key="drill_990101000000").set_value(town["名称"]).run()
    assert at.session_state["map_parent"] == town["区划代码"]
    villages = _coverage(demo, "村社区")
    own = villages[villages["区划代码"].str[:9] == town["区划代码"][:9]]
    assert at.dataframe[0].value["名称"].tolist() == own["名称"].tolist()
    # The breadcrumb goes back up.
    at.button(key="crumb_990101000000").click().run()
    assert at.session_state["map_parent"] == "990101000000"


def test_map_click_on_a_town_drills_down(demo):
    town = _coverage(demo, "乡镇").iloc[0]["区划代码"]
    at = _app("2_map.py")
    at.session_state["map_990101000000"] = {"selection": {"pick": [{"code": town}]}}
    at.run()
    assert at.session_state["map_parent"] == town


def _map_layers(at: AppTest) -> list[dict]:
    """The map's layers (shapes, then the names' halo and text), each with its rows under "rows"."""
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    named = spec.get("datasets", {})
    return [{**layer, "rows": layer["data"].get("values") or named[layer["data"]["name"]]} for layer in spec["layer"]]


def _map_spec(at: AppTest) -> tuple[dict, dict[str, object]]:
    """The map's colour encoding and each drawn division's plotted value, by code."""
    shapes = _map_layers(at)[0]
    return shapes["encoding"]["color"], {f["code"]: f["value"] for f in shapes["rows"] if f.get("type") == "Feature"}


def test_map_writes_the_names_that_fit_towns_at_the_root_then_villages(demo):
    at = _app("2_map.py")
    shapes, halo, text = _map_layers(at)
    assert shapes["encoding"]["color"]["legend"]["orient"] == "top"  # in view above the map, whatever its height
    towns = _coverage(demo, "乡镇").set_index("区划代码")["名称"]
    labels = {row["code"]: row["name"] for row in text["rows"]}
    assert halo["rows"] == text["rows"] and 15 <= len(labels) < len(towns)  # the smallest towns go unnamed
    assert all(towns[code] == name for code, name in labels.items())
    assert (
        text["encoding"]["text"]["condition"]["test"] == "min(width / datum.across, height / datum.down) >= datum.scale"
    )
    assert text["mark"]["tooltip"] is None  # hovering and clicking a name reach the town beneath it

    town = towns.index[3]
    at.selectbox(key="drill_990101000000").set_value(towns.iloc[3]).run()
    villages = _coverage(demo, "村社区").set_index("区划代码")["名称"]
    named = {row["code"]: row["name"] for row in _map_layers(at)[2]["rows"]}
    assert named and all(code[:9] == town[:9] and villages[code] == name for code, name in named.items())


def test_map_counts_metric_colours_the_towns_by_their_alerts(demo):
    at = _app("2_map.py")
    colour, values = _map_spec(at)
    assert (colour["field"], colour["title"]) == ("band", "参保率（距目标）")  # a rate: its band below the target
    towns = _coverage(demo, "乡镇").set_index("区划代码")
    assert values == pytest.approx({code: float(rate) for code, rate in towns["参保率"].items()}, abs=0.005)

    at.radio(key="map_metric").set_value("预警人数").run()
    assert not at.exception
    colour, values = _map_spec(at)
    assert (colour["field"], colour["title"]) == ("value", "预警人数")  # a count: a sequential scale of the value
    alerts = alert_case.alert_list(demo, 2025)["village_code"]
    town = alerts[alerts != ""].str.slice(0, 9).str.ljust(12, "0")
    expected = {code: int((town == code).sum()) for code in towns.index}
    assert sum(expected.values()) > 0
    assert values == expected
    shown = at.dataframe[0].value.set_index("区划代码")["预警人数"]
    assert shown.to_dict() == expected


def test_outreach_filters_by_town(demo):
    at = _app("3_outreach.py")
    everyone = queries.outreach(demo, 2025)
    assert at.metric[0].value == f"{len(everyone):,}"
    names = queries.coverage(demo, 2025, "乡镇", "990101000000").set_index("code")["name"]
    town = everyone["town_code"].value_counts().index[0]
    at.multiselect(key="outreach_towns").set_value([names[town]]).run()
    assert at.metric[0].value == f"{int((everyone['town_code'] == town).sum()):,}"
    listed = at.dataframe[2].value
    assert set(listed["乡镇"]) == {names[town]}
    assert listed["身份证号"].str.contains(r"^\d{6}\*{8}[\dX]{4}$").all()  # masked on screen


def test_alerts_filter_and_person_detail(demo):
    at = _app("4_alerts.py")
    alerts = alert_case.alert_list(demo, 2025)
    assert at.metric[0].value == f"{len(alerts):,}"
    at.multiselect(key="alert_levels").set_value(["红"]).run()
    assert at.metric[0].value == f"{int((alerts['level'] == '红').sum()):,}"


def test_the_watch_list_tab_and_its_count_on_the_overview(demo):
    watched = queries.watch(demo, 2025)
    assert len(watched) > 0  # the demo has persons close to a line
    at = _app("4_alerts.py")
    table = [d.value for d in at.dataframe if "关注规则" in d.value.columns][0]
    assert len(table) == len(watched) and table["达到比例(%)"].is_monotonic_decreasing
    assert table["身份证号"].str.contains(r"\*{8}").all()  # masked on screen
    town = table["乡镇"].iloc[0]
    at.multiselect(key="alert_towns").set_value([town]).run()
    table = [d.value for d in at.dataframe if "关注规则" in d.value.columns][0]
    assert set(table["乡镇"]) == {town}
    overview = _app("1_overview.py")
    assert {m.label: m.value for m in overview.metric}["临界关注人数"] == f"{len(watched):,}"


def test_alerts_page_pushes_the_filtered_alerts(own_demo_db, monkeypatch):
    monkeypatch.setenv("MONITOR_DB_URL", own_demo_db)
    at = _app("4_alerts.py", viewer=Viewer("测试员", "救助专员"))
    at.multiselect(key="alert_levels").set_value(["红"]).run()
    red = int(at.metric[0].value.replace(",", ""))
    at.button(key="push_button").click().run()
    assert not at.error, at.error
    assert any("推送给民政" in s.value for s in at.success)
    batches = [d.value for d in at.dataframe if "批次" in d.value.columns][0]
    assert batches["人数"].tolist() == [red] and batches["操作人"].tolist() == ["测试员"]
    assert batches["筛选条件"].tolist() == ["等级：红"]
    at.run()
    assert at.metric[4].value == "0"  # nothing red is left to push


def test_data_page_lists_runs_rejects_findings_and_changes(demo):
    at = _app("5_data.py")
    runs = queries.runs(demo)
    assert len(at.dataframe[0].value) == len(runs)
    rejects = queries.rejects(demo)
    assert any(f"共 {len(rejects):,} 行被拒收" in c.value for c in at.caption)
    assert "困难群众身份变动清单" in [s.value for s in at.subheader]


def test_pages_say_when_there_is_no_data(sqlite_url, monkeypatch):
    monkeypatch.setenv("MONITOR_DB_URL", sqlite_url)
    at = _app("1_overview.py")
    assert not at.exception and "尚无数据" in at.info[0].value


def test_without_sign_in_only_the_sign_in_form_shows(demo):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert [t.label for t in at.text_input] == ["用户名", "密码"]
    for page in [p for p in PAGES if not p.startswith("0_")]:  # asking for a page directly shows nothing of it
        at = _app(page, viewer=None)
        assert not at.exception
        assert not at.dataframe and not at.metric and not at.get("vega_lite_chart")
