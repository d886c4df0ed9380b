#!/usr/bin/env python3
"""Writes deploy/k8s/configmap.yaml from configs/default.yaml (the ConfigMap carries the file as is).

    python deploy/k8s/sync_configmap.py           # rewrite
    python deploy/k8s/sync_configmap.py --check   # exit 1 when out of date (tests/test_deploy_manifests.py)

kustomize cannot read files outside deploy/k8s/, hence a generated copy instead of a configMapGenerator.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[1] / "configs" / "default.yaml"
OUT = HERE / "configmap.yaml"

HEADER = """\
# GENERATED from configs/default.yaml by deploy/k8s/sync_configmap.py — do not edit.
# Environment variables of the Deployment (WARNING_<SECTION>__<KEY>) override these values.
apiVersion: v1
kind: ConfigMap
metadata:
  name: warning-config
  namespace: warning
  labels:
    app.kubernetes.io/name: warning
    app.kubernetes.io/part-of: warning
data:
  default.yaml: |
"""


def render() -> str:
    text = SOURCE.read_text(encoding="utf-8")
    lines = [("    " + line) if line.strip() else "" for line in text.rstrip("\n").split("\n")]
    return HEADER + "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run python deploy/k8s/sync_configmap.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
