"""The ``dashboard:`` config section: the ops-centre web app (``warning dashboard``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warning.core.signed_records import SourceKey

Role = Literal["viewer", "operator"]


class UserAccount(BaseModel):
    """One account: an argon2 hash of the password (``warning dashboard hash-password``), a role."""

    model_config = ConfigDict(extra="forbid")

    password_hash: str = Field(description="argon2id hash ($argon2id$…), never the password itself")
    role: Role = "viewer"
    display_name: str | None = Field(None, description="shown on the page and written as `by` (default: the user name)")

    @field_validator("password_hash")
    @classmethod
    def _hashed(cls, v: str) -> str:
        if not v.startswith("$argon2"):
            raise ValueError("must be an argon2 hash (make one with `warning dashboard hash-password`), not a password")
        return v


class ProxyAuth(BaseModel):
    """Sign-in by a trusted reverse proxy (SSO in front of the dashboard): the proxy sets ``header``
    to the user name (and ``role_header`` to viewer/operator); requests from other peers are not
    believed. Off when ``header`` is empty."""

    model_config = ConfigDict(extra="forbid")

    header: str = Field("", description="e.g. X-Forwarded-User; empty: off")
    role_header: str = Field("", description="e.g. X-Forwarded-Role; empty: every proxy user gets default_role")
    default_role: Role = "viewer"
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"],
                                       description="peer addresses whose headers are believed")


class DashboardSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="listen address")
    port: int = Field(8080, ge=0, le=65535)
    users: dict[str, UserAccount] = Field(default_factory=dict, description="user name → account")
    proxy_auth: ProxyAuth = Field(default_factory=ProxyAuth)
    session_key: SourceKey | None = Field(None, description="signs session cookies (secret_env / secret_file); "
                                          "none: a random key per process (sign-ins end at restart)")
    session_hours: float = Field(12.0, gt=0, le=24 * 30)
    cookie_secure: bool = Field(False, description="set the Secure flag (behind HTTPS)")
    sign_as: str = Field("dashboard", description="the alerts_feedback source whose key signs the actions")
    group_id: str = Field("warning-dashboard", description="names the dashboard's Kafka client (it keeps its "
                          "positions in the history database, not in a consumer group)")
    worker_metrics: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:6066/metrics"],
                                      description="worker /metrics URLs for feed health")
    series_days: int = Field(7, ge=1, le=60, description="days of hourly series in an alert's detail")
    map: str = Field("", description="GeoJSON of the city's districts; empty: the bundled map of region.code")
