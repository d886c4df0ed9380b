"""Keeping receiver secrets out of everything we print: URLs, error texts, tracebacks.

A receiver's secrets are its signing secret and its URL (robot URLs embed their key or access
token in the query; a URL may carry ``user:password@``). Whatever text leaves a notifier — a
:class:`~warning.notify.base.DeliveryResult` error or response body (and so a dead letter), a log
line, a formatted traceback, a config error — goes through :func:`redact_text` first, which

1. replaces every known secret value (and its percent-encoded form) with ``***``;
2. shows every ``http(s)://`` URL in the text as :func:`redact_url` does (all query values and
   any ``user:password@`` removed);
3. removes the value of any ``key=`` / ``access_token=`` / ``token=`` / ``secret=`` / ``sign=`` /
   ``password=``-like parameter that is not inside a URL (e.g. a query string alone).

>>> redact_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx")
'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***'
>>> redact_url("http://am:pw@10.0.0.7:8060/send")
'http://10.0.0.7:8060/send'
>>> redact_url("https://open.feishu.cn/open-apis/bot/v2/hook/0f2c3e4a-1b2c-4d5e-8f90-123456789abc")
'https://open.feishu.cn/open-apis/bot/v2/hook/***'
>>> redact_text("Cannot connect to https://oapi.dingtalk.com/robot/send?access_token=abc123&timestamp=1 [refused]")
'Cannot connect to https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=*** [refused]'
>>> redact_text("bad signature for secret SEC0123456789abcdef", secrets=["SEC0123456789abcdef"])
'bad signature for secret ***'
>>> redact_text("query was access_token=abc123&foo=1")
'query was access_token=***&foo=1'
"""

from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote_plus, urlsplit, urlunsplit

MASK = "***"

#: query parameter names whose value is a credential (case-insensitive): WeCom ``key``, DingTalk
#: ``access_token`` and ``sign``, and the usual API-key spellings
SECRET_PARAMS = frozenset({
    "key", "access_token", "accesstoken", "token", "secret", "sign", "signature", "sig", "password",
    "passwd", "pwd", "apikey", "api_key", "api-key", "auth", "authorization", "client_secret",
})
#: shorter known values are not replaced by value (too likely to hit ordinary text)
MIN_SECRET_LEN = 6

_URL = re.compile(r"https?://[^\s'\"<>\\)\]]+", re.IGNORECASE)
_PARAM = re.compile(
    r"(?<![\w-])(" + "|".join(sorted((re.escape(p) for p in SECRET_PARAMS), key=len, reverse=True)) + r")=([^&\s'\"<>]+)",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """``url`` with every query value replaced by ``***`` and ``user:password@`` dropped (the
    scheme, host, port and path stay: they say where alerts go)."""
    try:
        p = urlsplit(url)
        port = p.port
    except ValueError:
        return "<invalid url>"
    host = p.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if port:
        host = f"{host}:{port}"
    query = "&".join((kv.split("=", 1)[0] + "=" + MASK) if kv else kv for kv in p.query.split("&")) if p.query else ""
    path = "/".join(MASK if _is_token(seg) else seg for seg in p.path.split("/"))
    return urlunsplit((p.scheme, host, path, query, ""))


#: a path segment that is a credential rather than a name: long, URL-safe, with a digit
#: (Feishu/Lark ``…/bot/v2/hook/<uuid>``, Slack ``…/services/T00/B00/XXXX``-style tokens)
_TOKEN_SEGMENT = re.compile(r"(?=[A-Za-z0-9_\-]*\d)[A-Za-z0-9_\-]{16,}")


def _is_token(segment: str) -> bool:
    """Whether a URL path segment looks like a credential.

    >>> _is_token("0f2c3e4a-1b2c-4d5e-8f90-123456789abc"), _is_token("webhook"), _is_token("2024")
    (True, False, False)
    """
    return bool(_TOKEN_SEGMENT.fullmatch(segment))


def path_tokens(url: str) -> bool:
    """True if the path of ``url`` carries a token (:func:`_is_token`).

    >>> path_tokens("https://open.feishu.cn/open-apis/bot/v2/hook/0f2c3e4a-1b2c-4d5e-8f90-123456789abc")
    True
    """
    try:
        return any(_is_token(seg) for seg in urlsplit(url).path.split("/"))
    except ValueError:
        return False


def url_secrets(url: str) -> list[str]:
    """The credential parts of ``url``: the URL itself, the values of :data:`SECRET_PARAMS`
    parameters (raw and decoded), the password of a ``user:password@``. Used to scrub texts that
    quote them.

    >>> url_secrets("https://h/send?access_token=a%2Bb&team=x")
    ['https://h/send?access_token=a%2Bb&team=x', 'a%2Bb', 'a+b']
    """
    out = [url]
    try:
        p = urlsplit(url)
        if p.password:
            out.append(p.password)
        for kv in p.query.split("&"):
            name, _, raw = kv.partition("=")
            if raw and name.lower() in SECRET_PARAMS:
                out.append(raw)
                decoded = unquote_plus(raw)
                if decoded != raw:
                    out.append(decoded)
    except ValueError:
        pass
    return out


def inline_secret_params(url: str) -> list[str]:
    """Names of credential-bearing parts of ``url``: query parameters in :data:`SECRET_PARAMS`
    and ``password`` for a ``user:password@``.

    >>> inline_secret_params("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x&debug=1")
    ['key']
    >>> inline_secret_params("http://u:p@h/x"), inline_secret_params("https://ops.example/x?team=a")
    (['password'], [])
    """
    try:
        p = urlsplit(url)
        names = [k for k, _ in parse_qsl(p.query, keep_blank_values=True) if k.lower() in SECRET_PARAMS]
        return (["password"] if p.password else []) + (["path"] if path_tokens(url) else []) + names
    except ValueError:
        return []


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with the known ``secrets``, URLs' credentials and ``key=…``-like values masked."""
    if not text:
        return text
    text = scrub(text, secrets)
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    return _PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with only the given ``secrets`` masked (a known URL shown redacted); other URLs stay.

    >>> scrub("to https://h/send?key=abcdef and https://h/docs?page=2", ["https://h/send?key=abcdef"])
    'to https://h/send?key=*** and https://h/docs?page=2'
    """
    values: dict[str, str] = {}
    for s in secrets:
        if s and len(s) >= MIN_SECRET_LEN:
            shown = redact_url(s) if _URL.fullmatch(s) else MASK  # a URL still says where it went
            for form in (s, quote(s, safe=""), quote_plus(s), quote(s, safe="/:?=&")):
                values.setdefault(form, shown)
    for v in sorted(values, key=len, reverse=True):
        text = text.replace(v, values[v])
    return text
