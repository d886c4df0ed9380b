"""deploy/compose.yaml, deploy/k8s/ and deploy/Dockerfile, validated statically (no Docker engine,
no cluster here): YAML parses, references resolve, and the configuration of the workers and of the
ops-centre dashboard — the ConfigMap with the env of the Deployments / compose services — passes the
project's own config validation. Secrets are referenced (compose secret files, Kubernetes
secretKeyRef), never written inline."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from prom_helpers import REPO
from warning.config import ENV_NESTED, ENV_PREFIX, Settings, _child, load_settings

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def k8s_docs() -> dict[tuple[str, str], dict]:
    """(kind, name) → document, over every manifest in deploy/k8s/."""
    out: dict[tuple[str, str], dict] = {}
    for f in sorted(K8S.glob("*.yaml")):
        if f.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(f.read_text(encoding="utf-8")):
            if doc:
                key = (doc["kind"], doc["metadata"]["name"])
                assert key not in out, f"two {key} objects"
                out[key] = doc
    return out


WORKER, DASHBOARD = "warning-worker", "warning-dashboard"


def check_env_names(env: dict[str, str | None]) -> None:
    """Every WARNING_<SECTION>__<KEY>[__<KEY>...] names a real configuration key (entries of dict
    sections such as alerts_feedback.sources.<id> are free). A WARNING_* variable that is no config
    key (the loader ignores it) must be one that a ``*_env`` key names: it holds a secret."""
    referenced = {v for k, v in env.items() if k.lower().endswith("_env") and v}
    for name in env:
        if not name.startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX):].lower().split(ENV_NESTED)
        if len(path) == 1 and path[0] not in Settings.model_fields:
            assert name in referenced, f"{name}: neither a config key nor named by a *_ENV key"
            continue
        ann = Settings
        for i, part in enumerate(path):
            ann = _child(ann, part)
            assert ann is not None, f"{name}: no config key {'.'.join(path[:i + 1])!r}"


def k8s_container(docs: dict[tuple[str, str], dict], name: str) -> dict:
    [container] = docs[("Deployment", name)]["spec"]["template"]["spec"]["containers"]
    return container


def k8s_env(container: dict, secrets: dict[str, str] | None = None) -> dict[str, str]:
    """The container's env as the pod sees it: literal values, and for each secretKeyRef the value
    ``secrets[secret/key]`` (default: a fake secret long enough for the config's checks)."""
    out = {}
    for e in container["env"]:
        if "value" in e:
            out[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            out[e["name"]] = (secrets or {}).get(f"{ref['name']}/{ref['key']}", f"fake-{ref['key']}-0123456789abcdef0123")
    return out


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
    # Prometheus scrapes exactly the worker services, on their web port, and the dashboard on its port
    prom_cfg = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.compose.yml").read_text(encoding="utf-8"))
    job = next(j for j in prom_cfg["scrape_configs"] if j["job_name"] == "warning")
    assert job["static_configs"][0]["targets"] == ["worker-1:6066", "worker-2:6066"]
    job = next(j for j in prom_cfg["scrape_configs"] if j["job_name"] == "warning-dashboard")
    assert job["static_configs"][0]["targets"] == ["dashboard:8080"] and job["metrics_path"] == "/metrics"
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


def compose_env_with_secrets(svc: dict, tmp_path: Path) -> dict[str, str]:
    """The service's environment with every /run/secrets/<name> path pointing at a fake secret file."""
    env = dict(svc["environment"])
    for name in svc.get("secrets", []):
        f = tmp_path / name
        f.write_text("fake-secret-0123456789abcdef0123456789\n", encoding="utf-8")
        env = {k: str(f) if v == f"/run/secrets/{name}" else v for k, v in env.items()}
    return env


def test_compose_worker_config_is_valid(tmp_path: Path) -> None:
    env = compose_env_with_secrets(compose()["services"]["worker-1"], tmp_path)
    s = load_settings(REPO / "configs" / "default.yaml", env={**env, "WARNING_KAFKA__BROKER": "kafka://kafka:9092"})
    assert s.worker.web_host == "0.0.0.0" and s.worker.web_port == 6066
    assert s.alerts_feedback.enabled  # the worker obeys silences signed by the dashboard


def test_compose_dashboard() -> None:
    """The ops-centre app: the workers' image, `warning dashboard --host 0.0.0.0` on 8080 (loopback
    on the host), its history on a volume, the feedback signing key shared with the workers through
    a compose secret file — no secret inline."""
    c = compose()
    s = c["services"]
    d, w = s["dashboard"], s["worker-1"]
    assert d["image"] == w["image"] and d["build"] == w["build"]
    assert d["command"][:3] == ["dashboard", "--host", "0.0.0.0"]
    assert d["command"][d["command"].index("--config") + 1] == w["command"][w["command"].index("--config") + 1]
    assert d["ports"] == ["127.0.0.1:8080:8080"]
    assert d["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "8080/healthz" in " ".join(d["healthcheck"]["test"])
    env = d["environment"]
    check_env_names(env)
    assert env["WARNING_KAFKA__BROKER"] == "kafka://kafka:9092"
    assert any(v.split(":")[1] == env["WARNING_WORKER__DATA_DIR"] for v in d["volumes"]), "history on a volume"
    # the same key for signing (dashboard) and checking (workers): one compose secret, from a file
    key = "WARNING_ALERTS_FEEDBACK__SOURCES__DASHBOARD__SECRET_FILE"
    for svc in (d, w, s["worker-2"]):
        [secret] = svc["secrets"]
        assert svc["environment"][key] == f"/run/secrets/{secret}"
    assert set(c["secrets"]) == set(d["secrets"]) and "file" in c["secrets"][d["secrets"][0]]
    for name, svc in s.items():  # the project's secrets: by reference (…_FILE / …_ENV) only
        for k in svc.get("environment", {}) or {}:
            if k.startswith(ENV_PREFIX):
                assert not k.endswith(("SECRET", "PASSWORD", "__URL")), f"{name}: {k} must come from a file or *_ENV"
    # the feed-health URLs are the worker services' metrics
    workers = [n for n in s if n.startswith("worker-")]
    assert env["WARNING_DASHBOARD__WORKER_METRICS"] == "[" + ", ".join(f"http://{n}:6066/metrics" for n in workers) + "]"


def test_compose_dashboard_config_is_valid(tmp_path: Path) -> None:
    env = compose_env_with_secrets(compose()["services"]["dashboard"], tmp_path)
    s = load_settings(REPO / "configs" / "default.yaml", env=env)
    assert s.dashboard.worker_metrics == ["http://worker-1:6066/metrics", "http://worker-2:6066/metrics"]
    assert s.alerts_feedback.secret_of(s.dashboard.sign_as)  # the dashboard can sign its actions
    assert s.history.resolve(s.worker.data_dir) == "sqlite:////data/history.sqlite3"


# ------------------------------------------------------------------------------------------------
# Kubernetes


def test_k8s_workers() -> None:
    docs = k8s_docs()
    dep, svc = docs[("Deployment", WORKER)], docs[("Service", WORKER)]
    pdb, cm = docs[("PodDisruptionBudget", WORKER)], docs[("ConfigMap", "warning-config")]
    assert dep["apiVersion"] == "apps/v1" and pdb["apiVersion"] == "policy/v1"
    assert dep["spec"]["replicas"] == 2
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    for selector in (dep["spec"]["selector"]["matchLabels"], svc["spec"]["selector"], pdb["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= pod_labels.items()
    container = k8s_container(docs, WORKER)
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
    [ns] = [name for kind, name in docs if kind == "Namespace"]
    assert all(d["metadata"].get("namespace", ns) == ns for d in docs.values())


def secret_refs(container: dict) -> dict[str, tuple[str, str]]:
    """env name → (Secret, key) of every secretKeyRef."""
    return {e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
            for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})}


def test_k8s_dashboard() -> None:
    """Deployment + Service warning-dashboard: `warning dashboard --host 0.0.0.0`, port "http" 8080
    (what the Prometheus job keeps), the workers' ConfigMap, secrets only by secretKeyRef, the
    feedback signing key the same Secret key the workers read."""
    docs = k8s_docs()
    dep, svc = docs[("Deployment", DASHBOARD)], docs[("Service", DASHBOARD)]
    worker_dep = docs[("Deployment", WORKER)]
    pod = dep["spec"]["template"]
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"]["type"] == "Recreate"  # one writer of the history
    for selector in (dep["spec"]["selector"]["matchLabels"], svc["spec"]["selector"]):
        assert selector.items() <= pod["metadata"]["labels"].items()
    # the Service selects the dashboard only, the workers' Service never selects it
    assert not docs[("Service", WORKER)]["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert not svc["spec"]["selector"].items() <= worker_dep["spec"]["template"]["metadata"]["labels"].items()
    container = k8s_container(docs, DASHBOARD)
    worker = k8s_container(docs, WORKER)
    assert container["image"] == worker["image"]
    assert container["args"][:3] == ["dashboard", "--host", "0.0.0.0"]
    [port] = container["ports"]
    assert (port["name"], port["containerPort"]) == ("http", 8080)
    [sport] = svc["spec"]["ports"]
    assert (sport["name"], sport["port"], sport["targetPort"]) == ("http", 8080, "http")
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    # the same ConfigMap, mounted where --config points
    cfg_arg = container["args"][container["args"].index("--config") + 1]
    assert cfg_arg == worker["args"][worker["args"].index("--config") + 1]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == str(Path(cfg_arg).parent))
    assert volumes[mount["name"]]["configMap"]["name"] == "warning-config"
    # env: real config keys; every secret by secretKeyRef, none inline
    env = {e["name"]: e.get("value") for e in container["env"]}
    check_env_names(env)
    refs = secret_refs(container)
    for name, value in env.items():
        if name.endswith("_ENV"):
            assert value in refs, f"{name} names {value}, which must come from a Secret"
        if name not in refs and not name.endswith(("_ENV", "_FILE")):
            assert not re.search(r"SECRET|PASSWORD|_KEY$|HISTORY__URL$", name), f"{name}: inline secret?"
    sign = "WARNING_ALERTS_FEEDBACK__SOURCES__DASHBOARD__SECRET_ENV"
    wenv = {e["name"]: e.get("value") for e in worker["env"]}
    assert refs[env[sign]] == secret_refs(worker)[wenv[sign]], "dashboard and workers must share the signing key"
    assert env["WARNING_HISTORY__URL_ENV"] in refs  # PostgreSQL URL (with its password) from a Secret
    # Prometheus (prometheus.kubernetes.yml) keeps this Service and this port name
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.kubernetes.yml").read_text(encoding="utf-8"))
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "warning-dashboard")
    keep = {tuple(r["source_labels"]): r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"}
    assert keep[("__meta_kubernetes_service_name",)] == svc["metadata"]["name"]
    assert keep[("__meta_kubernetes_endpoint_port_name",)] == sport["name"]
    assert job["kubernetes_sd_configs"][0]["namespaces"]["names"] == [svc["metadata"]["namespace"]]


def test_k8s_configmap_is_default_yaml_and_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = subprocess.run([sys.executable, str(K8S / "sync_configmap.py"), "--check"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    docs = k8s_docs()
    text = docs[("ConfigMap", "warning-config")]["data"]["default.yaml"]
    assert text == (REPO / "configs" / "default.yaml").read_text(encoding="utf-8")
    f = tmp_path / "default.yaml"
    f.write_text(text, encoding="utf-8")
    history_url = "postgresql+psycopg://warning:pw@postgres.postgres.svc:5432/warning"
    for name in (WORKER, DASHBOARD):
        env = k8s_env(k8s_container(docs, name), {"warning-dashboard/history-url": history_url})
        s = load_settings(f, env=env)
        assert s.kafka.broker == env["WARNING_KAFKA__BROKER"]
        assert s.alerts_feedback.enabled, name
    # the dashboard: signs with the shared key, history in PostgreSQL, feed health from the workers' Service
    assert s.alerts_feedback.secret_of(s.dashboard.sign_as) and s.dashboard.session_key is not None
    monkeypatch.setenv(s.history.url_env, env[s.history.url_env])  # resolve() reads the process environment
    assert s.history.resolve(s.worker.data_dir) == history_url
    svc = docs[("Service", WORKER)]
    assert s.dashboard.worker_metrics == [f"http://{WORKER}.{svc['metadata']['namespace']}.svc.cluster.local:"
                                          f"{svc['spec']['ports'][0]['port']}/metrics"]


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
    assert {(d["kind"], d["metadata"]["name"]) for _, d in objs} >= {("Deployment", n) for n in (WORKER, DASHBOARD)} | {
        ("Service", n) for n in (WORKER, DASHBOARD)} | {("NetworkPolicy", n) for n in (WORKER, DASHBOARD)}
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


MONITORING = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}


def pod_selector(dep: dict) -> dict:
    labels = dep["spec"]["template"]["metadata"]["labels"]
    return {"podSelector": {"matchLabels": {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/component")}}}


def test_k8s_network_policy_admits_only_prometheus_to_the_metrics_port() -> None:
    """The workers bind 0.0.0.0 in the pod (Prometheus must reach them): the NetworkPolicy lets only
    the monitoring namespace and the dashboard pods (feed health) in, and only on the metrics port."""
    docs = k8s_docs()
    pol, dep = docs[("NetworkPolicy", WORKER)], docs[("Deployment", WORKER)]
    assert pol["spec"]["podSelector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert pol["spec"]["policyTypes"] == ["Ingress"]
    [rule] = pol["spec"]["ingress"]
    assert rule["from"] == [MONITORING, pod_selector(docs[("Deployment", DASHBOARD)])]
    [port] = k8s_container(docs, WORKER)["ports"]
    assert [(p["port"], p["protocol"]) for p in rule["ports"]] == [(port["name"], "TCP")]
    # Prometheus of deploy/prometheus/prometheus.kubernetes.yml lives in that namespace
    prom = (DEPLOY / "prometheus" / "prometheus.kubernetes.yml").read_text(encoding="utf-8")
    assert ".monitoring.svc" in prom
    # the policies select disjoint pods: the worker's never covers the dashboard and vice versa
    for a, b in ((WORKER, DASHBOARD), (DASHBOARD, WORKER)):
        sel = docs[("NetworkPolicy", a)]["spec"]["podSelector"]["matchLabels"]
        assert not sel.items() <= docs[("Deployment", b)]["spec"]["template"]["metadata"]["labels"].items()


def test_k8s_network_policy_of_the_dashboard() -> None:
    """In: the port "http" only, from Prometheus and the ops network's Ingress controller. Out: Kafka
    (the broker port of the Deployment's WARNING_KAFKA__BROKER), PostgreSQL, the workers' metrics
    port and DNS — nothing else."""
    docs = k8s_docs()
    pol, dep = docs[("NetworkPolicy", DASHBOARD)], docs[("Deployment", DASHBOARD)]
    assert pol["spec"]["podSelector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert pol["spec"]["policyTypes"] == ["Ingress", "Egress"]
    [rule] = pol["spec"]["ingress"]
    assert MONITORING in rule["from"] and len(rule["from"]) == 2
    assert all(set(peer) == {"namespaceSelector"} for peer in rule["from"])  # whole namespaces, no ipBlock 0.0.0.0/0
    [port] = k8s_container(docs, DASHBOARD)["ports"]
    assert [(p["port"], p["protocol"]) for p in rule["ports"]] == [(port["name"], "TCP")]

    def ns_of(peer: dict) -> str | None:
        return peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")

    out = {}
    for r in pol["spec"]["egress"]:
        [peer] = r["to"]
        key = ns_of(peer) or "pods:" + peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        out[key] = sorted((p["port"], p["protocol"]) for p in r["ports"])
    env = {e["name"]: e.get("value") for e in k8s_container(docs, DASHBOARD)["env"]}
    broker = env["WARNING_KAFKA__BROKER"]  # kafka://<svc>.<namespace>.svc...:<port>
    host, _, kport = broker.removeprefix("kafka://").partition(":")
    [worker_port] = k8s_container(docs, WORKER)["ports"]
    assert out == {
        host.split(".")[1]: [(int(kport), "TCP")],
        "postgres": [(5432, "TCP")],
        "pods:worker": [(worker_port["name"], "TCP")],
        "kube-system": [(53, "TCP"), (53, "UDP")],
    }, out


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
