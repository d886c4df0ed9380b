import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from warning.config import ConfigError, dump_settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "configs" / "default.yaml"


def test_default_file_is_valid():
    s = load_settings(DEFAULT, env={})
    assert s.region.code == "110000"
    assert s.raw_topics() == {
        "hotline": "warning.raw.hotline",
        "petition": "warning.raw.petition",
        "public_safety": "warning.raw.public_safety",
        "grid": "warning.raw.grid",
    }
    assert s.detect.allowed_lateness_minutes == 10


def test_env_overrides_every_level():
    s = load_settings(DEFAULT, env={
        "WARNING_KAFKA__BROKER": "kafka://10.1.2.3:9093",
        "WARNING_KAFKA__PARTITIONS": "12",
        "WARNING_REGION__CODE": "310000",
        "WARNING_TOPICS__EVENTS": "x.events",
        "WARNING_INGEST__DEDUP_HORIZON_HOURS": "1.5",
    })
    assert s.kafka.broker == "kafka://10.1.2.3:9093"
    assert s.kafka.partitions == 12
    assert s.region.code == "310000"
    assert s.topics.events == "x.events"
    assert s.ingest.dedup_horizon_hours == 1.5


@pytest.mark.parametrize("env,key", [
    ({"WARNING_KAFKA__PARTITIONS": "0"}, "kafka.partitions"),
    ({"WARNING_KAFKA__PARTITIONS": "many"}, "kafka.partitions"),
    ({"WARNING_KAFKA__BROKER": "localhost:9092"}, "kafka.broker"),
    ({"WARNING_REGION__CODE": "999999"}, "region.code"),
    ({"WARNING_INGEST__MIN_EVENT_TIME": "yesterday"}, "ingest.min_event_time"),
    ({"WARNING_WORKER__LOG_LEVEL": "loud"}, "worker.log_level"),
    ({"WARNING_KAFKA__PARTITON": "3"}, "kafka.partiton"),
])
def test_bad_values_name_the_key(env, key):
    with pytest.raises(ConfigError) as ei:
        load_settings(DEFAULT, env=env)
    assert key in [k for k, _ in ei.value.errors]
    assert key in str(ei.value)


def test_bad_yaml_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("kafka:\n  partitions: -3\nwindows:\n  idle_flush_seconds: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        load_settings(p, env={})
    keys = [k for k, _ in ei.value.errors]
    assert "kafka.partitions" in keys and "windows.idle_flush_seconds" in keys


def run_cli(*args, env=None):
    import os
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "warning", *args], capture_output=True, text=True, env=e, cwd=ROOT, timeout=120)


def test_cli_config_check_ok_and_exit_2():
    ok = run_cli("config", "check", str(DEFAULT))
    assert ok.returncode == 0, ok.stderr
    assert "warning.raw.hotline" in ok.stdout and "110000" in ok.stdout
    bad = run_cli("config", "check", str(DEFAULT), env={"WARNING_KAFKA__PARTITIONS": "-1"})
    assert bad.returncode == 2
    assert "kafka.partitions" in bad.stderr


def test_cli_help_bilingual():
    r = run_cli("--help")
    assert r.returncode == 0
    assert "预警" in r.stdout and "early-warning" in r.stdout
    for cmd in ("broker", "worker", "config", "streets", "demo"):
        assert cmd in r.stdout


def test_cli_streets():
    r = run_cli("streets")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 343
    code, name, district = lines[0].split("\t")
    assert (code, name, district) == ("110101001", "东华门街道", "东城区")
    r2 = run_cli("streets", "--region", "310000")
    assert r2.returncode == 0 and all(l.startswith("31") for l in r2.stdout.splitlines())
    assert run_cli("streets", "--region", "123").returncode == 2


# ------------------------------------------------------------------ typed sections (issue 9)
BAD_DETECT = "detect:\n  no_such_key: 1\n"
BAD_KIND = "receivers:\n  - name: x\n    kind: nope\n    url: http://127.0.0.1:9/x\n"


def _write(tmp_path, text: str, name: str = "c.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _error_keys(path, env=None) -> dict[str, str]:
    with pytest.raises(ConfigError) as ei:
        load_settings(path, env=env or {})
    return dict(ei.value.errors)


def test_unknown_detect_key_names_the_dotted_key(tmp_path):
    errs = _error_keys(_write(tmp_path, BAD_DETECT))
    assert errs == {"detect.no_such_key": "unknown key (typo?)"}


def test_unknown_receiver_kind_names_receivers_n_kind(tmp_path):
    ok = "receivers:\n  - name: ok\n    kind: generic\n    url: http://127.0.0.1:9/ok\n"
    errs = _error_keys(_write(tmp_path, ok + BAD_KIND.removeprefix("receivers:\n")))
    assert list(errs) == ["receivers.1.kind"]
    assert "'nope'" in errs["receivers.1.kind"] and "generic" in errs["receivers.1.kind"]


@pytest.mark.parametrize("text,key", [
    ("alerts:\n  repeat_interval_hourz: 1\n", "alerts.repeat_interval_hourz"),
    ("text:\n  context_chars: -1\n", "text.context_chars"),
    ("ingest:\n  dedup_horizon_hours: 0\n", "ingest.dedup_horizon_hours"),
    ("detect:\n  thresholds: {blue: 1, yellow: 2, orange: 3, red: 4, purple: 5}\n", "detect.thresholds.purple"),
    # a key of another kind: wecom has no signing secret
    ("receivers:\n  - {name: w, kind: wecom, url: 'http://127.0.0.1:9/w', secret_env: X}\n", "receivers.0.secret_env"),
    ("receivers:\n  - {name: g, kind: generic, url: 'http://127.0.0.1:9/g', mentions: [a]}\n", "receivers.0.mentions"),
    ("receivers:\n  - {name: g, kind: generic, url: 'http://127.0.0.1:9/g'}\nroutes:\n  - receivers: [nope]\n", "routes.0.receivers.0"),
    ("routes:\n  - {receivers: [g], match: {districts: [火星区]}}\nreceivers:\n  - {name: g, kind: generic, url: 'http://127.0.0.1:9/g'}\n",
     "routes.0.match.districts.0"),
    ("feeds:\n  grid: {topic: warning.raw.hotline}\n", "feeds.grid"),
    ("feeds:\n  foo: {name_zh: 甲, noun_zh: 甲, short_zh: 甲, time_field: t, key: Z, fields: {t: {type: time}}, colour: red}\n", "feeds.foo.colour"),
])
def test_typed_sections_name_the_dotted_key(tmp_path, text, key):
    errs = _error_keys(_write(tmp_path, text))
    assert any(k == key or k.startswith(key + ".") for k in errs), errs


def test_cli_config_check_exits_2_for_unknown_key_and_kind(tmp_path):
    for text, key in ((BAD_DETECT, "detect.no_such_key"), (BAD_KIND, "receivers.0.kind")):
        r = run_cli("config", "check", str(_write(tmp_path, text)))
        assert r.returncode == 2, r.stdout
        assert key in r.stderr


def test_env_overrides_into_typed_sections():
    s = load_settings(DEFAULT, env={
        "WARNING_DETECT__WARMUP_HOURS": "12",
        "WARNING_DETECT__THRESHOLDS__RED": "13",
        "WARNING_DETECT__SIGNAL_THRESHOLDS__SLOW_BUILDUP__RED": "10",
        "WARNING_ALERTS__INHIBIT": "false",
        "WARNING_TEXT__CONTEXT_CHARS": "4",
        "WARNING_INGEST__MAX_AGE_DAYS": "400",
        "WARNING_FEEDS__GRID__TOPIC": "x.grid",
    })
    assert s.detect.warmup_hours == 12.0 and s.detect.thresholds.red == 13.0
    # one entry of a dict section changed, the other defaults kept
    assert s.detect.signal_thresholds["slow_buildup"].red == 10.0 and s.detect.signal_thresholds["slow_buildup"].blue == 3.5
    assert s.detect.signal_thresholds["risk_buildup"].red == 11.0
    assert s.alerts.inhibit is False and s.text.context_chars == 4 and s.ingest.max_age_days == 400
    assert s.raw_topics()["grid"] == "x.grid" and s.feeds["grid"].name_zh == "网格员上报"
    assert s.raw_topics()["hotline"] == "warning.raw.hotline"
    with pytest.raises(ConfigError) as ei:
        load_settings(DEFAULT, env={"WARNING_DETECT__WARMUP_HOURZ": "1"})
    assert ei.value.errors[0][0] == "detect.warmup_hourz"


def test_added_feed_appears_in_settings_and_raw_topics(tmp_path):
    p = _write(tmp_path, """
feeds:
  noise:                      # a city's own feed: 噪声投诉
    name_zh: 噪声监测
    noun_zh: 噪声投诉
    short_zh: 噪声
    time_field: measured_at
    key: Z
    fields:
      measured_at: {type: time, required: true}
      decibel: {type: int, required: true, ge: 0, le: 200}
      content: {type: text, required: true}
    text_fields: [content]
  public_safety:              # replaced by name: same descriptor, own topic
    name_zh: 110警情
    noun_zh: 110警情
    short_zh: 警情
    topic: city.jq
    key: S
    time_field: occurred_at
    fields:
      occurred_at: {type: time, required: true}
      event_type: {type: str, required: true}
      severity: {type: int, required: true, ge: 1, le: 4}
    category_field: event_type
""")
    s = load_settings(p, env={})
    assert list(s.feeds) == ["hotline", "petition", "public_safety", "grid", "noise"]
    assert s.feeds["noise"].name == "noise" and s.feeds["noise"].volume_signal == "noise_volume"
    assert s.raw_topics()["noise"] == "warning.raw.noise" and s.raw_topics()["public_safety"] == "city.jq"
    assert s.feeds["public_safety"].people_field is None  # replaced whole, not merged
    # the effective config round-trips
    again = load_settings(_write(tmp_path, dump_settings(s), "dumped.yaml"), env={})
    assert again.raw_topics() == s.raw_topics()


def out_url(stdout: str, i: int) -> str:
    return yaml.safe_load(stdout)["receivers"][i]["url"]


def test_config_check_prints_effective_config_without_secrets(tmp_path):
    p = _write(tmp_path, """
receivers:
  - {name: ops, kind: generic, url_env: OPS_URL, secret_env: OPS_SECRET}
  - {name: dd, kind: dingtalk, url: "http://127.0.0.1:9/robot/send?access_token=inlinetok", mention_min_level: 橙,
     allow_inline_secret: true}
routes:
  - {receivers: [dd], match: {min_level: orange}, continue: true}
""")
    r = run_cli("config", "check", str(p), env={"OPS_URL": "http://127.0.0.1:9/ops?key=urlsecret", "OPS_SECRET": "hmacsecret"})
    assert r.returncode == 0, r.stderr
    # the accepted inline token is a warning naming the key; the URL is shown without it
    assert "警告 warning receivers.1.url:" in r.stderr and "allow_inline_secret" in r.stderr
    assert out_url(r.stdout, 1) == "http://127.0.0.1:9/robot/send?access_token=***"
    out = yaml.safe_load(r.stdout)
    assert out["receivers"][1]["mention_min_level"] == "orange" and out["routes"][0]["continue"] is True
    assert out["detect"]["allowed_lateness_minutes"] == 10 and "grid" in out["feeds"]
    for secret in ("urlsecret", "hmacsecret", "inlinetok"):
        assert secret not in r.stdout and secret not in r.stderr
    # the missing environment variable is an error at check time, naming the key
    bad = run_cli("config", "check", str(p), env={"OPS_URL": "", "OPS_SECRET": ""})
    assert bad.returncode == 2 and "receivers.0.url_env" in bad.stderr
