"""WeCom (企业微信) group robot: ``msgtype: markdown``.

Request: ``POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`` (the key makes the URL a
secret: configure it with ``url_env`` / ``url_file``) with::

    {"msgtype": "markdown", "markdown": {"content": "…"}}

``content`` is at most 4,096 bytes of UTF-8: whole body lines are dropped first (announced in the
message), then a char-boundary cut as a last resort, so markup is never broken. Colours by level:
red/orange → ``warning`` (orange-red), yellow → ``comment`` (grey), blue → ``info`` (green).
Mentions: ``<@userid>`` for each configured userid (WeCom markdown cannot mention by mobile or
@all), only for firing alerts at or above ``mention_min_level``.

WeCom answers HTTP 200 with ``{"errcode": …, "errmsg": …}``; errcode ≠ 0 is a failure:
-1 (busy), 45009 (frequency limit) and 45033 are transient, others (e.g. 93000 bad key,
40058 bad content) permanent. The robot accepts 20 messages a minute (see :mod:`.ratelimit`).
"""

from __future__ import annotations

from typing import Any, Literal

from warning.core.events import Alert
from warning.notify.kinds.common import RobotNotifier, RobotReceiver, mention_wanted
from warning.notify.render import fit, render_digest, render_markdown

MAX_BYTES = 4096
TRANSIENT_ERRCODES = frozenset({-1, 45009, 45033})


class WeComReceiver(RobotReceiver):
    """``kind: wecom`` — a WeCom group robot (no signing; the key in the URL is the secret)."""

    kind: Literal["wecom"]


def content_for(alerts: list[Alert], mentions: list[str], *, mention_min_level: str = "blue",
                link_template: str | None = None, max_bytes: int = MAX_BYTES) -> str:
    """The markdown content: one alert in full, or a digest of several."""
    r = render_markdown(alerts[0], "wecom", link_template) if len(alerts) == 1 else render_digest(alerts, "wecom")
    extra = [" ".join(f"<@{m}>" for m in mentions)] if mentions and mention_wanted(alerts, mention_min_level) else []
    return fit(r, max_bytes, extra_tail=extra, sep="\n")


def message_for(alerts: list[Alert], receiver: WeComReceiver) -> dict[str, Any]:
    content = content_for(
        alerts, receiver.mentions, mention_min_level=receiver.mention_min_level,
        link_template=receiver.link_template, max_bytes=min(receiver.max_bytes or MAX_BYTES, MAX_BYTES),
    )
    return {"msgtype": "markdown", "markdown": {"content": content}}


class WeComNotifier(RobotNotifier):
    kind = "wecom"
    max_batch = 25  # more than one only as a digest (lines that fit the size cap)
    transient_errcodes = TRANSIENT_ERRCODES
    message_for = staticmethod(message_for)
    receiver: WeComReceiver
