"""The shipped platform as upstream really behaves (issue 22).

Every check names, beside it, the upstream file and version it was read in.
What could only be checked on paper (no Docker engine runs in the tests) is
listed in compose/README.md, "Checked against upstream".
"""
from __future__ import annotations

import os
import pathlib
import re
import subprocess

import pytest
import yaml
from flask import Flask

from portal.web import auth

from .conftest_helpers import (BOOTSTRAP, COMPOSE_DIR, blocks, blueprint_entries, env_example,
                               locals_, raw_compose, service_env)
from .tools import IMAGE_DIR, ROOT, TEMPLATE_DIR, clean_env, hcl_constraints

DAY = 24 * 3600
ACT_RUNNER = COMPOSE_DIR / "act-runner.yaml"


def go_duration(text: str) -> float:
    """Seconds of a Go duration such as "720h" or "1h30m"."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"not a Go duration: {text!r}"
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


# -- 1. the portal's Coder token: within the owners' cap --------------------------------
def test_owner_token_cap_is_set_and_bootstrap_mints_within_it():
    """coder/coder v2.27 coderd/apikey.go (coder/coder#18267): an owner's token is capped by
    CODER_MAX_ADMIN_TOKEN_LIFETIME, default 168h (docs/reference/cli/server.md,
    --max-admin-token-lifetime); `coder tokens create --lifetime 8760h` was refused."""
    raw = raw_compose()["services"]["coder"]["environment"]["CODER_MAX_ADMIN_TOKEN_LIFETIME"]
    cap = go_duration(service_env("coder")["CODER_MAX_ADMIN_TOKEN_LIFETIME"])
    assert cap >= 15 * DAY, "under 15 days, doctor warns right after every bootstrap"
    assert env_example()["CODER_MAX_ADMIN_TOKEN_LIFETIME"] == raw.split(":-")[1].rstrip("}")
    script = BOOTSTRAP.read_text()
    minted = re.search(r'tokens create [^\n]*\n?[^\n]*--lifetime "\$\{(\w+):-([^}]+)\}"', script)
    assert minted, "bootstrap.sh mints the portal's token with an explicit --lifetime"
    assert minted.group(1) == "CODER_MAX_ADMIN_TOKEN_LIFETIME"
    assert go_duration(minted.group(2)) <= go_duration(raw.split(":-")[1].rstrip("}"))
    assert '[ "$days" -lt 14 ]' in script, "bootstrap renews the token with fewer than 14 days left"
    text = (COMPOSE_DIR / "docker-compose.yml").read_text()
    comment = text[:text.index("CODER_MAX_ADMIN_TOKEN_LIFETIME:")].rsplit("\n      CODER_", 1)[-1]
    assert "trade-off" in comment, "the cap is explained beside it"


# -- 2. invitations: the portal's email claim is stated as verified ---------------------
def _portal_provider(entries):
    return next(e for e in entries if e["model"] == "authentik_providers_oauth2.oauth2provider"
                and e["identifiers"]["name"] == "portal")


def test_portal_gets_the_verified_email_mapping_not_the_managed_one():
    """Authentik 2025.10 blueprints/system/providers-oauth2.yaml: the managed `email` mapping
    returns `email_verified: False`, so invitations (portal/groups/invitations.py) never matched."""
    entries = blueprint_entries(service_env("authentik-worker"))
    mappings = _portal_provider(entries)["attrs"]["property_mappings"]
    found = [m.value for m in mappings if isinstance(m.value, list)]   # !Find [model, [key, value]]
    keyed = [m.value for m in mappings if isinstance(m.value, str)]    # !KeyOf id
    assert ["managed", "goauthentik.io/providers/oauth2/scope-email"] not in [f[1] for f in found]
    (mapping,) = [e for e in entries if e.get("id") in keyed]
    assert mapping["model"] == "authentik_providers_oauth2.scopemapping"
    assert mapping["attrs"]["scope_name"] == "email"
    assert "default_user_change_email" in mapping["attrs"]["expression"]
    assert '"default_user_change_email": False' in BOOTSTRAP.read_text()


# -- 3. sign-out comes back to the portal -----------------------------------------------
def test_redirect_uri_types_are_the_upgraded_enum():
    """goauthentik/authentik#20011 (2026.5): RedirectURI.redirect_uri_type is
    `authorization` or `logout`; `post_logout` is refused after an upgrade."""
    entries = blueprint_entries(service_env("authentik-worker"))
    for entry in entries:
        if entry["model"] == "authentik_providers_oauth2.oauth2provider":
            for uri in entry["attrs"]["redirect_uris"]:
                assert uri.get("redirect_uri_type", "authorization") in {"authorization", "logout"}


def test_invalidation_flow_ends_the_session_and_returns_to_the_portal():
    """Authentik 2025.10 providers/oauth2/views/end_session.py ignores
    post_logout_redirect_uri and runs the provider's invalidation flow (the planner inserts
    its session-end page after the flow's first stage: flows/planner.py insert_stage, index 1);
    stages/redirect (mode static) sends the browser on."""
    worker = service_env("authentik-worker")
    entries = blueprint_entries(worker)
    flow_ref = _portal_provider(entries)["attrs"]["invalidation_flow"]
    flow = next(e for e in entries if e.get("id") == flow_ref.value)
    assert flow["attrs"]["designation"] == "invalidation"
    assert flow["attrs"]["authentication"] == "none"  # runs on after the logout stage
    bindings = sorted((e for e in entries if e["model"] == "authentik_flows.flowstagebinding"
                       and e["identifiers"]["target"].value == flow["id"]),
                      key=lambda e: e["identifiers"]["order"])
    stages = [next(e for e in entries if e.get("id") == b["identifiers"]["stage"].value)
              for b in bindings]
    assert [s["model"] for s in stages] == ["authentik_stages_user_logout.userlogoutstage",
                                            "authentik_stages_redirect.redirectstage"]
    redirect = stages[-1]["attrs"]
    app = Flask("routes")
    app.register_blueprint(auth.bp)
    (path,) = [r.rule for r in app.url_map.iter_rules() if r.endpoint == "auth.signed_out"]
    assert redirect["mode"] == "static"
    assert redirect["target_static"] == worker["PORTAL_URL"] + path
    portal = _portal_provider(entries)
    logout_uris = [u["url"] for u in portal["attrs"]["redirect_uris"]
                   if u.get("redirect_uri_type") == "logout"]
    assert logout_uris == [worker["PORTAL_URL"] + path]


# -- 5. CI on an offline LAN --------------------------------------------------------------
def test_actions_resolve_against_this_gitea():
    """go-gitea/gitea modules/setting/actions.go (v1.21+, still in v1.26.3):
    DEFAULT_ACTIONS_URL is "github" (the default) or "self"."""
    assert service_env("gitea")["GITEA__actions__DEFAULT_ACTIONS_URL"] == "self"


def test_job_images_have_node():
    """act (gitea/act, used by act_runner 0.2.13) runs a JavaScript action with the job
    container's `node`; the workspace image had none."""
    labels = yaml.safe_load(ACT_RUNNER.read_text())["runner"]["labels"]
    workspace_image = env_example()["WORKSPACE_IMAGE"]
    dockerfile = (IMAGE_DIR / "Dockerfile").read_text()
    installs = re.search(r"apt-get install -y --no-install-recommends(.*?)&&", dockerfile, re.S)
    for label in labels:
        name, _, image = label.partition(":docker://")
        assert image == workspace_image, f"{name}: only the workspace image is known to have node"
        assert re.search(r"\bnodejs\b", installs.group(1)), "the job image installs nodejs"


def internet_actions(workflow_text: str) -> list[str]:
    """The `uses:` of a workflow that would be fetched from outside this Gitea."""
    found = []
    for job in (yaml.safe_load(workflow_text) or {}).get("jobs", {}).values():
        for step in job.get("steps") or []:
            uses = step.get("uses")
            if uses and not (uses.startswith("./") or uses.startswith("docker://platform/")):
                found.append(uses)
    return found


def workflow_files() -> list[pathlib.Path]:
    """Every .gitea/ or .github/ workflow of the repository (installed packages skipped)."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in {"node_modules", ".venv", ".git", "__pycache__"}]
        here = pathlib.Path(folder)
        if here.name == "workflows" and here.parent.name in {".gitea", ".github"}:
            found += [here / f for f in files if f.endswith((".yml", ".yaml"))]
    return found


def test_no_workflow_fetches_an_action_from_the_internet():
    sample = "jobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
    assert internet_actions(sample) == ["actions/checkout@v4"]  # the check sees one
    labels = {label.split(":")[0] for label in yaml.safe_load(ACT_RUNNER.read_text())["runner"]["labels"]}
    for path in workflow_files():
        text = path.read_text()
        assert internet_actions(text) == [], f"{path.relative_to(ROOT)} uses an internet action"
        for job in (yaml.safe_load(text) or {}).get("jobs", {}).values():
            assert job.get("runs-on") in labels, f"{path.relative_to(ROOT)}: no runner has that label"


# -- 6. the workspace trusts the platform's TLS -------------------------------------------
def test_workspace_trusts_the_platform_ca_before_the_agent_starts():
    """coder/coder v2.27: the agent reaches the access URL's DERP relay over TLS (with
    CODER_BLOCK_DIRECT=true every connection is relayed); Caddy serves that name with
    certificates of its internal CA."""
    entry = locals_()["agent_entrypoint"]
    trust = entry.index("sudo -n /usr/local/bin/trust-platform-ca")
    assert trust < entry.index("coder_agent.main.init_script")
    container = blocks("resource", "docker_container")["workspace"]
    assert container["entrypoint"] == ["sh", "-c", "${local.agent_entrypoint}"]
    mounts = {v["container_path"]: v for v in container["volumes"]}
    assert mounts["/etc/platform-ca"]["read_only"] is True
    dockerfile = (IMAGE_DIR / "Dockerfile").read_text()
    assert "COPY trust-platform-ca.sh /usr/local/bin/trust-platform-ca" in dockerfile
    script = (IMAGE_DIR / "trust-platform-ca.sh").read_text()
    assert "PLATFORM_CA_DIR:-/etc/platform-ca}" in script


PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def run_trust(tmp_path, ca_dir):
    marker = tmp_path / "updated"
    update = tmp_path / "update-ca-certificates"
    update.write_text(f"#!/bin/sh\ntouch {marker}\n")
    update.chmod(0o755)
    proc = subprocess.run(["sh", str(IMAGE_DIR / "trust-platform-ca.sh")], capture_output=True,
                          text=True, timeout=30,
                          env=clean_env(PLATFORM_CA_DIR=str(ca_dir), UPDATE_CA_CERTIFICATES=str(update),
                                        CA_TARGET_DIR=str(tmp_path / "target")))
    return proc, marker


def test_trust_script_installs_the_certificates_and_nothing_else(tmp_path):
    ca = tmp_path / "ca"
    ca.mkdir()
    (ca / "root.crt").write_text(PEM)
    (ca / "company.crt").write_text(PEM)
    (ca / "root.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    (ca / "broken.crt").write_text("not a certificate")
    proc, marker = run_trust(tmp_path, ca)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "target").iterdir()) == ["company.crt", "root.crt"]
    assert marker.exists() and "broken.crt is not a PEM certificate" in proc.stderr
    assert "2 certificate(s)" in proc.stdout


def test_trust_script_without_the_volume_goes_on(tmp_path):
    proc, marker = run_trust(tmp_path, tmp_path / "absent")
    assert proc.returncode == 0 and "trusting the system's CAs only" in proc.stderr
    assert not marker.exists()


# -- the silently ignored settings, and the provider pins -------------------------------
@pytest.mark.parametrize("service,name,why", [
    ("gitea", "GITEA__server__OFFLINE_MODE", "removed in Gitea 1.26 (go-gitea/gitea#36771)"),
    ("gitea", "GITEA__picture__DISABLE_GRAVATAR",
     "Gitea 1.26: an admin-panel (system) setting; the key only logs a startup problem "
     "(on paper: compose/README.md)"),
    ("litellm", "LITELLM_TELEMETRY",
     "read by nothing in LiteLLM 1.77.7; litellm_settings.telemetry in config.yaml is"),
    ("authentik-server", "AUTHENTIK_AVATARS",
     "Authentik 2025.10: a tenant setting; only the first migration reads the variable"),
    ("authentik-worker", "AUTHENTIK_AVATARS", "as above"),
])
def test_no_setting_that_upstream_ignores(service, name, why):
    assert name not in service_env(service), f"{service}: {name}: {why}"


def test_litellm_telemetry_is_off_where_litellm_reads_it():
    config = yaml.safe_load((COMPOSE_DIR / "litellm" / "config.yaml").read_text())
    assert config["litellm_settings"]["telemetry"] is False


def test_terraform_providers_pinned_to_the_checked_versions():
    """coder/terraform-provider-coder v2.17.0 (provider/agent.go: `dir` deprecated) and
    kreuzwerker/terraform-provider-docker v3.9.0 (every attribute the template sets exists,
    none deprecated); `~> 2.5` and `~> 3.6` resolved to those."""
    assert hcl_constraints(TEMPLATE_DIR / "main.tf") == {
        "coder": ("coder/coder", "2.17.0"), "docker": ("kreuzwerker/docker", "3.9.0")}
    assert "dir" not in blocks("resource", "coder_agent")["main"]
