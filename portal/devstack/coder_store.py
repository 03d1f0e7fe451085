"""The simulated Coder's operations, with the real server's validation rules and replies.

Every rule here is taken from Coder's source (see ../shared/contracts/NOTES.md):
names, 409 on duplicates, 400 on an unknown or missing rich parameter, a
password with a non-password login type, the 400 (not 404) for an unknown
`{user}` path parameter, the 409 on a build while another is active.
Callers hold `CoderStore.lock` around every call.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from portal.devstack import coder_host
from portal.devstack.coder_state import (
    EMAIL_RE, SIGNED_OUT, USER_ERROR_MESSAGE, ApiError, ApiKey, Build, Template, User, Workspace,
    check_value, default_parameters, name_problem, new_id, not_found, now, rfc3339, secrets_equal,
    validation_failed)
from portal.devstack.workspace_host import WorkspaceHost
from portal.workspaces.workspace_params import AGENT_NAME, APP_SLUG, PROJECT_FOLDER

LOGIN_TYPES = frozenset({"password", "none", "oidc", "github"})
TRANSITIONS = frozenset({"start", "stop", "delete"})
DAY = 86400.0


@dataclass
class Knobs:
    """What a test can change about the simulator's behaviour (see CoderSim)."""

    build_seconds: float = 2.0
    agent_seconds: float = 1.0
    fail_builds: int = 0
    fail_message: str = "terraform apply: simulated provisioning failure"
    max_token_lifetime_seconds: float = 30 * DAY
    default_token_lifetime_seconds: float = 7 * DAY
    oidc_enabled: bool = False


class CoderStore:
    """Users, keys, organizations, templates and workspaces of one simulated Coder."""

    def __init__(self, knobs: Knobs, *, admin_token: str, admin_username: str = "admin",
                 template_name: str = "portal-workspace", organization_name: str = "coder"):
        self.lock = threading.RLock()
        self.knobs = knobs
        self.users: dict[str, User] = {}
        self.keys: dict[str, ApiKey] = {}
        self.workspaces: dict[str, Workspace] = {}
        self.builds: dict[str, Build] = {}
        self.org = {"id": new_id(), "name": organization_name, "display_name": "Coder",
                    "description": "", "icon": "", "is_default": True,
                    "created_at": rfc3339(now()), "updated_at": rfc3339(now())}
        admin = User(new_id(), admin_username, f"{admin_username}@devstack.invalid", "Admin",
                     "password", [self.org["id"]], is_admin=True, status="active")
        self.users[admin.id] = admin
        self.admin = admin
        # The seeded admin token may be any string; a Coder-shaped one (<10>-<22>) also
        # has its key row, as every real token has, so its expiry can be read.
        self.admin_token = admin_token
        key_id, _, secret = admin_token.partition("-")
        self.admin_key_id = key_id if len(key_id) == 10 and len(secret) == 22 else None
        if self.admin_key_id:
            self.keys[key_id] = ApiKey(key_id, secret, admin.id, "devstack-admin", now() + 3650 * DAY)
        self.template = Template(new_id(), self.org["id"], template_name, new_id(),
                                 default_parameters())
        self.host: WorkspaceHost | None = None   # real workspace processes (coder_host.py)

    # -- authentication ---------------------------------------------------------------------
    def authenticate(self, token: str | None) -> tuple[User, ApiKey | None]:
        """The user behind a session token, or ApiError 401 exactly as Coder words it."""
        if not token:
            raise ApiError(401, SIGNED_OUT,
                           'Cookie "coder_session_token" or query parameter must be provided.')
        if secrets_equal(token, self.admin_token):
            return self.admin, None
        parts = token.split("-")
        if len(parts) != 2 or len(parts[0]) != 10 or len(parts[1]) != 22:
            raise ApiError(401, SIGNED_OUT, "Invalid API key format: incorrect key format")
        key = self.keys.get(parts[0])
        if key is None or not secrets_equal(key.secret, parts[1]):
            raise ApiError(401, SIGNED_OUT, "API key is invalid.")
        if key.expires_at <= now():
            raise ApiError(401, SIGNED_OUT, "API key expired.")
        user = self.users.get(key.user_id)
        if user is None:
            raise ApiError(401, SIGNED_OUT, "API key is invalid.")
        if user.status == "dormant":
            user.status = "active"  # Coder activates a dormant user on first use
        if user.status != "active":  # coderd/httpmw/apikey.go: a suspended user's keys are refused
            raise ApiError(401, f'User is not active (status = "{user.status}"). '
                                "Contact an admin to reactivate your account.")
        return user, key

    # -- users ------------------------------------------------------------------------------
    def user_param(self, actor: User, ref: str) -> User:
        """Resolve a `{user}` path parameter: 'me', a uuid or a username; unknown is 400."""
        if ref == "me":
            return actor
        lowered = ref.lower()
        for user in self.users.values():
            if user.id == ref or user.username.lower() == lowered:
                return user
        raise ApiError(400, USER_ERROR_MESSAGE, f'queried user="{ref}"')

    def search_users(self, query: str) -> list[User]:
        term = query.strip().lower()
        return [u for u in self.users.values()
                if not term or term in u.username.lower() or term in u.email.lower()]

    def create_user(self, body: dict[str, Any]) -> User:
        email, username = body.get("email"), body.get("username")
        if not isinstance(email, str) or not email:
            raise validation_failed("email", "required", "")
        if not EMAIL_RE.match(email):
            raise validation_failed("email", "email", email)
        if not isinstance(username, str) or not username:
            raise validation_failed("username", "required", "")
        if name_problem(username):
            raise validation_failed("username", "username", username)
        login_type = body.get("login_type") or "password"
        if login_type not in LOGIN_TYPES:
            raise ApiError(400, f"Unsupported login type {login_type!r} for manually creating new "
                                "users.")
        password = body.get("password") or ""
        if login_type != "password" and password:
            raise ApiError(400, f"Password cannot be set for non-password ({login_type!r}) "
                                "authentication.")
        if login_type == "password" and not password:
            raise ApiError(400, "Password is required when login type is \"password\".",
                           validations=[{"field": "password", "detail": "required"}])
        if login_type == "oidc" and not self.knobs.oidc_enabled:
            raise ApiError(400, "You must configure OIDC before creating OIDC users.")
        org_ids = body.get("organization_ids")
        if not isinstance(org_ids, list) or not org_ids:
            raise ApiError(400, "Organization IDs are required.", validations=[
                {"field": "organization_ids", "detail": "at least one organization is required"}])
        for org_id in org_ids:
            if org_id != self.org["id"]:
                raise ApiError(404, f"Organization does not exist with the provided id {org_id!r}.")
        for user in self.users.values():
            if user.username.lower() == username.lower() or user.email.lower() == email.lower():
                raise ApiError(409, "User already exists.")
        user = User(new_id(), username, email, str(body.get("name") or ""), login_type,
                    list(org_ids))
        self.users[user.id] = user
        return user

    # -- API keys ---------------------------------------------------------------------------
    def set_status(self, actor: User, target: User, status: str) -> User:
        """PUT /users/{user}/status/{suspend|activate} (coderd/users.go putUserStatus)."""
        if not actor.is_admin:
            raise not_found()
        if status == "suspended" and target.id == actor.id:
            raise ApiError(400, "You cannot suspend yourself.")
        target.status = status
        return target

    def may_act_for(self, actor: User, target: User) -> None:
        if not (actor.is_admin or actor.id == target.id):
            raise not_found()

    def mint_key(self, actor: User, target: User, body: dict[str, Any]) -> ApiKey:
        self.may_act_for(actor, target)
        lifetime_ns = body.get("lifetime", 0)
        if isinstance(lifetime_ns, bool) or not isinstance(lifetime_ns, int):
            raise ApiError(400, "Request body must be valid JSON.",
                           "json: cannot unmarshal into Go struct field lifetime of type "
                           "time.Duration")
        max_ns = int(self.knobs.max_token_lifetime_seconds * 1e9)
        if lifetime_ns < 0 or lifetime_ns > max_ns:
            raise ApiError(400, "Failed to validate create API key request.",
                           f"lifetime must be positive number greater than 0 and less than "
                           f"{max_ns}ns")
        lifetime = lifetime_ns / 1e9 if lifetime_ns else self.knobs.default_token_lifetime_seconds
        name = body.get("token_name") or f"token-{new_id()[:8]}"
        if not isinstance(name, str) or name_problem(name, max_len=64):
            raise validation_failed("token_name", "display", name)
        for key in self.keys.values():
            if key.user_id == target.id and key.token_name == name:
                raise ApiError(409, f'A token with name "{name}" already exists.',
                               validations=[{"field": "name",
                                             "detail": "This value is already in use and "
                                                       "should be unique."}])
        key = ApiKey.generate(target.id, name, lifetime)
        self.prune_keys()
        self.keys[key.id] = key
        return key

    def prune_keys(self) -> None:
        """Forget expired keys (a long-running dev stack mints one per IDE load)."""
        at = now()
        for key_id in [k for k, key in self.keys.items() if key.expires_at <= at - DAY]:
            del self.keys[key_id]

    def key_json(self, actor: User, target: User, key_id: str) -> dict[str, Any]:
        """codersdk.APIKey of one of `target`'s keys (apiKeyByID); 404 for anyone else's."""
        self.may_act_for(actor, target)
        key = self.keys.get(key_id)
        if key is None or key.user_id != target.id:
            raise not_found()
        return {"id": key.id, "user_id": key.user_id, "token_name": key.token_name,
                "login_type": "token", "scope": key.scope, "scopes": [key.scope],
                "created_at": rfc3339(key.created_at), "updated_at": rfc3339(key.created_at),
                "last_used": rfc3339(key.created_at), "expires_at": rfc3339(key.expires_at),
                "lifetime_seconds": int(round(key.expires_at - key.created_at))}

    def delete_key(self, actor: User, target: User, key_id: str) -> None:
        self.may_act_for(actor, target)
        key = self.keys.get(key_id)
        if key is None or key.user_id != target.id:
            raise not_found()
        del self.keys[key_id]

    def revoke(self, username: str | None = None) -> int:
        """Delete the API keys of one user (or of every user); returns how many."""
        doomed = [k for k, key in self.keys.items() if k != self.admin_key_id
                  and (username is None or self.users[key.user_id].username == username)]
        for key_id in doomed:
            del self.keys[key_id]
        return len(doomed)

    # -- workspaces -------------------------------------------------------------------------
    def visible_workspaces(self, actor: User, at: float) -> list[Workspace]:
        return [w for w in self.workspaces.values()
                if not w.deleted(at) and (actor.is_admin or w.owner_id == actor.id)]

    def workspace_by_id(self, actor: User, workspace_id: str) -> Workspace:
        ws = self.workspaces.get(workspace_id)
        if ws is None or not (actor.is_admin or ws.owner_id == actor.id):
            raise not_found()
        if ws.deleted(now()):
            raise ApiError(410, f'Workspace "{ws.name}" was deleted, you can view this workspace '
                                "by specifying '?deleted=true' and trying again.")
        return ws

    def workspace_by_name(self, actor: User, owner: User, name: str) -> Workspace:
        for ws in self.visible_workspaces(actor, now()):
            if ws.owner_id == owner.id and ws.name.lower() == name.lower():
                return ws
        raise not_found()

    def create_workspace(self, actor: User, owner: User, body: dict[str, Any]) -> Workspace:
        self.may_act_for(actor, owner)
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise validation_failed("name", "required", "")
        if name_problem(name):
            raise validation_failed("name", "workspace_name", name)
        template_id = body.get("template_id")
        version_id = body.get("template_version_id")
        if template_id and version_id:
            raise ApiError(400, "Specify only one of template_id or template_version_id.")
        if (template_id or version_id) not in (self.template.id, self.template.active_version_id):
            field_name = "template_id" if template_id or not version_id else "template_version_id"
            raise ApiError(400, f"Template {template_id or version_id!r} doesn't exist.",
                           validations=[{"field": field_name, "detail": "template not found"}])
        ttl_ms = body.get("ttl_ms")
        if ttl_ms is not None and (not isinstance(ttl_ms, int) or ttl_ms < 60_000):
            raise ApiError(400, "Invalid Workspace Time to Shutdown.", validations=[
                {"field": "ttl_ms", "detail": "time until shutdown must be at least one minute"}])
        at = now()
        for ws in self.workspaces.values():
            if ws.owner_id == owner.id and ws.name.lower() == name.lower() and not ws.deleted(at):
                raise ApiError(409, f'Workspace "{name}" already exists.', validations=[
                    {"field": "name", "detail": "This value is already in use and should be "
                                                "unique."}])
        params = self._check_parameters(body.get("rich_parameter_values"), previous=[])
        ws = Workspace(new_id(), owner.id, self.org["id"], self.template.id, name,
                       ttl_ms if ttl_ms is not None else 8 * 3600 * 1000)
        self.workspaces[ws.id] = ws
        self.add_build(ws, actor, "start", params)
        return ws

    def _check_parameters(self, values: Any, previous: list[dict[str, str]]
                          ) -> list[dict[str, str]]:
        """Coder's wsbuilder rules: unknown parameter or missing required one is a 400."""
        if values is None:
            values = []
        if not isinstance(values, list):
            raise ApiError(400, "Request body must be valid JSON.",
                           "rich_parameter_values must be an array")
        declared = {p["name"]: p for p in self.template.parameters}
        given: dict[str, str] = {p["name"]: p["value"] for p in previous}
        for item in values:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
                    or not isinstance(item.get("value", ""), str):
                raise ApiError(400, "Request body must be valid JSON.",
                               "rich_parameter_values items are {name, value} strings")
            if item["name"] not in declared:
                raise ApiError(400, "Unable to validate parameters",
                               f'parameter "{item["name"]}" is not present in the template')
            check_value(declared[item["name"]], item.get("value", ""), given)
            given[item["name"]] = item.get("value", "")
        for name, param in declared.items():
            if param["required"] and not given.get(name):
                raise ApiError(400, "Unable to validate parameters",
                               f'Required parameter not provided: "{name}"')
        return [{"name": n, "value": v} for n, v in given.items()]

    def new_build(self, actor: User, ws: Workspace, body: dict[str, Any]) -> Build:
        self.may_act_for(actor, self.users[ws.owner_id])
        transition = body.get("transition")
        if transition not in TRANSITIONS:
            raise validation_failed("transition", "oneof", transition)
        at = now()
        if ws.latest.job_status(at) in ("pending", "running"):
            raise ApiError(409, "A workspace build is already active.")
        params = self._check_parameters(body.get("rich_parameter_values"),
                                        previous=ws.latest.parameters)
        return self.add_build(ws, actor, transition, params)

    def add_build(self, ws: Workspace, actor: User, transition: str,
                   params: list[dict[str, str]]) -> Build:
        fail = None
        if self.knobs.fail_builds > 0:
            self.knobs.fail_builds -= 1
            fail = self.knobs.fail_message
        build = Build(new_id(), ws.id, len(ws.builds) + 1, transition, actor.id,
                      self.template.active_version_id, params, self.knobs.build_seconds,
                      self.knobs.agent_seconds, fail, ttl_ms=ws.ttl_ms)
        ws.builds.append(build)
        self.builds[build.id] = build
        if self.host is not None:
            coder_host.on_build(self, self.host, ws, build)
        return build

    def build_for(self, actor: User, build_id: str) -> tuple[Workspace, Build]:
        build = self.builds.get(build_id)
        if build is None:
            raise not_found()
        ws = self.workspaces[build.workspace_id]
        if not (actor.is_admin or ws.owner_id == actor.id):
            raise not_found()
        return ws, build

    # -- serialisation ----------------------------------------------------------------------
    def build_json(self, ws: Workspace, build: Build, at: float) -> dict[str, Any]:
        owner = self.users[ws.owner_id]
        job_status = build.job_status(at)
        job = {"id": build.job_id, "created_at": rfc3339(build.created_at),
               "started_at": rfc3339(build.started_at) if job_status != "pending" else None,
               "completed_at": rfc3339(build.completed_at)
               if job_status in ("succeeded", "failed") else None,
               "status": job_status, "error": "", "file_id": build.template_version_id,
               "organization_id": ws.organization_id, "initiator_id": build.initiator_id,
               "queue_position": 0, "queue_size": 0, "tags": {"scope": "organization"},
               "type": "workspace_build", "logs_overflowed": False,
               "input": {"workspace_build_id": build.id}}
        if job_status == "failed":
            job["error"] = build.fail_message
        deadline = build.deadline(at)
        return {"id": build.id, "build_number": build.number, "workspace_id": ws.id,
                "workspace_name": ws.name, "workspace_owner_id": owner.id,
                "workspace_owner_name": owner.username, "workspace_owner_avatar_url": "",
                "template_version_id": build.template_version_id,
                "template_version_name": "v1", "initiator_id": build.initiator_id,
                "initiator_name": self.users[build.initiator_id].username,
                "transition": build.transition, "reason": "initiator",
                "status": build.status(at), "job": job,
                "resources": self._resources(ws, build, at), "daily_cost": 0,
                "created_at": rfc3339(build.created_at), "updated_at": rfc3339(at),
                "deadline": rfc3339(deadline), "max_deadline": None,
                "has_ai_task": False, "has_external_agent": False}

    def _resources(self, ws: Workspace, build: Build, at: float) -> list[dict[str, Any]]:
        state = build.agent_state(at)
        if self.host is not None:
            state = coder_host.agent_state(self.host, build, state)
        elif state is not None:
            state = (*state, "healthy" if state[1] == "ready" else "initializing")
        if state is None:
            return []
        status, lifecycle, health = state
        owner = self.users[ws.owner_id]
        app = {"id": build.app_id, "slug": APP_SLUG, "display_name": "code-server",
               "url": f"http://localhost:13337/?folder={PROJECT_FOLDER}", "command": "",
               "icon": "/icon/code.svg", "subdomain": True, "external": False, "hidden": False,
               "subdomain_name": f"{APP_SLUG}--{AGENT_NAME}--{ws.name}--{owner.username}",
               "sharing_level": "owner", "open_in": "slim-window",
               "health": health,
               "healthcheck": {"url": "http://localhost:13337/healthz", "interval": 5,
                               "threshold": 6}, "statuses": []}
        ready_at = build.completed_at + build.agent_seconds
        agent = {"id": build.agent_id, "name": AGENT_NAME, "resource_id": build.resource_id,
                 "status": status, "lifecycle_state": lifecycle, "apps": [app],
                 "architecture": "amd64", "operating_system": "linux",
                 "directory": PROJECT_FOLDER, "expanded_directory": PROJECT_FOLDER,
                 "created_at": rfc3339(build.completed_at), "updated_at": rfc3339(at),
                 "first_connected_at": rfc3339(build.completed_at) if status == "connected"
                 else None, "ready_at": rfc3339(ready_at) if lifecycle == "ready" else None,
                 "connection_timeout_seconds": 120, "troubleshooting_url": "",
                 "health": {"healthy": status == "connected"}, "version": "v2.0.0-devstack",
                 "api_version": "2.0", "subsystems": [], "scripts": [], "log_sources": [],
                 "logs_length": 0, "logs_overflowed": False, "display_apps": ["web_terminal"],
                 "startup_script_behavior": "non-blocking", "environment_variables": {}}
        return [{"id": build.resource_id, "job_id": build.job_id, "name": "workspace",
                 "type": "docker_container", "workspace_transition": build.transition,
                 "agents": [agent], "metadata": [], "hide": False, "icon": "", "daily_cost": 0,
                 "created_at": rfc3339(build.completed_at)}]

    def workspace_json(self, ws: Workspace, at: float | None = None) -> dict[str, Any]:
        at = now() if at is None else at
        owner = self.users[ws.owner_id]
        build = self.build_json(ws, ws.latest, at)
        healthy = all(a["health"]["healthy"] for r in build["resources"] for a in r["agents"])
        return {"id": ws.id, "name": ws.name, "owner_id": owner.id,
                "owner_name": owner.username, "owner_avatar_url": "",
                "organization_id": ws.organization_id, "organization_name": self.org["name"],
                "template_id": ws.template_id, "template_name": self.template.name,
                "template_display_name": self.template.name, "template_icon": "",
                "template_active_version_id": self.template.active_version_id,
                "template_allow_user_cancel_workspace_jobs": True,
                "template_require_active_version": False,
                "template_use_classic_parameter_flow": True,
                "latest_build": build, "outdated": False, "ttl_ms": ws.ttl_ms,
                "autostart_schedule": None, "automatic_updates": "never",
                "allow_renames": False, "favorite": False, "is_prebuild": False,
                "health": {"healthy": healthy, "failing_agents": []},
                "created_at": rfc3339(ws.created_at), "updated_at": rfc3339(at),
                "last_used_at": rfc3339(ws.last_used_at), "dormant_at": None,
                "deleting_at": None, "next_start_at": None}
