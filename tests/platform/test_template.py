"""The Coder template against the portal's contract (portal/workspaces/workspace_params.py)."""
from __future__ import annotations

import pytest
import yaml

from portal.workspaces import workspace_params as wp

from .conftest_helpers import (COMPOSE_DIR, blocks, substitute_locals, template, variables)
from .tools import TEMPLATE_DIR, hcl_constraints


def _params():
    return blocks("data", "coder_parameter")


def _by_name() -> dict[str, dict]:
    return {body["name"]: body for body in _params().values()}


@pytest.mark.parametrize("name", list(wp.PARAMETERS))
def test_every_portal_parameter_is_declared_with_a_compatible_type(name):
    by_name = _by_name()
    assert name in by_name, f"the portal sends {name!r}; main.tf does not declare it"
    declared, sent = by_name[name].get("type", "string"), wp.PARAMETERS[name]
    assert declared == sent, f"{name}: template type {declared!r}, portal sends {sent!r}"


@pytest.mark.parametrize("name", ["gitea_token", "github_token", "ai_gateway_key", "git_repo"])
def test_portal_parameters_are_optional_so_a_create_never_fails_on_them(name):
    body = _by_name()[name]
    assert (body.get("default"), body.get("mutable")) == ("", True), "default \"\", mutable"


@pytest.mark.parametrize("name, options, default", [
    ("cpu_cores", [2, 4, 8], 2), ("memory_gb", [4, 8, 16], 4), ("disk_size", [10, 20, 50], 10)])
def test_sizing_parameters(name, options, default):
    body = _by_name()[name]
    assert body["type"] == "number"
    assert [int(o["value"]) for o in body["option"]] == options
    assert int(body["default"]) == default


def test_required_parameters_have_defaults():
    """A parameter without a default is required: the portal would get a 400."""
    assert [body["name"] for body in _params().values() if "default" not in body] == []


def test_ai_models_are_gateway_models():
    by_name = {body["name"]: body for body in _params().values()}
    config = yaml.safe_load((COMPOSE_DIR / "litellm" / "config.yaml").read_text())
    gateway = {m["model_name"] for m in config["model_list"]}
    options = {o["value"] for o in by_name["ai_model"]["option"]}
    assert options <= gateway, f"ai_model options not served by LiteLLM: {options - gateway}"
    assert by_name["ai_model"]["default"] in options


def test_agent_and_app_match_workspace_params():
    agents = blocks("resource", "coder_agent")
    assert list(agents) == [wp.AGENT_NAME]
    apps = blocks("resource", "coder_app")
    slugs = {body["slug"]: body for body in apps.values()}
    assert wp.APP_SLUG in slugs
    app = slugs[wp.APP_SLUG]
    assert app["subdomain"] is True
    assert app["agent_id"] == f"${{coder_agent.{wp.AGENT_NAME}.id}}"
    assert app["healthcheck"][0]["url"].startswith("http://localhost:")
    assert substitute_locals(app["url"]).endswith(f"?folder={wp.PROJECT_FOLDER}")


def test_agent_startup_script_clones_and_scopes_credentials():
    agent = blocks("resource", "coder_agent")[wp.AGENT_NAME]
    assert agent["startup_script"] == '${file("${path.module}/startup.sh")}'
    env = agent["env"]
    for key, param in {"GIT_REPO": "git_repo", "GITEA_TOKEN": "gitea_token", "GITHUB_TOKEN": "github_token",
                       "AI_GATEWAY_KEY": "ai_gateway_key", "AI_MODEL": "ai_model"}.items():
        assert env[key] == f"${{data.coder_parameter.{param}.value}}", key
    assert "AI_GATEWAY_URL" in env
    script = (TEMPLATE_DIR / "startup.sh").read_text()
    assert '[ ! -d "$PROJECT_DIR/.git" ]' in script, "clone on first start only"
    assert 'credential.$url.helper' in script
    assert 'scoped_credential "https://github.com"' in script
    assert "GITHUB_TOKEN:-" in script


def test_home_volume_and_container_limits():
    volumes = blocks("resource", "docker_volume")
    assert volumes, "a persistent docker_volume for the home directory"
    container = blocks("resource", "docker_container")["workspace"]
    homes = [v for v in container["volumes"] if v["container_path"] == "/home/coder"]
    assert homes and homes[0]["volume_name"].startswith("${docker_volume.")
    assert "cpu_cores" in str(template()["locals"]) and container["cpus"]
    assert container["memory"] == "${local.memory_mb}"
    assert container["networks_advanced"][0]["name"] == "${var.workspace_network}"
    assert variables()["workspace_network"]["default"] == "platform-workspaces"


def test_providers_match_the_coder_image_mirror():
    assert hcl_constraints(TEMPLATE_DIR / "main.tf") == hcl_constraints(COMPOSE_DIR / "coder" / "providers.tf")


def test_image_workdir_and_user():
    dockerfile = (TEMPLATE_DIR.parent / "Dockerfile").read_text()
    assert f"WORKDIR {wp.PROJECT_FOLDER}" in dockerfile
    assert "useradd --uid 1000" in dockerfile and "USER 1000:1000" in dockerfile
    for tool in ("code-server", "python3-venv", "python3-pip", "build-essential", "g++", "cmake", "gdb", "git"):
        assert tool in dockerfile, tool
    for ext in ("ms-python.python", "llvm-vs-code-extensions.vscode-clangd", "eamodio.gitlens", "Continue.continue"):
        assert ext in dockerfile, ext
