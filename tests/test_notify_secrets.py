"""Receiver secrets and transport safety (issue 11, defect 5).

* ``warning config check`` prints no secret of any kind — not in the effective config, not in an
  error quoting a malformed ``WARNING_RECEIVERS``, not in a finding;
* it exits 2 naming the receiver and key for an unsigned generic receiver, plain ``http://`` to a
  non-loopback host and a key inline in ``url:``; the ``allow_*`` flags turn each into a warning
  (exit 0); invalid config also exits 2; the worker refuses to start on the same findings;
* a notifier's error, a traceback it causes and the dead letter on ``warning.alerts.deadletter``
  never carry the key (a real worker, broker and HTTP server for the last).
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from click.testing import CliRunner

from warning.cli import cli
from warning.config import load_settings
from warning.notify.dispatch import Dispatcher, RetryPolicy
from warning.notify.kinds import wecom
from warning.notify.render import as_alert
from warning.notify.router import Router
from warning.notify.testing import RecordingServer
from warning.notify.wiring import parse_receiver

ROOT = Path(__file__).resolve().parents[1]
WECOM_KEY = "wecomkey-6f1d2c3b-aaaa"
DT_TOKEN = "dttoken0c9b8a7f6e5d"
DT_SEC = "SECdingsign1234567890"
HMAC = "hmac-secret-q8w7e6r5"
AM_PW = "ampassw0rd77"
FEISHU_TOKEN = "0f2c3e4a-1b2c-4d5e-8f90-123456789abc"  # Feishu/Lark robots carry it in the path
ALL = (WECOM_KEY, DT_TOKEN, DT_SEC, HMAC, AM_PW, FEISHU_TOKEN)
ENV = {"T_WECOM_URL": f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}",
       "T_DT_URL": f"https://oapi.dingtalk.com/robot/send?access_token={DT_TOKEN}",
       "T_DT_SEC": DT_SEC, "T_HMAC": HMAC}


def alert(i: int = 1):
    return as_alert({
        "alert_id": f"sec-{i}", "status": "firing", "level": "orange", "signal": "petition_volume",
        "street_code": "110105001", "street_name": "建外街道", "district": "朝阳区",
        "window_start": "2025-03-01T08:00:00+08:00", "window_end": "2025-03-01T09:00:00+08:00",
        "starts_at": "2025-03-01T08:30:00+08:00", "observed": 10, "expected": 3.0, "score": 0.9,
        "summary_zh": "测试预警", "evidence": {}, "sample_texts": [],
    })


async def _await(x):
    return await x


def check(tmp_path: Path, receivers: list[dict], env: dict[str, str] | None = None):
    p = tmp_path / "c.yaml"
    p.write_text(orjson.dumps({"receivers": receivers}).decode(), encoding="utf-8")  # JSON is YAML
    r = CliRunner().invoke(cli, ["config", "check", str(p)], env={**ENV, **(env or {})}, catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


# ------------------------------------------------------------------ config check: never a secret
SAFE = [  # every kind, secrets by reference (env / file)
    {"name": "ops", "kind": "generic", "url": "https://ops.example.gov.cn/alerts", "secret_env": "T_HMAC"},
    {"name": "wc", "kind": "wecom", "url_env": "T_WECOM_URL"},
    {"name": "dt", "kind": "dingtalk", "url_env": "T_DT_URL", "secret_env": "T_DT_SEC"},
    {"name": "am", "kind": "alertmanager", "url": "https://am.example.gov.cn/api/v2/alerts"},
]
INLINE = [  # every kind, secrets inline, accepted explicitly
    {"name": "ops", "kind": "generic", "url": f"https://ops.example.gov.cn/alerts?token={WECOM_KEY}", "secret_env": "T_HMAC",
     "allow_inline_secret": True},
    {"name": "wc", "kind": "wecom", "url": ENV["T_WECOM_URL"], "allow_inline_secret": True},
    {"name": "dt", "kind": "dingtalk", "url": ENV["T_DT_URL"], "secret_env": "T_DT_SEC", "allow_inline_secret": True},
    {"name": "am", "kind": "alertmanager", "url": f"https://am:{AM_PW}@am.example.gov.cn/api/v2/alerts", "allow_inline_secret": True},
]


@pytest.mark.parametrize("receivers,code", [(SAFE, 0), (INLINE, 0), ([{k: v for k, v in r.items() if k != "allow_inline_secret"} for r in INLINE], 2)],
                         ids=["by-reference", "inline-allowed", "inline-refused"])
def test_config_check_prints_no_secret_of_any_kind(tmp_path, receivers, code):
    rc, out, err = check(tmp_path, receivers)
    assert rc == code, err
    for s in ALL:
        assert s not in out and s not in err, s
    # where alerts go stays visible; the key does not
    assert "https://qyapi.weixin.qq.com/cgi-bin/webhook/send" in out or "url_env: T_WECOM_URL" in out


def test_config_check_error_quoting_a_malformed_env_value_hides_the_key():
    bad = orjson.dumps([{"name": "wc", "kind": "wecom", "url": ENV["T_WECOM_URL"]}]).decode()[:-1]  # JSON cut short
    r = CliRunner().invoke(cli, ["config", "check", str(ROOT / "configs/default.yaml")], env={"WARNING_RECEIVERS": bad})
    assert r.exit_code == 2 and "receivers" in r.stderr
    assert WECOM_KEY not in r.stdout + r.stderr and "key=***" in r.stderr


def test_secret_file_is_read_and_not_printed(tmp_path):
    (tmp_path / "sec").write_text(HMAC + "\n", encoding="utf-8")
    rc, out, err = check(tmp_path, [{"name": "ops", "kind": "generic", "url": "https://ops.example/a", "secret_file": str(tmp_path / "sec")}])
    assert rc == 0 and HMAC not in out + err
    assert parse_receiver({"name": "ops", "kind": "generic", "url": "https://ops.example/a",
                           "secret_file": str(tmp_path / "sec")}).secret_value == HMAC


# ------------------------------------------------------------------ config check: exit codes
@pytest.mark.parametrize("receiver,key,needle,flag", [
    ({"name": "ops", "kind": "generic", "url": "https://ops.example.gov.cn/a"}, "receivers.0.secret_env", "no signing secret", "allow_unsigned"),
    ({"name": "ops", "kind": "generic", "url": "http://ops.example.gov.cn/a", "secret_env": "T_HMAC"}, "receivers.0.url", "plain http://", "allow_insecure_http"),
    ({"name": "am", "kind": "alertmanager", "url": "http://10.0.0.7:8060/send"}, "receivers.0.url", "10.0.0.7", "allow_insecure_http"),
    ({"name": "wc", "kind": "wecom", "url_env": "T_PLAIN"}, "receivers.0.url_env", "plain http://", "allow_insecure_http"),
    ({"name": "wc", "kind": "wecom", "url": ENV["T_WECOM_URL"]}, "receivers.0.url", "credential (key)", "allow_inline_secret"),
    ({"name": "dt", "kind": "dingtalk", "url": ENV["T_DT_URL"]}, "receivers.0.url", "credential (access_token)", "allow_inline_secret"),
    ({"name": "am", "kind": "alertmanager", "url": f"https://am:{AM_PW}@am.example/a"}, "receivers.0.url", "credential (password)", "allow_inline_secret"),
    ({"name": "fs", "kind": "generic", "url": f"https://open.feishu.cn/open-apis/bot/v2/hook/{FEISHU_TOKEN}", "secret_env": "T_HMAC"},
     "receivers.0.url", "credential (path)", "allow_inline_secret"),
])
def test_unsafe_receiver_exits_2_naming_it_unless_allowed(tmp_path, receiver, key, needle, flag):
    env = {"T_PLAIN": "http://qyapi.example.cn/cgi-bin/webhook/send?key=" + WECOM_KEY}
    rc, out, err = check(tmp_path, [receiver], env)
    assert rc == 2, err
    line = next(l for l in err.splitlines() if l.startswith("错误 error"))
    assert f" {key}: " in line and f"'{receiver['name']}'" in line and needle in line and flag in line, line
    assert "worker" in err and not any(s in out + err for s in ALL)
    rc, out, err = check(tmp_path, [{**receiver, flag: True}], env)
    assert rc == 0, err
    assert any(l.startswith("警告 warning") and key in l for l in err.splitlines()) and "# OK" in err


def test_clean_receivers_exit_0_without_warnings(tmp_path):
    rc, _, err = check(tmp_path, [*SAFE, {"name": "local", "kind": "generic", "url": "http://127.0.0.1:9/x", "secret_env": "T_HMAC"},
                                  {"name": "local6", "kind": "alertmanager", "url": "http://[::1]:9/x"},
                                  {"name": "lh", "kind": "alertmanager", "url": "http://localhost:9/x"}])
    assert rc == 0 and "warning" not in err.replace("# OK", ""), err


def test_invalid_config_still_exits_2(tmp_path):
    rc, _, err = check(tmp_path, [{"name": "ops", "kind": "generic", "url": "https://ops.example/a", "allow_unsignd": True}])
    assert rc == 2 and "receivers.0.allow_unsignd: unknown key" in err


def test_worker_refuses_to_start_naming_the_key(tmp_path):
    env = {"WARNING_RECEIVERS": orjson.dumps([{"name": "ops", "kind": "generic", "url": "https://ops.example.gov.cn/a"}]).decode(),
           "WARNING_KAFKA__BROKER": "kafka://127.0.0.1:1", "PATH": "/usr/bin:/bin"}
    p = subprocess.run([sys.executable, "-m", "warning", "worker"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert p.returncode == 2, p.stderr[-2000:]
    assert "receivers.0.secret_env" in p.stderr and "allow_unsigned" in p.stderr and "refusing to start" in p.stderr


def test_findings_per_kind_in_python():
    from warning.notify.safety import check_receivers

    def codes(d, env=ENV):
        return sorted((f.key, f.code, f.allowed) for f in check_receivers([parse_receiver(d, env)]))
    assert codes({"name": "a", "kind": "generic", "url": "https://h/x", "secret_env": "T_HMAC"}) == []
    assert codes({"name": "a", "kind": "generic", "url": "http://h/x", "allow_unsigned": True}) == [
        ("receivers.0.secret_env", "unsigned", True), ("receivers.0.url", "insecure_http", False)]
    assert codes({"name": "w", "kind": "wecom", "url_env": "T_WECOM_URL"}) == []  # by reference: fine
    assert codes({"name": "d", "kind": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=x"}) == [
        ("receivers.0.url", "inline_secret", False)]


# ------------------------------------------------------------------ notifier errors and dead letters
def echoing_robot(req):
    """A robot that quotes the request URL (and so its key) in its error answer."""
    return web.json_response({"errcode": 93000, "errmsg": f"invalid webhook url {req.path}?{req.raw_query}, key {req.query.get('key')}"})


async def test_notifier_error_and_dead_letter_reason_hide_the_key():
    async with RecordingServer(echoing_robot) as srv:
        url = srv.url.replace("/hook", "/cgi-bin/webhook/send?key=" + WECOM_KEY)
        r = Router.from_config([{"name": "wc", "kind": "wecom", "url_env": "U"}], [], env={"U": url})
        done = []
        async with Dispatcher(r, retry=RetryPolicy(base_s=0.01, cap_s=0.05, max_age_s=5), on_done=lambda a, n, o: done.append(o)) as d:
            dl = d.submit(alert())
            await asyncio.wait_for(asyncio.ensure_future(_await(dl)), 10)
    assert srv.requests and srv.requests[0].query["key"] == WECOM_KEY  # the key was really sent
    (o,) = done
    assert o.status == "permanent" and o.result.errcode == 93000
    text = orjson.dumps(o.to_dict()).decode()  # what lands on warning.alerts.deadletter
    assert WECOM_KEY not in text and "key=***" in text, text


async def test_notifier_crash_traceback_and_reason_hide_the_key(caplog, monkeypatch):
    def broken(alerts, receiver):  # a rendering bug whose message quotes the URL
        raise ValueError(f"cannot render for {receiver.target_url}")
    monkeypatch.setattr(wecom.WeComNotifier, "message_for", staticmethod(broken))
    url = "https://127.0.0.1:9/cgi-bin/webhook/send?key=" + WECOM_KEY
    r = Router.from_config([{"name": "wc", "kind": "wecom", "url_env": "U"}], [], env={"U": url})
    done = []
    with caplog.at_level(logging.ERROR, logger="warning.notify"):
        async with Dispatcher(r, retry=RetryPolicy(base_s=0.01, cap_s=0.05, max_age_s=5), on_done=lambda a, n, o: done.append(o)) as d:
            await asyncio.wait_for(asyncio.ensure_future(_await(d.submit(alert()))), 10)
    (o,) = done
    assert o.status == "permanent" and "ValueError" in o.result.error
    logged = caplog.text + "".join(rec.getMessage() for rec in caplog.records)
    assert "ValueError" in logged and "Traceback" in logged
    assert WECOM_KEY not in logged and WECOM_KEY not in orjson.dumps(o.to_dict()).decode()


def test_repr_and_dump_hide_every_secret():
    for d in (SAFE + INLINE):
        rcv = parse_receiver(d, ENV)
        shown = repr(rcv) + str(rcv) + orjson.dumps(rcv.model_dump(mode="json")).decode()
        assert not any(s in shown for s in ALL), shown


@pytest.mark.integration
@pytest.mark.timeout(180)
async def test_worker_dead_letter_log_and_metrics_hide_the_key(broker, tmp_path):
    """Real broker, real worker, a robot that echoes its key in the error: the dead letter on
    ``warning.alerts.deadletter``, the worker log and ``/metrics`` never contain the key."""
    from kafka_helpers import consume_all, produce
    from warning.core.events import ALERT_ENCODER
    from warning.streams.topics import ensure_topics
    from worker_proc import Worker, isolated_env

    async with RecordingServer(echoing_robot) as srv:
        url = srv.url.replace("/hook", "/cgi-bin/webhook/send?key=" + WECOM_KEY)
        prefix = f"sec{int(time.time() * 1000) % 10**8}"
        env = isolated_env(tmp_path, broker.url, prefix=prefix, WARNING_WORKER__AGENTS='["deliver"]', WARNING_WORKER__LOG_LEVEL="info",
                           T_WECOM_URL=url, WARNING_RECEIVERS=orjson.dumps([{"name": "wc", "kind": "wecom", "url_env": "T_WECOM_URL"}]).decode())
        ensure_topics(load_settings(None, env=env))
        a = alert(7)
        produce(broker.bootstrap, f"{prefix}.alerts", [ALERT_ENCODER.encode(a)], keys=[a.street_code.encode()], partition=0)
        with Worker(env, tmp_path / "w.log") as w:
            dead = await asyncio.to_thread(consume_all, broker.bootstrap, f"{prefix}.alerts_deadletter", 1, 90.0)
            metrics = await asyncio.to_thread(w.metrics)
        log = (tmp_path / "w.log").read_text(encoding="utf-8", errors="replace")
    assert srv.requests and srv.requests[0].query["key"] == WECOM_KEY
    assert len(dead) == 1, log[-3000:]
    body = dead[0].value.decode()
    assert "93000" in body and "key=***" in body, body
    for text in (body, log, metrics):
        assert WECOM_KEY not in text
    assert "refused" in log  # the permanent failure was logged (redacted)
