"""The `operation` label of an outbound call: method and path template, never an id or a name.

`operation("GET", "/users/ada/workspace/proj-7")` is `GET /users/{}/workspace/{}`. A path
segment stays literal only where the APIs the portal calls (Coder v2, Gitea v1, LiteLLM) have a
literal; whatever follows a collection word is an identifier. Unknown words become `{}`, so the
label's values stay few whatever the data. tests/test_observability_outbound.py checks the
templates against the Coder and Gitea contracts for every call of a Code tab open.
"""
from __future__ import annotations

from functools import lru_cache

# Literal path words of the calls the portal makes (the contracts' paths).
LITERALS = frozenset({
    "api", "v1", "v2", "buildinfo", "organizations", "regions", "users", "keys", "tokens",
    "tokenconfig", "templates", "templateversions", "rich-parameters", "workspace",
    "workspaces", "builds", "workspacebuilds", "logs", "extend", "usage", "applications",
    "auth-redirect", "healthz", "version", "user", "admin", "orgs", "teams", "members", "repos",
    "migrate", "generate", "health", "liveliness", "key", "delete", "info", "status", "suspend",
    "activate", "collaborators", "contents", "branches", "emails", "settings", "search",
})
# Words after which identifiers follow (how many), and literals allowed in that place.
IDS_AFTER = {"users": 1, "orgs": 1, "teams": 1, "repos": 2, "workspaces": 1,
             "workspacebuilds": 1, "templateversions": 1, "templates": 1, "organizations": 1,
             "members": 1, "keys": 1, "tokens": 1, "workspace": 1, "collaborators": 1,
             "contents": 1, "branches": 1}
LITERAL_AFTER = {"repos": frozenset({"migrate", "search"}), "keys": frozenset({"tokens"}),
                 "tokens": frozenset({"tokenconfig"}), "users": frozenset({"search"})}


@lru_cache(maxsize=2048)
def operation(method: str, path: str) -> str:
    path = path.split("?", 1)[0]
    out: list[str] = []
    pending, after = 0, ""
    for segment in path.strip("/").split("/") if path.strip("/") else []:
        if pending and segment not in LITERAL_AFTER.get(after, ()):
            out.append("{}")
            pending -= 1
            continue
        pending = 0
        if segment in LITERALS:
            out.append(segment)
            after, pending = segment, IDS_AFTER.get(segment, 0)
        else:
            out.append("{}")
    return f"{method.upper()} /" + "/".join(out)
