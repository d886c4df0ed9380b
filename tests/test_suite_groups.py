"""The suite's two xdist processes (tests/conftest.py): a grouping that silently stopped working
(as with pytest 9.2, where xdist's loadgroup renamed nothing) would spread broker tests over both
processes, niced, beside each other."""

from __future__ import annotations

import os

import pytest

from conftest import BACKGROUND_NICE

pytestmark = pytest.mark.skipif(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")) < 2,
                                reason="fewer than two xdist processes")


def test_a_short_test_runs_in_the_background_group_at_low_priority(request: pytest.FixtureRequest) -> None:
    assert request.node.nodeid.endswith("@background"), request.node.nodeid
    want = min(os.getpriority(os.PRIO_PROCESS, os.getppid()) + BACKGROUND_NICE, 19)  # niceness stops at 19
    assert os.getpriority(os.PRIO_PROCESS, 0) >= want


@pytest.mark.timed
def test_a_timed_test_runs_in_the_serial_group_at_the_suites_priority(request: pytest.FixtureRequest) -> None:
    assert request.node.nodeid.endswith("@serial"), request.node.nodeid
    assert os.getpriority(os.PRIO_PROCESS, 0) == os.getpriority(os.PRIO_PROCESS, os.getppid())
