"""Command line: ``warning --help``.

Each command group lives in its own module under ``warning/commands/``; this file only wires them.
"""

from __future__ import annotations

import sys

import click

from warning import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="warning")
def cli() -> None:
    """社会稳定风险预警流水线 — streaming risk early-warning pipeline.

    \b
    读取 12345 热线、信访、110/治安 三路 Kafka 事件，按街道/乡镇做事件时间统计与在线模型评分，
    产生 蓝/黄/橙/红 分级预警。
    Reads the hotline, petition and public-safety feeds from Kafka, keeps per-street event-time
    statistics, scores them with online models and raises graded alerts.
    """


def _register() -> None:
    from warning.commands import basics

    for cmd in basics.COMMANDS:
        cli.add_command(cmd)
    # --- further command modules register below (one line each) ---
    from warning.commands.simulate import simulate
    cli.add_command(simulate)
    from warning.commands.backtest import backtest
    cli.add_command(backtest)
    from warning.commands.sentiment import sentiment
    cli.add_command(sentiment)
    from warning.commands.text import text
    cli.add_command(text)
    from warning.commands.feedback import feedback
    cli.add_command(feedback)
    from warning.commands.report import report
    cli.add_command(report)
    from warning.commands.dashboard import dashboard
    cli.add_command(dashboard)
    from warning.commands.replay import replay
    cli.add_command(replay)


_register()


def main() -> None:
    cli(prog_name="warning")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
