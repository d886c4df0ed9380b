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

Sections are typed by the modules that own them and composed here: ``detect``/``alerts``
(:mod:`warning.core.detect_config`), ``text`` (:class:`~warning.core.text.enrich.TextConfig`),
``ingest`` (:class:`~warning.core.ingest.IngestSettings`), ``feeds`` (:mod:`warning.core.feeds`:
built-in feeds, entries given here replace or add feeds by name), ``receivers`` (a union on
``kind``, :mod:`warning.notify.wiring`) and ``routes`` (:mod:`warning.notify.router`).

>>> s = load_settings(None, env={"WARNING_DETECT__WARMUP_HOURS": "12", "WARNING_FEEDS__GRID__TOPIC": "x.grid"})
>>> s.detect.warmup_hours, s.raw_topics()["grid"], sorted(s.feeds)
(12.0, 'x.grid', ['grid', 'hotline', 'petition', 'public_safety'])
"""

from __future__ import annotations

import os
import types
import typing
from pathlib import Path
from typing import Any, Literal, Mapping, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from warning.core.detect_config import AlertSettings, DetectSettings
from warning.core.feeds import Feed, default_feeds
from warning.core.ingest import KAFKA_HEADROOM_BYTES, IngestSettings
from warning.core.text.enrich import TextConfig
from warning.core.alert_feedback import AlertFeedbackSettings
from warning.core.text.feedback_guard import FeedbackSettings
from warning.dashboard.settings import DashboardSettings
from warning.history.settings import HistorySettings
from warning.models.registry import check as check_detectors
from warning.notify.router import Route, check_routing
from warning.notify.wiring import KINDS, ReceiverConfig
from warning.validation import ConfigError, dotted_errors  # noqa: F401 - ConfigError is public here too

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
    """The pipeline's own topics (each feed names its raw topic: ``feeds.<name>.topic``)."""

    events: str = "warning.events"
    deadletter: str = "warning.deadletter"
    alerts: str = "warning.alerts"
    alerts_deadletter: str = "warning.alerts.deadletter"
    feedback: str = "warning.feedback"
    alerts_feedback: str = Field("warning.alerts.feedback", description="确认/误报/已处置/静默 on alerts (DESIGN.md contract)")
    feedback_audit: str = Field("", description="audit trail of every feedback record (accepted or not, no texts); empty: '<feedback>.audit'")
    rekey: str = Field("", description="internal: raw records that arrived on another partition than their id's "
                       "home partition are handed on here, so duplicates meet one filter; empty: '<app_id>-ingest-rekey'")
    deliver_budget: str = Field("", description="internal: alerts for rate-limited receivers (robots) are handed on here, keyed "
                                "by receiver, so one worker of the group holds each receiver's budget; its spends are "
                                "recorded on '<this>-spent'; empty: '<app_id>-deliver-budget'")


class WindowsConfig(_Section):
    """Wall-clock behaviour of the stream windows (their size and lateness are in ``detect:``)."""

    idle_flush_seconds: float = Field(60.0, gt=0, description="no events at all for this long (wall clock): event time runs on with the wall clock, so quiet windows close")
    source_idle_seconds: float = Field(300.0, gt=0, description="a feed silent for this long (wall clock) stops holding the watermark back")
    max_buffered: int = Field(10_000, ge=1, description="events a partition's reorder buffer holds at most; beyond it the oldest are released by moving the watermark (the backtest applies the same limit)")
    max_unacked: int = Field(30_000, ge=1, description="events of warning.events a worker holds unacked at most: at this bound it checkpoints before taking more input, which acks what is done")
    align_ahead_seconds: float = Field(3600.0, ge=0, description="a raw partition read more than this far (event time) ahead of the slowest one this worker is still reading waits for it (a backlog: rare feeds would run hours ahead and overflow the reorder buffer); 0: off")


class WorkerConfig(_Section):
    data_dir: str = "./data"
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=0, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    app_id: str = "warning"
    agents: list[Literal["ingest", "detect", "deliver"]] = Field(
        default_factory=lambda: ["ingest", "detect", "deliver"],
        description="which stages this worker runs (all by default; split them to scale stages apart)")
    standby_replicas: int = Field(
        1, ge=0, le=8,
        description="standby replicas of the dedup and detection state per partition, kept warm on other workers "
                    "of the group so a takeover reads only the changelog tail (0: a takeover replays the "
                    "partition's whole changelog; a group of one worker keeps none whatever the value)")
    stop_timeout_s: float = Field(
        15.0, gt=0,
        description="a graceful stop (SIGTERM/SIGINT) that has not ended after this long — e.g. the broker is gone and "
                    "the producer's flush or the group leave would wait their own timeouts — ends the process with "
                    "exit status 75; what was not committed is read again by the partitions' next owner, as after kill -9")


class DeliveryConfig(_Section):
    """Retries of webhook deliveries (exponential backoff with full jitter)."""

    retry_base_s: float = Field(0.5, gt=0)
    retry_cap_s: float = Field(60.0, gt=0)
    max_attempts: int | None = Field(None, ge=1, description="None: retry until max_age_s")
    max_age_s: float = Field(6 * 3600.0, gt=0, description="give up (dead-letter) after this long")
    shared_budget: bool = Field(True, description="rate-limited receivers (robots) are sent to by one worker of the group at a "
                                "time (topics.deliver_budget), so their limit holds across workers; false: every worker "
                                "keeps its own limit (the limit then multiplies with the deliver workers)")


class Settings(_Section):
    region: RegionConfig = RegionConfig()
    kafka: KafkaConfig = KafkaConfig()
    topics: TopicsConfig = TopicsConfig()
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    windows: WindowsConfig = WindowsConfig()
    worker: WorkerConfig = WorkerConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    #: the built-in feeds (warning/data/feeds.yaml); an entry here replaces the feed of that name
    #: or adds one (``null`` removes one); the key is the feed's name
    feeds: dict[str, Feed] = Field(default_factory=default_feeds)
    text: TextConfig = Field(default_factory=TextConfig)
    detect: DetectSettings = Field(default_factory=DetectSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    receivers: list[ReceiverConfig] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    #: who may send sentiment labels on topics.feedback, and how much (warning/core/text/feedback_guard.py)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    #: who may mark and silence alerts on topics.alerts_feedback (warning/core/alert_feedback.py)
    alerts_feedback: AlertFeedbackSettings = Field(default_factory=AlertFeedbackSettings)
    #: alert history database (warning/history/)
    history: HistorySettings = Field(default_factory=HistorySettings)
    #: the ops-centre web app (warning/dashboard/)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)

    @field_validator("feeds", mode="before")
    @classmethod
    def _feeds_over_defaults(cls, v: Any) -> Any:
        if not isinstance(v, Mapping):
            return v
        out: dict[str, Any] = dict(default_feeds())
        for name, spec in v.items():
            if spec is None:
                out.pop(name, None)
            else:
                out[name] = {**spec, "name": name} if isinstance(spec, Mapping) else spec
        return out

    @model_validator(mode="after")
    def _references(self) -> "Settings":
        check_routing(self.receivers, self.routes)
        own = {getattr(self.topics, k): f"topics.{k}" for k in TopicsConfig.model_fields}
        errors = [f"{key}: {msg}" for key, msg in check_detectors(self.detect)]
        # A record up to the limit is dead-lettered whole (or becomes an event of about its size): it
        # must fit in one producer request with its headers.
        if self.kafka.max_request_size < self.ingest.max_record_bytes + KAFKA_HEADROOM_BYTES:
            errors.append(f"kafka.max_request_size: {self.kafka.max_request_size} bytes cannot carry a record of "
                          f"ingest.max_record_bytes ({self.ingest.max_record_bytes}) with its headers: at least "
                          f"{self.ingest.max_record_bytes + KAFKA_HEADROOM_BYTES}")
        for name, feed in self.feeds.items():
            if feed.topic in own:
                errors.append(f"feeds.{name}.topic: {feed.topic!r} is already {own[feed.topic]}")
            own[feed.topic] = f"feeds.{name}.topic"
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def rekey_topic(self) -> str:
        """The internal topic that brings a raw record to its id's home partition (see warning/streams/app.py)."""
        return self.topics.rekey or f"{self.worker.app_id}-ingest-rekey"

    def deliver_budget_topic(self) -> str:
        """The internal topic that brings each alert for a rate-limited receiver to the one worker
        holding that receiver's budget (see warning/streams/budget.py)."""
        return self.topics.deliver_budget or f"{self.worker.app_id}-deliver-budget"

    def deliver_spent_topic(self) -> str:
        """The ledger of messages sent to rate-limited receivers: a new budget owner reads it back."""
        return f"{self.deliver_budget_topic()}-spent"

    def feedback_audit_topic(self) -> str:
        """Where the feedback worker writes its audit entries (see warning/streams/feedback.py)."""
        return self.topics.feedback_audit or f"{self.topics.feedback}.audit"

    def raw_topics(self) -> dict[str, str]:
        """Feed name → its raw topic."""
        return {name: feed.topic for name, feed in self.feeds.items()}


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


def _unwrap(ann: Any) -> Any:
    """``Optional[X]`` / ``Annotated[X, …]`` → ``X``."""
    while True:
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            ann = typing.get_args(ann)[0]
        elif origin in (Union, types.UnionType) and sum(a is not type(None) for a in typing.get_args(ann)) == 1:
            ann = next(a for a in typing.get_args(ann) if a is not type(None))
        else:
            return ann


def _child(ann: Any, key: str) -> Any:
    """The annotation of ``key`` inside a value of annotation ``ann`` (a model's field or a dict's
    values), or None."""
    ann = _unwrap(ann)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        f = ann.model_fields.get(key)
        return f.annotation if f is not None else None
    if typing.get_origin(ann) is dict:
        return typing.get_args(ann)[1]
    return None


def _default_entries(ann: Any, key: str) -> dict[str, Any]:
    """The default of a dict-valued field, as plain data, so that overriding one entry keeps the
    others (``WARNING_FEEDS__GRID__TOPIC`` changes the grid feed, the other feeds stay)."""
    ann = _unwrap(ann)
    f = ann.model_fields.get(key) if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    default = f.get_default(call_default_factory=True) if f is not None else None
    if not isinstance(default, dict):
        return {}
    return {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in default.items()}


def _merge(base: dict[str, Any], over: dict[str, Any], ann: Any) -> dict[str, Any]:
    merged = dict(base)
    for key, val in over.items():
        sub = _child(ann, key)
        if isinstance(val, dict):
            prev = merged.get(key)
            merged[key] = _merge(prev if isinstance(prev, dict) else _default_entries(ann, key), val, sub)
        else:
            raw, parsed = val
            # A string field keeps the literal text (e.g. "110000", "007").
            merged[key] = raw if _unwrap(sub) in (str, Path, SecretStr) else parsed
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
        settings = Settings.model_validate(data, context={"env": env})
    except ValidationError as e:
        raise ConfigError(dotted_errors(e, tags=KINDS), source) from None
    if any(r.match.districts or r.match.streets for r in settings.routes):
        from warning.notify.router import Router

        Router.from_settings(settings)  # district / street names against the region's registry
    return settings


def dump_settings(s: Settings) -> str:
    """The resolved configuration as YAML (secrets from env/files never appear here)."""
    return yaml.safe_dump(s.model_dump(mode="json", by_alias=True), allow_unicode=True, sort_keys=False)
