"""The seams between components, checked on the source: who may import whom.

Every import counts — top-level, inside functions, under ``TYPE_CHECKING`` — because each one
is a dependency a reader of the code has to follow.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

import onshi

SRC = Path(onshi.__file__).parent
SERVICES = "onshi.central.services"
PRESENCE = "onshi.pki.presence"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module ``source`` imports; ``from a import b`` counts ``a.b`` when that is a module."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    """onshi's modules → the onshi modules they import."""
    paths = {module_name(p): p for p in SRC.rglob("*.py")}
    return {
        name: {
            i
            for i in imports_of(path.read_text(), name, is_package=path.name == "__init__.py")
            if i in paths
        }
        for name, path in paths.items()
    }


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def forbidden_imports(
    modules: dict[str, set[str]], packages: Iterable[str], banned: str
) -> list[str]:
    return sorted(
        f"{name} imports {target}"
        for name, targets in modules.items()
        if any(within(name, p) for p in packages)
        for target in targets
        if within(target, banned)
    )


def cycles(modules: dict[str, set[str]], package: str) -> list[list[str]]:
    """Import cycles among ``package``'s own modules (Tarjan's strongly connected components)."""
    nodes = {n for n in modules if within(n, package) and n != package}
    edges = {n: {t for t in modules[n] if t in nodes and t != n} for n in nodes}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def modules() -> dict[str, set[str]]:
    return graph()


def test_reader_and_terminal_do_not_import_the_central_services(
    modules: dict[str, set[str]],
) -> None:
    assert "onshi.reader.reader" in modules and "onshi.terminal.face" in modules
    assert forbidden_imports(modules, ["onshi.reader", "onshi.terminal"], SERVICES) == []


def test_importing_reader_and_terminal_loads_no_central_service() -> None:
    """Not even through another module (the central client, the reception screen…)."""
    code = (
        "import sys, onshi.reader, onshi.terminal.agent, onshi.terminal.face, "
        "onshi.terminal.reception.app, onshi.terminal.cli\n"
        f"print([m for m in sys.modules if m.startswith({SERVICES!r})])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_the_presence_protocol_has_one_home_all_three_import(
    modules: dict[str, set[str]],
) -> None:
    for user in ("onshi.reader.reader", "onshi.terminal.face", "onshi.central.services.cards"):
        assert PRESENCE in modules[user], user
    # Nobody else spells the signed bytes.
    spelled = [
        name
        for name, path in ((module_name(p), p) for p in SRC.rglob("*.py"))
        if "onshi-card-presence/" in path.read_text() and name != PRESENCE
    ]
    assert spelled == []


def test_no_import_cycle_among_the_central_services(modules: dict[str, set[str]]) -> None:
    assert {"onshi.central.services.central", "onshi.central.services.bulk"} <= set(modules)
    assert cycles(modules, SERVICES) == []


@pytest.mark.parametrize(
    ("packages", "banned"),
    [
        (["onshi.central.domain"], "onshi.central.storage"),  # rules stay pure
        (["onshi.central.domain"], "onshi.central.services"),
        (["onshi.central.services"], "onshi.central.api"),  # use cases know no HTTP
        (["onshi.central.services"], "onshi.central.cli"),
        (["onshi.pki"], "onshi.central"),  # the protocol depends on nobody's service
        (["onshi.pki"], "onshi.reader"),
        (["onshi.pki"], "onshi.terminal"),
    ],
)
def test_layers_point_inwards(
    modules: dict[str, set[str]], packages: list[str], banned: str
) -> None:
    assert forbidden_imports(modules, packages, banned) == []


def test_the_checks_see_what_they_look_for() -> None:
    """The rules are not vacuous: a planted import and a planted circle are both caught."""
    planted = imports_of(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from onshi.central.services.central import Central\n"
        "def f():\n"
        "    from ..services import bulk\n",
        "onshi.central.services.history",
    )
    assert {"onshi.central.services.central", "onshi.central.services.bulk"} <= planted
    fake = {
        "onshi.terminal.face": {"onshi.central.services.clock"},
        "onshi.central.services.central": {"onshi.central.services.bulk"},
        "onshi.central.services.bulk": {"onshi.central.services.history"},
        "onshi.central.services.history": {"onshi.central.services.central"},
    }
    assert forbidden_imports(fake, ["onshi.terminal"], SERVICES) == [
        "onshi.terminal.face imports onshi.central.services.clock"
    ]
    assert cycles(fake, SERVICES) == [
        [
            "onshi.central.services.bulk",
            "onshi.central.services.central",
            "onshi.central.services.history",
        ]
    ]
