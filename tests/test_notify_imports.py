"""The notify package has no import cycle: each module imports alone in a fresh interpreter, and
no module of ``warning.notify`` imports (directly or through others, at any depth and also inside
functions) a module that imports it back. The kinds are registered in one wiring module."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from import_graph import GRAPH, MODULES, ROOT, imports_of, reachable

NOTIFY = sorted(m for m in MODULES if m == "warning.notify" or m.startswith("warning.notify."))


def test_no_notify_module_is_imported_back():
    cycles = {m: sorted(x for x in GRAPH[m] if m in reachable(x)) for m in NOTIFY}
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
