"""The house keeps its shape: no module reaches into another's underscore names or another
object's private attributes, and every module says in its first line what it owns. The floors
themselves (arrows down only, no circles, no GUI below the windows) are import-linter contracts in
pyproject.toml, which ``./dev.sh test`` checks with ``lint-imports``."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TypeGuard

import pytest

import fim_tray

PACKAGE = Path(fim_tray.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
# Names every named tuple has (its public API, underscored so as not to clash with fields), and
# the standard library's own underscored functions, on their own modules only.
ALLOWED = {"_replace", "_asdict", "_fields", "_make"}
STDLIB = {("os", "_exit"), ("sys", "_getframe")}
OWN = {"self", "cls"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in ALLOWED


def _not_own(node: ast.expr) -> bool:
    return not (isinstance(node, ast.Name) and node.id in OWN)


def _private_attribute(node: ast.AST) -> TypeGuard[ast.Attribute]:
    if not (isinstance(node, ast.Attribute) and _private(node.attr) and _not_own(node.value)):
        return False
    return not (isinstance(node.value, ast.Name) and (node.value.id, node.attr) in STDLIB)


def _private_getattr(node: ast.AST) -> TypeGuard[ast.Call]:
    """``getattr(x, "_name")`` (and setattr, hasattr): the same reach, spelled as a string."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return False
    if node.func.id not in {"getattr", "setattr", "hasattr"} or len(node.args) < 2:
        return False
    name = node.args[1]
    return (
        isinstance(name, ast.Constant)
        and isinstance(name.value, str)
        and _private(name.value)
        and _not_own(node.args[0])
    )


def reaches_into_privates(source: str) -> list[str]:
    """Each ``from fim_tray... import _name`` and each ``x._name`` where ``x`` is not this
    object (``self``, ``cls``): what one module would take from another's insides."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            found.append(f"l.{node.lineno}: relative import")  # hides which floor it reaches
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fim_tray"):
            found += [f"l.{node.lineno}: imports {a.name}" for a in node.names if _private(a.name)]
        elif _private_attribute(node) or _private_getattr(node):
            found.append(f"l.{node.lineno}: uses {ast.unparse(node)}")
    return sorted(found, key=lambda line: int(line[2 : line.index(":")]))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_uses_another_modules_private_names(path: Path) -> None:
    assert reaches_into_privates(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_says_what_it_owns(path: Path) -> None:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert doc and len(doc.split("\n", 1)[0]) > 20, "a one-line docstring saying what it owns"


def test_the_check_catches_a_reach_into_privates() -> None:
    source = (
        "from fim_tray.scan.hashpool import _HashPool\n"
        "def f(store, self):\n"
        "    self._ok = store._key\n"
        "    return point._replace(x=1)\n"
        "from .store import paths\n"
        "getattr(store, '_lock')\n"
        "getattr(self, '_lock', None)\n"
        "os._exit(1); sys._getframe(); store._exit()\n"
    )
    assert reaches_into_privates(source) == [
        "l.1: imports _HashPool",
        "l.3: uses store._key",
        "l.5: relative import",
        "l.6: uses getattr(store, '_lock')",
        "l.8: uses store._exit",
    ]
