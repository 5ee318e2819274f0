"""Pages hold no SQL and no rules: app.py and pages/*.py reach the data only through monitor.web."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

FORBIDDEN = ("sqlalchemy", "monitor.storage.store", "monitor.rules")


def imported(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, dotted name) of every module, and every name taken from a module, that the file imports."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append((node.lineno, node.module))
            names += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return names


def forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def violations(path: Path) -> list[str]:
    found = {}
    for line, name in imported(ast.parse(path.read_text(encoding="utf-8"))):
        if forbidden(name):
            found.setdefault(line, name)  # `from monitor.rules.x import y`: report the module once
    return [f"{path.relative_to(ROOT).as_posix()}:{line} imports {name}" for line, name in sorted(found.items())]


def test_the_import_check_sees_each_form():
    tree = ast.parse(
        "import sqlalchemy as sa\nfrom monitor.storage import store\nfrom monitor import rules\n"
        "from monitor.rules.divisions import level_of\nfrom monitor.storage import queries\nimport monitor.web.ui\n"
    )
    assert [n for _, n in imported(tree) if forbidden(n)] == [
        "sqlalchemy",
        "monitor.storage.store",
        "monitor.rules",
        "monitor.rules.divisions",
        "monitor.rules.divisions.level_of",
    ]


def test_pages_import_neither_sqlalchemy_nor_the_store_nor_the_rules():
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    assert len(files) > 1
    found = [v for path in files for v in violations(path)]
    assert not found, "pages must go through monitor.web:\n" + "\n".join(found)
