"""Configuration errors: :class:`ConfigError` and pydantic errors → ``(dotted key, message)``.

A leaf module (it imports only pydantic), so :mod:`warning.config` and the owners of config
sections (e.g. :mod:`warning.notify.router`) raise the same error without importing each other.

>>> from pydantic import BaseModel, ConfigDict, ValidationError
>>> class M(BaseModel):
...     model_config = ConfigDict(extra="forbid")
...     n: int = 1
>>> try:
...     M.model_validate({"n": "x", "m": 2})
... except ValidationError as e:
...     print(ConfigError(dotted_errors(e, "sec"), "f.yaml"))
config error in f.yaml:
  sec.n: Input should be a valid integer, unable to parse string as an integer (got 'x')
  sec.m: unknown key (typo?)
"""

from __future__ import annotations

import re
from typing import Collection

from pydantic import ValidationError

#: keys whose input is never echoed in an error message (URLs of robots carry their token)
_SECRET_HINTS = ("secret", "url")
_KEY = re.compile(r"^[A-Za-z_][\w.\-]*$")


class ConfigError(Exception):
    """Invalid configuration. ``errors`` is a list of (dotted key, message)."""

    def __init__(self, errors: list[tuple[str, str]], source: str = "") -> None:
        self.errors = errors
        self.source = source
        lines = [f"{key}: {msg}" for key, msg in errors]
        super().__init__(("config error in " + source + ":\n  " if source else "config error:\n  ") + "\n  ".join(lines))


def dotted_errors(e: ValidationError, prefix: str = "", tags: Collection[str] = ()) -> list[tuple[str, str]]:
    """``(dotted key, message)`` per error of ``e``.

    ``tags``: tags of discriminated unions in lists (e.g. receiver kinds), dropped from the key
    (pydantic puts the tag in the location: ``receivers.0.generic.url`` → ``receivers.0.url``).
    An unknown tag is reported on the discriminator key (``receivers.0.kind``). A model validator
    may name keys itself, relative to its model: a message ``"k1: m1; k2: m2"`` becomes one error
    per key (``routes.0.receivers.1: unknown receiver 'x'``).
    """
    out: list[tuple[str, str]] = []
    for err in e.errors():
        loc = list(err["loc"])
        loc = [p for i, p in enumerate(loc) if not (p in tags and i > 0 and isinstance(loc[i - 1], int))]
        msg = err["msg"].removeprefix("Value error, ")
        kind = err["type"]
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            disc = str((err.get("ctx") or {}).get("discriminator", "kind")).strip("'")
            loc.append(disc)
            if kind == "union_tag_invalid":
                msg = f"unknown {disc} {err['ctx']['tag']!r} (expected one of: {err['ctx']['expected_tags']})"
            else:
                msg = f"missing {disc} (expected one of the known {disc}s)"
        key = ".".join(str(p) for p in ([prefix] if prefix else []) + loc)
        if kind == "extra_forbidden":
            msg = "unknown key (typo?)"
        elif (kind != "value_error" and "input" in err and isinstance(err["input"], (str, int, float, bool))
              and not any(h in key for h in _SECRET_HINTS)):
            msg += f" (got {err['input']!r})"
        parts = [p.partition(": ") for p in msg.split("; ")]
        if kind == "value_error" and all(sep and _KEY.match(k) for k, sep, _ in parts):
            out.extend((f"{key}.{k}" if key else k, m) for k, _, m in parts)
        else:
            out.append((key or "<root>", msg))
    return out
