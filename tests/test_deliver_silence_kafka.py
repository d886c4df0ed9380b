"""Silences on ``warning.alerts.feedback`` are honoured by a real worker's delivery: no webhook for a
silenced street+signal (firing or resolved) while another street's alerts are delivered; an unsigned
silence is ignored; a silence set before the worker started is read at start; a silence naming only
an alert the worker has seen covers its street+signal; after an unsilence delivery resumes.
Silences are sent with ``warning feedback alert`` (the CLI signs them)."""

from __future__ import annotations

import asyncio
import time

import msgspec
import orjson
import pytest
from click.testing import CliRunner

from kafka_helpers import produce
from warning.cli import cli
from warning.config import load_settings
from warning.core.events import ALERT_ENCODER, Alert
from warning.notify.sink import start_sink
from warning.streams.topics import ensure_topics
from worker_proc import Worker, isolated_env, metric_value

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SECRET = "silence-test-signing-secret-0123"
S, S2, S3, X, Y = "110105001", "110105002", "110105003", "hotline_volume", "risk_terms"
BASE = Alert(alert_id="-", status="firing", level="orange", signal=X, street_code=S, street_name="建外街道",
             district="朝阳区", window_start="2025-03-01T09:00:00+08:00", window_end="2025-03-01T10:00:00+08:00",
             starts_at="2025-03-01T09:12:00+08:00", observed=9.0, expected=2.0, score=6.5,
             summary_zh="【橙色预警】朝阳区建外街道：诉求量激增。", evidence={}, sample_texts=[])


def alert(alert_id: str, street: str, signal: str = X, status: str = "firing") -> Alert:
    return msgspec.structs.replace(BASE, alert_id=alert_id, street_code=street, signal=signal, status=status,
                                   ends_at="2025-03-01T11:00:00+08:00" if status == "resolved" else None)


def cli_feedback(env: dict[str, str], *args: str) -> str:
    res = CliRunner().invoke(cli, ["feedback", "alert", "--by", "值班员", "--source", "dashboard", *args], env=env,
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


async def test_silenced_street_signal_gets_no_webhook(broker, tmp_path) -> None:
    got: list[tuple[str, str]] = []
    runner, url = await start_sink("127.0.0.1", 0, on_alert=lambda a: got.append((a["alert_id"], a["status"])),
                                   secret="sil-ops-secret")
    prefix = f"sil{int(time.time() * 1000) % 10**8}"
    env = isolated_env(tmp_path, broker.url, prefix=prefix, WARNING_WORKER__AGENTS='["deliver"]',
                       WARNING_WORKER__LOG_LEVEL="info",
                       WARNING_TOPICS__ALERTS_FEEDBACK=f"{prefix}.alerts_feedback",
                       SIL_DASHBOARD_KEY=SECRET,
                       WARNING_ALERTS_FEEDBACK__SOURCES__DASHBOARD__SECRET_ENV="SIL_DASHBOARD_KEY",
                       WARNING_OPS_SECRET="sil-ops-secret",
                       WARNING_RECEIVERS=orjson.dumps([{"name": "ops", "kind": "generic", "url": url + "generic",
                                                        "secret_env": "WARNING_OPS_SECRET"}]).decode())
    settings = load_settings(None, env=env)
    ensure_topics(settings)
    fb_topic, alerts_topic = settings.topics.alerts_feedback, settings.topics.alerts

    # Before the worker runs: a signed silence of S/X (read in the catch-up at start) and an unsigned
    # one of S2/X (must be ignored).
    out = await asyncio.to_thread(cli_feedback, env, "--alert-id", "old-1", "--action", "silence", "--hours", "4",
                                  "--street", S, "--signal", X)
    assert "静默 4 小时" in out
    unsigned = {"alert_id": "old-2", "action": "silence", "by": "x", "at": "2030-01-01T00:00:00+08:00",
                "silence_hours": 4, "street_code": S2, "signal": X, "source": "dashboard"}
    await asyncio.to_thread(produce, broker.bootstrap, fb_topic, [orjson.dumps(unsigned)], keys=[b"old-2"])

    def send(*alerts: Alert) -> None:
        produce(broker.bootstrap, alerts_topic, [ALERT_ENCODER.encode(a) for a in alerts],
                keys=[a.street_code.encode() for a in alerts])

    async def until(cond, what: str, w: Worker, timeout: float = 25.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = await asyncio.to_thread(w.metrics)
            if cond(text):
                return text
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; got={got}\n{w.log_tail()}")
            await asyncio.sleep(0.3)

    def silenced(text: str) -> float:
        return metric_value(text, "warning_notifications_silenced_total", signal=X)

    def outcome(text: str, o: str) -> float:
        return metric_value(text, "warning_alert_feedback_total", outcome=o)

    t0 = time.monotonic()
    try:
        with Worker(env, tmp_path / "w.log") as w:
            await asyncio.to_thread(send, alert("a1", S), alert("a2", S2), alert("a3", S, Y), alert("a4", S3))
            await until(lambda t: silenced(t) >= 1 and len(got) >= 3, "a1 silenced, a2..a4 delivered", w)
            assert sorted(got) == [("a2", "firing"), ("a3", "firing"), ("a4", "firing")]
            text = await asyncio.to_thread(w.metrics)
            assert outcome(text, "silenced") == 1 and outcome(text, "unsigned") == 1, text

            # Live: lift S/X; silence S3/X by naming only alert a4 (the worker has seen it).
            await asyncio.to_thread(cli_feedback, env, "--alert-id", "a1", "--action", "unsilence",
                                    "--street", S, "--signal", X)
            await asyncio.to_thread(cli_feedback, env, "--alert-id", "a4", "--action", "silence", "--hours", "1")
            await until(lambda t: outcome(t, "unsilenced") >= 1 and outcome(t, "silenced") >= 2, "feedback judged", w)
            await asyncio.to_thread(send, alert("a1", S, status="resolved"), alert("a4", S3, status="resolved"),
                                    alert("a5", S3), alert("a6", S2))
            await until(lambda t: silenced(t) >= 3 and len(got) >= 5, "a1 resolved + a6 delivered, a4/a5 silenced", w)
            log = w.log_tail(400)
    finally:
        await runner.cleanup()
    assert sorted(got[3:]) == [("a1", "resolved"), ("a6", "firing")]
    assert "值班员" not in log and "old-1" in log  # logged without the person
    assert "silenced, not delivered: alert a5" in log
    assert time.monotonic() - t0 < 40, "keep this test short"
