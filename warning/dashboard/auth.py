"""Sign-in for the dashboard: config accounts (argon2 hashes), signed session cookies, CSRF tokens,
reverse-proxy header auth from trusted peers only, roles ``viewer`` / ``operator``, and a simple
login rate limit.

The session cookie is ``base64url(json payload) + "." + hex(HMAC-SHA256(key, "session\\n" + payload))``;
the payload names the user, the expiry and a random nonce from which the CSRF token is derived
(``HMAC(key, "csrf\\n" + nonce)``), so nothing is kept server-side and a restart with the same
``session_key`` keeps sign-ins. The role is looked up in the config on every request: removing an
account or changing its role takes effect at once.

>>> a = Auth(DashboardSettings(session_key={"secret": "k" * 32}))
>>> token, csrf = a.issue("zhang", now=1000.0)
>>> a.read_session(token, now=1001.0)["u"], a.read_session(token, now=1001.0)["c"] == csrf
('zhang', True)
>>> a.read_session(token, now=1000.0 + 13 * 3600) is None   # expired (session_hours 12)
True
>>> a.read_session(token[:-1] + ("0" if token[-1] != "0" else "1"), now=1001.0) is None  # forged
True
>>> lim = RateLimiter(max_failures=2, window_s=60)
>>> lim.blocked(["u:x"], 0), lim.fail(["u:x"], 0), lim.fail(["u:x"], 1), lim.blocked(["u:x"], 2) > 0
(0.0, None, None, True)
>>> lim.blocked(["u:x"], 62)
0.0
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Iterable

import orjson
from aiohttp import web

from warning.dashboard.settings import DashboardSettings

log = logging.getLogger(__name__)

COOKIE = "warning_session"
CSRF_HEADER = "X-CSRF-Token"
ROLE_RANK = {"viewer": 1, "operator": 2}


@dataclass(frozen=True)
class User:
    """The signed-in user of one request. ``via``: "session" (cookie) or "proxy" (header)."""

    name: str
    role: str
    display_name: str
    via: str
    csrf: str

    @property
    def by(self) -> str:
        """What goes into a feedback record's ``by``."""
        return self.display_name or self.name


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class RateLimiter:
    """At most ``max_failures`` failed sign-ins per key (``u:<user>``, ``ip:<addr>``) within
    ``window_s``; memory bounded to ``max_keys`` keys (oldest forgotten first)."""

    def __init__(self, max_failures: int = 10, window_s: float = 300.0, max_keys: int = 10_000) -> None:
        self.max_failures, self.window_s, self.max_keys = max_failures, window_s, max_keys
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()

    def blocked(self, keys: Iterable[str], now: float) -> float:
        """Seconds until a new attempt is allowed (0.0: allowed now)."""
        wait = 0.0
        for k in keys:
            q = self._fails.get(k)
            if not q:
                continue
            while q and q[0] <= now - self.window_s:
                q.popleft()
            if len(q) >= self.max_failures:
                wait = max(wait, q[0] + self.window_s - now)
        return wait

    def fail(self, keys: Iterable[str], now: float) -> None:
        for k in keys:
            q = self._fails.pop(k, None) or deque(maxlen=self.max_failures)
            q.append(now)
            self._fails[k] = q
        while len(self._fails) > self.max_keys:
            self._fails.popitem(last=False)

    def reset(self, keys: Iterable[str]) -> None:
        for k in keys:
            self._fails.pop(k, None)


class Auth:
    """Everything about who a request comes from (see the module docstring)."""

    def __init__(self, settings: DashboardSettings) -> None:
        from argon2 import PasswordHasher

        self.settings = settings
        self.key = settings.session_key.key() if settings.session_key is not None else secrets.token_bytes(32)
        self.hasher = PasswordHasher()
        # verified against when the user is unknown, so both paths cost one argon2 verify
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        self.limiter = RateLimiter()
        self._proxies = _networks(settings.proxy_auth.trusted_proxies)

    # ------------------------------------------------------------------ sessions
    def _mac(self, purpose: str, data: bytes) -> str:
        return hmac.new(self.key, purpose.encode() + b"\n" + data, hashlib.sha256).hexdigest()

    def issue(self, user: str, now: float | None = None) -> tuple[str, str]:
        """A new session cookie value for ``user`` and its CSRF token."""
        now = time.time() if now is None else now
        nonce = secrets.token_urlsafe(16)
        payload = orjson.dumps({"u": user, "exp": now + self.settings.session_hours * 3600.0, "n": nonce})
        return f"{_b64(payload)}.{self._mac('session', payload)}", self._mac("csrf", nonce.encode())

    def read_session(self, token: str | None, now: float | None = None) -> dict[str, Any] | None:
        """The session payload (+ ``c``: its CSRF token) if the cookie is genuine and unexpired."""
        if not token or "." not in token or len(token) > 1024:
            return None
        body, _, mac = token.rpartition(".")
        try:
            payload = _unb64(body)
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(self._mac("session", payload).encode(), mac.encode("utf-8", "replace")):
            return None
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None
        now = time.time() if now is None else now
        if not isinstance(data, dict) or not isinstance(data.get("u"), str) or not isinstance(data.get("n"), str) \
                or not isinstance(data.get("exp"), (int, float)) or data["exp"] < now:
            return None
        data["c"] = self._mac("csrf", data["n"].encode())
        return data

    # ------------------------------------------------------------------ who is it
    def _trusted_peer(self, remote: str | None) -> bool:
        if not remote:
            return False
        try:
            ip = ipaddress.ip_address(remote.split("%", 1)[0])
        except ValueError:
            return False
        return any(ip in net for net in self._proxies)

    def user_of(self, request: web.Request) -> User | None:
        """The request's user: a trusted proxy's header first, then the session cookie."""
        pa = self.settings.proxy_auth
        if pa.header and self._trusted_peer(request.remote):
            name = (request.headers.get(pa.header) or "").strip()
            if name and len(name) <= 200:
                role = (request.headers.get(pa.role_header) or "").strip().lower() if pa.role_header else ""
                if role not in ROLE_RANK:
                    role = pa.default_role
                acct = self.settings.users.get(name)
                return User(name, role, (acct.display_name if acct and acct.display_name else name), "proxy",
                            self._mac("csrf-proxy", name.encode()))
        data = self.read_session(request.cookies.get(COOKIE))
        if data is None:
            return None
        acct = self.settings.users.get(data["u"])
        if acct is None:  # account removed since sign-in
            return None
        return User(data["u"], acct.role, acct.display_name or data["u"], "session", data["c"])

    def require(self, request: web.Request, role: str = "operator", csrf: bool = True) -> User:
        """The user, or raise 401 (nobody) / 403 (role too low, or missing/wrong CSRF token)."""
        user = self.user_of(request)
        if user is None:
            raise json_error(401, "请先登录 sign in first")
        if ROLE_RANK.get(user.role, 0) < ROLE_RANK[role]:
            raise json_error(403, "无操作权限（需要值班员 operator 角色） forbidden: operator role required")
        if csrf:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode("utf-8", "replace"), user.csrf.encode()):
                raise json_error(403, "CSRF 校验失败，请刷新页面 bad or missing X-CSRF-Token")
        return user

    # ------------------------------------------------------------------ passwords
    def check_password(self, user: str, password: str) -> bool:
        """argon2 verify; an unknown user costs the same (verified against a dummy hash)."""
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        acct = self.settings.users.get(user)
        try:
            self.hasher.verify(acct.password_hash if acct is not None else self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return acct is not None

    async def login(self, request: web.Request, user: str, password: str) -> tuple[str, str] | None:
        """Check credentials (rate limited per user and per client address); a new session or None.
        Raises 429 when too many recent failures."""
        now = time.time()
        keys = [f"u:{user}", f"ip:{request.remote or '?'}"]
        wait = self.limiter.blocked(keys, now)
        if wait > 0:
            raise json_error(429, "登录尝试过多，请稍后再试 too many sign-in attempts, try later",
                             headers={"Retry-After": str(int(wait) + 1)})
        ok = await asyncio.to_thread(self.check_password, user, password)
        if not ok:
            self.limiter.fail(keys, time.time())
            log.info("dashboard sign-in failed from %s", request.remote)  # no user name: it may be a mistyped password
            return None
        self.limiter.reset([keys[0]])
        return self.issue(user)

    def set_cookie(self, resp: web.StreamResponse, token: str) -> None:
        resp.set_cookie(COOKIE, token, max_age=int(self.settings.session_hours * 3600), httponly=True,
                        samesite="Strict", secure=self.settings.cookie_secure, path="/")

    def clear_cookie(self, resp: web.StreamResponse) -> None:
        resp.del_cookie(COOKIE, path="/")


def _networks(items: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    out = []
    for s in items:
        try:
            out.append(ipaddress.ip_network(s.strip(), strict=False))
        except ValueError:
            log.warning("dashboard.proxy_auth.trusted_proxies: ignoring %r (not an address or network)", s)
    return out


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.HTTPException:
    """An HTTP error with a JSON body ``{"error": message}``."""
    cls = {400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 404: web.HTTPNotFound,
           429: web.HTTPTooManyRequests, 503: web.HTTPServiceUnavailable, 504: web.HTTPGatewayTimeout}[status]
    return cls(text=orjson.dumps({"error": message}).decode(), content_type="application/json", headers=headers)


def hash_password(password: str) -> str:
    """An argon2id hash for ``dashboard.users.<name>.password_hash``.

    >>> h = hash_password("correct horse")
    >>> h.startswith("$argon2id$"), Auth(DashboardSettings(users={"a": {"password_hash": h}})).check_password("a", "correct horse")
    (True, True)
    """
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)
