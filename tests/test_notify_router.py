"""Routing from YAML: district (code or name), min level, signals, continue, default; config errors
name the key; secrets only from env/files and never printed."""

from __future__ import annotations

import pytest
import yaml

from warning.config import ConfigError, load_settings
from warning.notify.render import as_alert
from warning.notify.router import Router, load_routing

ENV = {"OPS_SECRET": "ops-secret-value", "CY_WECOM_URL": "http://127.0.0.1:9/cgi-bin/webhook/send?key=wecomkey42"}

CONFIG = """
receivers:
  - name: ops
    kind: generic
    url: http://127.0.0.1:9/ops
    secret_env: OPS_SECRET
  - name: chaoyang-wecom
    kind: wecom
    url_env: CY_WECOM_URL
    mentions: [zhangsan]
    send_resolved: false
  - name: city-dingtalk
    kind: dingtalk
    url: http://127.0.0.1:9/robot/send?access_token=t
  - name: petitions
    kind: alertmanager
    url: http://127.0.0.1:9/am
  - name: fallback
    kind: generic
    url: http://127.0.0.1:9/fallback
routes:
  - name: everything-to-ops
    receivers: [ops]
    continue: true
  - match: {districts: [朝阳区, "110108"], min_level: yellow}
    receivers: [chaoyang-wecom]
    continue: true
  - match: {min_level: 橙}
    receivers: [city-dingtalk]
  - match: {signals: ["petition_*", group_petition]}
    receivers: [petitions]
  - default: true
    receivers: [fallback]
"""


def a(level="blue", code="110105001", district="朝阳区", signal="hotline_volume", status="firing"):
    return as_alert({"alert_id": "x", "status": status, "level": level, "signal": signal, "street_code": code, "district": district,
                     "street_name": "", "window_start": "", "window_end": "", "starts_at": ""})


@pytest.fixture(scope="module")
def router() -> Router:
    cfg = yaml.safe_load(CONFIG)
    return Router.from_config(cfg["receivers"], cfg["routes"], env=ENV)


def test_routes(router: Router):
    # ops always (continue); Chaoyang yellow → wecom; orange → dingtalk stops matching
    assert router.route(a("yellow")) == ["ops", "chaoyang-wecom"]
    assert router.route(a("orange")) == ["ops", "chaoyang-wecom", "city-dingtalk"]
    assert router.route(a("red", signal="petition_volume")) == ["ops", "chaoyang-wecom", "city-dingtalk"]  # first match wins
    # Haidian (110108) by code; 110108xxx street without a district name
    assert router.route(a("yellow", code="110108001", district="")) == ["ops", "chaoyang-wecom"]
    # district given only by name (street code unknown / missing), short form too
    assert router.route(a("yellow", code="", district="朝阳")) == ["ops", "chaoyang-wecom"]
    # blue in Chaoyang: only ops matched (a continue route counts as a match → no default)
    assert router.route(a("blue")) == ["ops"]
    # Dongcheng yellow petition signal → petitions (prefix match)
    assert router.route(a("yellow", code="110101001", district="东城区", signal="petition_volume")) == ["ops", "petitions"]
    assert router.route(a("yellow", code="110101001", district="东城区", signal="group_petition")) == ["ops", "petitions"]


def test_default_route_only_when_nothing_matched():
    cfg = yaml.safe_load(CONFIG)
    routes = [r for r in cfg["routes"] if r.get("name") != "everything-to-ops"]
    r = Router.from_config(cfg["receivers"], routes, env=ENV)
    assert r.route(a("blue", code="110101001", district="东城区")) == ["fallback"]
    assert r.route(a("yellow")) == ["chaoyang-wecom"]  # matched a continue route: no default


def test_no_routes_means_every_receiver():
    cfg = yaml.safe_load(CONFIG)
    r = Router.from_config(cfg["receivers"], [], env=ENV)
    assert r.route(a()) == ["ops", "chaoyang-wecom", "city-dingtalk", "petitions", "fallback"]


def test_from_settings_typed_sections(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(CONFIG, encoding="utf-8")
    s = load_settings(p, env=ENV)  # receivers are validated (and their secrets resolved) at load
    assert [type(x).__name__ for x in s.receivers] == ["GenericReceiver", "WeComReceiver", "DingTalkReceiver",
                                                        "AlertmanagerReceiver", "GenericReceiver"]
    assert s.routes[0].continue_ and s.receivers[0].secret_value == "ops-secret-value"
    r = Router.from_settings(s)
    assert r.route(a("orange"))[-1] == "city-dingtalk"
    assert r.receivers["chaoyang-wecom"].send_resolved is False
    assert r.receivers["chaoyang-wecom"].rate_limit == 20 and r.receivers["ops"].rate_limit is None


def _errors(receivers, routes, env=ENV):
    with pytest.raises(ConfigError) as ei:
        Router.from_config(receivers, routes, env=env)
    return dict(ei.value.errors), str(ei.value)


GOOD = {"name": "g", "kind": "generic", "url": "http://127.0.0.1:9/x"}


@pytest.mark.parametrize("receivers,routes,key,needle", [
    ([GOOD], [{"receivers": ["nope"]}], "routes.0.receivers.0", "unknown receiver 'nope'"),
    ([GOOD], [{"match": {"min_level": "purple"}, "receivers": ["g"]}], "routes.0.match.min_level", "unknown level"),
    ([GOOD], [{"match": {"districts": ["火星区"]}, "receivers": ["g"]}], "routes.0.match.districts.0", "unknown district"),
    ([GOOD], [{"match": {"districts": ["119999"]}, "receivers": ["g"]}], "routes.0.match.districts.0", "unknown district code"),
    ([GOOD], [{"match": {"streets": ["不存在街道"]}, "receivers": ["g"]}], "routes.0.match.streets.0", "unknown street"),
    ([GOOD], [{"match": {"levle": "red"}, "receivers": ["g"]}], "routes.0.match.levle", "unknown key"),
    ([GOOD], [{"receivers": []}], "routes.0.receivers", "at least 1"),
    ([GOOD], [{"default": True, "match": {"min_level": "red"}, "receivers": ["g"]}], "routes.0", "no match conditions"),
    ([GOOD, GOOD], [], "<root>", "duplicate receiver names: g"),
    ([{**GOOD, "kind": "slack"}], [], "receivers.0.kind", "unknown kind 'slack'"),
    ([{"name": "g", "url": "http://127.0.0.1:9/x"}], [], "receivers.0.kind", "missing kind"),
    ([{**GOOD, "kind": "wecom", "mention_all": True}], [], "receivers.0.mention_all", "unknown key"),
    ([{**GOOD, "kind": "alertmanager", "secret_env": "OPS_SECRET"}], [], "receivers.0.secret_env", "unknown key"),
    ([{**GOOD, "kind": "wecom", "mention_min_level": "purple"}], [], "receivers.0.mention_min_level", "unknown level"),
    ([GOOD], [{"receivers": ["g"], "default": True}, {"receivers": ["g"], "default": True}], "routes", "more than one"),
    ([{**GOOD, "urll": "x"}], [], "receivers.0.urll", "unknown key"),
    ([{**GOOD, "url": "ftp://x"}], [], "receivers.0", "http(s)"),
    ([{**GOOD, "url_env": "CY_WECOM_URL"}], [], "receivers.0", "exactly one of url, url_env, url_file"),
    ([{**GOOD, "secret": "inline!"}], [], "receivers.0.secret", "inline secrets are not allowed"),
    ([{**GOOD, "secret_env": "MISSING_VAR"}], [], "receivers.0.secret_env", "MISSING_VAR"),
    ([{**GOOD, "secret_file": "/nonexistent/secret"}], [], "receivers.0.secret_file", "cannot read"),
    ([{**GOOD, "timeout_s": 0}], [], "receivers.0.timeout_s", "greater than 0"),
    ([{**GOOD, "name": "bad name!"}], [], "receivers.0.name", "pattern"),
])
def test_config_errors_name_the_key(receivers, routes, key, needle):
    errs, text = _errors(receivers, routes)
    assert key in errs, errs
    assert needle in errs[key], errs
    assert key in text


def test_secret_from_file_and_never_in_errors_or_dumps(tmp_path):
    sec = tmp_path / "sec"
    sec.write_text("file-secret-value\n", encoding="utf-8")
    urlf = tmp_path / "url"
    urlf.write_text("http://127.0.0.1:9/robot/send?access_token=filetoken99\n", encoding="utf-8")
    cfg = load_routing([{"name": "d", "kind": "dingtalk", "url_file": str(urlf), "secret_file": str(sec)}], [], env={})
    r = cfg.receivers[0]
    assert r.secret_value == "file-secret-value"
    assert r.target_url.endswith("access_token=filetoken99")
    for text in (repr(r), str(cfg), cfg.model_dump_json(), repr(cfg.model_dump())):
        assert "file-secret-value" not in text and "filetoken99" not in text
    # an inline URL with a token is treated as a secret too
    cfg2 = load_routing([{"name": "w", "kind": "wecom", "url": "http://127.0.0.1:9/send?key=inlinekey7"}], [], env={})
    assert "inlinekey7" not in repr(cfg2) and "inlinekey7" not in cfg2.model_dump_json()
    # and a broken one does not leak into the error
    with pytest.raises(ConfigError) as ei:
        load_routing([{"name": "w", "kind": "wecom", "url": "qyapi.weixin.qq.com/send?key=inlinekey7"}], [], env={})
    assert "inlinekey7" not in str(ei.value)
