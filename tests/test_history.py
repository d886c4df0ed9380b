"""The alert history store (warning/history): the same tests on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import pytest
import sqlalchemy as sa

from pg_helpers import fresh_schema
from warning.history import schema as S
from warning.history.store import ALERT_ROW_KEYS, AlertQuery, Consumed, HistoryStore

BJ = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 10, 9, 0, tzinfo=BJ)  # a Monday morning in Beijing
ALERTS, FEEDBACK, EVENTS = "warning.alerts", "warning.alerts.feedback", "warning.events"


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def alert(aid: str, *, status: str = "firing", level: str = "yellow", signal: str = "hotline_volume",
          street: str = "110105001", name: str = "建外街道", district: str = "朝阳区",
          start: datetime = T0, end: datetime | None = None, hour: int = 1, score: float = 5.0,
          evidence: dict[str, Any] | None = None, samples: list[str] | None = None) -> dict[str, Any]:
    wend = start + timedelta(hours=hour)
    return {"alert_id": aid, "status": status, "level": level, "signal": signal, "street_code": street,
            "street_name": name, "district": district, "window_start": iso(wend - timedelta(hours=1)),
            "window_end": iso(wend), "starts_at": iso(start), "ends_at": iso(end) if end else None,
            "observed": 12.0, "expected": 3.0, "score": score, "summary_zh": f"{name}{signal}",
            "evidence": {"p": 0.001} if evidence is None else evidence,
            "sample_texts": ["小区停水三天，电话138****0000"] if samples is None else samples}


def fb(aid: str, action: str, at: datetime, by: str = "王科长", **kw: Any) -> dict[str, Any]:
    return {"alert_id": aid, "action": action, "by": by, "at": iso(at), "source": "dashboard", "sig": "x" * 64, **kw}


def ev(street: str, ts: datetime, source: str = "hotline") -> dict[str, Any]:
    return {"event_id": f"e-{street}-{ts.timestamp()}", "source": source, "street_code": street,
            "district": "朝阳区", "ts": ts.timestamp()}


class Feed:
    """Builds Consumed records with increasing offsets per (topic, partition)."""

    def __init__(self) -> None:
        self.next: dict[tuple[str, int], int] = {}
        self.records: list[Consumed] = []

    def add(self, kind: str, topic: str, value: dict[str, Any], partition: int = 0, trusted: bool = False) -> Consumed:
        k = (topic, partition)
        off = self.next.get(k, 0)
        self.next[k] = off + 1
        c = Consumed(kind, topic, partition, off, value, trusted)  # type: ignore[arg-type]
        self.records.append(c)
        return c

    def alert(self, value: dict[str, Any], partition: int = 0) -> Consumed:
        return self.add("alert", ALERTS, value, partition)

    def fb(self, value: dict[str, Any], trusted: bool = True, partition: int = 0) -> Consumed:
        return self.add("feedback", FEEDBACK, value, partition, trusted)

    def ev(self, value: dict[str, Any], partition: int = 0) -> Consumed:
        return self.add("event", EVENTS, value, partition)


# ------------------------------------------------------------------------------------------------
# fixtures: every test runs on SQLite (a tmp file) and on PostgreSQL (a fresh schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Callable[[], HistoryStore]]:
    """Factory of empty stores on the parametrized backend (closed/dropped at teardown)."""
    with ExitStack() as stack:
        n = [0]

        def make() -> HistoryStore:
            n[0] += 1
            if request.param == "sqlite":
                url = f"sqlite:///{tmp_path / f'h{n[0]}' / 'history.sqlite3'}"
            else:
                url = stack.enter_context(fresh_schema(request.getfixturevalue("pg_url")))
            s = HistoryStore.open(url)
            stack.callback(s.close)
            return s

        yield make


@pytest.fixture
def store(new_store: Callable[[], HistoryStore]) -> HistoryStore:
    return new_store()


def corpus() -> Feed:
    """Two partitions of alerts (escalation, resolution), feedback (trusted and not), events."""
    f = Feed()
    f.alert(alert("a1", level="blue"), partition=0)
    f.alert(alert("b1", street="110108001", name="万寿路街道", district="海淀区", signal="petition_volume",
                  level="orange", start=T0 + timedelta(hours=2)), partition=1)
    f.fb(fb("a1", "handled", T0 + timedelta(hours=3)))  # feedback may come before the record it follows
    f.alert(alert("a1", level="orange", hour=2), partition=0)
    f.alert(alert("a1", status="resolved", level="orange", hour=3, end=T0 + timedelta(hours=3),
                  evidence={}, samples=[]), partition=0)
    f.fb(fb("a1", "confirmed", T0 + timedelta(hours=4)))
    f.fb(fb("b1", "false_alarm", T0 + timedelta(hours=4), by="冒充者"), trusted=False)
    f.fb(fb("b1", "confirmed", T0 + timedelta(hours=5)), partition=1)
    f.fb(fb("zz", "confirmed", T0 + timedelta(hours=5)))  # an alert this history never saw
    f.fb(fb("b1", "silence", T0 + timedelta(hours=5), silence_hours=4))
    for i in range(5):
        f.ev(ev("110105001", T0 + timedelta(minutes=20 * i)), partition=i % 2)
    f.ev(ev("", T0))  # district level: counted, no street row
    return f


# ------------------------------------------------------------------------------------------------


def test_apply_is_idempotent(store: HistoryStore) -> None:
    recs = corpus().records
    r1 = store.apply(recs)
    assert r1.invalid == 0 and r1.skipped == 0 and r1.events == 6
    d1 = store.dump()
    r2 = store.apply(recs)
    assert (r2.skipped, r2.alerts, r2.feedback, r2.events) == (len(recs), [], [], 0)
    assert store.dump() == d1
    # an overlapping batch (a consumer restarted from an older commit) adds only the new record
    extra = Consumed("alert", ALERTS, 1, 1, alert("b1", status="resolved", level="yellow",
                                                    street="110108001", end=T0 + timedelta(hours=6)))
    r3 = store.apply(recs[-4:] + [extra])
    assert r3.skipped == 4 and [a["alert_id"] for a in r3.alerts] == ["b1"]
    b1 = store.get_alert("b1")["alert"]
    assert (b1["n_records"], b1["level"], b1["max_level"], b1["status"]) == (2, "yellow", "orange", "resolved")
    assert store.positions()[(ALERTS, 1)] == 2
    assert store.positions() == {(ALERTS, 0): 3, (ALERTS, 1): 2, (FEEDBACK, 0): 5, (FEEDBACK, 1): 1,
                                 (EVENTS, 0): 4, (EVENTS, 1): 2}


def test_rebuild_gives_the_same_rows(new_store: Callable[[], HistoryStore]) -> None:
    recs = corpus().records
    a, b, c = new_store(), new_store(), new_store()
    a.apply(recs)
    # b: feedback topic first, then events, then alerts, partition 1 before 0, batches of 2
    order = sorted(recs, key=lambda r: ({FEEDBACK: 0, EVENTS: 1, ALERTS: 2}[r.topic], -r.partition, r.offset))
    for i in range(0, len(order), 2):
        b.apply(order[i:i + 2])
    # c: one record at a time, each delivered twice
    for r in recs:
        c.apply([r])
        c.apply([r])
    da = a.dump()
    assert sum(len(v) for v in da.values()) > 15
    assert b.dump() == da
    assert c.dump() == da


def test_sqlite_and_postgresql_hold_the_same_rows(tmp_path, pg_url: str) -> None:
    recs = corpus().records
    with fresh_schema(pg_url) as u, HistoryStore.open(u) as pg, \
            HistoryStore.open(f"sqlite:///{tmp_path / 'h.sqlite3'}") as lite:
        pg.apply(recs)
        lite.apply(recs)
        assert pg.dump() == lite.dump()
        assert pg.query_alerts(AlertQuery()) == lite.query_alerts(AlertQuery())


def test_alert_state_and_detail(store: HistoryStore) -> None:
    store.apply(corpus().records)
    d = store.get_alert("a1")
    a = d["alert"]
    assert set(ALERT_ROW_KEYS) <= set(a)
    assert (a["level"], a["max_level"], a["status"], a["n_records"]) == ("orange", "orange", "resolved", 3)
    assert a["starts_at"] == iso(T0) and a["ends_at"] == iso(T0 + timedelta(hours=3))
    assert a["updated_at"] == iso(T0 + timedelta(hours=3)) and a["first_seen_s"] == T0.timestamp()
    assert a["evidence"] == {"p": 0.001} and a["sample_texts"]  # kept from the firing records
    assert [(h["status"], h["level"]) for h in d["history"]] == [
        ("firing", "blue"), ("firing", "orange"), ("resolved", "orange")]
    assert [x["action"] for x in d["feedback"]] == ["handled", "confirmed"]
    assert d["feedback"][1]["action_zh"] == "确认" and "sig" not in d["feedback"][1]
    assert (a["verdict"], a["verdict_by"], a["handled_at"], a["handled_by"]) == (
        "confirmed", "王科长", iso(T0 + timedelta(hours=3)), "王科长")
    assert store.get_alert("nope") is None
    assert store.get_alert("zz") is None  # feedback alone does not make an alert


def test_applied_reports_changes(store: HistoryStore) -> None:
    f = Feed()
    r = store.apply([f.alert(alert("a1")), f.fb(fb("a1", "false_alarm", T0 + timedelta(hours=1)))])
    assert [(x["alert_id"], x["verdict"]) for x in r.alerts] == [("a1", "false_alarm")]
    assert [(x["action"], x["trusted"]) for x in r.feedback] == [("false_alarm", True)]
    r = store.apply([f.fb(fb("a1", "confirmed", T0 + timedelta(hours=2)), trusted=False)])
    assert r.alerts[0]["verdict"] == "false_alarm"  # untrusted: stored, changes nothing
    assert r.feedback[0]["trusted"] is False


def test_invalid_records_are_counted_and_skipped(store: HistoryStore) -> None:
    f = Feed()
    batch = [
        f.alert(alert("ok")),
        f.alert({**alert("x1"), "level": "purple"}),
        f.alert({**alert("x2"), "starts_at": "2025-03-10T09:00:00"}),  # no offset
        f.alert({**alert("x3"), "score": float("nan")}),
        f.alert({"alert_id": "x4"}),
        f.alert({**alert("x5"), "summary_zh": "a\x00b"}),
        f.fb(fb("ok", "like", T0)),
        f.fb({"alert_id": "ok", "action": "silence", "by": "x", "at": iso(T0)}),  # no hours
        f.ev({"street_code": "110105001", "source": "hotline"}),
        f.add("weird", "t", {}),
    ]
    r = store.apply(batch)
    assert r.invalid == 9 and len(r.reasons) == 9 and [a["alert_id"] for a in r.alerts] == ["ok"]
    assert store.query_alerts()[0] == 1
    assert store.positions()[(ALERTS, 0)] == 6  # bad records are passed over, not re-read
    assert all("小区" not in x for x in r.reasons)  # reasons carry no record content


def test_filters_and_paging(store: HistoryStore) -> None:
    f = Feed()
    specs = [  # aid, district, street, signal, level, hours after T0
        ("c1", "朝阳区", "110105001", "hotline_volume", "blue", 0),
        ("c2", "朝阳区", "110105002", "petition_volume", "red", 1),
        ("h1", "海淀区", "110108001", "hotline_volume", "yellow", 2),
        ("h2", "海淀区", "110108001", "public_safety", "orange", 3),
        ("d1", "东城区", "110101001", "hotline_volume", "yellow", 4),
    ]
    for aid, dist, street, sig, lv, h in specs:
        f.alert(alert(aid, district=dist, street=street, signal=sig, level=lv, start=T0 + timedelta(hours=h)))
    f.alert(alert("h1", status="resolved", district="海淀区", street="110108001", level="yellow",
                  start=T0 + timedelta(hours=2), end=T0 + timedelta(hours=5)))
    f.fb(fb("c1", "confirmed", T0 + timedelta(hours=6)))
    f.fb(fb("c2", "false_alarm", T0 + timedelta(hours=6)))
    store.apply(f.records)

    def ids(**kw: Any) -> tuple[int, list[str]]:
        total, rows = store.query_alerts(AlertQuery(**kw))
        return total, [r["alert_id"] for r in rows]

    assert ids() == (5, ["d1", "h2", "h1", "c2", "c1"])  # newest first
    assert ids(district="朝阳区") == (2, ["c2", "c1"])
    assert ids(district=["朝阳区", "东城区"]) == (3, ["d1", "c2", "c1"])
    assert ids(level="yellow") == (2, ["d1", "h1"])
    assert ids(level=["orange", "red"]) == (2, ["h2", "c2"])
    assert ids(signal="hotline_volume", district="海淀区") == (1, ["h1"])
    assert ids(street_code="110108001") == (2, ["h2", "h1"])
    assert ids(status="resolved") == (1, ["h1"])
    assert ids(status="firing") == (4, ["d1", "h2", "c2", "c1"])
    assert ids(status="open") == (2, ["d1", "h2"])
    assert ids(verdict="confirmed") == (1, ["c1"])
    assert ids(verdict="none") == (3, ["d1", "h2", "h1"])
    assert ids(since=(T0 + timedelta(hours=1)).timestamp(), until=(T0 + timedelta(hours=3)).timestamp()) == (
        2, ["h1", "c2"])
    assert ids(limit=2) == (5, ["d1", "h2"]) and ids(limit=2, offset=2) == (5, ["h1", "c2"])
    assert ids(limit=2, offset=10) == (5, [])
    assert [a["alert_id"] for a in store.active_alerts()] == ["c2", "h2", "d1", "c1"]  # worst first
    with pytest.raises(ValueError):
        store.query_alerts(AlertQuery(status="closed"))
    with pytest.raises(ValueError):
        store.query_alerts(AlertQuery(level="purple"))


def test_precision(store: HistoryStore) -> None:
    f = Feed()
    verdicts = {  # signal, district → verdicts of its alerts (None = no verdict)
        ("hotline_volume", "朝阳区"): ["confirmed", "confirmed", "false_alarm", None],
        ("hotline_volume", "海淀区"): ["false_alarm"],
        ("petition_volume", "朝阳区"): [None, None],
    }
    n = 0
    for (sig, dist), vs in verdicts.items():
        for v in vs:
            n += 1
            aid = f"p{n}"
            f.alert(alert(aid, signal=sig, district=dist, start=T0 + timedelta(minutes=n)))
            if v:
                # an earlier opposite trusted verdict and a later untrusted one must not count
                other = "false_alarm" if v == "confirmed" else "confirmed"
                f.fb(fb(aid, other, T0 + timedelta(hours=1)))
                f.fb(fb(aid, v, T0 + timedelta(hours=2)))
                f.fb(fb(aid, other, T0 + timedelta(hours=3)), trusted=False)
    store.apply(f.records)
    assert store.precision(("signal",)) == [
        {"signal": "hotline_volume", "alerts": 5, "confirmed": 2, "false_alarm": 2, "precision": 0.5},
        {"signal": "petition_volume", "alerts": 2, "confirmed": 0, "false_alarm": 0, "precision": None},
    ]
    by_sd = {(r["signal"], r["district"]): r for r in store.precision(("signal", "district"))}
    assert by_sd[("hotline_volume", "朝阳区")]["precision"] == pytest.approx(2 / 3)
    assert by_sd[("hotline_volume", "海淀区")]["precision"] == 0.0
    assert [r["district"] for r in store.precision(["district"])] == sorted(["朝阳区", "海淀区"])
    assert store.precision(()) == [{"alerts": 7, "confirmed": 2, "false_alarm": 2, "precision": 0.5}]
    assert store.precision(("signal",), since=T0.timestamp() + 1000) == []
    with pytest.raises(ValueError):
        store.precision(("summary_zh",))


def test_verdict_is_the_latest_trusted(store: HistoryStore) -> None:
    f = Feed()
    store.apply([f.alert(alert("v1"))])

    def verdict() -> tuple[str | None, str | None]:
        a = store.get_alert("v1")["alert"]
        return a["verdict"], a["verdict_by"]

    store.apply([f.fb(fb("v1", "confirmed", T0 + timedelta(hours=2), by="甲"))])
    assert verdict() == ("confirmed", "甲")
    store.apply([f.fb(fb("v1", "false_alarm", T0 + timedelta(hours=3), by="乙"), trusted=False)])
    assert verdict() == ("confirmed", "甲")
    # read later but said earlier: "latest" is by `at`, not by arrival
    store.apply([f.fb(fb("v1", "false_alarm", T0 + timedelta(hours=1), by="丙"))])
    assert verdict() == ("confirmed", "甲")
    # the same `at`: the later offset wins
    store.apply([f.fb(fb("v1", "false_alarm", T0 + timedelta(hours=2), by="丁"))])
    assert verdict() == ("false_alarm", "丁")
    # handled: the first trusted 已处置; untrusted ignored
    store.apply([f.fb(fb("v1", "handled", T0 + timedelta(hours=1), by="戊"), trusted=False),
                 f.fb(fb("v1", "handled", T0 + timedelta(hours=5), by="己")),
                 f.fb(fb("v1", "handled", T0 + timedelta(hours=4), by="庚"))])
    a = store.get_alert("v1")["alert"]
    assert (a["handled_at"], a["handled_by"]) == (iso(T0 + timedelta(hours=4)), "庚")
    fbs = store.get_alert("v1")["feedback"]
    assert len(fbs) == 7 and [x["trusted"] for x in fbs].count(False) == 2


def test_silences(store: HistoryStore) -> None:
    f = Feed()
    t = T0
    store.apply([
        f.fb(fb("s1", "silence", t, silence_hours=2)),  # before its alert is known: street+signal from the alert
        f.alert(alert("s1", street="110105001", signal="hotline_volume")),
        f.fb(fb("x", "silence", t, silence_hours=8, street_code="110105009", signal="risk_terms")),
        f.fb(fb("x", "silence", t, silence_hours=8, street_code="110105008", signal="risk_terms"), trusted=False),
    ])
    at = lambda h: (t + timedelta(hours=h)).timestamp()  # noqa: E731
    assert [(s["street_code"], s["signal"], s["until"]) for s in store.silences(at(1))] == [
        ("110105001", "hotline_volume", iso(t + timedelta(hours=2))),
        ("110105009", "risk_terms", iso(t + timedelta(hours=8))),
    ]
    assert [s["street_code"] for s in store.silences(at(3))] == ["110105009"]  # the 2 h one expired
    store.apply([f.fb(fb("x", "unsilence", t + timedelta(hours=4), street_code="110105009", signal="risk_terms"))])
    assert [s["street_code"] for s in store.silences(at(3))] == ["110105009"]  # said later: not yet
    assert store.silences(at(5)) == []
    # a live silence shows on the alert rows
    now = datetime.now(BJ)
    store.apply([f.fb(fb("s1", "silence", now, silence_hours=1))])
    until = iso(now + timedelta(hours=1))
    assert store.get_alert("s1")["alert"]["silenced_until"] == until
    assert store.query_alerts()[1][0]["silenced_until"] == until
    assert store.active_alerts()[0]["silenced_until"] == until


def test_street_series(store: HistoryStore) -> None:
    f = Feed()
    base = datetime(2025, 3, 10, 0, 0, tzinfo=BJ)
    for h, n, src in [(0, 3, "hotline"), (0, 1, "petition"), (2, 2, "hotline"), (5, 4, "grid"), (30, 9, "hotline")]:
        for i in range(n):
            f.ev(ev("110105001", base + timedelta(hours=h, minutes=5 * i), src), partition=i % 3)
    f.ev(ev("110105002", base, "hotline"))
    store.apply(f.records[:7])
    store.apply(f.records[7:])
    s = store.street_series("110105001", end=(base + timedelta(hours=5, minutes=59)).timestamp(), hours=6)
    assert s["hours"] == [(base + timedelta(hours=h)).timestamp() for h in range(6)]
    assert s["observed"] == [4, 0, 2, 0, 0, 4]
    assert s["by_source"] == {"grid": [0, 0, 0, 0, 0, 4], "hotline": [3, 0, 2, 0, 0, 0], "petition": [1, 0, 0, 0, 0, 0]}
    assert store.street_series("110199999", end=base.timestamp(), hours=3)["observed"] == [0, 0, 0]


def test_monthly_numbers(store: HistoryStore) -> None:
    f = Feed()
    m = datetime(2025, 3, 1, tzinfo=BJ)
    f.alert(alert("m1", level="red", start=m))  # the first second of March (Beijing)
    f.alert(alert("m2", level="blue", start=m + timedelta(days=3)))
    f.alert(alert("m2", level="orange", start=m + timedelta(days=3), hour=2))  # escalated: counts orange
    f.alert(alert("m3", level="yellow", signal="petition_volume", street="110108001", name="万寿路街道",
                  district="海淀区", start=m + timedelta(days=10)))
    f.alert(alert("m4", level="yellow", start=m + timedelta(days=30, hours=23, minutes=59)))
    f.alert(alert("out1", start=m - timedelta(seconds=1)))  # February 28, 23:59:59
    f.alert(alert("out2", start=datetime(2025, 4, 1, tzinfo=BJ)))
    f.fb(fb("m1", "confirmed", m + timedelta(hours=1)))
    f.fb(fb("m1", "handled", m + timedelta(hours=2)))  # 2 h
    f.fb(fb("m2", "false_alarm", m + timedelta(days=3, hours=1)))
    f.fb(fb("m2", "handled", m + timedelta(days=3, hours=4)))  # 4 h
    f.fb(fb("m3", "confirmed", m + timedelta(days=10, hours=1)))
    f.fb(fb("m3", "handled", m + timedelta(days=10, hours=9)))  # 9 h
    f.fb(fb("m4", "false_alarm", m + timedelta(days=31)), trusted=False)
    f.fb(fb("out1", "handled", m + timedelta(hours=100)))
    store.apply(f.records)
    d = store.monthly("2025-03")
    assert d["n_alerts"] == 4 and d["n_streets"] == 2
    assert d["by_level"] == {"blue": 0, "yellow": 2, "orange": 1, "red": 1}
    assert d["verdicts"] == {"confirmed": 2, "false_alarm": 1, "none": 1}
    assert d["precision"] == pytest.approx(2 / 3)
    assert d["handled"] == {"n": 3, "median_hours": 4.0, "p90_hours": 9.0}
    assert [(x["district"], x["n"], x["confirmed"], x["false_alarm"]) for x in d["by_district"]] == [
        ("朝阳区", 3, 1, 1), ("海淀区", 1, 1, 0)]
    assert [(x["signal"], x["signal_zh"], x["n"]) for x in d["by_signal"]] == [
        ("hotline_volume", "12345热线诉求量异常升高", 3), ("petition_volume", "信访量异常升高", 1)]
    top = d["top_streets"][0]
    assert (top["street_code"], top["street_name"], top["n"], top["max_level"]) == ("110105001", "建外街道", 3, "red")
    assert len(d["by_day"]) == 31 and d["by_day"][0] == {"date": "2025-03-01", "n": 1}
    assert d["by_day"][30] == {"date": "2025-03-31", "n": 1}
    assert d["feedback"] == {"trusted": 6, "untrusted": 1}
    assert store.monthly("2025-02")["n_alerts"] == 1
    empty = store.monthly("2024-01")
    assert empty["n_alerts"] == 0 and empty["precision"] is None and empty["handled"]["median_hours"] is None


def test_schema_has_the_query_indexes(store: HistoryStore) -> None:
    names = {ix["name"] for ix in sa.inspect(store.engine).get_indexes("alerts")}
    assert {"ix_alerts_starts", "ix_alerts_district", "ix_alerts_signal", "ix_alerts_level",
            "ix_alerts_street", "ix_alerts_status"} <= names
    if store.dialect == "sqlite":
        with store.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert {t.name for t in S.TABLES} <= set(sa.inspect(store.engine).get_table_names())


def test_default_url_is_sqlite_in_data_dir(tmp_path) -> None:
    from warning.history.settings import HistorySettings

    url = HistorySettings().resolve(str(tmp_path / "data"))
    assert url == f"sqlite:///{tmp_path / 'data' / 'history.sqlite3'}"
    with HistoryStore.open(url) as s:
        s.apply([Consumed("alert", ALERTS, 0, 0, alert("a"))])
    assert (tmp_path / "data" / "history.sqlite3").is_file()


def fill(store: HistoryStore, n_alerts: int = 10_000, batch: int = 1000, seed: int = 7) -> int:
    """A synthetic history: ``n_alerts`` alerts over 30 days, 343 streets in 16 districts, ~3 records
    each (fired, escalated, resolved; 10 % still firing), verdicts on 40 %, handled on 30 %, some
    untrusted feedback; applied in consumer-sized batches. Returns the number of records."""
    import random

    rnd = random.Random(seed)
    districts = [f"区{i:02d}" for i in range(16)]
    streets = [(f"1101{i // 22:02d}{i % 22:03d}", f"街道{i:03d}", districts[i % 16]) for i in range(343)]
    signals = ["hotline_volume", "hotline_category", "petition_volume", "public_safety", "grid_volume",
               "sentiment", "risk_terms", "group_petition", "slow_buildup", "risk_buildup", "entity_repeat"]
    levels = ["blue", "yellow", "orange", "red"]
    f = Feed()
    for i in range(n_alerts):
        code, name, dist = rnd.choice(streets)
        if i % 7 == 0:
            dist = "朝阳区"
        start = T0 - timedelta(days=30) + timedelta(seconds=rnd.randrange(30 * 86400))
        lv = rnd.choice(levels[:2])
        part = hash(code) % 4
        kw = dict(street=code, name=name, district=dist, signal=rnd.choice(signals), start=start,
                  score=rnd.uniform(3, 12))
        f.alert(alert(f"al{i:05d}", level=lv, **kw), partition=part)
        f.alert(alert(f"al{i:05d}", level=rnd.choice(levels[1:]), hour=2, **kw), partition=part)
        if i % 10:
            f.alert(alert(f"al{i:05d}", status="resolved", level=lv, hour=3, end=start + timedelta(hours=3),
                          evidence={}, samples=[], **kw), partition=part)
        if i % 5 < 2:
            f.fb(fb(f"al{i:05d}", rnd.choice(["confirmed", "false_alarm"]), start + timedelta(hours=1)),
                 trusted=i % 50 != 0)
        if i % 10 < 3:
            f.fb(fb(f"al{i:05d}", "handled", start + timedelta(hours=rnd.uniform(0.5, 30))))
    recs = f.records
    for i in range(0, len(recs), batch):
        store.apply(recs[i:i + batch])
    return len(recs)


@pytest.mark.timed
def test_queries_are_fast_at_10k_alerts(tmp_path) -> None:
    """The inbox/overview queries stay far under the 1 s page budget (SQLite, 10k alerts, 30k records)."""
    with HistoryStore.open(f"sqlite:///{tmp_path / 'h.sqlite3'}") as s:
        fill(s, n_alerts=10_000)
        t = time.perf_counter()
        total, rows = s.query_alerts(AlertQuery(district="朝阳区", level=["orange", "red"], limit=100))
        s.query_alerts(AlertQuery(status="open", limit=100))
        s.active_alerts()
        s.precision(("signal", "district"))
        dt = time.perf_counter() - t
        assert total > 100 and len(rows) == 100
        assert dt < 0.5, f"four page queries took {dt:.3f} s"
