"""Routing: which receivers get an alert. Configured in YAML (``receivers:`` and ``routes:``).

Semantics follow Alertmanager's routing tree, flattened to one level:

* routes are tried in order; a route *matches* when every condition it gives holds (conditions
  not given always hold; lists are "any of");
* the first matching route wins and matching stops — unless it says ``continue: true``, then the
  following routes are tried as well and every matching route contributes its receivers;
* the ``default: true`` route (at most one, no conditions) applies only when no other route
  matched; without one, an unmatched alert goes nowhere (reported by :meth:`Router.route` as an
  empty list, and by the dispatcher's ``unrouted`` counter);
* no ``routes:`` at all → every alert to every receiver.

Conditions (``match:``):

* ``districts``: district codes (``"110105"``) or names (``朝阳区`` or ``朝阳``), checked against the
  registry of the configured region — an unknown name is a config error;
* ``streets``: street codes (``"110105001"``) or full street names (``建外街道``);
* ``min_level``: ``blue|yellow|orange|red`` (or 蓝/黄/橙/红): the alert's level is at least this;
* ``signals``: exact signal names (see :mod:`warning.core.signals`); a trailing ``*`` matches a
  prefix (``"hotline_*"``).

Receiver-level filters apply after routing: ``send_resolved: false`` drops resolved notices.

Example::

    receivers:
      - name: ops-system                 # the ops centre's own system: everything, signed
        kind: generic
        url: https://ops.example.gov.cn/api/warning/alerts
        secret_env: WARNING_OPS_WEBHOOK_SECRET
      - name: chaoyang-wecom
        kind: wecom
        url_env: WARNING_WECOM_CHAOYANG_URL     # https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…
        mentions: [zhangsan, lisi]              # WeCom userids
        mention_min_level: orange
        send_resolved: false
      - name: city-dingtalk
        kind: dingtalk
        url_file: /run/secrets/dingtalk_url     # https://oapi.dingtalk.com/robot/send?access_token=…
        secret_file: /run/secrets/dingtalk_sec  # SEC…
        mentions: ["13800000000"]
      - name: am-consumers                 # anything that consumes Alertmanager webhooks (v4)
        kind: alertmanager
        url: http://10.0.0.7:8060/dingtalk/webhook1/send
    routes:
      - receivers: [ops-system, am-consumers]
        continue: true                  # everything to the ops system, keep matching
      - match: {districts: [朝阳区], min_level: yellow}
        receivers: [chaoyang-wecom]
        continue: true
      - match: {min_level: orange}
        receivers: [city-dingtalk]
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from warning.core.events import Alert
from warning.core.signals import level_rank
from warning.notify.base import ReceiverBase
from warning.notify.render import normalize_level
from warning.notify.wiring import KINDS, ReceiverConfig
from warning.validation import ConfigError, dotted_errors


class RouteMatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    districts: list[str] = Field(default_factory=list)
    streets: list[str] = Field(default_factory=list)
    min_level: str | None = None
    signals: list[str] = Field(default_factory=list)

    @field_validator("min_level")
    @classmethod
    def _level(cls, v: str | None) -> str | None:
        return None if v is None else normalize_level(v)

    @field_validator("districts", "streets", "signals", mode="before")
    @classmethod
    def _strs(cls, v: Any) -> Any:
        if isinstance(v, (str, int)):
            v = [v]
        if isinstance(v, list):
            return [str(x).strip() for x in v]
        return v

    def is_empty(self) -> bool:
        return not (self.districts or self.streets or self.min_level or self.signals)


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str | None = None
    match: RouteMatch = Field(default_factory=RouteMatch)
    receivers: list[str] = Field(min_length=1)
    continue_: bool = Field(False, alias="continue")
    default: bool = False

    @model_validator(mode="after")
    def _default_has_no_match(self) -> "Route":
        if self.default and not self.match.is_empty():
            raise ValueError("a default route applies when nothing else matched: it takes no match conditions")
        return self


def check_routing(receivers: Sequence[ReceiverBase], routes: Sequence[Route]) -> None:
    """Receiver names unique, routes name known receivers, at most one default route.
    ``ValueError`` naming the keys (``routes.0.receivers.1: unknown receiver 'x'``)."""
    names = [r.name for r in receivers]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"duplicate receiver names: {', '.join(dup)}")
    known = set(names)
    errors = []
    for i, route in enumerate(routes):
        for j, rn in enumerate(route.receivers):
            if rn not in known:
                errors.append(f"routes.{i}.receivers.{j}: unknown receiver {rn!r} (known: {', '.join(sorted(known)) or 'none'})")
    if sum(1 for r in routes if r.default) > 1:
        errors.append("routes: more than one route has default: true")
    if errors:
        raise ValueError("; ".join(errors))


class RoutingConfig(BaseModel):
    """``receivers:`` + ``routes:`` validated together (route → receiver references checked)."""

    model_config = ConfigDict(extra="forbid")

    receivers: list[ReceiverConfig] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refs(self) -> "RoutingConfig":
        check_routing(self.receivers, self.routes)
        return self


def load_routing(receivers: Iterable[Mapping[str, Any]] | None, routes: Iterable[Mapping[str, Any]] | None, *, env: Mapping[str, str] | None = None) -> RoutingConfig:
    """Validate the YAML ``receivers:`` and ``routes:`` lists; raise
    :class:`warning.config.ConfigError` naming the dotted key (``receivers.1.url_env``)."""
    data = {"receivers": list(receivers or []), "routes": list(routes or [])}
    try:
        return RoutingConfig.model_validate(data, context={"env": os.environ if env is None else env})
    except ValidationError as e:
        raise ConfigError(dotted_errors(e, tags=KINDS), "routing") from None


class Router:
    """Decides the receivers of each alert. District/street names are resolved once, at start,
    with the region's registry."""

    def __init__(self, config: RoutingConfig, region_code: str = "110000") -> None:
        self.config = config
        self.receivers: dict[str, ReceiverBase] = {r.name: r for r in config.receivers}
        self._compiled: list[tuple[Route, _Compiled]] = []
        errors: list[tuple[str, str]] = []
        registry = None
        if any(r.match.districts or r.match.streets for r in config.routes):
            from warning.core.registry import Registry

            registry = Registry.load(region_code)
        for i, route in enumerate(config.routes):
            comp = _Compiled(route.match, registry, f"routes.{i}.match", errors)
            self._compiled.append((route, comp))
        if errors:
            raise ConfigError(errors, "routing")
        self._registry = registry

    @classmethod
    def from_config(cls, receivers: Iterable[Mapping[str, Any]] | None, routes: Iterable[Mapping[str, Any]] | None, *,
                    env: Mapping[str, str] | None = None, region_code: str = "110000") -> "Router":
        return cls(load_routing(receivers, routes, env=env), region_code)

    @classmethod
    def from_settings(cls, settings: Any) -> "Router":
        """From :class:`warning.config.Settings` (``receivers``/``routes`` validated at load, with
        the environment given to :func:`~warning.config.load_settings`: not validated again)."""
        return cls(RoutingConfig.model_construct(receivers=list(settings.receivers), routes=list(settings.routes)), settings.region.code)

    def route(self, alert: Alert) -> list[str]:
        """Receiver names for ``alert`` (ordered, without duplicates)."""
        if not self.config.routes:
            return list(self.receivers)
        out: list[str] = []
        matched = False
        default: Route | None = None
        for route, comp in self._compiled:
            if route.default:
                default = route
                continue
            if comp.matches(alert):
                matched = True
                out.extend(route.receivers)
                if not route.continue_:
                    break
        if not matched and default is not None:
            out.extend(default.receivers)
        seen: set[str] = set()
        return [r for r in out if not (r in seen or seen.add(r))]


class _Compiled:
    def __init__(self, m: RouteMatch, registry: Any, key: str, errors: list[tuple[str, str]]) -> None:
        self.min_rank = level_rank(m.min_level) if m.min_level else 0
        self.signals_exact = {s for s in m.signals if not s.endswith("*")}
        self.signals_prefix = tuple(s[:-1] for s in m.signals if s.endswith("*"))
        self.any_signal = not m.signals
        self.district_codes: set[str] = set()
        self.district_names: set[str] = set()
        for i, d in enumerate(m.districts):
            if d.isdigit():
                if registry is not None and d not in registry.districts:
                    errors.append((f"{key}.districts.{i}", f"unknown district code {d!r} in region {registry.region_code}"))
                self.district_codes.add(d)
                continue
            dist = registry.find_district(d) if registry is not None else None
            if dist is None or (dist.name != d and not dist.name.startswith(d)):
                errors.append((f"{key}.districts.{i}", f"unknown district {d!r} in region {registry.region_code if registry else '?'}"))
                continue
            self.district_codes.add(dist.code)
            self.district_names.add(dist.name)
        self.street_codes: set[str] = set()
        for i, s in enumerate(m.streets):
            if s.isdigit():
                if registry is not None and s not in registry.streets:
                    errors.append((f"{key}.streets.{i}", f"unknown street code {s!r} in region {registry.region_code}"))
                self.street_codes.add(s)
                continue
            found = [st.code for st in registry.streets.values() if st.name == s] if registry is not None else []
            if not found:
                errors.append((f"{key}.streets.{i}", f"unknown street name {s!r} (use the 9-digit code when names repeat)"))
            self.street_codes.update(found)
        self.any_district = not m.districts
        self.any_street = not m.streets
        self.registry = registry

    def matches(self, alert: Alert) -> bool:
        if self.min_rank and level_rank(alert.level) < self.min_rank:
            return False
        if not self.any_signal:
            sig = alert.signal
            if sig not in self.signals_exact and not (self.signals_prefix and sig.startswith(self.signals_prefix)):
                return False
        code = alert.street_code
        if not self.any_street and code not in self.street_codes:
            return False
        if not self.any_district:
            if len(code) >= 6 and code[:6] in self.district_codes:
                return True
            name = alert.district.strip()
            if name and name in self.district_names:
                return True
            if name and self.registry is not None:
                d = self.registry.find_district(name)
                if d is not None and d.code in self.district_codes:
                    return True
            return False
        return True
