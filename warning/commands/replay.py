"""``warning replay``: copy a time range of the raw feeds into sandbox topics, where a shadow worker
(its own app id, its own config) tries a candidate setting beside production; ``warning replay
compare`` shows two alert topics side by side.

The copy reads each raw partition from the first record of the range on (sought by record time,
:func:`warning.commands.backtest.kafka_records`: the backtest's bounds, no consumer group, nothing
committed) and writes every record whose record time falls in the range to ``<prefix><topic>``: the
same partition, key, value, headers and timestamp. It refuses to write into production topics and,
unless ``--append``, into a sandbox topic that already holds records (a second run would append the
range again: a shadow worker would then see each record twice, deduplicated by its ingest but
counted as duplicates).
"""

from __future__ import annotations

import os
import re
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import click
import orjson
import yaml

from warning.commands.backtest import _time, kafka_records
from warning.commands.basics import CONFIG_OPTION, default_config, load_or_exit
from warning.config import Settings, TopicsConfig
from warning.streams.topics import all_topics, bootstrap_servers

#: Kafka's legal topic names
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
#: the sandbox topics keep their records until deleted: the copies carry their original (old) record
#: timestamps, which a time retention (Kafka's default: 7 days) would delete at the broker's next
#: retention check — minutes after the copy. Delete the sandbox topics when the trial is over.
SANDBOX_RETENTION_MS = "-1"
#: configuration keys whose ``WARNING_*`` overrides would also apply to a worker started with the
#: shadow config (the environment wins over the file) and could point it at production
_ISOLATING_ENV = ("WARNING_TOPICS__", "WARNING_FEEDS__", "WARNING_WORKER__APP_ID", "WARNING_WORKER__DATA_DIR",
                  "WARNING_RECEIVERS", "WARNING_ROUTES", "WARNING_HISTORY__")


# ---------------------------------------------------------------------------------------- copy
@dataclass
class CopyResult:
    """What a copy did: records copied per source topic, records read outside the range."""

    targets: dict[str, str]  # source topic → sandbox topic
    copied: dict[str, int] = field(default_factory=dict)
    read: int = 0
    skipped: int = 0
    created: list[str] = field(default_factory=list)
    by_key: list[str] = field(default_factory=list)  # targets whose partition count differs: placed by key
    seconds: float = 0.0


def sandbox_targets(settings: Settings, prefix: str) -> dict[str, str]:
    """Raw topic → ``<prefix><topic>``; ``ValueError`` for a prefix that would write into a production
    topic (empty, or a target that is one of the pipeline's topics) or make an illegal topic name.

    >>> from warning.config import Settings
    >>> sandbox_targets(Settings(), "sandbox.")["warning.raw.hotline"]
    'sandbox.warning.raw.hotline'
    >>> sandbox_targets(Settings(), "")
    Traceback (most recent call last):
    ...
    ValueError: an empty prefix would write into the production topics
    """
    if not prefix.strip():
        raise ValueError("an empty prefix would write into the production topics")
    production = set(all_topics(settings))
    out: dict[str, str] = {}
    for topic in settings.raw_topics().values():
        target = prefix + topic
        if target in production:
            raise ValueError(f"{target!r} is a production topic")
        if not _TOPIC_NAME.match(target):
            raise ValueError(f"{target!r} is not a legal Kafka topic name ([A-Za-z0-9._-], at most 249)")
        out[topic] = target
    return out


def prepare_targets(settings: Settings, targets: dict[str, str], append: bool) -> tuple[list[str], dict[str, bool]]:
    """Create missing sandbox topics with their source's partition count and no time retention
    (:data:`SANDBOX_RETENTION_MS`); refuse (``ValueError``) sandbox topics that hold records unless
    ``append``. Returns (created, same partition count per source topic)."""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

    servers = bootstrap_servers(settings.kafka.broker)
    admin = KafkaAdminClient(bootstrap_servers=servers, client_id=f"{settings.kafka.client_id}-replay-admin")
    c = KafkaConsumer(bootstrap_servers=servers, group_id=None, enable_auto_commit=False,
                      client_id=f"{settings.kafka.client_id}-replay")
    try:
        existing = set(admin.list_topics())
        missing_src = [s for s in targets if s not in existing]
        if missing_src:
            raise ValueError("source topics do not exist: " + ", ".join(missing_src))
        counts = {t: len(c.partitions_for_topic(t) or ()) for t in targets}
        created = _create_kept(admin, {targets[s]: counts[s] for s in targets}, settings.kafka.replication_factor, existing)
        deadline = time.monotonic() + 30
        same: dict[str, bool] = {}
        full: list[str] = []
        for s, t in targets.items():
            parts = c.partitions_for_topic(t) or set()
            while not parts and time.monotonic() < deadline:
                time.sleep(0.2)
                c.poll(0)  # refresh metadata
                parts = c.partitions_for_topic(t) or set()
            same[s] = len(parts) == counts[s]
            if t not in created:
                tps = [TopicPartition(t, p) for p in parts]
                lo, hi = c.beginning_offsets(tps), c.end_offsets(tps)
                n = sum(hi[tp] - lo[tp] for tp in tps)
                if n > 0:
                    full.append(f"{t} ({n:,})")
        if full and not append:
            raise ValueError("sandbox topics already hold records / 沙箱 topic 非空: " + ", ".join(full)
                             + " — a second copy appends the range again (--append), or use a new prefix")
        return created, same
    finally:
        c.close()
        admin.close()


def _create_kept(admin: Any, wanted: dict[str, int], replication: int, existing: set[str]) -> list[str]:
    """Create the topics of ``wanted`` (name → partitions) that are not in ``existing``, with
    :data:`SANDBOX_RETENTION_MS`; wait until they are visible. Returns those created."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    created = [t for t in wanted if t not in existing]
    for t in created:
        try:
            admin.create_topics([NewTopic(t, wanted[t], replication, topic_configs={"retention.ms": SANDBOX_RETENTION_MS})])
        except TopicAlreadyExistsError:
            pass
    deadline = time.monotonic() + 30
    while created and not set(created) <= set(admin.list_topics()):
        if time.monotonic() > deadline:
            raise RuntimeError("sandbox topics not visible after 30 s: " + ", ".join(created))
        time.sleep(0.2)
    return created


def create_shadow_topics(shadow: Settings) -> list[str]:
    """Create the shadow worker's own topics (events, dead letters, alerts, feedback, rekey, audit;
    ``kafka.partitions`` each) before it starts, with no time retention: it stamps its events with
    their event time and hands raw copies on with their record time — old times in a replay, which
    a time retention would delete at the broker's next check, under the worker's feet. Existing
    topics stay as they are. Returns those created."""
    from kafka import KafkaAdminClient

    own = [t for t in all_topics(shadow) if t not in set(shadow.raw_topics().values())]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers(shadow.kafka.broker),
                             client_id=f"{shadow.kafka.client_id}-replay-admin")
    try:
        return _create_kept(admin, {t: shadow.kafka.partitions for t in own}, shadow.kafka.replication_factor,
                            set(admin.list_topics()))
    finally:
        admin.close()


def copy_range(settings: Settings, prefix: str, start: float, end: float, *, append: bool = False,
               progress: Any = None) -> CopyResult:
    """Copy the raw records of ``[start, end)`` (record-time bounds of the backtest) to the sandbox
    topics; same partition (when the partition counts match), key, value, headers and timestamp."""
    from kafka import KafkaProducer

    t0 = time.perf_counter()
    targets = sandbox_targets(settings, prefix)
    created, same = prepare_targets(settings, targets, append)
    res = CopyResult(targets=targets, copied={s: 0 for s in targets}, created=created,
                     by_key=[targets[s] for s, ok in same.items() if not ok])
    errors: list[BaseException] = []
    p = KafkaProducer(bootstrap_servers=bootstrap_servers(settings.kafka.broker), acks="all", linger_ms=20,
                      batch_size=256 * 1024, max_request_size=settings.kafka.max_request_size,
                      client_id=f"{settings.kafka.client_id}-replay")
    stats: dict[str, int] = {}
    try:
        for msg in kafka_records(settings, start, end, stats):
            s = msg.topic
            f = p.send(targets[s], value=msg.value, key=msg.key, headers=list(msg.headers or []) or None,
                       partition=msg.partition if same[s] else None, timestamp_ms=msg.timestamp)
            f.add_errback(errors.append)
            res.copied[s] += 1
            if progress is not None:
                progress(1)
        p.flush()
    finally:
        p.close()
    if errors:
        raise RuntimeError(f"{len(errors)} records not written, first: {errors[0]!r}")
    res.read, res.skipped = stats.get("read", 0), stats.get("skipped", 0)
    res.seconds = time.perf_counter() - t0
    return res


# ----------------------------------------------------------------------------- shadow config
def make_shadow_config(settings: Settings, prefix: str, app_id: str | None = None, data_dir: str | None = None) -> dict[str, Any]:
    """The configuration of a shadow worker: ``settings`` resolved, with ``worker.app_id`` =
    ``<app_id>-shadow`` (or ``app_id``), every topic (raw feeds and the pipeline's own) prefixed,
    its own data dir and web port, and nothing that reaches people or production stores: no
    receivers or routes, history in its data dir (SQLite), no feedback sources, default dashboard.

    >>> from warning.config import Settings
    >>> d = make_shadow_config(Settings(), "sandbox.")
    >>> d["worker"]["app_id"], d["topics"]["alerts"], d["feeds"]["grid"]["topic"], d["topics"]["rekey"]
    ('warning-shadow', 'sandbox.warning.alerts', 'sandbox.warning.raw.grid', 'sandbox.warning-ingest-rekey')
    """
    sandbox_targets(settings, prefix)  # the same refusals as the copy
    d = settings.model_dump(mode="json")
    w = d["worker"]
    new_id = app_id or f"{settings.worker.app_id}-shadow"
    if new_id == settings.worker.app_id:
        raise ValueError(f"the shadow app id must differ from production's ({new_id!r}): it names the consumer group and the tables")
    new_dir = data_dir or f"{settings.worker.data_dir.rstrip('/')}-shadow"
    if Path(new_dir).resolve() == Path(settings.worker.data_dir).resolve():
        raise ValueError(f"the shadow data dir must differ from production's ({new_dir!r})")
    w.update(app_id=new_id, data_dir=new_dir, web_port=settings.worker.web_port + 1 if settings.worker.web_port else 0)
    for k in TopicsConfig.model_fields:
        d["topics"][k] = prefix + getattr(settings.topics, k)
    d["topics"]["rekey"] = prefix + settings.rekey_topic()
    d["topics"]["feedback_audit"] = prefix + settings.feedback_audit_topic()
    d["topics"]["deliver_budget"] = prefix + settings.deliver_budget_topic()
    for feed in d["feeds"].values():
        feed["topic"] = prefix + feed["topic"]
    d["receivers"], d["routes"] = [], []
    d["history"] = {"url": "", "url_env": None}
    d["feedback"]["sources"], d["alerts_feedback"]["sources"] = {}, {}
    d.pop("dashboard", None)
    hidden = [k for k, v in _leaves(d) if v == "**********"]
    if hidden:
        raise ValueError("secret values cannot be written: " + ", ".join(hidden))
    Settings.model_validate(d)  # fails here, not when the shadow worker starts
    return d


def _leaves(node: Any, path: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, node


def write_shadow_config(path: Path, data: dict[str, Any], source: str, prefix: str) -> None:
    head = (f"# 影子 worker 配置 shadow-worker config — written by `warning replay` from {source}\n"
            f"# topics 前缀 prefixed '{prefix}', app_id {data['worker']['app_id']}, data_dir {data['worker']['data_dir']},\n"
            "# 无接收端/路由 no receivers or routes (never notifies), history → SQLite in data_dir, no feedback sources.\n"
            "# 在此修改候选参数 edit the candidate setting here, then: warning worker --config THIS_FILE\n"
            "# 注意 WARNING_* 环境变量优先于本文件 environment overrides win over this file: start the shadow\n"
            "# worker without production's WARNING_TOPICS__* / WARNING_FEEDS__* / WARNING_WORKER__APP_ID.\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


# ----------------------------------------------------------------------------------- compare
@dataclass
class Episode:
    """One alert episode (all records of an ``alert_id``) on one side."""

    alert_id: str
    street_code: str
    street_name: str
    signal: str
    level: str  # the highest level it reached
    starts_at: str  # its first firing
    ends_at: str | None = None

    @property
    def until(self) -> str:
        return self.ends_at or "9999"


def episodes(alerts: Iterable[dict[str, Any]], start: str | None = None, end: str | None = None) -> list[Episode]:
    """Alert records → episodes (by ``alert_id``), those first firing in ``[start, end)`` (ISO
    strings of the same offset compare as times)."""
    from warning.core.signals import LEVEL_RANK

    out: dict[str, Episode] = {}
    for a in alerts:
        e = out.get(a["alert_id"])
        if e is None:
            if a["status"] != "firing":
                continue  # its firing is outside what was read
            e = out[a["alert_id"]] = Episode(a["alert_id"], a["street_code"], a.get("street_name", ""), a["signal"],
                                              a["level"], a["starts_at"])
        if LEVEL_RANK[a["level"]] > LEVEL_RANK[e.level]:
            e.level = a["level"]
        if a["status"] == "resolved":
            e.ends_at = a.get("ends_at")
    return [e for e in out.values() if (start is None or e.starts_at >= start) and (end is None or e.starts_at < end)]


def pair(a: list[Episode], b: list[Episode]) -> list[tuple[Episode | None, Episode | None]]:
    """Episodes of A and B side by side: the same ``alert_id``, else the same street and signal with
    overlapping times (the earliest such); the rest alone. Sorted by street, signal, time."""
    rows: list[tuple[Episode | None, Episode | None]] = []
    b_left = {e.alert_id: e for e in b}
    rest_a = []
    for e in a:
        if e.alert_id in b_left:
            rows.append((e, b_left.pop(e.alert_id)))
        else:
            rest_a.append(e)
    for e in sorted(rest_a, key=lambda x: x.starts_at):
        cand = sorted((o for o in b_left.values() if o.street_code == e.street_code and o.signal == e.signal
                       and o.starts_at < e.until and e.starts_at < o.until), key=lambda x: x.starts_at)
        rows.append((e, b_left.pop(cand[0].alert_id) if cand else None))
    rows += [(None, e) for e in b_left.values()]

    def order(r: tuple[Episode | None, Episode | None]) -> tuple[str, str, str]:
        e = r[0] or r[1]
        assert e is not None
        return e.street_code, e.signal, min(x.starts_at for x in r if x is not None)

    return sorted(rows, key=order)


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, n: int) -> str:
    return s + " " * max(n - _width(s), 0)


def render(rows: list[tuple[Episode | None, Episode | None]], a_name: str, b_name: str) -> str:
    """The side-by-side table and a summary line ``both=… same_level=… only_a=… only_b=…``."""
    from warning.core.signals import LEVELS

    def lv(e: Episode | None) -> str:
        return f"{LEVELS[e.level].short_zh} {e.level}" if e else "—"

    def ts(e: Episode | None) -> str:
        return e.starts_at[:16].replace("T", " ") if e else "—"

    head = ["街道 street", "信号 signal", f"{a_name} 等级 level", f"{a_name} 开始 starts_at",
            f"{b_name} 等级 level", f"{b_name} 开始 starts_at", "对比 where"]
    body = []
    for x, y in rows:
        e = x or y
        assert e is not None
        where = "两侧 both" if x and y else ("仅A only-A" if x else "仅B only-B")
        body.append([f"{e.street_name}({e.street_code})", e.signal, lv(x), ts(x), lv(y), ts(y), where])
    widths = [max(_width(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(_pad(c, widths[i]) for i, c in enumerate(r)).rstrip() for r in [head, *body]]
    both = [(x, y) for x, y in rows if x and y]
    same = sum(1 for x, y in both if x.level == y.level)  # type: ignore[union-attr]
    only_a = sum(1 for x, y in rows if x and not y)
    only_b = sum(1 for x, y in rows if y and not x)
    lines.append(f"A={a_name} {len(both) + only_a} episodes, B={b_name} {len(both) + only_b} episodes: "
                 f"both={len(both)} same_level={same} only_a={only_a} only_b={only_b}")
    return "\n".join(lines)


def read_alerts(settings: Settings, topic: str) -> list[dict[str, Any]]:
    """Every record of an alerts topic (group-less, up to its end when read starts); ``ValueError``
    if there is no such topic (a mistyped name would look like a side without alerts)."""
    from kafka import KafkaConsumer

    c = KafkaConsumer(bootstrap_servers=bootstrap_servers(settings.kafka.broker), group_id=None,
                      client_id=f"{settings.kafka.client_id}-replay")
    try:
        if not c.partitions_for_topic(topic):
            raise ValueError(f"no topic {topic!r} / topic 不存在")
    finally:
        c.close()
    out = []
    for msg in kafka_records(settings, None, None, topics=[topic], idle_timeout_s=15.0):
        try:
            out.append(orjson.loads(msg.value))
        except orjson.JSONDecodeError:
            continue
    return out


# ---------------------------------------------------------------------------------------- CLI
@click.group(invoke_without_command=True)
@click.option("--start", default=None, help="事件时间起 event time from (ISO 8601)")
@click.option("--end", default=None, help="事件时间止 event time to, exclusive")
@click.option("--to-prefix", "prefix", default=None, help="沙箱 topic 前缀 sandbox topic prefix, e.g. 'sandbox.'")
@CONFIG_OPTION
@click.option("--append", is_flag=True, help="沙箱 topic 非空时仍追加 append to sandbox topics that hold records")
@click.option("--shadow-config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="写出影子 worker 配置 write the shadow worker's config (YAML) here")
@click.option("--shadow-app-id", default=None, help="影子 worker 的 app id (默认 default: <app_id>-shadow)")
@click.option("--shadow-data-dir", default=None, help="影子 worker 的数据目录 data dir (默认 default: <data_dir>-shadow)")
@click.option("--quiet", "-q", is_flag=True, help="不显示进度 no progress bar")
@click.pass_context
def replay(ctx: click.Context, start: str | None, end: str | None, prefix: str | None, config: str | None, append: bool,
           shadow_config: Path | None, shadow_app_id: str | None, shadow_data_dir: str | None, quiet: bool) -> None:
    """回放到沙箱 — copy a time range of the raw feeds into sandbox topics for a shadow worker.

    \b
    warning replay --start T --end T --to-prefix sandbox. [--config F] [--shadow-config OUT.yaml]
    warning replay compare --b-topic sandbox.warning.alerts [--a-topic warning.alerts]

    \b
    按记录时间定位各分区（与回测相同的时间界），将区间内的原始记录原样（分区、key、值、headers、
    时间戳）复制到 <前缀><topic>；不加入消费组、不提交位点，拒绝写入生产 topic。

    Seeks each raw partition by record time (the backtest's bounds) and copies the range's records
    unchanged (partition, key, value, headers, timestamp) to <prefix><topic>; joins no consumer
    group, commits nothing, refuses to write into production topics or (without --append) into
    sandbox topics that hold records. --shadow-config writes the shadow worker's config (its own app
    id, data dir and prefixed topics, no receivers) and creates its topics; edit the candidate
    setting in it and run `warning worker --config OUT.yaml` (without production's
    WARNING_TOPICS__/FEEDS__ env). Sandbox and shadow topics keep their records until deleted
    (retention.ms=-1: the records carry old timestamps, which a time retention would delete within
    minutes): delete them when the trial is over.
    """
    if ctx.invoked_subcommand is not None:
        if any(v for v in (start, end, prefix, append, shadow_config, shadow_app_id, shadow_data_dir)):
            raise click.UsageError("copy options go without a subcommand: warning replay --start … --to-prefix …")
        return
    if start is None or end is None or prefix is None:
        raise click.UsageError("give --start, --end and --to-prefix (or a subcommand: compare)")
    t_start, t_end = _time(start, "--start"), _time(end, "--end")
    assert t_start is not None and t_end is not None
    if t_end <= t_start:
        raise click.BadParameter("must be after --start", param_hint="--end")
    source = config or default_config()
    settings = load_or_exit(source)
    data: dict[str, Any] | None = None
    try:
        targets = sandbox_targets(settings, prefix)
        if shadow_config is not None:
            data = make_shadow_config(settings, prefix, shadow_app_id, shadow_data_dir)
            write_shadow_config(shadow_config, data, source or "defaults + environment", prefix)
    except ValueError as e:
        raise click.UsageError(f"拒绝 refused: {e}")
    bar = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(unit=" rec", unit_scale=True, file=sys.stderr, mininterval=1.0, desc="replay")
    try:
        res = copy_range(settings, prefix, t_start, t_end, append=append, progress=bar.update if bar else None)
    except ValueError as e:
        raise click.ClickException(f"拒绝 refused: {e}")
    finally:
        if bar is not None:
            bar.close()
    for src, dst in targets.items():
        note = (" (新建 created)" if dst in res.created else
                " (已存在 existed: 其 retention.ms 须能保留该区间的旧时间戳 its retention.ms must keep the range's old timestamps)")
        note += " (分区数不同，按 key 分区 partition counts differ: placed by key)" if dst in res.by_key else ""
        click.echo(f"{src} → {dst}: {res.copied[src]:,}{note}")
    total = sum(res.copied.values())
    click.echo(f"copied={total} read={res.read} skipped={res.skipped} seconds={res.seconds:.1f} "
               f"records_per_s={total / max(res.seconds, 1e-9):,.0f}")
    if shadow_config is not None and data is not None:
        made = create_shadow_topics(Settings.model_validate(data))
        click.echo(f"shadow config: {shadow_config} (影子 topic 新建 shadow topics created: {len(made)})")
    env = sorted(k for k in os.environ if k.startswith(_ISOLATING_ENV))
    if shadow_config is not None and env:
        click.echo("注意 note: these environment overrides would also apply to a shadow worker started here "
                   "(the environment wins over its config file): " + ", ".join(env), err=True)


@replay.command("compare")
@click.option("--a-topic", default=None, help="A 侧预警 topic (默认 default: topics.alerts, 生产 production)")
@click.option("--b-topic", required=True, help="B 侧预警 topic, e.g. sandbox.warning.alerts (影子 shadow)")
@click.option("--a-name", default="生产", show_default=True, help="A 侧名称 name of side A")
@click.option("--b-name", default="影子", show_default=True, help="B 侧名称 name of side B")
@click.option("--start", default=None, help="只看此后开始的预警 episodes first firing from (ISO 8601)")
@click.option("--end", default=None, help="只看此前开始的预警 … before (exclusive)")
@CONFIG_OPTION
def compare(a_topic: str | None, b_topic: str, a_name: str, b_name: str, start: str | None, end: str | None,
            config: str | None) -> None:
    """并排对比两路预警 — production and shadow alerts side by side.

    \b
    每行一个预警事件（同一 alert_id，或同街道同信号且时间重叠）：两侧等级与开始时间。
    One row per alert episode (the same alert_id, or the same street and signal overlapping in
    time): its level and first firing on each side; only-A / only-B / both, and a summary line.
    """
    from warning.core.timeutil import iso

    settings = load_or_exit(config or default_config())
    t_start, t_end = _time(start, "--start"), _time(end, "--end")
    s_iso = iso(t_start) if t_start is not None else None
    e_iso = iso(t_end) if t_end is not None else None
    try:
        a = episodes(read_alerts(settings, a_topic or settings.topics.alerts), s_iso, e_iso)
        b = episodes(read_alerts(settings, b_topic), s_iso, e_iso)
    except ValueError as e:
        raise click.ClickException(str(e))
    click.echo(render(pair(a, b), a_name, b_name))
