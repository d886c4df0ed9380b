"""Event-time helpers. Times travel as ISO 8601 strings with offset and as epoch seconds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

HOUR = 3600.0  # seconds
DAY = 86400.0

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def parse_time(value: str) -> datetime:
    """Parse an ISO 8601 timestamp that must carry an offset.

    >>> parse_time("2025-01-01T08:00:00+08:00").timestamp()
    1735689600.0
    """
    dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"timestamp without offset: {value!r}")
    return dt


def to_epoch(dt: datetime) -> float:
    return dt.timestamp()


def iso(ts: float, tz: timezone = BEIJING) -> str:
    """Epoch seconds → ISO 8601 in Beijing time (seconds precision unless fractional).

    >>> iso(1735689600.0)
    '2025-01-01T08:00:00+08:00'
    """
    dt = datetime.fromtimestamp(ts, tz)
    if dt.microsecond:
        return dt.isoformat(timespec="milliseconds")
    return dt.isoformat(timespec="seconds")
