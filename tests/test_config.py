import subprocess
import sys
from pathlib import Path

import pytest

from warning.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "configs" / "default.yaml"


def test_default_file_is_valid():
    s = load_settings(DEFAULT, env={})
    assert s.region.code == "110000"
    assert s.topics.raw() == {
        "hotline": "warning.raw.hotline",
        "petition": "warning.raw.petition",
        "public_safety": "warning.raw.public_safety",
    }


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
    p.write_text("kafka:\n  partitions: -3\nwindows:\n  size_minutes: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        load_settings(p, env={})
    keys = [k for k, _ in ei.value.errors]
    assert "kafka.partitions" in keys and "windows.size_minutes" in keys


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
