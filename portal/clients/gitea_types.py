"""Reply types of the Gitea client: frozen dataclasses built from checked JSON."""
from __future__ import annotations

from dataclasses import dataclass, field

# -- reply types ---------------------------------------------------------------------------
@dataclass(frozen=True)
class GiteaUser:
    id: int
    login: str
    email: str = ""
    is_admin: bool = False
    login_name: str = ""   # the external identity (OIDC sub) when linked to an auth source
    source_id: int = 0
    prohibit_login: bool = False


@dataclass(frozen=True)
class GiteaOrg:
    id: int
    name: str
    visibility: str = ""


@dataclass(frozen=True)
class GiteaTeam:
    id: int
    name: str
    permission: str = ""
    units_map: dict[str, str] = field(default_factory=dict, hash=False)
    includes_all_repositories: bool = False


@dataclass(frozen=True)
class GiteaRepo:
    id: int
    name: str
    full_name: str
    owner: str
    clone_url: str
    default_branch: str = ""
    private: bool = False
    empty: bool = False
    template: bool = False
    description: str = ""


@dataclass(frozen=True)
class GiteaEntry:
    """One entry of a repository directory (the contents API): a file, dir, symlink..."""
    name: str
    path: str
    type: str              # file, dir, symlink or submodule
    size: int = 0


@dataclass(frozen=True)
class GiteaToken:
    id: int
    name: str
    secret: str = field(default="", repr=False)  # reply field `sha1`; only on creation
    scopes: tuple[str, ...] = ()
    last_eight: str = ""


@dataclass(frozen=True)
class GiteaHealth:
    ok: bool
    status: str            # "pass", "fail" or the HTTP status when the reply was unexpected
