"""No dead code: every undecorated top-level function the package defines is used somewhere
(the package, its tests or benchmarks), unless a public module exports it in `__all__`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gantry_local"


def _names_used(tree: ast.AST) -> set[str]:
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.alias):
            used.add(node.name.rpartition(".")[2])
    return used


def _exported(tree: ast.Module) -> set[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple)) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
    return set()


def _is_public(path: Path) -> bool:
    parts = path.relative_to(PACKAGE).parts
    return not any(p.startswith("_") for p in parts[:-1]) and (
        not parts[-1].startswith("_") or parts[-1] == "__init__.py")


def test_every_function_is_used_or_exported() -> None:
    used: set[str] = set()
    defined: list[tuple[str, int, str]] = []
    for path in sorted([*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py"),
                        *(ROOT / "benchmarks").rglob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        used |= _names_used(tree)
        if not path.is_relative_to(PACKAGE):
            continue
        exported = _exported(tree) if _is_public(path) else set()
        defined += [(str(path.relative_to(ROOT)), node.lineno, node.name) for node in tree.body
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and not node.decorator_list and node.name not in exported]
    assert [d for d in defined if d[2] not in used] == []
