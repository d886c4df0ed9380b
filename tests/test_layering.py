"""Arrows run one way: the core and the detectors import nothing from the layers above them, and
no module of the package is imported back by what it imports (a cycle), counting imports inside
functions too; imports only for type checkers (``if TYPE_CHECKING:``) do not count."""

from __future__ import annotations

from import_graph import GRAPH, MODULES, reachable

ABOVE_CORE = ("warning.config", "warning.streams", "warning.backtest", "warning.notify", "warning.commands",
              "warning.cli", "warning.demo", "warning.sim")


def test_core_and_models_import_nothing_above_them() -> None:
    bad = {m: sorted(x for x in reachable(m) if x.startswith(ABOVE_CORE))
           for m in MODULES if m.startswith(("warning.core", "warning.models"))}
    assert {m: v for m, v in bad.items() if v} == {}


def test_no_import_cycles() -> None:
    cycles = {m: sorted(x for x in GRAPH[m] if m in reachable(x)) for m in MODULES}
    assert {m: c for m, c in cycles.items() if c} == {}
