"""Configuration: YAML file, every key overridable by environment (``WARNING_<SECTION>__<KEY>``).

Validated with pydantic at start. A bad value raises :class:`ConfigError` naming the key (dotted
path) and the problem; the CLI turns it into exit code 2.

>>> s = load_settings(None, env={"WARNING_KAFKA__PARTITIONS": "8"})
>>> s.kafka.partitions
8
>>> try:
...     load_settings(None, env={"WARNING_KAFKA__PARTITIONS": "zero"})
... except ConfigError as e:
...     print(e.errors[0][0])
kafka.partitions
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "WARNING_"
ENV_NESTED = "__"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class RegionConfig(_Section):
    code: str = Field("110000", description="province or prefecture-level city division code")

    @field_validator("code")
    @classmethod
    def _known(cls, v: str) -> str:
        from warning.core.registry import Registry

        try:
            Registry.load(v)
        except ValueError as e:
            raise ValueError(str(e)) from None
        return v


class KafkaConfig(_Section):
    broker: str = Field("kafka://127.0.0.1:9092", description="bootstrap URL(s), ';'-separated")
    partitions: int = Field(4, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1, le=16)
    client_id: str = "warning"
    # Tests on Tansu shorten these; production keeps Kafka's usual values.
    session_timeout_s: float = Field(30.0, gt=0)
    heartbeat_interval_s: float = Field(3.0, gt=0)
    rebalance_timeout_s: float = Field(60.0, gt=0)
    producer_max_batch_size: int = Field(16384, ge=1)
    producer_linger_ms: int = Field(5, ge=0)
    max_request_size: int = Field(2 * 1024 * 1024, ge=1024)
    fetch_max_wait_ms: int = Field(1500, ge=1, le=30000, description="longest a consumer fetch waits for data (Faust's default 1500)")

    @field_validator("broker")
    @classmethod
    def _url(cls, v: str) -> str:
        for part in v.split(";"):
            part = part.strip()
            if not part.startswith("kafka://") or ":" not in part[len("kafka://") :]:
                raise ValueError(f"expected kafka://HOST:PORT, got {part!r}")
        return v


class TopicsConfig(_Section):
    hotline: str = "warning.raw.hotline"
    petition: str = "warning.raw.petition"
    public_safety: str = "warning.raw.public_safety"
    events: str = "warning.events"
    deadletter: str = "warning.deadletter"
    alerts: str = "warning.alerts"
    alerts_deadletter: str = "warning.alerts.deadletter"
    feedback: str = "warning.feedback"

    def raw(self) -> dict[str, str]:
        """source → raw topic name."""
        return {"hotline": self.hotline, "petition": self.petition, "public_safety": self.public_safety}


class IngestConfig(_Section):
    dedup_horizon_hours: float = Field(72.0, gt=0, description="exact duplicates by (source, id) within this event-time horizon are dropped")
    dedup_max_ids: int = Field(500_000, ge=1000, description="bound on remembered ids per raw partition")
    max_text_chars: int = Field(20_000, ge=100, description="longer texts are dead-lettered (text_too_long)")
    max_future_minutes: float = Field(10.0, ge=0, description="event time later than the record's Kafka timestamp by more than this is dead-lettered")
    max_age_days: float | None = Field(None, gt=0, description="if set, event time older than the record's Kafka timestamp by more than this is dead-lettered (off by default: replays of old data carry new timestamps)")
    min_event_time: str = Field("2000-01-01T00:00:00+08:00", description="absolute floor for event time")
    batch_size: int = Field(1000, ge=1)
    batch_within_s: float = Field(0.05, gt=0)

    @field_validator("min_event_time")
    @classmethod
    def _time(cls, v: str) -> str:
        from warning.core.timeutil import parse_time

        parse_time(v)
        return v


class WindowsConfig(_Section):
    size_minutes: int = Field(60, ge=1, le=24 * 60)
    rollup_hours: int = Field(24, ge=1, le=24 * 7)
    allowed_lateness_minutes: float = Field(10.0, ge=0)
    idle_flush_seconds: float = Field(60.0, gt=0, description="no events at all for this long (wall clock): event time runs on with the wall clock, so quiet windows close")
    source_idle_seconds: float = Field(300.0, gt=0, description="a feed silent for this long (wall clock) stops holding the watermark back")


class WorkerConfig(_Section):
    data_dir: str = "./data"
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=0, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    app_id: str = "warning"
    agents: list[Literal["ingest", "detect", "deliver"]] = Field(
        default_factory=lambda: ["ingest", "detect", "deliver"],
        description="which stages this worker runs (all by default; split them to scale stages apart)")


class DeliveryConfig(_Section):
    """Retries of webhook deliveries (exponential backoff with full jitter)."""

    retry_base_s: float = Field(0.5, gt=0)
    retry_cap_s: float = Field(60.0, gt=0)
    max_attempts: int | None = Field(None, ge=1, description="None: retry until max_age_s")
    max_age_s: float = Field(6 * 3600.0, gt=0, description="give up (dead-letter) after this long")


class Settings(_Section):
    region: RegionConfig = RegionConfig()
    kafka: KafkaConfig = KafkaConfig()
    topics: TopicsConfig = TopicsConfig()
    ingest: IngestConfig = IngestConfig()
    windows: WindowsConfig = WindowsConfig()
    worker: WorkerConfig = WorkerConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    # Sections owned by later modules (text, detect, alerts, receivers) are free-form here and
    # validated by their own models at start.
    text: dict[str, Any] = Field(default_factory=dict)
    detect: dict[str, Any] = Field(default_factory=dict)
    alerts: dict[str, Any] = Field(default_factory=dict)
    receivers: list[dict[str, Any]] = Field(default_factory=list)
    routes: list[dict[str, Any]] = Field(default_factory=list)


class ConfigError(Exception):
    """Invalid configuration. ``errors`` is a list of (dotted key, message)."""

    def __init__(self, errors: list[tuple[str, str]], source: str = "") -> None:
        self.errors = errors
        self.source = source
        lines = [f"{key}: {msg}" for key, msg in errors]
        super().__init__(("config error in " + source + ":\n  " if source else "config error:\n  ") + "\n  ".join(lines))


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """``WARNING_KAFKA__PARTITIONS=8`` → ``{"kafka": {"partitions": 8}}`` (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        if ENV_NESTED not in name and name[len(ENV_PREFIX):].lower() not in Settings.model_fields:
            continue  # e.g. WARNING_TEST_BROKERS: not a config key
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split(ENV_NESTED)]
        if not all(path):
            continue
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, (dict, list)) and not raw.lstrip().startswith(("{", "[")):
            value = raw
        # Keep strings that look like codes ("110000") as strings when YAML made ints of them.
        node = out
        for p in path[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError([(".".join(path), "conflicting environment overrides")], "environment")
        node[path[-1]] = (raw, value)
    return out


def _merge(base: dict[str, Any], over: dict[str, Any], model: type[BaseModel] | None) -> dict[str, Any]:
    merged = dict(base)
    for key, val in over.items():
        sub = model.model_fields.get(key) if model is not None else None
        sub_model = sub.annotation if sub is not None and isinstance(sub.annotation, type) and issubclass(sub.annotation, BaseModel) else None
        if isinstance(val, dict):
            prev = merged.get(key)
            merged[key] = _merge(prev if isinstance(prev, dict) else {}, val, sub_model)
        else:
            raw, parsed = val
            # A string field keeps the literal text (e.g. "110000", "007").
            ann = sub.annotation if sub is not None else None
            merged[key] = raw if ann is str else parsed
    return merged


def load_settings(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load YAML (or only defaults when ``path`` is None), apply env overrides, validate."""
    env = os.environ if env is None else env
    source = str(path) if path else "defaults"
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError([("<file>", f"config file not found: {p}")], source)
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ConfigError([("<file>", f"not valid YAML: {e}")], source) from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError([("<file>", "top level must be a mapping")], source)
        data = loaded
    overrides = _env_overrides(env)
    if overrides:
        data = _merge(data, overrides, Settings)
        source += " + environment"
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        errs = []
        for err in e.errors():
            key = ".".join(str(x) for x in err["loc"]) or "<root>"
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key (typo?)"
            elif "input" in err and not isinstance(err["input"], (dict, list)):
                msg += f" (got {err['input']!r})"
            errs.append((key, msg))
        raise ConfigError(errs, source) from None


def dump_settings(s: Settings) -> str:
    """The resolved configuration as YAML (secrets from env/files never appear here)."""
    return yaml.safe_dump(s.model_dump(mode="json"), allow_unicode=True, sort_keys=False)
