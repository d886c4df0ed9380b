"""DingTalk (钉钉) custom robot: ``msgtype: markdown``, signed.

Request: ``POST https://oapi.dingtalk.com/robot/send?access_token=…&timestamp=<ms>&sign=<sign>``
(the access token makes the URL a secret: use ``url_env`` / ``url_file``) with::

    {"msgtype": "markdown",
     "markdown": {"title": "…", "text": "…"},
     "at": {"atMobiles": [...], "atUserIds": [...], "isAtAll": false}}

Signing ("加签", when the receiver has a secret — the ``SEC…`` string)::

    timestamp = current time in milliseconds
    sign = urlencode( base64( HMAC-SHA256( key = secret, msg = f"{timestamp}\\n{secret}" ) ) )

both appended as query parameters; DingTalk rejects timestamps more than an hour off, so they are
computed for every attempt. Mentions: configured mobiles (11 digits) go to ``atMobiles``, other
ids to ``atUserIds``; each also appears as ``@…`` in the text (DingTalk only highlights mentions
present in the text). ``mention_all`` sets ``isAtAll``. Mentions only for firing alerts at or above
``mention_min_level``. If the robot uses the "custom keyword" security option, use a keyword our
messages always contain, e.g. ``预警``.

DingTalk answers HTTP 200 with ``{"errcode": …, "errmsg": …}``; errcode ≠ 0 is a failure:
-1 (busy), 130101 (more than 20 messages a minute), 410100 (throttled) and 90030 (quota) are
transient, others (310000 bad sign/keyword/IP, 300001 bad token, …) permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any, Literal
from urllib.parse import quote_plus

from pydantic import Field

from warning.core.events import Alert
from warning.notify.kinds.common import RobotNotifier, RobotReceiver, SignedReceiver, mention_wanted
from warning.notify.render import fit, render_digest, render_markdown

MAX_BYTES = 20_000
TRANSIENT_ERRCODES = frozenset({-1, 130101, 410100, 90030})
_MOBILE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")


class DingTalkReceiver(SignedReceiver, RobotReceiver):
    """``kind: dingtalk`` — a DingTalk custom robot, signed ("加签") when a secret is given."""

    kind: Literal["dingtalk"]
    mention_all: bool = Field(False, description="isAtAll")


def sign(secret: str, timestamp_ms: int | str) -> str:
    """The DingTalk ``sign`` parameter, already URL-encoded.

    >>> sign("SECexample", 1700000000000)
    'uroalHrWHORz59talE1o26b8HuX2kOp8WlAN91F9Pj0%3D'
    """
    string_to_sign = f"{timestamp_ms}\n{secret}".encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), string_to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def signed_url(url: str, secret: str | None, now_s: float) -> str:
    """``url`` with ``timestamp`` and ``sign`` appended (unchanged without a secret)."""
    if not secret:
        return url
    ts = int(now_s * 1000)
    return f"{url}{'&' if '?' in url else '?'}timestamp={ts}&sign={sign(secret, ts)}"


def message_for(alerts: list[Alert], receiver: DingTalkReceiver) -> dict[str, Any]:
    r = render_markdown(alerts[0], "dingtalk", receiver.link_template) if len(alerts) == 1 else render_digest(alerts, "dingtalk")
    mobiles: list[str] = []
    user_ids: list[str] = []
    at_all = False
    extra: list[str] = []
    if mention_wanted(alerts, receiver.mention_min_level):
        for m in receiver.mentions:
            (mobiles if _MOBILE.match(m) else user_ids).append(m)
        at_all = receiver.mention_all
        names = [f"@{m}" for m in mobiles + user_ids] + (["@所有人"] if at_all else [])
        if names:
            extra = [" ".join(names)]
    text = fit(r, min(receiver.max_bytes or MAX_BYTES, MAX_BYTES), extra_tail=extra, sep="\n\n")
    return {
        "msgtype": "markdown",
        "markdown": {"title": r.title[:64], "text": text},
        "at": {"atMobiles": mobiles, "atUserIds": user_ids, "isAtAll": at_all},
    }


class DingTalkNotifier(RobotNotifier):
    kind = "dingtalk"
    max_batch = 50  # more than one only as a digest (lines that fit the size cap)
    transient_errcodes = TRANSIENT_ERRCODES
    message_for = staticmethod(message_for)
    receiver: DingTalkReceiver

    def url(self) -> str:
        return signed_url(self.receiver.target_url, self.receiver.secret_value, self.clock())
