"""Names that both Gitea and Coder accept, derived from anything a person types.

A person's portal username becomes their Gitea *and* Coder username, so it has
to satisfy the stricter of the two rule sets (see contracts/NOTES.md):

* Coder (`codersdk.NameValid`): at most 32 characters, ASCII letters, digits and
  single hyphens, no leading/trailing hyphen; `new` and `create` are refused.
* Gitea (`validation.IsValidUsername`, `user_model.IsUsableUsername`, v1.26.3):
  at most 40 characters, `^[\\da-zA-Z][-.\\w]*$`, no `[-._]{2,}`, no trailing
  `-._`, case-insensitive, one namespace for users and organisations, and a
  list of reserved names and patterns (below, copied from the source).

We therefore produce lowercase `[a-z0-9]` runs joined by single hyphens, at most
32 characters. Names are derived once and stored by the caller: re-deriving is
stable (same input, same output) but a collision resolved today depends on who
held the name then, which is why the result must be persisted.
"""
from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from typing import Callable

CODER_MAX = 32
GITEA_USER_MAX = 40
GITEA_REPO_MAX = 100
NAME_MAX = CODER_MAX  # the shared limit for a person's username

# go-gitea/gitea v1.26.3 models/user/user.go: reservedUsernames, reservedUserPatterns.
GITEA_RESERVED_NAMES = frozenset({
    ".", "..", ".well-known", "api", "metrics", "v2", "assets", "attachments",
    "avatar", "avatars", "repo-avatars", "captcha", "login", "org", "repo", "user",
    "explore", "issues", "pulls", "milestones", "notifications", "favicon.ico",
    "manifest.json", "robots.txt", "sitemap.xml", "ssh_info", "swagger.v1.json",
    "ghost", "gitea-actions",
})
# Reserved by Gitea up to v1.21 (and still routes or confusing), plus "invite" which the
# v1.26 source warns breaks "/org/{org}" links: the portal avoids these too, so a name
# stays usable on older servers. The simulator enforces only the v1.26.3 list above.
GITEA_LEGACY_RESERVED_NAMES = frozenset({
    "admin", "commits", "debug", "error", "new", "raw", "search", "serviceworker.js", "invite",
})
GITEA_RESERVED_SUFFIXES = (".keys", ".gpg", ".rss", ".atom", ".png")
# models/repo/repo.go: reservedRepoNames, reservedRepoNamePatterns.
GITEA_RESERVED_REPO_NAMES = frozenset({".", "..", "-"})
GITEA_RESERVED_REPO_SUFFIXES = (".wiki", ".git", ".rss", ".atom")
# coder/coder codersdk/name.go NameValid refuses these for every kind of name;
# "me" is the alias of the signed-in user in every /users/{user} route.
CODER_RESERVED_NAMES = frozenset({"new", "create", "me"})
RESERVED_NAMES = GITEA_RESERVED_NAMES | GITEA_LEGACY_RESERVED_NAMES | CODER_RESERVED_NAMES

_GITEA_VALID = re.compile(r"^[\da-zA-Z][-.\w]*$", re.ASCII)
_GITEA_INVALID = re.compile(r"[-._]{2,}|[-._]$")
_CODER_VALID = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")
_SLUG_VALID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# Letters NFKD does not decompose into ASCII but that have a customary spelling.
_TRANSLITERATE = str.maketrans({
    "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o",
    "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "ł": "l", "Ł": "l", "þ": "th", "Þ": "th",
    "ı": "i", "ŀ": "l", "Ŀ": "l", "ħ": "h", "Ħ": "h", "ŧ": "t", "Ŧ": "t",
})


# -- validity ----------------------------------------------------------------------------
def is_valid_coder_name(name: str) -> bool:
    """Coder's NameValid, as of the contract commit."""
    return (0 < len(name) <= CODER_MAX and bool(_CODER_VALID.match(name))
            and name not in CODER_RESERVED_NAMES)


def is_gitea_reserved(name: str, *, legacy: bool = True) -> bool:
    """Reserved for users/orgs by Gitea (with `legacy`, also by versions up to 1.21)."""
    lowered = name.strip().lower()
    names = GITEA_RESERVED_NAMES | GITEA_LEGACY_RESERVED_NAMES if legacy else GITEA_RESERVED_NAMES
    return lowered in names or lowered.endswith(GITEA_RESERVED_SUFFIXES)


def is_valid_gitea_name(name: str, *, legacy: bool = True) -> bool:
    """A usable Gitea user or organisation name (IsValidUsername + IsUsableUsername)."""
    return (0 < len(name) <= GITEA_USER_MAX and bool(_GITEA_VALID.match(name))
            and not _GITEA_INVALID.search(name) and not is_gitea_reserved(name, legacy=legacy))


def is_valid_name(name: str) -> bool:
    """Valid for Gitea and Coder alike, and in the portal's canonical lowercase form."""
    return (bool(_SLUG_VALID.match(name)) and is_valid_coder_name(name)
            and is_valid_gitea_name(name) and name not in RESERVED_NAMES)


# -- building blocks ---------------------------------------------------------------------
def short_hash(identity: str, length: int = 6) -> str:
    """A lowercase base32 digest of `identity`: stable, letters and digits only."""
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).digest()
    return base64.b32encode(digest).decode("ascii").lower().rstrip("=")[:length]


def slugify(name: str, max_len: int = NAME_MAX) -> str:
    """Lowercase ASCII letters/digits joined by single hyphens, at most `max_len` long.

    Accents are transliterated (NFKD, then combining marks dropped); anything
    else that is not a letter or digit separates words. May return "" when
    nothing usable is left (e.g. a name written only in CJK): callers fall back
    to a hash-derived name, see `username_from`.
    """
    if max_len < 1:
        raise ValueError("max_len must be positive")
    text = unicodedata.normalize("NFKD", name.translate(_TRANSLITERATE))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return slug[:max_len].rstrip("-")


def _with_suffix(base: str, suffix: str, max_len: int) -> str:
    """`base-suffix`, truncating base so the whole fits in max_len."""
    room = max_len - len(suffix) - 1
    head = base[:room].rstrip("-") if room > 0 else ""
    return f"{head}-{suffix}" if head else suffix[:max_len]


# -- public helpers ----------------------------------------------------------------------
def username_from(preferred_username: str | None, email: str | None, sub: str,
                  max_len: int = NAME_MAX) -> str:
    """The username to propose for a person, valid for Gitea and Coder.

    Tries the OIDC `preferred_username`, then the local part of the email. A
    reserved result keeps its words but gets a hash of `sub` appended; nothing
    usable at all gives `u-<hash of sub>`. Pure: the same inputs always give the
    same name. Collisions with other people are resolved by `unique_name`.
    """
    if not sub:
        raise ValueError("the OIDC subject is required")
    max_len = min(max_len, NAME_MAX)
    local = (email or "").rsplit("@", 1)[0] if email and "@" in email else (email or "")
    for candidate in (preferred_username or "", local):
        slug = slugify(candidate, max_len)
        if not slug:
            continue
        if is_valid_name(slug):
            return slug
        fixed = _with_suffix(slug, short_hash(sub), max_len)
        if is_valid_name(fixed):
            return fixed
    return _with_suffix("u", short_hash(sub, 8), max_len)


def unique_name(base: str, taken: Callable[[str], bool], *, identity: str | None = None,
                max_len: int = NAME_MAX, attempts: int = 64) -> str:
    """`base` if free, else `base-<hash of identity>`, deterministic and within max_len.

    `identity` should be the stable identity of the owner (the OIDC `sub` for a
    person, the group id for a group): two people wanting the same base then get
    different, reproducible suffixes that do not depend on who asked first, which
    a counter (`alice-2`) would. `taken(name)` must answer case-insensitively for
    both Gitea users and organisations (one namespace there) and for Coder users.
    """
    seed = identity if identity is not None else base
    slug = slugify(base, max_len) or _with_suffix("u", short_hash(seed, 8), max_len)
    candidates = [slug] if is_valid_name(slug) else []
    for length in (6, 8, 10, 13):
        candidates.append(_with_suffix(slug, short_hash(seed, length), max_len))
    for i in range(1, attempts):
        candidates.append(_with_suffix(slug, short_hash(f"{seed}\x00{i}", 8), max_len))
    seen: set[str] = set()
    for candidate in candidates:
        if candidate in seen or not is_valid_name(candidate):
            continue
        seen.add(candidate)
        if not taken(candidate):
            return candidate
    raise ValueError(f"no free name derived from {base!r} after {len(seen)} attempts")


def _slug_reason(slug: str, max_len: int, reserved: Callable[[str], bool]) -> str | None:
    if not slug:
        return "must not be empty"
    if len(slug) > max_len:
        return f"must be at most {max_len} characters long"
    if not _SLUG_VALID.match(slug):
        return ("may only contain lowercase letters, digits and single hyphens, "
                "and must start and end with a letter or digit")
    if reserved(slug):
        return f"“{slug}” is a reserved name"
    return None


def validate_group_slug(slug: str) -> str | None:
    """Why `slug` cannot name a group (a Gitea organisation), or None when it can.

    Organisations share Gitea's user namespace, so the user rules apply.
    """
    return _slug_reason(slug, GITEA_USER_MAX,
                        lambda s: is_gitea_reserved(s) or s in CODER_RESERVED_NAMES)


def validate_project_slug(slug: str) -> str | None:
    """Why `slug` cannot name a project (a Gitea repository), or None when it can."""
    def reserved(s: str) -> bool:
        return (s in GITEA_RESERVED_REPO_NAMES or s.endswith(GITEA_RESERVED_REPO_SUFFIXES)
                or s in CODER_RESERVED_NAMES)
    return _slug_reason(slug, GITEA_REPO_MAX, reserved)
