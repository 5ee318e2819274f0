"""帮助: the page shows the signed-in role's chapter of the manual (docs/manual/), the system administrator also the
operator's; and every picture a chapter shows is there (docs/manual/screenshots.py makes them)."""

from __future__ import annotations

import pytest
from conftest import ROOT, open_page

from monitor.security.access import ADMIN, ASSISTANCE, AUDITOR, ENROLLMENT, LEADER, ROLES, SECURITY, Viewer
from monitor.web.views import manual

USERS = {
    LEADER: "lingdao",
    ENROLLMENT: "kuomian",
    ASSISTANCE: "jiuzhu",
    ADMIN: "admin",
    SECURITY: "anquan",
    AUDITOR: "shenji",
}
CHAPTERS = (*ROLES, manual.OPERATOR)


@pytest.fixture
def demo(demo_db, monkeypatch):
    monkeypatch.setenv("MONITOR_DB_URL", demo_db)
    return demo_db


@pytest.mark.parametrize("role", ROLES)
def test_the_help_page_shows_the_chapter_of_the_signed_in_role(demo, role):
    at = open_page(demo, "10_help.py", Viewer(USERS[role], role))
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    shown = {s.value for s in at.subheader}
    expected = {manual.title(role)} | ({manual.title(manual.OPERATOR)} if role == ADMIN else set())
    assert shown == expected
    text = "\n".join(m.value for m in at.markdown)
    assert _opening(role) in text  # the chapter's body, not only its title
    assert not any(_opening(other) in text for other in ROLES if other != role)
    if role == ADMIN:
        assert _opening(manual.OPERATOR) in text


def _opening(name: str) -> str:
    """The chapter's first paragraph (whom it is for): different in every chapter."""
    return manual.sections(name)[0][0].split("\n\n")[0]


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_picture_a_chapter_shows_exists(name):
    pictures = manual.images(name)
    assert pictures or name == manual.OPERATOR, f"{name}: a role's chapter shows its tasks"
    screenshots = (ROOT / "docs" / "manual" / "screenshots").resolve()
    for picture in pictures:
        assert picture.parent == screenshots, picture
        assert picture.is_file(), f"{name}.md shows {picture.name}: run .venv/bin/python docs/manual/screenshots.py"


def test_every_screenshot_is_shown_by_a_chapter():
    """A picture no chapter shows any more is left over from an older manual: remove it."""
    shown = {picture.name for name in CHAPTERS for picture in manual.images(name)}
    saved = {path.name for path in (ROOT / "docs" / "manual" / "screenshots").glob("*.png")}
    assert saved <= shown, sorted(saved - shown)


def test_a_chapter_splits_into_text_and_pictures():
    parts = manual.sections(LEADER)
    pictures = [p for _t, p in parts if p is not None]
    assert pictures == manual.images(LEADER)
    texts = [t for t, p in parts if p is None]
    assert not any("![" in t for t in texts)
    assert not any(line.startswith(("# ", "## ", "### ")) for t in texts for line in t.splitlines())
    assert any(line.startswith("#### ") for t in texts for line in t.splitlines())  # 可以看到什么… under the title
    assert manual.title(LEADER) == "领导使用手册"


def test_code_in_a_chapter_stays_as_written():
    """A shell comment in a code block is no heading: the operator's chapter keeps its commands as they are."""
    text = "\n".join(t for t, p in manual.sections(manual.OPERATOR) if p is None)
    assert "```bash\n" in text and ".venv/bin/python -m etl users bootstrap" in text


def test_the_index_names_every_chapter():
    index = (ROOT / "docs" / "manual" / "README.md").read_text(encoding="utf-8")
    for name in CHAPTERS:
        assert f"({name}.md)" in index
        assert manual.path(name).is_file()
    assert manual.chapters_for(ADMIN) == [ADMIN, manual.OPERATOR]
    assert manual.chapters_for(LEADER) == [LEADER] and manual.chapters_for("") == []
