"""No Python file of the code base grows past 400 lines: split it by what its parts do."""

from __future__ import annotations

from conftest import ROOT

LIMIT = 400
CHECKED = [
    "monitor/**/*.py",
    "etl/**/*.py",
    "pages/*.py",
    "app.py",
    "tests/**/*.py",
    "bench/**/*.py",
    "migrations/env.py",
]


def python_files() -> list:
    return sorted({path for pattern in CHECKED for path in ROOT.glob(pattern)})


def test_no_python_file_has_more_than_400_lines():
    files = python_files()
    assert any(p.name == "app.py" for p in files) and any(p.parts[-2] == "meta" for p in files)
    sizes = {path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines()) for path in files}
    over = {name: lines for name, lines in sizes.items() if lines > LIMIT}
    assert not over, f"over {LIMIT} lines: " + ", ".join(f"{name} ({lines})" for name, lines in sorted(over.items()))
