"""Each receiver kind against a real HTTP server on 127.0.0.1: payload shape, signing, and how
responses are classified (ok / retry / permanent)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time

import orjson
import pytest
from aiohttp import web

from warning.core.events import ALERT_DECODER, Alert
from warning.notify.base import ReceiverBase
from warning.notify.kinds.alertmanager import ZERO_TIME, fingerprint
from warning.notify.kinds.generic import verify_signature
from warning.notify.render import as_alert
from warning.notify.testing import RecordingServer
from warning.notify.wiring import build_notifier, parse_receiver

SECRET = "s3cr3t-for-tests-only"
ROBOT_KEY = "robotkey-0123456789abcdef"


def alert(i: int = 1, level: str = "orange", status: str = "firing", **kw) -> Alert:
    a = {
        "alert_id": f"al-{i:04d}",
        "status": status,
        "level": level,
        "signal": "hotline_volume",
        "street_code": "110105001",
        "street_name": "建外街道",
        "district": "朝阳区",
        "window_start": "2025-03-01T08:00:00+08:00",
        "window_end": "2025-03-01T09:00:00+08:00",
        "starts_at": "2025-03-01T08:42:00+08:00",
        "observed": 42,
        "expected": 12.5,
        "score": 0.9731,
        "summary_zh": "建外街道 12345 热线投诉 42 件，约为平常的 3.4 倍",
        "evidence": {"top_categories": {"噪音": 20}},
        "sample_texts": ["楼下施工噪音到凌晨", "联系电话 13912345678 的居民反映"],
    }
    if status == "resolved":
        a["ends_at"] = "2025-03-01T12:00:00+08:00"
    a.update(kw)
    return as_alert(a)


def receiver(kind: str, url: str, **kw) -> ReceiverBase:
    data = {"name": f"r-{kind}", "kind": kind, "url": url, **kw}
    return parse_receiver(data, env={"T_SECRET": SECRET})


# ------------------------------------------------------------------------------------ generic
async def test_generic_body_is_the_alert_signed_with_idempotency_key():
    async with RecordingServer() as srv:
        n = build_notifier(receiver("generic", srv.url, secret_env="T_SECRET"))
        a = alert()
        res = await n.notify([a])
        await n.close()
    assert res.ok and res.http_status == 200
    (req,) = srv.requests
    body = req.json
    # the DESIGN.md contract, field for field (ends_at null while firing); sample texts re-masked defensively
    assert list(body) == ["alert_id", "status", "level", "signal", "street_code", "street_name", "district", "window_start",
                          "window_end", "starts_at", "ends_at", "observed", "expected", "score", "summary_zh", "evidence", "sample_texts"]
    assert body["ends_at"] is None and body["observed"] == 42
    assert {k: v for k, v in body.items() if k != "sample_texts"} == {k: v for k, v in a.to_dict().items() if k != "sample_texts"}
    assert body["sample_texts"] == ["楼下施工噪音到凌晨", "联系电话 [手机号] 的居民反映"]
    assert ALERT_DECODER.decode(req.body).alert_id == a.alert_id
    assert req.headers["Idempotency-Key"] == "al-0001:firing"
    assert req.headers["Content-Type"].startswith("application/json")
    ts = req.headers["X-Warning-Timestamp"]
    sig = req.headers["X-Warning-Signature"]
    assert abs(int(ts) - time.time()) < 5 and len(sig) == 64
    # the documented construction, recomputed independently
    assert sig == hmac.new(SECRET.encode(), ts.encode() + b"\n" + req.body, hashlib.sha256).hexdigest()
    assert verify_signature(SECRET, ts, req.body, sig)
    assert verify_signature(SECRET, ts, req.body, "sha256=" + sig)
    assert not verify_signature(SECRET, ts, req.body + b" ", sig)
    assert not verify_signature("other", ts, req.body, sig)
    assert not verify_signature(SECRET, str(int(ts) - 1000), req.body, sig)  # stale
    assert not verify_signature(SECRET, ts, req.body, sig, tolerance_s=-1)


async def test_generic_without_secret_sends_no_signature_and_resolved_key():
    async with RecordingServer() as srv:
        n = build_notifier(receiver("generic", srv.url))
        res = await n.notify([alert(status="resolved")])
        await n.close()
    assert res.ok
    h = srv.requests[0].headers
    assert "X-Warning-Signature" not in h and "X-Warning-Timestamp" in h
    assert h["Idempotency-Key"] == "al-0001:resolved"


@pytest.mark.parametrize("status,expected", [(200, "ok"), (202, "ok"), (204, "ok"), (500, "retry"), (502, "retry"),
                                             (503, "retry"), (429, "retry"), (408, "retry"), (400, "permanent"),
                                             (401, "permanent"), (404, "permanent"), (413, "permanent"), (301, "permanent")])
async def test_http_status_classification(status, expected):
    long_body = "错误" * 3000

    def respond(_r):
        if status == 204:
            return web.Response(status=204)
        if status == 301:
            return web.Response(status=301, headers={"Location": "http://127.0.0.1:9/elsewhere"})
        return web.Response(status=status, text=long_body if status >= 400 else "ok", headers={"Retry-After": "7"} if status == 429 else None)

    async with RecordingServer(respond) as srv:
        n = build_notifier(receiver("generic", srv.url))
        res = await n.notify([alert()])
        await n.close()
    assert res.status == expected, res
    assert res.http_status == status
    assert len(srv.requests) == 1  # a notifier never retries by itself; no redirect following
    if status >= 400:
        assert 0 < len(res.body) <= 2048 and res.body.startswith("错误")  # truncated response body kept
    if status == 429:
        assert res.retry_after == 7.0


@pytest.mark.timed
async def test_connection_refused_and_timeout_are_transient():
    srv = RecordingServer()
    await srv.start()
    url = srv.url
    await srv.stop()  # port now closed
    n = build_notifier(receiver("generic", url))
    res = await n.notify([alert()])
    await n.close()
    assert res.status == "retry" and res.http_status is None and "connection failed" in res.error

    async def slow(_r):
        await asyncio.sleep(2)
        return web.Response(text="late")

    async with RecordingServer(slow) as srv:
        n = build_notifier(receiver("generic", srv.url, timeout_s=0.2))
        t0 = time.monotonic()
        res = await n.notify([alert()])
        await n.close()
    assert res.status == "retry" and "timeout" in res.error
    assert time.monotonic() - t0 < 1.5


# ------------------------------------------------------------------------------- alertmanager
def test_fingerprint_matches_prometheus_vectors():
    # from prometheus/common model/signature_test.go
    assert int(fingerprint({}), 16) == 14695981039346656037
    assert int(fingerprint({"name": "garland, briggs", "fear": "love is not enough"}), 16) == 5799056148416392346
    assert int(fingerprint({"first-label": "first-label-value", "second-label": "second-label-value",
                            "third-label": "third-label-value"}), 16) == 13843036195897128121


async def test_alertmanager_v4_payload():
    async with RecordingServer(lambda r: web.Response(status=200)) as srv:
        n = build_notifier(receiver("alertmanager", srv.url, external_url="http://127.0.0.1:6066",
                                    link_template="http://127.0.0.1:6066/streets/{street_code}?alert={alert_id}"))
        assert (await n.notify([alert(1)])).ok
        assert (await n.notify([alert(1, status="resolved")])).ok
        await n.close()
    firing, resolved = (r.json for r in srv.requests)
    for key in ("version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels", "commonLabels",
                "commonAnnotations", "externalURL", "alerts"):
        assert key in firing
    assert firing["version"] == "4" and firing["status"] == "firing" and firing["receiver"] == "r-alertmanager"
    assert firing["externalURL"] == "http://127.0.0.1:6066"
    assert firing["groupLabels"] == {"alertname": "hotline_volume", "street_code": "110105001"}
    assert firing["groupKey"] == '{}:{alertname="hotline_volume", street_code="110105001"}'
    (a,) = firing["alerts"]
    assert a["labels"]["alertname"] == "hotline_volume" and a["labels"]["severity"] == "orange"
    assert a["labels"]["level_zh"] == "橙色" and "12345热线诉求量异常升高" in a["annotations"]["summary"]
    assert a["labels"]["street_code"] == "110105001" and a["labels"]["district"] == "朝阳区"
    assert a["labels"]["district_code"] == "110105"
    assert a["fingerprint"] == fingerprint(a["labels"]) and len(a["fingerprint"]) == 16
    assert a["startsAt"] == "2025-03-01T00:42:00.000Z" and a["endsAt"] == ZERO_TIME
    assert a["generatorURL"] == "http://127.0.0.1:6066/streets/110105001?alert=al-0001"
    ann = a["annotations"]
    assert ann["summary_zh"].startswith("建外街道") and ann["alert_id"] == "al-0001"
    assert "橙色预警" in ann["summary"] and "13912345678" not in orjson.dumps(firing).decode()
    assert all(isinstance(v, str) for v in ann.values())
    assert firing["commonLabels"] == a["labels"]
    r = resolved["alerts"][0]
    assert resolved["status"] == "resolved" and r["status"] == "resolved"
    assert r["endsAt"] == "2025-03-01T04:00:00.000Z"
    assert r["fingerprint"] == a["fingerprint"]  # same labels → same fingerprint
    assert "已解除" in r["annotations"]["summary"]


# ------------------------------------------------------------------------------------- WeCom
async def test_wecom_markdown_colour_and_mentions():
    async with RecordingServer() as srv:
        url = srv.url + f"?key={ROBOT_KEY}"
        n = build_notifier(receiver("wecom", url, mentions=["zhangsan", "@lisi"], mention_min_level="orange"))
        assert (await n.notify([alert(1, level="red")])).ok
        assert (await n.notify([alert(2, level="yellow")])).ok  # below mention level
        assert (await n.notify([alert(3, level="blue", status="resolved")])).ok
        await n.close()
    red, yellow, resolved = (r.json for r in srv.requests)
    assert srv.requests[0].query["key"] == ROBOT_KEY
    for m in (red, yellow, resolved):
        assert m["msgtype"] == "markdown" and set(m) == {"msgtype", "markdown"}
        assert len(m["markdown"]["content"].encode()) <= 4096
    c = red["markdown"]["content"]
    assert '<font color="warning">红色预警（I级）</font>' in c
    assert "朝阳区 建外街道" in c and "<@zhangsan>" in c and "<@lisi>" in c
    assert "13912345678" not in c and "[手机号]" in c
    assert '<font color="comment">黄色预警（III级）</font>' in yellow["markdown"]["content"]
    assert "<@" not in yellow["markdown"]["content"]
    assert "已解除" in resolved["markdown"]["content"] and '<font color="info">' in resolved["markdown"]["content"]


async def test_wecom_4096_byte_limit_with_long_chinese_content():
    huge = alert(
        7,
        level="red",
        summary_zh="群众反映" * 3000,
        sample_texts=["长文本" * 2000 + "13812345678", "<@all> [点我](http://evil.example) <font color=\"info\">假</font>"] * 5,
        street_name="非常长的街道名称" * 40,
        signal="risk_terms",
    )
    async with RecordingServer() as srv:
        n = build_notifier(receiver("wecom", srv.url, mentions=["zhangsan"]))
        assert (await n.notify([huge])).ok
        await n.close()
    content = srv.requests[0].json["markdown"]["content"]
    raw = content.encode("utf-8")
    assert len(raw) <= 4096  # per-field caps already keep one alert readable and small
    raw.decode("utf-8")  # valid UTF-8 (no split character)
    assert content.count("<font") == content.count("</font>")  # markup never cut in half
    assert content.rstrip().endswith("<@zhangsan>")  # mentions survive truncation
    assert "红色预警" in content
    # untrusted text cannot inject markup, mentions or links
    assert "<@all>" not in content and "](http://evil" not in content and "13812345678" not in content


async def test_wecom_digest_hits_4096_bytes_and_drops_whole_lines():
    many = [alert(i, level=("red", "orange", "yellow", "blue")[i % 4], street_name=f"第{i:02d}号" + "很长的街道名称" * 3 + "街道",
                  district="很长的区名" * 4) for i in range(25)]
    async with RecordingServer() as srv:
        n = build_notifier(receiver("wecom", srv.url, mentions=["zhangsan"]))
        assert (await n.notify(many)).ok
        await n.close()
    content = srv.requests[0].json["markdown"]["content"]
    raw = content.encode("utf-8")
    assert 4096 - 250 < len(raw) <= 4096  # full up to about one line
    assert "另有 25 条预警" in content and "行未显示）" in content
    assert content.count("<font") == content.count("</font>")
    assert content.rstrip().endswith("<@zhangsan>")
    lines = content.splitlines()
    listed = [ln for ln in lines if ln.startswith("- ")]
    assert 15 < len(listed) < 25
    assert all(ln.endswith("街道 · 12345热线诉求量异常升高") for ln in listed)  # no line cut in half
    assert lines[2].startswith("- 🔴 红色")  # most severe first


async def test_wecom_errcodes():
    codes = iter([45009, 93000, 0])

    async with RecordingServer(lambda r: web.json_response({"errcode": next(codes), "errmsg": "x"})) as srv:
        n = build_notifier(receiver("wecom", srv.url))
        busy = await n.notify([alert()])
        bad = await n.notify([alert()])
        good = await n.notify([alert()])
        await n.close()
    assert busy.status == "retry" and busy.errcode == 45009 and busy.retry_after == 60.0
    assert bad.status == "permanent" and bad.errcode == 93000 and bad.http_status == 200
    assert good.ok

    async with RecordingServer(lambda r: web.Response(text="<html>proxy</html>")) as srv:
        n = build_notifier(receiver("wecom", srv.url))
        res = await n.notify([alert()])
        await n.close()
    assert res.status == "retry" and "errcode" in res.error


# ---------------------------------------------------------------------------------- DingTalk
async def test_dingtalk_signed_markdown_with_at():
    dsecret = "SEC" + "a1b2c3d4" * 8
    verified = []

    def respond(r):
        ts = r.query["timestamp"]
        expect = base64.b64encode(hmac.new(dsecret.encode(), f"{ts}\n{dsecret}".encode(), hashlib.sha256).digest()).decode()
        verified.append(r.query["sign"] == expect and abs(int(ts) / 1000 - time.time()) < 60)
        return web.json_response({"errcode": 0 if verified[-1] else 310000, "errmsg": "ok" if verified[-1] else "sign not match"})

    env = {"DT_SECRET": dsecret}
    async with RecordingServer(respond) as srv:
        rcv = parse_receiver({"name": "dt", "kind": "dingtalk", "url": srv.url + "?access_token=tok123",
                              "secret_env": "DT_SECRET", "mentions": ["13800000000", "user007"]}, env=env)
        n = build_notifier(rcv)
        results = [await n.notify([alert(i, level="red")]) for i in range(12)]  # many signs: +, / and = get encoded
        await n.close()
    assert all(r.ok for r in results), results
    assert all(verified) and len(verified) == 12
    req = srv.requests[0]
    assert req.query["access_token"] == "tok123"
    m = req.json
    assert m["msgtype"] == "markdown"
    assert m["markdown"]["title"].startswith("【红色预警（I级）】")
    text = m["markdown"]["text"]
    assert "红色预警（I级）" in text and "朝阳区 建外街道" in text
    assert m["at"] == {"atMobiles": ["13800000000"], "atUserIds": ["user007"], "isAtAll": False}
    assert "@13800000000" in text and "@user007" in text  # DingTalk highlights only mentions in the text
    assert "13912345678" not in text


async def test_dingtalk_errcodes_bad_sign_permanent_too_fast_transient():
    codes = iter([310000, 130101])
    async with RecordingServer(lambda r: web.json_response({"errcode": next(codes), "errmsg": "x"})) as srv:
        n = build_notifier(receiver("dingtalk", srv.url))
        bad = await n.notify([alert()])
        fast = await n.notify([alert()])
        await n.close()
    assert bad.status == "permanent" and bad.errcode == 310000
    assert fast.status == "retry" and fast.errcode == 130101
    assert "timestamp" not in srv.requests[0].query  # no secret → unsigned


async def test_secrets_never_printed(caplog):
    caplog.set_level(logging.DEBUG)
    srv = RecordingServer()
    await srv.start()
    url = srv.url + f"?key={ROBOT_KEY}"
    await srv.stop()
    r = receiver("dingtalk", url, secret_env="T_SECRET")
    n = build_notifier(r)
    res = await n.notify([alert()])
    await n.close()
    texts = [repr(r), str(r), r.model_dump_json(), str(r.model_dump()), repr(n), res.describe(), str(res.to_dict()), caplog.text]
    for t in texts:
        assert ROBOT_KEY not in t and SECRET not in t, t
    assert "key=***" in repr(r)
    assert r.secret_value == SECRET and r.target_url == url
