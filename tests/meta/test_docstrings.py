"""Every module of monitor/ says what it is for in a module docstring."""

from __future__ import annotations

import ast

from conftest import ROOT


def test_every_monitor_module_has_a_docstring():
    modules = sorted((ROOT / "monitor").rglob("*.py"))
    assert modules
    bare = [
        path.relative_to(ROOT).as_posix()
        for path in modules
        if not (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").strip()
    ]
    assert not bare, "modules without a docstring: " + ", ".join(bare)
