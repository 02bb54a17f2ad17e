"""The house stays easy to walk (ARCHITECTURE.md): one folder per step of the data's way,
no import cycles, no module past ~500 lines, no production code that names a test."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"
#: what the root of the package may hold besides the step folders: what every step shares
SHARED_AT_ROOT = {
    "__init__.py", "__main__.py", "errors.py", "model.py", "settings.py", "targets.py",
    "associations.py", "object_types.py", "clock.py", "gc_pause.py", "py.typed",
}
STEP_FOLDERS = {
    "loading", "generate", "planning", "identity", "applying", "state", "hubspot",
    "emulator", "export", "workflow", "cli", "schemas", "templates",
}
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of the package ``name`` imports, at the top or inside a function."""
    tree = ast.parse(path.read_text("utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("reconciler"):
                found.add(target)
    return found


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    # a package's __init__ importing its own modules is how it re-exports, not a cycle
    for name in graph:
        graph[name] = {d for d in graph[name] if not d.startswith(name + ".")}
    cycles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def connect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            connect(name)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("name", sorted(_modules()))
def test_every_module_is_short(name: str) -> None:
    lines = len(_modules()[name].read_text("utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by concept"


def test_the_root_holds_only_what_every_step_shares() -> None:
    entries = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"}
    assert entries - SHARED_AT_ROOT - STEP_FOLDERS == set()


def test_no_production_code_names_a_test() -> None:
    offenders = [
        str(path.relative_to(PACKAGE.parent)) for path in PACKAGE.rglob("*.py")
        if any(word in path.read_text("utf-8") for word in ("pytest", "import tests", "from tests"))
    ]
    assert not offenders


def test_the_planner_talks_to_no_portal_and_writes_no_file() -> None:
    """``planning/`` is pure (ARCHITECTURE.md): the reads of the portal it needs are
    ``workflow``'s, which hand it plain data. It may use these modules of the package (the
    loading ones: to put a finding on its line), and no module of the standard library or
    beyond that reaches a file, a process or the network."""
    modules = _modules()
    allowed = {
        "reconciler.model", "reconciler.errors", "reconciler.associations",
        "reconciler.object_types", "reconciler.settings", "reconciler.targets",
        "reconciler.state.model", "reconciler.state.schema_ids", "reconciler.state.renames",
        # the marker properties' format (names and values; no I/O)
        "reconciler.identity.markers", "reconciler.identity.applied_digest",
        "reconciler.loading.schema_references", "reconciler.loading.files",
        "reconciler.loading.friendly", "reconciler.loading.issues",
        "reconciler.loading.yaml_positions", "reconciler.loading.yamlfile",
    }
    forbidden = {"os", "tempfile", "shutil", "socket", "subprocess", "httpx", "urllib",
                 "http", "io", "fcntl", "filelock"}
    offenders: dict[str, list[str]] = {}
    for name, path in modules.items():
        if not name.startswith("reconciler.planning"):
            continue
        bad = {m for m in _imports(name, path, modules)
               if m not in allowed and not m.startswith("reconciler.planning")}
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                bad |= {a.name for a in node.names if a.name.split(".")[0] in forbidden}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                if node.module.split(".")[0] in forbidden:
                    bad.add(node.module)
        if bad:
            offenders[name] = sorted(bad)
    assert not offenders, offenders
