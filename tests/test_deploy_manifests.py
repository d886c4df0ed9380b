"""deploy/compose.yaml, deploy/k8s/ and deploy/Dockerfile, validated statically (no Docker engine,
no cluster here): YAML parses, references resolve, and the worker's configuration — the ConfigMap
with the env of the Deployment / compose services — passes the project's own config validation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from prom_helpers import REPO
from warning.config import ENV_NESTED, ENV_PREFIX, Settings, load_settings

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def k8s_docs() -> dict[str, dict]:
    """kind → document, over every manifest in deploy/k8s/ (one object of each kind)."""
    out: dict[str, dict] = {}
    for f in sorted(K8S.glob("*.yaml")):
        if f.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(f.read_text(encoding="utf-8")):
            if doc:
                assert doc["kind"] not in out, f"two {doc['kind']} objects"
                out[doc["kind"]] = doc
    return out


def check_env_names(env: dict[str, str]) -> None:
    """Every WARNING_<SECTION>__<KEY> names a real configuration key."""
    for name in env:
        if not name.startswith(ENV_PREFIX):
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition(ENV_NESTED)
        assert section in Settings.model_fields, f"{name}: no config section {section!r}"
        model = Settings.model_fields[section].annotation
        assert key in model.model_fields, f"{name}: no key {key!r} in section {section!r}"


@pytest.mark.parametrize("path", sorted(str(p.relative_to(REPO)) for p in DEPLOY.rglob("*.y*ml") if "kafka" not in p.parts))
def test_yaml_parses(path: str) -> None:
    docs = list(yaml.safe_load_all((REPO / path).read_text(encoding="utf-8")))
    assert docs and all(d is not None for d in docs)


# ------------------------------------------------------------------------------------------------
# compose


def test_compose_services() -> None:
    c = compose()
    s = c["services"]
    assert {"kafka", "worker-1", "worker-2", "prometheus", "alertmanager", "grafana"} <= set(s)
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", s["kafka"]["image"])
    env = s["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, single node
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    for w in ("worker-1", "worker-2"):
        assert s[w]["command"] == ["worker", "--broker", "kafka://kafka:9092", "--config", "/app/configs/default.yaml"]
        assert s[w]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert s[w]["depends_on"]["kafka"]["condition"] == "service_healthy"
        check_env_names(s[w]["environment"])
    # Prometheus scrapes exactly the worker services, on their web port
    prom_cfg = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.compose.yml").read_text(encoding="utf-8"))
    job = next(j for j in prom_cfg["scrape_configs"] if j["job_name"] == "warning")
    assert job["static_configs"][0]["targets"] == ["worker-1:6066", "worker-2:6066"]
    assert prom_cfg["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    # the sink reaches Alertmanager's 127.0.0.1:9099 by sharing its network namespace
    assert s["webhook-sink"]["network_mode"] == "service:alertmanager"


def test_compose_mounts_exist_and_ports_are_loopback() -> None:
    c = compose()
    for name, svc in c["services"].items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):
                assert (DEPLOY / src).exists(), f"{name}: {src} missing"
            else:
                assert src in c["volumes"], f"{name}: named volume {src} not declared"
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} must be published on 127.0.0.1 only"
        if "build" in svc:
            assert (DEPLOY / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file()


def test_compose_worker_config_is_valid() -> None:
    env = compose()["services"]["worker-1"]["environment"]
    s = load_settings(REPO / "configs" / "default.yaml", env={**env, "WARNING_KAFKA__BROKER": "kafka://kafka:9092"})
    assert s.worker.web_host == "0.0.0.0" and s.worker.web_port == 6066


# ------------------------------------------------------------------------------------------------
# Kubernetes


def test_k8s_workers() -> None:
    docs = k8s_docs()
    dep, svc, pdb, cm = docs["Deployment"], docs["Service"], docs["PodDisruptionBudget"], docs["ConfigMap"]
    assert dep["apiVersion"] == "apps/v1" and pdb["apiVersion"] == "policy/v1"
    assert dep["spec"]["replicas"] == 2
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    for selector in (dep["spec"]["selector"]["matchLabels"], svc["spec"]["selector"], pdb["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= pod_labels.items()
    [container] = dep["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["WARNING_KAFKA__BROKER"].startswith("kafka://")
    check_env_names(env)
    assert container["ports"][0]["containerPort"] == 6066
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
    # the ConfigMap is mounted where --config points
    cfg_arg = container["args"][container["args"].index("--config") + 1]
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == str(Path(cfg_arg).parent))
    assert volumes[mount["name"]]["configMap"]["name"] == cm["metadata"]["name"]
    assert Path(cfg_arg).name in cm["data"]
    # Service: port 6066 with the Prometheus scrape annotations
    assert svc["spec"]["ports"][0]["port"] == 6066
    ann = svc["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "6066" and ann["prometheus.io/path"] == "/metrics"
    assert pdb["spec"]["minAvailable"] == 1
    # everything in one namespace
    ns = docs["Namespace"]["metadata"]["name"]
    assert all(d["metadata"].get("namespace", ns) == ns for d in docs.values())


def test_k8s_configmap_is_default_yaml_and_valid(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, str(K8S / "sync_configmap.py"), "--check"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    docs = k8s_docs()
    text = docs["ConfigMap"]["data"]["default.yaml"]
    assert text == (REPO / "configs" / "default.yaml").read_text(encoding="utf-8")
    f = tmp_path / "default.yaml"
    f.write_text(text, encoding="utf-8")
    [container] = docs["Deployment"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    s = load_settings(f, env=env)
    assert s.kafka.broker == env["WARNING_KAFKA__BROKER"]


# Oldest Kubernetes minor still widely run (EKS/GKE extended support) and the newest the installed
# kubernetes-validate bundles; both schema sets ship inside the package (no network).
K8S_VERSIONS = ("1.28.0", kubernetes_validate.latest_version())


def k8s_objects() -> list[tuple[str, dict]]:
    """(file name, object) for every object of every manifest applied to the cluster."""
    return [(f.name, doc) for f in sorted(K8S.glob("*.yaml")) if f.name != "kustomization.yaml"
            for doc in yaml.safe_load_all(f.read_text(encoding="utf-8")) if doc]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_k8s_manifests_match_the_kubernetes_schemas(version: str) -> None:
    """Every object against the API server's OpenAPI schema of ``version``, strictly: an unknown
    or misspelt field is an error, as ``kubectl apply --validate=strict`` would make it."""
    objs = k8s_objects()
    assert {d["kind"] for _, d in objs} >= {"Namespace", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"}
    for name, doc in objs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{name}: {doc['kind']} {doc['metadata']['name']} is invalid for Kubernetes {version}: {e.message} at {list(e.path)}")
    # the validator is live: a misspelt field of the same Deployment is refused
    dep = next(d for _, d in objs if d["kind"] == "Deployment")
    broken = {**dep, "spec": {**dep["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_k8s_network_policy_admits_only_prometheus_to_the_metrics_port() -> None:
    """The workers bind 0.0.0.0 in the pod (Prometheus must reach them): the NetworkPolicy lets only
    the monitoring namespace in, and only on the metrics port."""
    docs = k8s_docs()
    pol, dep = docs["NetworkPolicy"], docs["Deployment"]
    assert pol["spec"]["podSelector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert pol["spec"]["policyTypes"] == ["Ingress"]
    [rule] = pol["spec"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    [container] = dep["spec"]["template"]["spec"]["containers"]
    [port] = container["ports"]
    assert [(p["port"], p["protocol"]) for p in rule["ports"]] == [(port["name"], "TCP")]
    # Prometheus of deploy/prometheus/prometheus.kubernetes.yml lives in that namespace
    prom = (DEPLOY / "prometheus" / "prometheus.kubernetes.yml").read_text(encoding="utf-8")
    assert ".monitoring.svc" in prom


def test_compose_matches_the_compose_spec(tmp_path: Path) -> None:
    """deploy/compose.yaml against the Compose specification's JSON schema bundled with
    check-jsonschema (``--builtin-schema vendor.compose-spec``: no download)."""
    def check(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
                              capture_output=True, text=True, timeout=120)

    p = check(DEPLOY / "compose.yaml")
    assert p.returncode == 0, p.stdout + p.stderr
    # the check is live: an unknown service key is refused
    c = compose()
    c["services"]["worker-1"]["restart_policy"] = "always"
    bad = tmp_path / "compose.yaml"
    bad.write_text(yaml.safe_dump(c), encoding="utf-8")
    p = check(bad)
    assert p.returncode == 1 and "restart_policy" in p.stdout + p.stderr, p.stdout + p.stderr


def test_kustomization_lists_every_manifest() -> None:
    k = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(k["resources"])
    present = {f.name for f in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


# ------------------------------------------------------------------------------------------------
# Dockerfile


def test_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert froms and all(f == "python:3.11-slim" for f in froms)
    assert re.search(r"pip (wheel|install)\b.* \.$", text, re.M), "the image installs the project with pip (pip install .)"
    assert "COPY configs" in text and "EXPOSE 6066" in text
    assert re.search(r"^USER\s+(?!root|0\b)", text, re.M), "runs as a non-root user"
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    for needed in ("!pyproject.toml", "!README.md", "!warning/", "!configs/"):
        assert needed in ignore
    for src in re.findall(r"^COPY\s+(?!--)(\S+)", text, re.M):
        assert (REPO / src).exists(), src
