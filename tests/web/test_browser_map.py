"""The map and the overview as a person sees them in a real browser (issue 23): names on the map where they fit, the
legend in view and whole, and overview tiles that cut nothing short, in a wide and a narrow window.

Uses the server and browser of test_browser (a private copy of the demo database for this module); screenshots land
in build/screenshots/."""

from __future__ import annotations

from test_browser import (  # noqa: F401 - the fixtures of the real browser
    SHOTS,
    _open,
    _session_cookie,
    _sign_in,
    browser,
    server,
)

CHART = "[data-testid='stVegaLiteChart']"
# Elements of metric tiles whose text is wider than their box: Streamlit cuts those with an ellipsis.
CUT = (
    "() => [...document.querySelectorAll('[data-testid=stMetric] *')]"
    ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"
)


def _names(page) -> list[dict]:
    """The names written on the map, with their boxes on the page."""
    found = []
    for text in page.locator(f"{CHART} svg .mark-text.role-mark text").all():
        name = text.text_content() or ""
        if name and (box := text.bounding_box()):
            found.append({"name": name, **box})
    return found


def _overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and (b["y"] < a["y"] + a["height"])
    )


def _check_map(page, height: int, suffixes: tuple[str, ...], least: int) -> None:
    page.wait_for_selector(f"{CHART} svg .mark-shape path", timeout=30_000)
    page.wait_for_timeout(1000)
    names = _names(page)
    shown = [n["name"] for n in names]
    assert len(set(shown)) >= least and all(n.endswith(suffixes) for n in shown), shown
    halos, labels = names[: len(names) // 2], names[len(names) // 2 :]  # each name is drawn twice: halo, then text
    assert [n["name"] for n in halos] == [n["name"] for n in labels]
    assert not [(a["name"], b["name"]) for i, a in enumerate(labels) for b in labels[i + 1 :] if _overlap(a, b)]
    chart = page.locator(CHART).first.bounding_box()
    legend = page.locator(f"{CHART} svg .role-legend").first.bounding_box()
    shapes = page.locator(f"{CHART} svg .mark-shape").first.bounding_box()
    assert legend["y"] + legend["height"] <= height, "the legend is below the window's edge"
    assert legend["y"] < shapes["y"], "the legend stands above the map"
    assert legend["x"] >= chart["x"] - 1 and legend["x"] + legend["width"] <= chart["x"] + chart["width"] + 1


def test_the_map_names_towns_then_villages_and_keeps_its_legend_in_view(server, browser):  # noqa: F811
    base, _url = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, least in ((1366, 15), (1024, 8)):
        page = _sign_in(browser, base, "lingdao")
        page.set_viewport_size({"width": width, "height": 768})
        _open(page, "参保地图", "参保地图")
        _check_map(page, 768, ("镇", "乡", "街道"), least)
        page.locator(CHART).first.screenshot(path=str(SHOTS / f"map_names_{width}.png"))
        # a click on a name goes through to its town, as a click beside it does
        town = _names(page)[-1]
        page.mouse.click(town["x"] + town["width"] / 2, town["y"] + town["height"] / 2)
        page.wait_for_selector("text=个村社区", timeout=30_000)
        page.wait_for_timeout(1000)
        assert town["name"] in page.locator("[data-testid='stCaptionContainer']").all_inner_texts()[-1] or (
            town["name"] in page.inner_text("body")
        )
        _check_map(page, 768, ("社区", "村"), 3)
        page.locator(CHART).first.screenshot(path=str(SHOTS / f"map_village_names_{width}.png"))
        page.close()


def test_no_overview_tile_cuts_its_text_short(server, browser):  # noqa: F811
    base, _url = server
    for width in (1366, 1024):
        page = _sign_in(browser, base, "lingdao")
        _session_cookie(page.context)  # set by the page's script just after the sign-in: a reload before it signs out
        page.set_viewport_size({"width": width, "height": 768})
        page.reload()  # the session stays; the page is drawn anew at this width
        page.wait_for_selector("h2:has-text('总览')", timeout=60_000)
        page.wait_for_selector("text=完成率最低的乡镇", timeout=30_000)
        page.wait_for_timeout(1500)
        assert page.evaluate(CUT) == []
        lowest = page.locator("[data-testid='stVerticalBlock']:has(> div :text('完成率最低的乡镇'))").last.inner_text()
        assert lowest.count("%") == 3, lowest  # the three towns, each with its completion
        page.screenshot(path=str(SHOTS / f"overview_{width}.png"))
        page.close()
