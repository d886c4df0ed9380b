"""``warning text`` — tools for operators working with citizen texts.

``warning text mask`` is a contract (independent checks call it): it reads UTF-8 text from
stdin, one text per line, and writes each line masked by :func:`warning.core.text.mask_pii`
to stdout — the same number of lines, in order, UTF-8, nothing else on stdout. Use it to check
a text before sharing it::

    $ echo "我叫张小明，电话13812345678" | warning text mask
    我叫张**，电话138****5678

Bytes that are not UTF-8 become U+FFFD. The line break (``\\n``, ``\\r\\n``) of each line is kept;
a last line without one gets none. With ``--stats`` the number of items masked per kind is
written to stderr at the end (counts only: no text ever reaches a log).
"""

from __future__ import annotations

import sys

import click

from warning.core.text.mask import PII_KINDS, mask_pii


@click.group("text")
def text() -> None:
    """文本工具：个人信息脱敏等 (text tools)."""


@text.command("mask")
@click.option("--stats", is_flag=True, help="在标准错误输出中打印各类脱敏数量（仅数字）。")
def mask(stats: bool) -> None:
    """逐行脱敏：从标准输入读取（每行一条文本），向标准输出写出脱敏后的行，行数不变。"""
    stdin = click.get_binary_stream("stdin")
    stdout = click.get_binary_stream("stdout")
    totals = dict.fromkeys(PII_KINDS, 0)
    lines = 0
    for raw in stdin:
        line = raw.decode("utf-8", errors="replace")
        end = "\r\n" if line.endswith("\r\n") else "\n" if line.endswith("\n") else ""
        body = line[: len(line) - len(end)]
        masked, counts = mask_pii(body)
        # a masked line never holds a line break of its own: same line count out as in
        masked = masked.replace("\r", " ").replace("\n", " ")
        stdout.write((masked + end).encode("utf-8"))
        stdout.flush()
        lines += 1
        for k, v in counts.items():
            totals[k] += v
    if stats:
        print(f"lines={lines} " + " ".join(f"{k}={v}" for k, v in totals.items()), file=sys.stderr)
