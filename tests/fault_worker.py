"""``warning worker`` that crashes at a failpoint of :mod:`warning.streams.state` (tests only).

    python tests/fault_worker.py FAILPOINT [worker options...]

The first time FAILPOINT is reached (e.g. ``ingest.between_writes``: the events of a batch are
written, its seen-marks not yet) the worker flushes its producer — so whatever it wrote before that
point is on the broker — and exits at once with :data:`EXIT_CODE`, without any shutdown: a kill -9
exactly between two writes.
"""

from __future__ import annotations

import os
import sys

EXIT_CODE = 86


def main() -> None:
    name, args = sys.argv[1], sys.argv[2:]
    import warning.streams.app as streams_app
    from warning.cli import cli
    from warning.streams import state

    apps: list = []
    create_app = streams_app.create_app

    def capture(*a, **kw):
        apps.append(create_app(*a, **kw))
        return apps[-1]

    async def crash() -> None:
        await apps[-1].producer.flush()
        sys.stderr.write(f"failpoint {name}: exiting\n")
        sys.stderr.flush()
        os._exit(EXIT_CODE)

    streams_app.create_app = capture
    state.FAILPOINTS[name] = crash
    cli(["worker", *args], prog_name="warning")


if __name__ == "__main__":
    main()
