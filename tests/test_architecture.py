"""The layers import one way (README: Architecture).

Every import statement in the installed packages counts, at module level and
inside functions alike: a function-local import is still a dependency, only
a later one.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = {"mpos_cli": REPO / "mpos_cli", "mpos_cli.drivers": REPO / "drivers", "mpos_cli.receipts": REPO / "receipts"}

# The core's flows and the command layer: what the reader layer and the
# receipt layer must never reach up into.
UPPER_LAYERS = (
    "mpos_cli.cli", "mpos_cli.__main__", "mpos_cli.commands", "mpos_cli.payments", "mpos_cli.offline",
    "mpos_cli.recovery", "mpos_cli.records", "mpos_cli.startup", "mpos_cli.settlement", "mpos_cli.seed",
    "mpos_cli.pos", "mpos_cli.gateway", "mpos_cli.journal", "mpos_cli.reports", "mpos_cli.export",
    "mpos_cli.env", "mpos_cli.config", "mpos_cli.till", "mpos_cli.catalogue",
)


def modules() -> dict[str, Path]:
    found = {}
    for package, root in SOURCES.items():
        for path in root.rglob("*.py"):
            if package == "mpos_cli" and path.is_relative_to(REPO / "mpos_cli") and any(
                path.is_relative_to(other) for other in (REPO / "drivers", REPO / "receipts")
            ):
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (anywhere in the file)."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import mod`` imports the module; ``from mod import name`` the module.
            candidates = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
    return targets


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycle():
    edges = graph()
    assert len(edges) > 60  # the whole tree was read
    assert cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_drivers_import_nothing_of_the_core():
    """The reader layer stands alone: its errors and its EMV test material are its own."""
    offending = {
        name: sorted(t for t in targets if not t.startswith("mpos_cli.drivers"))
        for name, targets in graph().items() if name.startswith("mpos_cli.drivers")
    }
    assert {name: targets for name, targets in offending.items() if targets} == {}


def test_receipts_import_nothing_of_the_flows_or_commands():
    offending = {
        name: sorted(t for t in targets if t.startswith(UPPER_LAYERS))
        for name, targets in graph().items() if name.startswith("mpos_cli.receipts")
    }
    assert {name: targets for name, targets in offending.items() if targets} == {}


def test_payments_offline_and_recovery_share_the_records_layer_one_way():
    """offline and recovery sit under the sale flow and beside each other:
    neither imports payments nor the other; all three write through records."""
    edges = graph()
    assert "mpos_cli.payments" not in edges["mpos_cli.offline"] | edges["mpos_cli.recovery"]
    assert "mpos_cli.offline" not in edges["mpos_cli.recovery"]
    assert "mpos_cli.recovery" not in edges["mpos_cli.offline"]
    for flow in ("mpos_cli.payments", "mpos_cli.offline", "mpos_cli.recovery"):
        assert "mpos_cli.records" in edges[flow]


def test_no_private_name_crosses_a_module_boundary():
    """``from x import _name`` and ``x._name`` on an imported project module
    are private names used from outside (tests included)."""
    known = modules()
    leaks = []
    for path in [*known.values(), *(REPO / "tests").rglob("*.py")]:
        tree = ast.parse(path.read_text(), str(path))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("mpos_cli", ".")):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.endswith("_"):
                        leaks.append(f"{path.relative_to(REPO)}: from {node.module} import {alias.name}")
                    imported.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("mpos_cli"):
                        imported.add(alias.asname or alias.name.split(".")[0])
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.endswith("_")
                    and isinstance(node.value, ast.Name) and node.value.id in imported):
                leaks.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert leaks == []


def test_the_till_is_a_ui_layer_beside_the_commands():
    """mpos_cli.till sits under its one command and over the core: it never
    imports a command module, and only commands/till.py imports it."""
    edges = graph()
    till = {name for name in edges if name.startswith("mpos_cli.till")}
    assert till, "the till package was read"
    for name in till:
        assert not any(t.startswith(("mpos_cli.commands", "mpos_cli.cli")) for t in edges[name]), name
    users = {name for name, targets in edges.items() if name not in till and targets & till}
    assert users == {"mpos_cli.commands.till"}
