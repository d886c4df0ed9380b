"""The notify package has no import cycle: each module imports alone in a fresh interpreter, and
no module of ``warning.notify`` imports (directly or through others, at any depth and also inside
functions) a module that imports it back. The kinds are registered in one wiring module."""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "warning"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PKG.rglob("*.py")}
NOTIFY = sorted(m for m in MODULES if m == "warning.notify" or m.startswith("warning.notify."))


def imports_of(name: str) -> set[str]:
    """Modules of ``warning`` that ``name`` imports anywhere in its code (top level or in a function)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in MODULES:  # "warning.notify.base.X" → the module that holds X
                t = t.rpartition(".")[0]
            if t:
                out.add(t)
    out.discard(name)
    return out


def reachable(start: str, graph: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph.get(m, ()))
    return seen


def test_no_notify_module_is_imported_back():
    graph = {m: imports_of(m) for m in MODULES}
    cycles = {m: sorted(x for x in graph[m] if m in reachable(x, graph)) for m in NOTIFY}
    assert {m: c for m, c in cycles.items() if c} == {}


def test_only_wiring_imports_the_kinds():
    kinds = {m for m in NOTIFY if m.startswith("warning.notify.kinds.") and not m.endswith(".common")}
    assert kinds == {f"warning.notify.kinds.{k}" for k in ("generic", "alertmanager", "wecom", "dingtalk")}
    importers = {m for m in MODULES if imports_of(m) & kinds}
    # the sink verifies the generic webhook's signature (a receiver of it, not a sender)
    assert importers - {"warning.notify.sink"} == {"warning.notify.wiring"}, importers
    for k in kinds:  # a kind imports no other kind
        assert not imports_of(k) & (kinds - {k}), k


def test_the_notify_package_imports_nothing_itself():
    assert imports_of("warning.notify") == set()


@pytest.mark.parametrize("chunk", [NOTIFY[i::3] for i in range(3)], ids=["a", "b", "c"])
def test_each_notify_module_imports_alone(chunk):
    def run(m: str) -> tuple[str, int, str]:
        p = subprocess.run([sys.executable, "-c", f"import {m}"], capture_output=True, text=True, cwd=ROOT, timeout=120)
        return m, p.returncode, p.stderr[-2000:]

    with ThreadPoolExecutor(4) as ex:
        bad = [(m, err) for m, rc, err in ex.map(run, chunk) if rc != 0]
    assert bad == []


def test_public_names_of_the_package():
    import warning.notify as n

    for name in n.__all__:
        assert getattr(n, name) is not None
    assert n.Receiver is n.ReceiverBase
    from warning.notify.wiring import KINDS

    assert all(issubclass(cfg, n.ReceiverBase) and issubclass(cls, n.Notifier) for cfg, cls in KINDS.values())
