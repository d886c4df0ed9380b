"""Alertmanager webhook v4 payload, so receivers written for Alertmanager work unchanged.

Our alert → one Alertmanager alert:

* ``labels``: ``alertname`` = signal, ``severity`` = level (blue|yellow|orange|red), ``level_zh``,
  ``street_code``, ``street_name``, ``district``, ``district_code`` (first 6 digits of the street
  code), ``source="warning"``. No personal data: only places and the signal.
* ``annotations``: ``summary`` (Chinese title), ``summary_zh``, ``description`` (Chinese text),
  ``alert_id``, ``observed``, ``expected``, ``score``, ``window_start``, ``window_end``.
* ``startsAt`` = ``starts_at``; ``endsAt`` = ``"0001-01-01T00:00:00Z"`` while firing, ``ends_at``
  when resolved; ``generatorURL`` from the receiver's ``link_template``;
  ``fingerprint`` = Prometheus' label-set fingerprint (FNV-1a 64 over sorted names and values,
  0xff-separated), 16 hex digits: stable for the same labels.

The envelope carries ``version: "4"``, ``groupKey``, ``truncatedAlerts``, ``status`` (firing when
any alert fires), ``receiver``, ``groupLabels`` (alertname + street_code of the first alert),
``commonLabels``/``commonAnnotations`` (pairs shared by all alerts) and ``externalURL``.
"""

from __future__ import annotations

from datetime import timezone
from typing import Any, Literal, Mapping

from pydantic import Field

from warning.core.events import Alert
from warning.core.signals import LEVELS
from warning.core.timeutil import parse_time
from warning.notify.base import DeliveryResult, Notifier, ReceiverBase, dumps
from warning.notify.kinds.common import IDEMPOTENCY_HEADER, idempotency_key
from warning.notify.render import alert_links, is_resolved, render_plain, sanitize_alert, title_of

ZERO_TIME = "0001-01-01T00:00:00Z"
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1


def fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus ``model.LabelSet.Fingerprint()`` as 16 hex digits.

    >>> fingerprint({})
    'cbf29ce484222325'
    >>> fingerprint({"b": "2", "a": "1"}) == fingerprint({"a": "1", "b": "2"})
    True
    """
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name.encode("utf-8"), b"\xff", str(labels[name]).encode("utf-8"), b"\xff"):
            for byte in part:
                h ^= byte
                h = (h * _FNV_PRIME) & _MASK
    return f"{h:016x}"


def _rfc3339(value: Any) -> str:
    if not value:
        return ZERO_TIME
    try:
        dt = parse_time(str(value))
    except (ValueError, TypeError):
        return str(value)
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _s(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


class AlertmanagerReceiver(ReceiverBase):
    """``kind: alertmanager`` — Alertmanager webhook v4 messages."""

    kind: Literal["alertmanager"]
    external_url: str = Field("", description="externalURL of the payload")
    link_template: str | None = Field(None, description="generatorURL, str.format over alert fields, e.g. https://ops/streets/{street_code}")


def am_labels(alert: Alert) -> dict[str, str]:
    level = alert.level
    code = alert.street_code
    labels = {
        "alertname": alert.signal or "unknown",
        "severity": level,
        "level_zh": LEVELS[level].zh if level in LEVELS else "",
        "street_code": code,
        "street_name": alert.street_name,
        "district": alert.district,
        "district_code": code[:6] if len(code) >= 6 else "",
        "source": "warning",
    }
    return {k: v for k, v in labels.items() if v != ""}


def am_alert(alert: Alert, link_template: str | None = None) -> dict[str, Any]:
    alert = sanitize_alert(alert)
    labels = am_labels(alert)
    annotations = {
        "summary": title_of(alert),
        "summary_zh": alert.summary_zh,
        "description": render_plain(alert, link_template),
        "alert_id": alert.alert_id,
        "observed": _s(alert.observed),
        "expected": _s(alert.expected),
        "score": _s(alert.score),
        "window_start": alert.window_start,
        "window_end": alert.window_end,
    }
    annotations = {k: v for k, v in annotations.items() if v != ""}
    resolved = is_resolved(alert)
    links = alert_links(alert, link_template)
    return {
        "status": "resolved" if resolved else "firing",
        "labels": labels,
        "annotations": annotations,
        "startsAt": _rfc3339(alert.starts_at or alert.window_start),
        "endsAt": _rfc3339(alert.ends_at or alert.window_end) if resolved else ZERO_TIME,
        "generatorURL": links[0][1] if links else "",
        "fingerprint": fingerprint(labels),
    }


def _common(dicts: list[dict[str, str]]) -> dict[str, str]:
    if not dicts:
        return {}
    first = dicts[0]
    return {k: v for k, v in first.items() if all(d.get(k) == v for d in dicts[1:])}


def _label_str(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def payload(alerts: list[Alert], receiver: str, external_url: str = "", link_template: str | None = None) -> dict[str, Any]:
    """The Alertmanager webhook v4 message for ``alerts``."""
    items = [am_alert(a, link_template) for a in alerts]
    first = items[0]["labels"] if items else {}
    group_labels = {k: first[k] for k in ("alertname", "street_code") if k in first}
    status = "firing" if any(i["status"] == "firing" for i in items) else "resolved"
    return {
        "version": "4",
        "groupKey": "{}:" + _label_str(group_labels),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": _common([i["labels"] for i in items]),
        "commonAnnotations": _common([i["annotations"] for i in items]),
        "externalURL": external_url,
        "alerts": items,
    }


class AlertmanagerNotifier(Notifier):
    """POST Alertmanager webhook v4 messages (one alert per message by default)."""

    kind = "alertmanager"
    max_batch = 1
    receiver: AlertmanagerReceiver

    async def notify(self, alerts: list[Alert]) -> DeliveryResult:
        r = self.receiver
        body = dumps(payload(alerts, r.name, r.external_url, r.link_template))
        headers = {IDEMPOTENCY_HEADER: ",".join(idempotency_key(a) for a in alerts)}
        result, _ = await self.post(r.target_url, body, headers)
        return result
