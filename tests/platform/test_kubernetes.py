"""deploy/kubernetes, checked statically: the example overlay renders (kubectl's
kustomize), validates against the Kubernetes schemas offline, passes checkov with
justified skips only, and runs the portal with exactly the settings it declares."""
from __future__ import annotations

import json
import subprocess
from urllib.parse import urlsplit

import pytest
import yaml

from portal.config import SECRET_FIELDS, ConfigError, Settings

from .k8s_helpers import (container_env_names, declared_settings, objects, one, pod_specs, registrable,
                          rendered, rendered_text, secret_refs, settings_configmap)
from .tools import CHECKOV_REQUIREMENTS, KUBERNETES_DIR, ROOT, checkov_binary, clean_env

# Oldest and newest Kubernetes the manifests are checked against (schemas of kubernetes-validate 1.37.0).
SCHEMA_VERSIONS = ["1.30.0", "1.37.0"]
# Valid stand-ins for the Secret's keys, so that Settings.from_env can judge the rest.
SECRET_STANDINS = {
    "PORTAL_SECRET_KEY": "k8s-test-secret-key-0123456789abcdef0123456789",
    "PORTAL_ENCRYPTION_KEY": "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzJieXRlcyE=",
    "DATABASE_URL": "postgresql+psycopg://portal:pw@platform-pg-rw.databases:5432/portal",
    "OIDC_CLIENT_SECRET": "k8s-test-oidc-client-secret",
    "CODER_ADMIN_API_KEY": "k8s-test-coder-token",
    "GITEA_ADMIN_TOKEN": "k8s-test-gitea-token",
    "LITELLM_MASTER_KEY": "sk-k8s-test-master-key",
    "SMTP_URL": "smtp://relay.example.com:25",
    "PORTAL_RATELIMIT_STORAGE": "redis://:pw@redis-master.redis:6379/1",
    "PORTAL_QUEUE_URL": "redis://:pw@redis-master.redis:6379/0",
}


def _containers():
    return {f"{kind}/{c['name']}": c for kind, spec in pod_specs().items() for c in spec["containers"]}


def _workload(kind: str, name: str) -> dict:
    return one(kind, name)["spec"]["template"]["spec"]["containers"][0]


def _environment(container: dict) -> dict[str, str]:
    env = dict(settings_configmap())
    for name in secret_refs(container):
        env[name] = SECRET_STANDINS[name]
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
    return env


def test_overlay_renders_the_whole_deployment():
    kinds = {(o["kind"], o["metadata"]["name"]) for o in rendered()}
    for expected in [("Deployment", "portal-web"), ("Deployment", "portal-worker"), ("Job", "portal-migrate"),
                     ("Service", "portal-web"), ("PodDisruptionBudget", "portal-web"),
                     ("HorizontalPodAutoscaler", "portal-web"), ("Ingress", "portal"), ("Ingress", "coder"),
                     ("NetworkPolicy", "default-deny"), ("Namespace", "portal"), ("ServiceAccount", "portal")]:
        assert expected in kinds, expected
    assert not objects("Secret"), "no Secret is committed: portal-secrets is created out of band"


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_object_validates_against_the_schemas(version):
    kubernetes_validate = pytest.importorskip("kubernetes_validate",
                                              reason="test extra kubernetes-validate: pip install -e '.[test]'")
    for obj in rendered():
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} on Kubernetes {version}: {exc.message}")


def test_a_malformed_object_is_refused_by_the_validator():
    """The validator is not a rubber stamp: a misspelt field fails strict validation."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    web = json.loads(json.dumps(one("Deployment", "portal-web")))
    web["spec"]["replicaz"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, SCHEMA_VERSIONS[-1], strict=True)


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory):
    argv = checkov_binary()
    if argv is None:
        pytest.skip(f"checkov not found: `make install-test` puts it in .venv-checkov "
                    f"(pip install -r {CHECKOV_REQUIREMENTS.relative_to(ROOT)})")
    folder = tmp_path_factory.mktemp("rendered")
    (folder / "portal.yaml").write_text(rendered_text())
    (folder / "Dockerfile").write_text((ROOT / "Dockerfile").read_text())
    proc = subprocess.run([*argv, "--directory", str(folder), "--framework", "kubernetes", "dockerfile",
                           "--skip-download", "--output", "json"], capture_output=True, text=True, timeout=300,
                          env=clean_env())
    assert proc.stdout.strip(), proc.stderr[-2000:]
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert {r["check_type"] for r in reports} == {"kubernetes", "dockerfile"}, "both scanned"
    merged = {"failed_checks": [], "skipped_checks": [], "passed_checks": []}
    for report in reports:
        for key in merged:
            merged[key] += report["results"][key]
    return {"results": merged, "summary": {"passed": len(merged["passed_checks"])}}


def test_checkov_finds_no_failed_check(checkov_report):
    """On the rendered overlay and the portal's Dockerfile."""
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in checkov_report["results"]["failed_checks"]]
    assert not failed, "\n".join(failed)
    assert checkov_report["summary"]["passed"] > 100, "checkov scanned the objects"


def test_every_checkov_skip_has_a_reason_and_is_used(checkov_report):
    skipped = {(c["check_id"], c["resource"].split(".")[-1]) for c in checkov_report["results"]["skipped_checks"]}
    for obj in rendered():
        for key, value in (obj["metadata"].get("annotations") or {}).items():
            if key.startswith("checkov.io/skip"):
                check, _, reason = value.partition("=")
                assert len(reason.split()) >= 5, f"{obj['metadata']['name']}: {check} needs a reason"
                assert (check, obj["metadata"]["name"]) in skipped, f"{check} on {obj['metadata']['name']} skips nothing"


def test_env_names_are_settings_the_portal_declares():
    declared = declared_settings()
    for where, container in _containers().items():
        unknown = container_env_names(container) - declared
        assert not unknown, f"{where} sets {sorted(unknown)}, which portal/config.py does not read"
        assert "PORTAL_DEV" not in container_env_names(container), "never the embedded default in a cluster"


def test_required_settings_are_present_and_valid():
    """Settings.from_env is the judge: with the rendered settings and the Secret's keys
    it starts (nothing required missing, nothing malformed), outside dev mode."""
    for where, container in _containers().items():
        settings = Settings.from_env(_environment(container))
        assert settings.dev is False, where
        assert settings.oidc_enabled and settings.coder_wildcard_host, where


@pytest.mark.parametrize("name", ["PORTAL_SECRET_KEY", "OIDC_ISSUER", "CODER_URL", "GITEA_ADMIN_TOKEN"])
def test_the_judge_refuses_a_missing_required_setting(name):
    env = _environment(_workload("Deployment", "portal-web"))
    del env[name]
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


def test_every_secret_setting_comes_from_the_secret():
    container = _workload("Deployment", "portal-web")
    settings = Settings.from_env(_environment(container))
    standins = set(SECRET_STANDINS.values())
    for field in sorted(SECRET_FIELDS):
        value = getattr(settings, field)
        if value:
            assert value in standins, f"{field} is set from the ConfigMap: secrets belong in portal-secrets"
    for ref in secret_refs(container).values():
        assert ref["name"] == "portal-secrets"
    assert not set(settings_configmap()) & set(SECRET_STANDINS), "a secret name in the ConfigMap"


def test_web_worker_and_migration_share_one_environment():
    envs = {where: (c.get("env"), c.get("envFrom")) for where, c in _containers().items()}
    assert len(envs) == 3 and len({json.dumps(v, sort_keys=True) for v in envs.values()}) == 1, envs.keys()


def test_web_tier_shape():
    web = one("Deployment", "portal-web")
    container = _workload("Deployment", "portal-web")
    assert "replicas" not in web["spec"], "the HPA owns the count; kubectl apply would reset it"
    assert container["command"] == ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
    assert (ROOT / "gunicorn.conf.py").is_file()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    port = container["ports"][0]
    assert port["containerPort"] == 8000 and port["name"] == "http"
    hpa = one("HorizontalPodAutoscaler", "portal-web")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "portal-web" and hpa["minReplicas"] >= 2
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    pod_labels = web["spec"]["template"]["metadata"]["labels"]
    for kind in ("PodDisruptionBudget", "Service"):
        selector = one(kind, "portal-web")["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= pod_labels.items(), f"the {kind} selects the web pods"


def test_worker_and_migration_commands():
    worker = one("Deployment", "portal-worker")
    assert worker["spec"]["replicas"] >= 1
    container = _workload("Deployment", "portal-worker")
    assert container["command"] == ["flask", "--app", "wsgi", "portal", "worker",
                                    "--metrics-port", "9108"]
    # the port the worker serves its job metrics on is declared and let in from monitoring
    assert {"name": "metrics", "containerPort": 9108, "protocol": "TCP"} in container["ports"]
    from portal.ops.cli import worker_command
    assert "--metrics-port" in {o for p in worker_command.params for o in p.opts}
    scrape = one("NetworkPolicy", "portal-metrics")["spec"]["ingress"][0]
    assert {"protocol": "TCP", "port": 9108} in scrape["ports"]
    job = one("Job", "portal-migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["flask", "--app", "wsgi", "db", "upgrade"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("workload", ["Deployment/portal-web", "Deployment/portal-worker", "Job/portal-migrate"])
def test_pods_are_non_root_read_only_and_bounded(workload):
    spec = pod_specs()[workload]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["automountServiceAccountToken"] is False
    for container in spec["containers"]:
        ctx = container["securityContext"]
        assert ctx["readOnlyRootFilesystem"] is True and ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"]["drop"] == ["ALL"] and ctx["runAsUser"] >= 10000
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), f"{workload} {bound}"
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], "a writable /tmp on a read-only root"


def test_image_user_matches_the_pods():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER 10001:10001" in dockerfile
    for spec in pod_specs().values():
        assert spec["securityContext"]["runAsUser"] == 10001


def test_hosts_share_one_registrable_domain():
    settings = settings_configmap()
    portal_hosts = [r["host"] for r in one("Ingress", "portal")["spec"]["rules"]]
    coder_hosts = [r["host"] for r in one("Ingress", "coder", "coder")["spec"]["rules"]]
    wildcard = settings["CODER_WILDCARD_ACCESS_URL"]
    assert wildcard in coder_hosts, "the Ingress routes the app wildcard the portal frames"
    hosts = portal_hosts + coder_hosts + [urlsplit(settings["OIDC_ISSUER"]).hostname]
    assert len({registrable(h) for h in hosts}) == 1, hosts
    coder_values = yaml.safe_load((KUBERNETES_DIR / "coder" / "values.yaml").read_text())["coder"]
    coder_env = {e["name"]: e.get("value") for e in coder_values["env"]}
    assert coder_env["CODER_WILDCARD_ACCESS_URL"] == wildcard
    assert urlsplit(coder_env["CODER_ACCESS_URL"]).hostname in coder_hosts
    assert coder_values["service"]["type"] == "ClusterIP" and coder_values["ingress"]["enable"] is False
    for ingress in (one("Ingress", "portal"), one("Ingress", "coder", "coder")):
        tls_hosts = {h for t in ingress["spec"]["tls"] for h in t["hosts"]}
        assert {r["host"] for r in ingress["spec"]["rules"]} <= tls_hosts, "TLS for every host"


def test_network_policies_deny_by_default_and_allow_only_the_platform():
    policies = objects("NetworkPolicy")
    deny = policies["portal/default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    egress_ports = set()
    for policy in policies.values():
        for rule in policy["spec"].get("egress", []):
            assert rule.get("to"), f"{policy['metadata']['name']}: an egress rule without peers allows everything"
            for peer in rule["to"]:
                assert peer.get("ipBlock", {}).get("cidr") not in {"0.0.0.0/0", "::/0"}
                assert "ipBlock" in peer or ("namespaceSelector" in peer and "podSelector" in peer)
            egress_ports |= {p["port"] for p in rule["ports"]}
    # DNS, PostgreSQL, Redis, Coder, Gitea, Authentik (+ its public URL), LiteLLM, SMTP.
    assert egress_ports == {53, 5432, 6379, 8080, 3000, 9000, 9443, 443, 4000, 25, 465, 587}
    web_ingress = policies["portal/portal-web-ingress"]["spec"]["ingress"]
    assert [p["port"] for rule in web_ingress for p in rule["ports"]] == [8000]
    for workload, spec in pod_specs().items():
        labels = next(o for o in rendered() if f"{o['kind']}/{o['metadata']['name']}" == workload)[
            "spec"]["template"]["metadata"]["labels"]
        selecting = [p for p in policies.values() if "Egress" in p["spec"]["policyTypes"]
                     and p["metadata"]["name"] != "default-deny" and _selects(p["spec"]["podSelector"], labels)]
        assert selecting, f"{workload} has no egress policy"


def _selects(selector: dict, labels: dict) -> bool:
    if not (selector.get("matchLabels", {}).items() <= labels.items()):
        return False
    return all(labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", [])
               if e["operator"] == "In")


def test_gunicorn_config_file_is_what_the_image_runs():
    """gunicorn itself reads gunicorn.conf.py: 2 gthread processes x 16 threads, /dev/shm heartbeats."""
    import sys
    proc = subprocess.run([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--print-config",
                           "wsgi:app"], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env=clean_env(PORTAL_DEV="1"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = dict(line.split(" = ", 1) for line in proc.stdout.splitlines() if " = " in line)
    config = {k.strip(): v.strip() for k, v in config.items()}
    assert (config["workers"], config["worker_class"], config["threads"]) == ("2", "gthread", "16")
    assert config["bind"] == "['0.0.0.0:8000']"
    assert config["worker_tmp_dir"] == "/dev/shm", "heartbeats off the read-only root"
    assert config.get("control_socket_disable", "True") == "True", "no control socket under a read-only $HOME"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]' in dockerfile
    assert "COPY wsgi.py gunicorn.conf.py ./" in dockerfile
    assert "npm ci --omit=dev" in dockerfile and "htmx.min.js" in dockerfile


def test_the_migration_phase_carries_everything_the_job_needs():
    """README step 6 applies `-l portal/phase=migrate` alone: the Job must find its namespace,
    service account and settings there, and its pod the policies that let it reach PostgreSQL."""
    phase = {(o["kind"], o["metadata"]["name"]) for o in rendered()
             if (o["metadata"].get("labels") or {}).get("portal/phase") == "migrate"}
    job = one("Job", "portal-migrate")
    spec = job["spec"]["template"]["spec"]
    assert ("Job", "portal-migrate") in phase and ("Namespace", "portal") in phase
    assert ("ServiceAccount", spec["serviceAccountName"]) in phase
    for source in spec["containers"][0]["envFrom"]:
        assert ("ConfigMap", source["configMapRef"]["name"]) in phase
    labels = job["spec"]["template"]["metadata"]["labels"]
    for key, policy in objects("NetworkPolicy").items():
        if _selects(policy["spec"]["podSelector"], labels):
            assert ("NetworkPolicy", policy["metadata"]["name"]) in phase, key
    assert not any(kind in {"Deployment", "Ingress", "HorizontalPodAutoscaler"} for kind, _ in phase)
