"""Real bare git repositories on disk, for the simulated Gitea (and its template `generate`).

`init_repository(path, files)` makes a bare repository whose branch holds one
commit with those files (what Gitea's `auto_init` and template generation do);
`clone_repository(source, path)` copies every branch and tag of a local source
repository (what `POST /repos/migrate` does). `RepoStore` lays them out as
Gitea does, `<root>/<owner>/<name>.git` in lower case, and keeps the shared
hooks directory whose `pre-receive` refuses a push without write access with
Gitea's own message (see gitea_git.py).

Every git command runs with the user's and the system's git configuration
switched off, so a developer's `~/.gitconfig` changes nothing here.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

GIT_TIMEOUT = 60.0
DEVSTACK_AUTHOR = ("Gitea", "gitea@devstack.localhost")

# Gitea v1.26 cmd/hook.go fail(): an empty line on stdout, "Gitea: <message>" on
# stderr (shown by git as "remote: Gitea: ..."); the message is the one of
# routers/private/hook_pre_receive.go assertCanWriteRef. Gitea lets a reader's
# receive-pack start (routers/web/repo/githttp.go delays the write check for
# agit refs when git supports proc-receive) and refuses in this hook.
PRE_RECEIVE_HOOK = """#!/bin/sh
# The simulated Gitea's pre-receive hook (portal/devstack/git_repos.py).
cat >/dev/null
if [ "${GITEA_SIM_CAN_WRITE:-0}" != 1 ]; then
  echo
  echo "Gitea: User permission denied for writing." >&2
  exit 1
fi
exit 0
"""


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a git command: no global or system configuration, no prompts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_TERMINAL_PROMPT": "0"})
    env.update(extra or {})
    return env


def git(*args: str, cwd: str | Path | None = None, input: bytes | None = None,
        env: dict[str, str] | None = None) -> bytes:
    """Run one git command; its stdout, or RuntimeError with git's own message."""
    done = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                          env=git_env(env), timeout=GIT_TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def init_repository(path: str | Path, files: dict[str, bytes] | None = None, *,
                    branch: str = "main", message: str = "Initial commit",
                    author: tuple[str, str] = DEVSTACK_AUTHOR,
                    executable: frozenset[str] | set[str] = frozenset()) -> Path:
    """Create a bare repository at `path`; with `files`, one commit of them on `branch`.

    `files` maps a path inside the repository ("src/main.py") to its content;
    paths in `executable` get mode 100755. Without files the repository is
    empty (HEAD still names `branch`). Raises FileExistsError if `path` exists.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    git("init", "--quiet", "--bare", f"--initial-branch={branch}", str(path))
    if files:
        for name in files:
            parts = name.split("/")
            if not name or name.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
                shutil.rmtree(path, ignore_errors=True)
                raise ValueError(f"not a file path inside a repository: {name!r}")
        who = f"{author[0]} <{author[1]}> {int(time.time())} +0000".encode()
        stream = [b"commit refs/heads/" + branch.encode() + b"\n",
                  b"author " + who + b"\n", b"committer " + who + b"\n",
                  _data(message.encode())]
        for name, content in sorted(files.items()):
            mode = b"100755" if name in executable else b"100644"
            stream += [b"M " + mode + b" inline " + name.encode() + b"\n", _data(content)]
        stream.append(b"done\n")
        git("fast-import", "--quiet", "--done", cwd=path, input=b"".join(stream))
    return path


def commit_files(path: str | Path, files: dict[str, bytes], *, branch: str,
                 message: str = "Initial commit",
                 author: tuple[str, str] = DEVSTACK_AUTHOR) -> None:
    """`files` as the whole tree of one new commit on `branch` (created with the repository
    when there is none; on top of the branch when it exists). A tree equal to the branch's
    is left alone (no empty commit)."""
    path = Path(path)
    if not (path / "HEAD").is_file():
        init_repository(path, files, branch=branch, message=message, author=author)
        return
    ref = f"refs/heads/{branch}"
    exists = _branch_exists(path, branch)
    if exists and read_files(path, branch) == files:
        return
    for name in files:
        parts = name.split("/")
        if not name or name.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
            raise ValueError(f"not a file path inside a repository: {name!r}")
    who = f"{author[0]} <{author[1]}> {int(time.time())} +0000".encode()
    stream = [b"commit " + ref.encode() + b"\n", b"author " + who + b"\n",
              b"committer " + who + b"\n", _data(message.encode())]
    if exists:
        stream.append(b"from " + ref.encode() + b"^0\n")
    stream.append(b"deleteall\n")
    for name, content in sorted(files.items()):
        stream += [b"M 100644 inline " + name.encode() + b"\n", _data(content)]
    stream.append(b"done\n")
    git("fast-import", "--quiet", "--done", cwd=path, input=b"".join(stream))
    if not _branch_exists(path, default_branch(path)):  # an empty repository: this is its branch
        git("symbolic-ref", "HEAD", ref, cwd=path)


def _branch_exists(path: Path, branch: str) -> bool:
    return subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
                          cwd=path, env=git_env(), capture_output=True,
                          timeout=GIT_TIMEOUT).returncode == 0


def read_files(path: str | Path, branch: str) -> dict[str, bytes]:
    """Every file of `branch` (path -> content); {} for a branch that does not exist."""
    path = Path(path)
    if not (path / "HEAD").is_file() or not _branch_exists(path, branch):
        return {}
    listing = git("ls-tree", "-r", "-z", f"refs/heads/{branch}", cwd=path).split(b"\0")
    out: dict[str, bytes] = {}
    for entry in filter(None, listing):
        meta, _tab, name = entry.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind == b"blob":
            out[name.decode()] = git("cat-file", "blob", sha.decode(), cwd=path)
    return out


def clone_repository(source: str | Path, path: str | Path) -> str:
    """Copy every branch and tag of `source` into a new bare repository; its default branch."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    git("clone", "--quiet", "--bare", "--no-local", str(source), str(path))
    git("remote", "remove", "origin", cwd=path)
    return default_branch(path)


def default_branch(path: str | Path) -> str:
    head = git("symbolic-ref", "--quiet", "HEAD", cwd=path).decode().strip()
    return head.removeprefix("refs/heads/")


def has_commits(path: str | Path) -> bool:
    """Whether the repository holds any branch (Gitea's `empty` is the opposite)."""
    path = Path(path)
    heads = path / "refs" / "heads"
    if heads.is_dir() and any(p.is_file() for p in heads.rglob("*")):
        return True
    packed = path / "packed-refs"
    return packed.is_file() and b" refs/heads/" in packed.read_bytes()


class RepoStore:
    """Where the simulated Gitea keeps its repositories, and their shared hooks."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.hooks = self.root / ".hooks"
        self.hooks.mkdir(exist_ok=True)
        hook = self.hooks / "pre-receive"
        hook.write_text(PRE_RECEIVE_HOOK)
        hook.chmod(0o755)

    def path(self, owner: str, name: str) -> Path:
        return self.root / owner.lower() / f"{name.lower()}.git"

    def relative(self, owner: str, name: str) -> str:
        """The repository's path below the root, as `git http-backend` wants it."""
        return f"/{owner.lower()}/{name.lower()}.git"

    def exists(self, owner: str, name: str) -> bool:
        return (self.path(owner, name) / "HEAD").is_file()

    def create(self, owner: str, name: str, *, branch: str, readme: bytes | None,
               author: tuple[str, str] = DEVSTACK_AUTHOR) -> None:
        """A new repository (with README.md when `readme` is given).

        A repository already on disk is kept as it is: the simulator's state
        lives in memory, so after a restart of the dev stack its repositories
        are adopted again rather than wiped (no one's pushed work is lost).
        """
        if self.exists(owner, name):
            return
        init_repository(self.path(owner, name), {"README.md": readme} if readme is not None
                        else None, branch=branch, author=author)

    def import_from(self, owner: str, name: str, source: str | Path) -> str:
        target = self.path(owner, name)
        if self.exists(owner, name):
            shutil.rmtree(target)
        return clone_repository(source, target)

    def delete(self, owner: str, name: str) -> None:
        shutil.rmtree(self.path(owner, name), ignore_errors=True)

    def has_commits(self, owner: str, name: str) -> bool:
        return has_commits(self.path(owner, name))
