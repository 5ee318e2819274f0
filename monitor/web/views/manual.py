"""帮助: the user manual's chapters (docs/manual/*.md, one per role, and the operator's), split for the 帮助 page.

Streamlit's st.markdown cannot show an image by a relative path, so a chapter is cut into text parts and pictures:
the page draws the text with st.markdown and each picture with st.image from its file under docs/manual/.
"""

from __future__ import annotations

import re
from pathlib import Path

from monitor.config import PROJECT_ROOT
from monitor.security.access import ADMIN, ROLES

MANUAL = PROJECT_ROOT / "docs" / "manual"
OPERATOR = "运维"  # the operator's chapter (install, backups, upgrades), shown to the system administrator too
IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,4}) ")


def path(name: str) -> Path:
    """The file of a chapter: a role's name, or 运维."""
    if name not in (*ROLES, OPERATOR):
        raise KeyError(f"没有「{name}」的手册章节")
    return MANUAL / f"{name}.md"


def chapter(name: str) -> str:
    """The Markdown of a role's chapter (or of 运维), as it is written in docs/manual/."""
    return path(name).read_text(encoding="utf-8")


def title(name: str) -> str:
    """The chapter's title: its first line, a level-one heading."""
    first = chapter(name).lstrip().split("\n", 1)[0]
    return first[2:].strip() if first.startswith("# ") else name


def chapters_for(role: str) -> list[str]:
    """The chapters a role's 帮助 page shows: its own, and for the system administrator also the operator's."""
    if role not in ROLES:
        return []
    return [role, OPERATOR] if role == ADMIN else [role]


def images(name: str) -> list[Path]:
    """Every picture the chapter shows, as files (whether they exist or not)."""
    return [(MANUAL / target).resolve() for _alt, target in IMAGE.findall(chapter(name))]


def sections(name: str) -> list[tuple[str, Path | None]]:
    """The chapter without its title, in order: (Markdown text, None) and (caption, picture file). Headings are
    moved down two levels, to sit below the page's own header and the chapter's title."""
    text = chapter(name).lstrip()
    if text.startswith("# "):
        text = text.split("\n", 1)[1] if "\n" in text else ""
    parts: list[tuple[str, Path | None]] = []
    start = 0
    for found in IMAGE.finditer(text):
        before = text[start : found.start()]
        if before.strip():
            parts.append((_lower(before.strip("\n")), None))
        parts.append((found.group(1), (MANUAL / found.group(2)).resolve()))
        start = found.end()
    rest = text[start:]
    if rest.strip():
        parts.append((_lower(rest.strip("\n")), None))
    return parts


def _lower(text: str) -> str:
    """Headings two levels down; lines inside code blocks (a shell comment starts with '# ') stay as they are."""
    lines, fenced = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            line = HEADING.sub(lambda m: "#" * (len(m.group(1)) + 2) + " ", line)
        lines.append(line)
    return "\n".join(lines)
