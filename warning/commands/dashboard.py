"""``warning dashboard`` — the ops-centre web app (大屏, inbox, actions); ``warning dashboard
hash-password`` — an argon2id hash for ``dashboard.users.<name>.password_hash``.

The password is read from a prompt (or one line of stdin when it is not a terminal), never from
the command line, where it would land in the shell history and the process list.
"""

from __future__ import annotations

import logging
import sys

import click

from warning.commands.basics import CONFIG_OPTION, default_config, load_or_exit


@click.group(invoke_without_command=True)
@CONFIG_OPTION
@click.option("--port", "-p", type=int, default=None, help="监听端口 listen port (默认 default: dashboard.port)")
@click.option("--host", "-H", default=None, help="监听地址 listen address (默认 default: dashboard.host)")
@click.pass_context
def dashboard(ctx: click.Context, config: str | None, port: int | None, host: str | None) -> None:
    """值班台 Web 应用 — the ops-centre dashboard: city screen, alert inbox, 确认/误报/已处置/静默.

    \b
    读取 warning.alerts / warning.alerts.feedback / warning.events，写入预警历史库，
    在浏览器中展示大屏与收件箱；Ctrl-C 停止。
    Reads the alert, feedback and event topics into the history database and serves the pages;
    Ctrl-C stops it.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = load_or_exit(config or default_config())
    run(settings, host if host is not None else settings.dashboard.host,
        port if port is not None else settings.dashboard.port)


def run(settings: "object", host: str, port: int) -> None:
    import asyncio

    from aiohttp import web

    from warning.dashboard.app import make_app, signing_warning, url_of
    from warning.history.store import HistoryStore

    logging.basicConfig(level=getattr(logging, settings.worker.log_level.upper(), logging.INFO),  # type: ignore[attr-defined]
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        url = settings.history.resolve(settings.worker.data_dir)  # type: ignore[attr-defined]
        store = HistoryStore.open(url)
    except Exception as e:
        # never print the URL: it may hold a password
        raise click.ClickException(f"无法打开预警历史库 cannot open the history database: {type(e).__name__}: "
                                   f"{str(getattr(e, 'orig', None) or e).splitlines()[0][:200]}") from None
    try:
        try:
            app = make_app(settings, store)  # type: ignore[arg-type]
        except ValueError as e:
            raise click.ClickException(f"配置错误 / config error: {e}") from None
        warn = signing_warning(settings)  # type: ignore[arg-type]
        if warn:
            click.echo(warn, err=True)
        if not settings.dashboard.users and not settings.dashboard.proxy_auth.header:  # type: ignore[attr-defined]
            click.echo("提示：未配置账号（dashboard.users）或反向代理登录，页面只读。\n"
                       "Note: no accounts (dashboard.users) and no proxy sign-in: the pages are read-only.", err=True)

        async def serve() -> None:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, host, port)
            try:
                await site.start()
            except OSError as e:
                await runner.cleanup()
                raise click.ClickException(f"无法监听 cannot listen on {host}:{port}: {e.strerror or e}") from None
            bound = port
            for s in runner.addresses:
                if isinstance(s, tuple) and len(s) >= 2:
                    bound = s[1]
                    break
            click.echo(f"值班台已启动 Dashboard running: {url_of(host, bound)}  (Ctrl-C 停止 to stop)")
            sys.stdout.flush()
            try:
                await asyncio.Event().wait()
            finally:
                await runner.cleanup()

        import signal

        loop = asyncio.new_event_loop()
        task = loop.create_task(serve())
        try:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on this platform
            pass
        try:
            loop.run_until_complete(task)
        except (KeyboardInterrupt, asyncio.CancelledError):
            task.cancel()
            try:
                loop.run_until_complete(task)
            except (asyncio.CancelledError, Exception):
                pass
            click.echo("已停止 stopped", err=True)
        finally:
            loop.close()
    finally:
        store.close()


@dashboard.command("hash-password")
def hash_password_cmd() -> None:
    """生成密码哈希 — print an argon2id hash for dashboard.users.<name>.password_hash.

    The password is asked for (twice) on a terminal, or read as one line from stdin.
    """
    from warning.dashboard.auth import hash_password

    if sys.stdin.isatty():
        pw = click.prompt("密码 password", hide_input=True, confirmation_prompt="再次输入 repeat")
    else:
        pw = sys.stdin.readline().rstrip("\r\n")
    if len(pw) < 8:
        raise click.ClickException("密码至少 8 个字符 the password must have at least 8 characters")
    click.echo(hash_password(pw))
