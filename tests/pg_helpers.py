"""A throwaway PostgreSQL server for the tests (the history store's PostgreSQL path).

Fixture ``pg_url`` (session): an SQLAlchemy URL (``postgresql+psycopg://…``) of a database the
tests may use. ``WARNING_TEST_POSTGRES_URL`` set: that server is used as is. Else the PostgreSQL
binaries (``initdb``/``pg_ctl`` in PATH or ``/usr/lib/postgresql/*/bin``; Debian package
``postgresql``) start a private server: data and unix socket in a temporary directory, listening on
127.0.0.1 on a free port, trust authentication, ``fsync=off``; run as user ``postgres`` (via
``runuser``) when the tests run as root. Stopped and removed at the end of the session; its log
is printed on a start failure. Absent binaries skip the PostgreSQL tests with the reason —
except under ``CI=true``, where it is an error (CI installs Debian's ``postgresql``).

:func:`fresh_schema` gives each test an empty schema of its own (``search_path`` in the URL), so
tests never see each other's rows and need no CREATE DATABASE right on an external server.

>>> _pg_version_key(Path("/usr/lib/postgresql/15/bin")) > _pg_version_key(Path("/usr/lib/postgresql/9/bin"))
True
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pytest

ENV_URL = "WARNING_TEST_POSTGRES_URL"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _pg_version_key(p: Path) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in p.parent.name.split("."))
    except ValueError:
        return (0,)


def find_pg_bin() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres`` (newest version first)."""
    cands: list[Path] = []
    w = shutil.which("initdb")
    if w:
        cands.append(Path(os.path.realpath(w)).parent)
    cands += sorted((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")), key=_pg_version_key, reverse=True)
    for d in cands:
        if all((d / b).is_file() and os.access(d / b, os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One private PostgreSQL server (see the module docstring)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        # short path (unix socket names are limited to ~107 bytes); as root: under /tmp, which user
        # postgres can traverse (pytest's own tmp dirs are root-only)
        self.root = Path(tempfile.mkdtemp(prefix="warning-pg-", dir="/tmp" if self.as_root else None))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)

    def start(self) -> str:
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        r = self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                      "--no-locale", "--no-sync")
        if r.returncode:
            raise RuntimeError(f"initdb failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
        r = self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.log), "-w", "-t", "60", "start")
        if r.returncode:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed ({r.returncode}): {r.stderr.strip()}\n{log}")
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as c:
            c.execute("CREATE DATABASE warning_test")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/warning_test"

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of a PostgreSQL database for the tests (see the module docstring)."""
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        yield url
        return
    bindir = find_pg_bin()
    if bindir is None:
        reason = "PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql, or set " + ENV_URL
        if _in_ci():
            pytest.fail(f"{reason} (CI=true: the PostgreSQL path must be tested)")
        pytest.skip(reason)
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.fail("running as root needs runuser to start PostgreSQL as user postgres")
    server = PgServer(bindir)
    try:
        url = server.start()
    except Exception:
        server.stop()
        raise
    try:
        yield url
    finally:
        server.stop()


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A URL whose ``search_path`` is a new empty schema (dropped afterwards)."""
    import sqlalchemy as sa

    name = "t_" + uuid.uuid4().hex[:12]
    eng = sa.create_engine(url)
    try:
        with eng.begin() as c:
            c.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}options={quote(f'-csearch_path={name}')}"
        with eng.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
    finally:
        eng.dispose()
