"""Core commands: ``broker``, ``worker``, ``config check``, ``streets``, ``demo``."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from warning.config import ConfigError, Settings, dump_settings, load_settings


def load_or_exit(config: str | None, broker: str | None = None) -> Settings:
    """Load settings; on error print every bad key and exit 2 (fail fast at start)."""
    env = dict(os.environ)
    if broker:
        env["WARNING_KAFKA__BROKER"] = broker if broker.startswith("kafka://") else f"kafka://{broker}"
    try:
        return load_settings(config, env=env)
    except ConfigError as e:
        from warning.notify.redact import redact_text

        # An error may quote a value (a malformed WARNING_RECEIVERS, say): never print a URL's key.
        click.echo(redact_text(f"配置错误 / {e}"), err=True)
        sys.exit(2)


def receiver_findings(settings: Settings) -> tuple[list[Any], list[Any]]:
    """(errors, warnings) of the receivers' transport safety (:mod:`warning.notify.safety`)."""
    from warning.notify.safety import check_receivers, errors_of, warnings_of

    found = check_receivers(settings.receivers)
    return errors_of(found), warnings_of(found)


def default_config() -> str | None:
    """``configs/default.yaml`` next to the source tree, if present; else built-in defaults."""
    from warning.config import DEFAULT_CONFIG

    return str(DEFAULT_CONFIG) if DEFAULT_CONFIG.is_file() else None


CONFIG_OPTION = click.option(
    "--config", "-c", "config", type=click.Path(dir_okay=False), default=None,
    help="YAML 配置文件 config file (默认 default: configs/default.yaml)",
)


@click.command()
@click.option("--port", "-p", type=int, default=9092, show_default=True, help="监听端口 listen port (0 = 任意空闲端口 any free port)")
def broker(port: int) -> None:
    """启动内嵌 Kafka 兼容 broker (Tansu) — run the embedded broker in the foreground.

    Prints the bootstrap address; Ctrl-C stops it.
    """
    import signal
    import threading

    from warning.brokers.tansu import EmbeddedBroker

    b = EmbeddedBroker(port=port or None)
    b.start()
    click.echo(f"bootstrap: {b.bootstrap}")
    click.echo(f"url: {b.url}")
    click.echo("Tansu (memory storage) 运行中 running — Ctrl-C 停止 to stop", err=True)
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if not b.running:
                click.echo("broker exited unexpectedly / broker 意外退出", err=True)
                sys.exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        b.stop()


@click.command()
@click.option("--broker", "-b", default=None, help="Kafka 地址 bootstrap, e.g. kafka://127.0.0.1:9092 (覆盖配置 overrides config)")
@CONFIG_OPTION
@click.option("--web-port", type=int, default=None, help="HTTP 端口 (/metrics, /healthz)")
def worker(broker: str | None, config: str | None, web_port: int | None) -> None:
    """运行 Faust worker — run a stream worker (ingest agents; what deploy files start)."""
    settings = load_or_exit(config or default_config(), broker)
    if web_port is not None:
        settings.worker.web_port = web_port
    run_worker(settings)


def run_worker(settings: Settings, **faust_overrides: Any) -> None:

    from warning.streams.app import BoundedStopWorker, create_app
    from warning.streams.topics import ensure_topics

    from warning.streams.topics import TopicLayoutError

    logging.basicConfig(level=settings.worker.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    errors, warnings = receiver_findings(settings)
    if errors:  # fail fast: no alert leaves unsigned, in clear text or from a leaked key unless allowed
        for f in errors:
            click.echo(f.line(), err=True)
        click.echo("worker 拒绝启动 refusing to start: 接收端不安全 unsafe receivers (设置对应的 allow_* 键可降为警告 "
                   "set the named allow_* key to accept the risk)", err=True)
        sys.exit(2)
    for f in warnings:  # accepted risks: said once, at start
        logging.getLogger("warning.notify").warning("%s", f.line())
    try:
        ensure_topics(settings)
    except (TopicLayoutError, RuntimeError) as e:
        click.echo(f"错误 error: {e}", err=True)
        sys.exit(2)
    app = create_app(settings, **faust_overrides)
    level = {"warning": "warn"}.get(settings.worker.log_level, settings.worker.log_level)
    w = BoundedStopWorker(app, loglevel=level, quiet=True)
    w.stop_timeout_s = settings.worker.stop_timeout_s
    w.execute_from_commandline()


@click.group()
def config() -> None:
    """配置 — configuration tools."""


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def config_check(file: str) -> None:
    """校验并打印生效配置 — validate FILE (+ WARNING_* env) and print the resolved config.

    \b
    退出码 exit status: 0 有效 valid (接收端的已允许风险只警告 accepted receiver risks are warnings);
    2 配置无效，或接收端不安全 invalid config, or an unsafe receiver — generic 未签名 unsigned,
    明文 http:// 发往非本机 plain http to a non-loopback host, url 内联密钥 key inline in url —
    未设置 allow_unsigned / allow_insecure_http / allow_inline_secret (worker 同样拒绝启动 the worker
    refuses to start too). 密钥不会打印 secrets are never printed (URL 显示为 shown as …?key=***).
    """
    from warning.notify.redact import scrub

    s = load_or_exit(file)
    secrets = [v for r in s.receivers for v in r.secret_values()]
    click.echo(scrub(dump_settings(s), secrets), nl=False)
    errors, warnings = receiver_findings(s)
    for f in [*errors, *warnings]:
        click.echo(f.line(), err=True)
    if errors:
        click.echo(f"# 拒绝 refused: {file} 有 {len(errors)} 个接收端安全问题，worker 不会启动 / "
                   f"{len(errors)} unsafe receiver setting(s); the worker will not start", err=True)
        sys.exit(2)
    click.echo(f"# OK: {file} 配置有效 valid" + (f"（{len(warnings)} 个警告 warning(s)）" if warnings else ""), err=True)


@click.command()
@click.option("--region", default=None, help="省/市 区划代码 region code (默认 default: config region.code = 110000 北京)")
@CONFIG_OPTION
def streets(region: str | None, config: str | None) -> None:
    """列出街道/乡镇 — print the street registry: code<TAB>name<TAB>district."""
    from warning.core.registry import Registry

    code = region or load_or_exit(config or default_config()).region.code
    try:
        reg = Registry.load(code)
    except ValueError as e:
        click.echo(f"错误 error: {e}", err=True)
        sys.exit(2)
    out = sys.stdout
    for line in reg.lines():
        out.write(line + "\n")


@click.command()
@CONFIG_OPTION
@click.option("--port", type=int, default=0, help="broker 端口 (0 = 空闲端口 free port)")
@click.option("--duration", type=float, default=None, help="运行秒数后自动停止 stop after N seconds (default: until Ctrl-C)")
@click.option("--incident-after", type=float, default=120.0, show_default=True, help="worker 读完历史后多少秒注入事件 inject the incident N seconds after the worker has taken the history")
def demo(config: str | None, port: int, duration: float | None, incident_after: float) -> None:
    """演示 — 内嵌 broker + worker + 模拟数据 + webhook 接收端，预警以中文打印。Ctrl-C 全部停止。

    Embedded broker, a worker, simulated feeds with an incident a few minutes in, and a local
    webhook sink printing each alert in Chinese. Ctrl-C stops everything.
    """
    from warning.demo import run_demo

    settings = load_or_exit(config or default_config())
    sys.exit(run_demo(settings, port=port, config_path=config or default_config(), duration=duration,
                      incident_after=incident_after))


COMMANDS = [broker, worker, config, streets, demo]
