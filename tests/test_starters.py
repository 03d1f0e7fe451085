"""The starters (workspace-image/starters): generated as Gitea would, then their own checks.

Each starter is expanded like Gitea v1.26 generates a repository from a template
(portal/devstack/gitea_templates.py), written to a temporary directory and
checked there with its own tools: pytest and ruff for python, CMake + CTest for
cpp (cmake and g++ come from scripts/system-deps.sh test).
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from portal.devstack.gitea_templates import (RepoRef, compile_glob, expand, generate_files,
                                             sanitize_path, starter_files, variables)
from tests.test_gitea_generate import STARTERS

NAME = "weather-bot"
TEMPLATE = RepoRef("starters", "python", "The python starter", "https://git.example.com")
GENERATED = RepoRef("vision", NAME, "Forecasts for the team", "https://git.example.com")


def generated(starter: str, tmp_path) -> dict[str, bytes]:
    template = RepoRef("starters", starter, f"The {starter} starter", "https://git.example.com")
    files = generate_files(starter_files(STARTERS / starter), template, GENERATED)
    for path, data in files.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return files


def run(argv, cwd, timeout=240):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PORTAL_"))}
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_the_starters_are_python_cpp_and_empty():
    assert sorted(p.name for p in STARTERS.iterdir() if p.is_dir()) == ["cpp", "empty", "python"]


@pytest.mark.parametrize("name", ["cpp", "empty", "python"])
def test_every_starter_has_a_template_file_and_a_readme(name):
    files = starter_files(STARTERS / name)
    assert {".gitea/template", "README.md", ".gitignore"} <= set(files)


@pytest.mark.parametrize("starter", ["python", "cpp"])
def test_workflows_fetch_no_action(starter):
    """The LAN reaches no github.com: plain `run:` steps, the job token for the checkout."""
    workflow = yaml.safe_load((STARTERS / starter / ".gitea/workflows/ci.yaml").read_text())
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    assert steps and all("uses" not in s and "run" in s for s in steps)
    checkout = steps[0]
    assert checkout["env"]["TOKEN"] == "${{ secrets.GITEA_TOKEN }}"
    assert "fetch" in checkout["run"] and "$SHA" in checkout["run"]


@pytest.mark.parametrize("starter, path, expected", [
    ("python", "README.md", f"# {NAME}\n\nForecasts for the team\n"),
    ("python", "pyproject.toml", f'name = "{NAME}"'),
    ("python", "pyproject.toml", f'"{NAME}" = "app.__main__:main"'),
    ("python", "src/app/__init__.py", f'PROJECT = "{NAME}"'),
    ("cpp", "README.md", f"# {NAME}\n"),
    ("cpp", "src/project_name.hpp", f'kProjectName[] = "{NAME}"'),
    ("empty", "README.md", f"# {NAME}\n\nForecasts for the team\n"),
])
def test_expansion_puts_the_project_name_where_the_template_file_says(starter, path, expected,
                                                                      tmp_path):
    files = generated(starter, tmp_path)
    assert ".gitea/template" not in files
    assert expected in files[path].decode()
    assert "$REPO" not in files[path].decode()


@pytest.mark.parametrize("starter", ["python", "cpp"])
def test_files_not_listed_are_copied_unchanged(starter, tmp_path):
    files = generated(starter, tmp_path)
    original = starter_files(STARTERS / starter)
    listed = [g for g in (compile_glob(line.strip()) for line in
                          original[".gitea/template"].decode().splitlines()
                          if line.strip() and not line.startswith("#")) if g]
    for path, data in original.items():
        if path != ".gitea/template" and not any(g.fullmatch(path) for g in listed):
            assert files[path] == data, path


def test_python_starter_is_green(tmp_path):
    generated("python", tmp_path)
    out = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], tmp_path)
    assert "5 passed" in out
    ruff = shutil.which("ruff") or shutil.which("ruff", path=os.path.dirname(sys.executable))
    if ruff is None:
        pytest.skip("ruff not installed (test extra)")
    run([ruff, "check", "--no-cache", "."], tmp_path)
    run([ruff, "format", "--check", "--no-cache", "."], tmp_path)
    env_out = run([sys.executable, "-m", "app", "Ada"], tmp_path / "src")
    assert env_out == f"Hello, Ada, from {NAME}!\n"


def test_cpp_starter_is_green(tmp_path):
    for tool in ("cmake", "ctest", "c++"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: scripts/system-deps.sh test installs cmake and g++")
    source = tmp_path / "src-tree"
    generated("cpp", source)
    build = tmp_path / "build"
    run(["cmake", "-S", source, "-B", build], tmp_path)
    run(["cmake", "--build", build, "--parallel", "2"], tmp_path)
    out = run(["ctest", "--test-dir", build, "--output-on-failure"], tmp_path)
    assert "100% tests passed" in out
    assert run([build / "hello", "Ada"], tmp_path) == f"Hello, Ada, from {NAME}!\n"


# -- Gitea's expansion rules (services/repository/generate.go, Go's os.Expand) ----------------
MAPPING = variables(TEMPLATE, GENERATED, dt.date(2026, 3, 7))


@pytest.mark.parametrize("text, expected", [
    ("$REPO_NAME", NAME),
    ("${REPO_NAME}!", f"{NAME}!"),
    ("$REPO_NAME_SNAKE $REPO_NAME_PASCAL $REPO_NAME_CAMEL", "weather_bot WeatherBot weatherBot"),
    ("$REPO_NAME_UPPER $REPO_NAME_KEBAB $REPO_NAME_TITLE", "WEATHER-BOT weather-bot Weather-Bot"),
    ("$REPO_OWNER/$TEMPLATE_NAME", "vision/python"),
    ("$YEAR-$MONTH-$DAY $MONTH_ENGLISH", "2026-03-07 March"),
    ("$REPO_HTTPS_URL", "https://git.example.com/vision/weather-bot.git"),
    ("$REPO_SSH_URL $REPO_LINK", "git@git.example.com:vision/weather-bot.git /vision/weather-bot"),
    ("$$REPO_NAME", "$REPO_NAME"),
    ("$HOME and ${PATH}", "HOME and PATH"),       # unknown: the name without its dollar
    ("costs 5$", "costs 5$"),                     # a trailing dollar stays
    ("a $ b", "a $ b"),                           # a dollar before no name stays
    ("${}x ${open", "x open"),                    # bad syntax: "${}" and "${" are eaten
    ("$1", "1"),
])
def test_expand_like_go(text, expected):
    assert expand(text, MAPPING) == expected


@pytest.mark.parametrize("pattern, path, matches", [
    ("README.md", "README.md", True),
    ("*.md", "docs/a.md", False),
    ("**.md", "docs/a.md", True),
    ("src/*/x.py", "src/app/x.py", True),
    ("src/*/x.py", "src/a/b/x.py", False),
    ("text/?.txt", "text/a.txt", True),
    ("**.[bB][aA][tT]", "x/run.BAT", True),
    ("{a,b}.txt", "b.txt", True),
    ("{a,b}.txt", "c.txt", False),
])
def test_globs_like_gobwas(pattern, path, matches):
    assert bool(compile_glob(pattern).fullmatch(path)) is matches


@pytest.mark.parametrize("path, expected", [
    ("src/$name/a.py", "src/$name/a.py"),
    ("a:b/c?.txt", "a_b/c_.txt"),
    ("../x", "__/x"),
    ("sub/.git/config", "sub/_git/config"),
    ("con", "_"),
])
def test_expanded_paths_are_sanitised(path, expected):
    assert sanitize_path(path) == expected


def test_expanded_path_renames_a_file(tmp_path):
    files = {".gitea/template": b"src/$REPO_NAME_SNAKE.py\n", "src/$REPO_NAME_SNAKE.py": b"x = 1\n"}
    assert generate_files(files, TEMPLATE, GENERATED) == {"src/weather_bot.py": b"x = 1\n"}
