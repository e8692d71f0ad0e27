"""Imports point one way: the operations layer (ops/) serves every surface, so it imports none."""

from __future__ import annotations

import ast
from pathlib import Path

import streamkeeper.ops

SURFACES = ("cm", "oxm", "hmp", "admin", "console", "app")


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, as an absolute name inside `streamkeeper`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.add(node.module or "")
            else:  # relative to streamkeeper.ops (level 1) or streamkeeper (level 2)
                base = ["streamkeeper", "ops"][: 3 - node.level]
                found.add(".".join(base + ([node.module] if node.module else [])))
                if not node.module:
                    found.update(".".join(base + [alias.name]) for alias in node.names)
    return found


def test_no_ops_module_imports_a_surface():
    offenders = {}
    for path in sorted(Path(streamkeeper.ops.__file__).parent.glob("*.py")):
        bad = sorted(m for m in imported_modules(path)
                     if any(m == f"streamkeeper.{s}" or m.startswith(f"streamkeeper.{s}.") for s in SURFACES))
        if bad:
            offenders[path.name] = bad
    assert not offenders, f"ops/ must not import the surfaces above it: {offenders}"
