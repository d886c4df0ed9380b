"""The ``history:`` config section: where alert history lives (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class HistorySettings(BaseModel):
    """``url``: an SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://user:pw@host/db``);
    empty = ``sqlite:///<worker.data_dir>/history.sqlite3``. Give a password by ``url_env`` (the
    name of an environment variable holding the whole URL) rather than in the file."""

    model_config = ConfigDict(extra="forbid")

    url: SecretStr = Field(SecretStr(""), description="SQLAlchemy database URL; empty: SQLite in worker.data_dir")
    url_env: str | None = Field(None, description="environment variable holding the URL (wins over url)")

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: SecretStr) -> SecretStr:
        u = v.get_secret_value().strip()
        if u and not u.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("expected sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB")
        return SecretStr(u)

    def resolve(self, data_dir: str) -> str:
        """The URL to connect to (never log it: it may hold a password)."""
        import os

        if self.url_env:
            u = (os.environ.get(self.url_env) or "").strip()
            if not u:
                raise ValueError(f"history.url_env: environment variable {self.url_env} is not set")
            return u
        u = self.url.get_secret_value()
        if u:
            return u
        return f"sqlite:///{Path(data_dir).resolve() / 'history.sqlite3'}"
