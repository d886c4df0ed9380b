"""Session-wide real Kafka brokers for the integration tests.

Fixtures:

* ``broker`` — parametrized over the selected brokers (ids ``tansu`` / ``apache``); yields a
  running broker with ``.kind`` ("tansu" | "apache"), ``.bootstrap`` ("127.0.0.1:PORT") and
  ``.url`` ("kafka://127.0.0.1:PORT"). One instance per kind for the whole session: use unique
  topic names (``kafka_helpers.unique_topic``).
* ``tansu`` — the session's Tansu broker only (the same instance as ``broker[tansu]``).

``WARNING_TEST_BROKERS`` (comma list, default ``tansu,apache``) selects the kinds. Apache Kafka is
skipped with the reason when Java/Maven are missing — except under ``CI=true``, where a selected
broker that cannot run is an error. Broker logs go to pytest's temporary directory
(``pytest --basetemp`` or ``/tmp/pytest-of-$USER/``), under ``brokers*/``.

Two processes (pytest-xdist, ``-n 2 --dist loadgroup`` in pyproject's addopts): the tests that
start brokers, workers or services, are marked ``slow`` or ``timed`` (a wall-clock bound) run one
after another in one process, in file order, as without xdist; every other test runs in the second
process at a lower CPU priority (``nice``), in the time the first one waits. ``-n 0`` runs
everything in one process.
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from warning.brokers import ApacheKafka, BrokerProcess, EmbeddedBroker, apache_available
from kafka_helpers import in_ci
from pg_helpers import pg_url  # noqa: F401  (PostgreSQL for the history store tests)

BROKER_KINDS = ("tansu", "apache")
#: fixtures that mean a real broker: such tests run in the serial group
BROKER_FIXTURES = {"broker", "tansu", "apache"}
#: niceness of the process that runs the short, self-contained tests beside the serial ones
BACKGROUND_NICE = 10


def _serial(item: pytest.Item) -> bool:
    if any(item.get_closest_marker(m) for m in ("integration", "slow", "timed")):
        return True
    return bool(BROKER_FIXTURES & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put each test in the ``serial`` or the ``background`` xdist group (module docstring)."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group("serial" if _serial(item) else "background"))


_niced = False


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under xdist, the process running the background group lowers its CPU priority once, so
    that the serial group's workers and brokers keep the machine's cores when they need them."""
    global _niced
    # (with one xdist process, the background group would run first and leave the serial one niced)
    if _niced or int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")) < 2:
        return
    group = item.get_closest_marker("xdist_group")  # set at collection: not decided again per test
    if group is not None and group.args[0] == "background":
        os.nice(BACKGROUND_NICE)
        _niced = True


def _selected_kinds() -> list[str]:
    raw = os.environ.get("WARNING_TEST_BROKERS", "tansu,apache")
    kinds = [k.strip().lower() for k in raw.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in BROKER_KINDS]
    if unknown:
        raise pytest.UsageError(
            f"WARNING_TEST_BROKERS: unknown broker {unknown}; choose from {','.join(BROKER_KINDS)}"
        )
    return list(dict.fromkeys(kinds))


def _broker_params() -> list[object]:
    return [
        pytest.param(k, id=k, marks=[pytest.mark.apache] if k == "apache" else [])
        for k in _selected_kinds()
    ]


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """The session's embedded Tansu broker."""
    log = tmp_path_factory.mktemp("brokers") / "tansu.log"
    with EmbeddedBroker(log_path=log) as b:
        yield b


@pytest.fixture(scope="session", params=_broker_params())
def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrokerProcess]:
    """A running broker of each selected kind (see the module docstring)."""
    kind: str = request.param
    if kind == "tansu":
        yield request.getfixturevalue("tansu")
        return
    ok, reason = apache_available()
    if not ok:
        if in_ci():
            pytest.fail(f"{reason} (CI=true and WARNING_TEST_BROKERS selects apache)")
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("brokers-apache")
    b = ApacheKafka(state_dir=d / "state", log_path=d / "kafka.out")
    b.start()
    try:
        yield b
    finally:
        b.stop()
