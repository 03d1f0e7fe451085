"""The Kubernetes Coder template (workspace-image/template-kubernetes) against the
Docker one and the portal's contract: one declaration of the parameters, the same
start-up script, agent, app and limits; a Deployment and a PVC for /home/coder."""
from __future__ import annotations

import pytest

from portal.workspaces import workspace_params as wp

from .conftest_helpers import blocks, locals_, template
from .k8s_helpers import settings_configmap
from .tools import IMAGE_DIR, K8S_TEMPLATE_DIR, KUBERNETES_DIR, TEMPLATE_DIR, hcl_constraints

SHARED_FILES = ["parameters.tf", "startup.sh"]


def _strip(obj):
    """Drop python-hcl2's line bookkeeping, so equal declarations compare equal."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in {"__start_line__", "__end_line__"}}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _k8s(kind: str, type_name: str) -> dict[str, dict]:
    return blocks(kind, type_name, K8S_TEMPLATE_DIR)


@pytest.mark.parametrize("name", SHARED_FILES)
def test_shared_files_are_copies_of_the_docker_templates(name):
    source, copy = TEMPLATE_DIR / name, K8S_TEMPLATE_DIR / name
    assert copy.read_bytes() == source.read_bytes(), (
        f"{copy.relative_to(IMAGE_DIR)} differs from {source.relative_to(IMAGE_DIR)}: "
        "run workspace-image/sync-shared.sh")
    assert not copy.is_symlink(), "coder templates push drops symlinks"


def test_parameters_are_declared_once_for_both_templates():
    docker = _strip(blocks("data", "coder_parameter"))
    assert _strip(_k8s("data", "coder_parameter")) == docker
    for tf in (TEMPLATE_DIR / "main.tf", K8S_TEMPLATE_DIR / "main.tf"):
        assert 'data "coder_parameter"' not in tf.read_text(), f"{tf.name}: parameters live in parameters.tf"


@pytest.mark.parametrize("name", list(wp.PARAMETERS))
def test_every_portal_parameter_is_declared_with_its_type(name):
    by_name = {body["name"]: body for body in _k8s("data", "coder_parameter").values()}
    assert by_name[name].get("type", "string") == wp.PARAMETERS[name]


@pytest.mark.parametrize("kind,type_name", [("resource", "coder_agent"), ("resource", "coder_app")])
def test_agent_and_app_are_the_docker_templates(kind, type_name):
    assert _strip(_k8s(kind, type_name)) == _strip(blocks(kind, type_name))
    assert list(_k8s("resource", "coder_agent")) == [wp.AGENT_NAME]
    assert {b["slug"] for b in _k8s("resource", "coder_app").values()} == {wp.APP_SLUG}


def test_locals_that_size_and_place_the_workspace_agree():
    docker, k8s = locals_(), locals_(K8S_TEMPLATE_DIR)
    names = ("project_dir", "owner_name", "container_cpu", "memory_mb")
    assert {name: k8s[name] for name in names} == {name: docker[name] for name in names}
    assert k8s["project_dir"] == wp.PROJECT_FOLDER


def test_home_is_a_persistent_volume_claim_sized_by_the_parameter():
    claim = _k8s("resource", "kubernetes_persistent_volume_claim_v1")["home"]
    spec = claim["spec"][0]
    assert spec["access_modes"] == ["ReadWriteOnce"]
    assert spec["resources"][0]["requests"]["storage"] == "${data.coder_parameter.disk_size.value}Gi"
    assert claim["metadata"][0]["namespace"] == "${var.namespace}"


def test_workspace_deployment_runs_the_agent_with_the_parameters_limits():
    deployment = _k8s("resource", "kubernetes_deployment_v1")["workspace"]
    assert deployment["count"] == "${data.coder_workspace.me.start_count}", "stopped workspaces have no pod"
    spec = deployment["spec"][0]
    assert spec["replicas"] == 1 and spec["strategy"][0]["type"] == "Recreate"
    pod = spec["template"][0]["spec"][0]
    container = pod["container"][0]
    assert container["image"] == "${var.workspace_image}"
    assert "coder_agent.main.init_script" in container["command"][2]
    assert {e["name"]: e["value"] for e in container["env"]}["CODER_AGENT_TOKEN"] == "${coder_agent.main.token}"
    limits = container["resources"][0]["limits"]
    assert limits["memory"] == "${local.memory_mb}Mi" and "local.container_cpu" in limits["cpu"]
    mounts = {m["mount_path"]: m["name"] for m in container["volume_mount"]}
    volumes = {v["name"]: v for v in pod["volume"]}
    claim = volumes[mounts["/home/coder"]]["persistent_volume_claim"][0]["claim_name"]
    assert claim == "${kubernetes_persistent_volume_claim_v1.home.metadata[0].name}"
    # The image's user (workspace-image/Dockerfile: USER 1000:1000) owns the home volume.
    assert pod["security_context"][0]["run_as_user"] == 1000 and pod["security_context"][0]["fs_group"] == 1000
    assert "USER 1000:1000" in (IMAGE_DIR / "Dockerfile").read_text()


def test_providers_pin_the_same_coder_provider():
    k8s = hcl_constraints(K8S_TEMPLATE_DIR / "main.tf")
    docker = hcl_constraints(TEMPLATE_DIR / "main.tf")
    assert k8s["coder"] == docker["coder"]
    assert k8s["kubernetes"][0] == "hashicorp/kubernetes"
    assert set(k8s) == {"coder", "kubernetes"}
    assert "kubernetes" in template(K8S_TEMPLATE_DIR)["provider"][0]


def test_the_portal_uses_the_pushed_template_with_the_one_hour_auto_stop():
    readme = (KUBERNETES_DIR / "README.md").read_text()
    name = settings_configmap()["CODER_TEMPLATE"]
    assert f"coder templates push {name} --directory workspace-image/template-kubernetes" in readme
    assert f"coder templates edit {name} --default-ttl 1h --activity-bump 1h" in readme
