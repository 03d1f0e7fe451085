"""Template repositories in the simulated Gitea: the files a generated repository gets.

Follows Gitea v1.26 services/repository/generate.go (generateRepoCommit,
processGiteaTemplateFile, generateExpansion, filePathSanitize):

* `.gitea/template` lists one glob per line (gobwas/glob with '/' as the
  separator: `*` and `?` stop at '/', `**` crosses it, `[abc]`, `{a,b}`); blank
  lines and `#` comments are skipped; the file itself is removed from the
  generated repository;
* in every regular file whose path matches a glob, the content and the path are
  expanded like Go's os.Expand: `$VAR` and `${VAR}`; `$$` writes `$`; an unknown
  name expands to the name itself (without the `$`);
* variables: YEAR, MONTH, MONTH_ENGLISH, DAY, REPO_NAME, TEMPLATE_NAME,
  REPO_DESCRIPTION, TEMPLATE_DESCRIPTION, REPO_OWNER, TEMPLATE_OWNER, REPO_LINK,
  TEMPLATE_LINK, REPO_HTTPS_URL, TEMPLATE_HTTPS_URL, REPO_SSH_URL,
  TEMPLATE_SSH_URL; the names, owners and MONTH_ENGLISH also with the suffixes
  _SNAKE _KEBAB _CAMEL _PASCAL _LOWER _UPPER _TITLE (xstrings transformers; here
  for the ASCII names Gitea allows in repository and owner names).

`starter_files(path)` reads a starter directory of this repository
(workspace-image/starters/<name>) as the files of a template repository.
"""
from __future__ import annotations

import datetime as dt
import pathlib
import re
from dataclasses import dataclass
from typing import Callable

_SPECIAL = set("*#$@!?-0123456789")
_SANITIZE = re.compile(r'(?i)[<>:"/\\|?*\x00-\x1f]|^(con|prn|aux|nul|com\d|lpt\d)$')
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
TEMPLATE_FILE = ".gitea/template"


@dataclass(frozen=True)
class RepoRef:
    """What generateExpansion reads of a repository."""
    owner: str
    name: str
    description: str
    base: str                        # the server's root URL, without a trailing slash

    @property
    def link(self) -> str:
        return f"/{self.owner}/{self.name}"

    @property
    def https_url(self) -> str:
        return f"{self.base}/{self.owner}/{self.name}.git"

    @property
    def ssh_url(self) -> str:
        host = self.base.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        return f"git@{host}:{self.owner}/{self.name}.git"


def _words(value: str) -> list[str]:
    return _WORDS.findall(value)


TRANSFORMERS: dict[str, Callable[[str], str]] = {
    "SNAKE": lambda v: "_".join(w.lower() for w in _words(v)),
    "KEBAB": lambda v: "-".join(w.lower() for w in _words(v)),
    "CAMEL": lambda v: "".join(w.lower() if i == 0 else w.capitalize()
                               for i, w in enumerate(_words(v))),
    "PASCAL": lambda v: "".join(w.capitalize() for w in _words(v)),
    "LOWER": str.lower,
    "UPPER": str.upper,
    "TITLE": lambda v: re.sub(r"[A-Za-z]+", lambda m: m.group(0).capitalize(), v),
}


def variables(template: RepoRef, generated: RepoRef, today: dt.date | None = None) -> dict[str, str]:
    today = today or dt.date.today()
    plain = {"YEAR": str(today.year), "MONTH": f"{today.month:02d}", "DAY": f"{today.day:02d}",
             "REPO_DESCRIPTION": generated.description,
             "TEMPLATE_DESCRIPTION": template.description,
             "REPO_LINK": generated.link, "TEMPLATE_LINK": template.link,
             "REPO_HTTPS_URL": generated.https_url, "TEMPLATE_HTTPS_URL": template.https_url,
             "REPO_SSH_URL": generated.ssh_url, "TEMPLATE_SSH_URL": template.ssh_url}
    transformable = {"MONTH_ENGLISH": today.strftime("%B"), "REPO_NAME": generated.name,
                     "TEMPLATE_NAME": template.name, "REPO_OWNER": generated.owner,
                     "TEMPLATE_OWNER": template.owner}
    result = dict(plain)
    for name, value in transformable.items():
        result[name] = value
        for suffix, transform in TRANSFORMERS.items():
            result[f"{name}_{suffix}"] = transform(value)
    return result


def expand(text: str, mapping: dict[str, str]) -> str:
    """Go's os.Expand(text, f) with f returning the value, or the name when unknown."""
    out: list[str] = []
    i = j = 0
    while j < len(text):
        if text[j] == "$" and j + 1 < len(text):
            out.append(text[i:j])
            name, width = _shell_name(text[j + 1:])
            if name:
                out.append(mapping.get(name, name))
            elif width == 0:
                out.append("$")  # not followed by a name: the dollar stays
            j += width
            i = j + 1
        j += 1
    out.append(text[i:])
    return "".join(out)


def _shell_name(s: str) -> tuple[str, int]:
    """os.getShellName: (name, characters consumed after the '$')."""
    if s[0] == "{":
        if len(s) > 2 and s[1] in _SPECIAL and s[2] == "}":
            return s[1], 3
        end = s.find("}", 1)
        if end == 1:
            return "", 2          # "${}": bad syntax, eaten
        if end < 0:
            return "", 1          # "${" without "}": eaten
        return s[1:end], end + 1
    if s[0] in _SPECIAL:
        return s[0], 1
    k = 0
    while k < len(s) and (s[k] == "_" or s[k].isascii() and s[k].isalnum()):
        k += 1
    return s[:k], k


def compile_glob(pattern: str) -> re.Pattern | None:
    """A gobwas/glob pattern with separator '/' as a regular expression (None: invalid)."""
    out, i = [], 0
    depth = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                return None
            body = pattern[i + 1:end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace(r"\-", "-")
            out.append(f"[{'^' if negate else ''}{body}]")
            i = end
        elif c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        return None
    return re.compile("".join(out))


def template_globs(content: str) -> list[re.Pattern]:
    globs = []
    for line in content.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        compiled = compile_glob(line)
        if compiled is not None:  # Gitea skips an invalid expression
            globs.append(compiled)
    return globs


def sanitize_path(path: str) -> str:
    """filePathSanitize: no reserved characters or names, no `..` or `.git` segment."""
    fields = []
    for field in path.split("/"):
        field = _SANITIZE.sub("_", field).strip()
        if field.startswith(".."):
            field = "__" + field[2:]
        if field.lower() == ".git":
            field = "_" + field[1:]
        fields.append(field)
    return str(pathlib.PurePosixPath("/".join(fields).strip("/")))


def generate_files(files: dict[str, bytes], template: RepoRef, generated: RepoRef,
                   today: dt.date | None = None) -> dict[str, bytes]:
    """The files of a repository generated from `files` (a template's default branch)."""
    result = dict(files)
    spec = result.pop(TEMPLATE_FILE, None)
    if spec is None:
        return result
    globs = template_globs(spec.decode("utf-8", "replace"))
    if not globs:
        return result
    mapping = variables(template, generated, today)
    for path in sorted(result):
        if not any(g.fullmatch(path) for g in globs):
            continue
        content = result.pop(path)
        new_path = sanitize_path(expand(path, mapping))
        result[new_path] = expand(content.decode("utf-8", "surrogateescape"),
                                  mapping).encode("utf-8", "surrogateescape")
    return result


def starter_files(directory: pathlib.Path) -> dict[str, bytes]:
    """Every regular file under `directory`, by its POSIX path relative to it."""
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and ".git" not in p.parts}
