"""docs/architecture.md maps every SPEC section to the code that implements it, and the map is current."""

from __future__ import annotations

import ast
import re

import pytest
from conftest import ROOT

DOC = ROOT / "docs" / "architecture.md"
HEADING = "## Where each SPEC section lives"
SECTIONS = range(2, 12)  # §2 to §11


def spec_map(text: str) -> list[tuple[str, list[str]]]:
    """(first cell, backticked entries of the second cell) of each body row of the table under the heading."""
    lines = text.splitlines()
    if HEADING not in lines:
        pytest.fail(f"docs/architecture.md has no section headed {HEADING!r}", pytrace=False)
    rows = []
    for line in lines[lines.index(HEADING) + 1 :]:
        if line.startswith("#"):
            break
        if not line.lstrip().startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append(cells)
    body = [r for r in rows[1:] if not all(set(c) <= set(":- ") for c in r)]  # past the header and its rule
    return [(cells[0], re.findall(r"`([^`]+)`", cells[1]) if len(cells) > 1 else []) for cells in body]


def top_level_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                names |= {f"{node.name}.{n}" for n in top_level_names(ast.Module(body=node.body, type_ignores=[]))}
        elif isinstance(node, ast.Assign):
            names |= {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def problems(rows: list[tuple[str, list[str]]]) -> list[str]:
    found, out = set(), []
    for section, entries in rows:
        numbers = re.findall(r"§(\d+)", section)
        found |= {int(n) for n in numbers}
        if not numbers:
            out.append(f"row {section!r}: the first column names no § section")
        if not entries:
            out.append(f"{section}: no backticked path")
        for entry in entries:
            path, _, name = entry.partition("::")
            target = ROOT / path
            if not target.exists():
                out.append(f"{section}: `{entry}`: no such path")
            elif name and (target.suffix != ".py" or name not in top_level_names(ast.parse(target.read_bytes()))):
                out.append(f"{section}: `{entry}`: {path} defines no top-level {name}")
    out += [f"§{n}: no row" for n in SECTIONS if n not in found]
    return out


def test_the_checker_reads_a_table_and_finds_what_is_wrong():
    text = "\n".join(
        [
            "# A",
            HEADING,
            "",
            "| SPEC section | Code |",
            "|---|---|",
            "| §2 Sources | `monitor/files/sources.py`, `monitor/rules/rates.py::rate_hundredths` |",
            "| §3 Nowhere | `monitor/nowhere.py` |",
            "| §4 Wrong name | `monitor/rules/rates.py::no_such_function` |",
            "",
            "## Next",
            "| §5 elsewhere | `app.py` |",
        ]
    )
    rows = spec_map(text)
    assert [s for s, _ in rows] == ["§2 Sources", "§3 Nowhere", "§4 Wrong name"]
    found = problems(rows)
    assert "§3 Nowhere: `monitor/nowhere.py`: no such path" in found
    assert any("no_such_function" in p for p in found) and not any("rate_hundredths" in p for p in found)
    assert [p for p in found if p.endswith("no row")] == [f"§{n}: no row" for n in range(5, 12)]


def test_every_spec_section_maps_to_code_that_exists():
    found = problems(spec_map(DOC.read_text(encoding="utf-8")))
    assert not found, "docs/architecture.md, " + HEADING + ":\n" + "\n".join(found)
