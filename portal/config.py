"""Settings read from the environment inside create_app (DESIGN §4), each declared once.

Every field of `Settings` is one environment variable's declaration (`config_values.setting`:
parser, default, dev default, secret or not, one line of meaning). `Settings.from_env(environ)`
reads them all and raises `ConfigError` with one line naming the variable and what is
expected. Nothing is read at import time. Secrets are kept out of `repr()` and `public_view()`.
"""
from __future__ import annotations

import os
import pathlib
import secrets
from dataclasses import dataclass, fields
from typing import Mapping

from portal import config_values as values
from portal.config_values import ConfigError, declaration, flag, mask_url, setting
from portal.workspaces.workspace_params import PROJECT_FOLDER
from portal.workspaces.size_spec import SizeSpec
from portal.workspaces.size_spec import parse as parse_sizes

__all__ = ["ConfigError", "Settings", "SECRET_FIELDS", "names", "mask_url", "dev_secret_key"]
ROOT = pathlib.Path(__file__).resolve().parent.parent

# The dev stack's loopback addresses (ports: PORTAL_DEV_CODER_PORT, PORTAL_DEV_GITEA_PORT)
# and tokens (portal/devstack/__main__.py).
DEV_CODER_PORT = 7080
DEV_GITEA_PORT = 7300
DEV_CODER_URL = f"http://127.0.0.1:{DEV_CODER_PORT}"
DEV_GITEA_URL = f"http://127.0.0.1:{DEV_GITEA_PORT}"
DEV_CODER_TOKEN = "devstack-coder-admin-token"
DEV_GITEA_TOKEN = "devstack-gitea-admin-token"
# The simulated LiteLLM runs only when LITELLM_URL is set to this address (off by default).
DEV_LITELLM_URL = "http://127.0.0.1:7400"
DEV_LITELLM_KEY = "sk-devstack-litellm-master-key"
DEV_PORTAL_HOST = "portal.localhost"  # the dev server's name (portal/devstack/run.py APP_DOMAIN)
DEV_SECRET_KEY_FILE = "dev-secret-key"  # in instance/: generated once, git-ignored
DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzJieXRlcyE="  # base64 of 32 bytes

PREWARM_MODES = ("creator", "members", "off")
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"
NO_GATEWAY = "not set: no AI gateway"
DEV_SIGNIN_ONLY = "not set: dev sign-in only"


@dataclass(frozen=True)
class Settings:
    """Every setting, each declared once: its variable, parser, default, dev default, secrecy.

    The field order is the System page's order; `from_env`, `names()`, `SECRET_FIELDS`,
    `public_view()` and the README table's check (tests/test_config.py) derive from these."""
    dev: bool = setting("PORTAL_DEV", flag, False,
                        doc="the embedded default: dev sign-in, dev stack, non-Secure cookies")
    secret_key: str = setting(
        "PORTAL_SECRET_KEY", secret=True, dev=lambda _: dev_secret_key(ROOT / "instance"),
        required="PORTAL_SECRET_KEY is required (a long random string) unless PORTAL_DEV=1",
        doc="session signing key (dev: generated once into instance/)")
    database_url: str = setting(
        "DATABASE_URL", values.database_url, f"sqlite:///{ROOT / 'instance' / 'portal.sqlite'}",
        secret=True, mask=mask_url, doc="SQLite file or PostgreSQL (through psycopg 3)")
    encryption_key: str = setting(
        "PORTAL_ENCRYPTION_KEY", values.fernet_key, secret=True, dev=DEV_ENCRYPTION_KEY,
        required="PORTAL_ENCRYPTION_KEY is required: a Fernet key (python -c 'from cryptography.fernet "
                 "import Fernet; print(Fernet.generate_key().decode())')",
        doc="Fernet key of the per-person tokens at rest")
    oidc_issuer: str | None = setting(
        "OIDC_ISSUER", values.http_url, unset=DEV_SIGNIN_ONLY,
        required="OIDC_ISSUER is required (e.g. https://auth.example.com/application/o/portal/) "
                 "unless PORTAL_DEV=1",
        doc="the OIDC provider's issuer (Authentik)")
    oidc_client_id: str | None = setting("OIDC_CLIENT_ID", unset=DEV_SIGNIN_ONLY,
                                         doc="the portal's OIDC client (required with OIDC_ISSUER)")
    oidc_client_secret: str | None = setting("OIDC_CLIENT_SECRET", secret=True, unset=DEV_SIGNIN_ONLY,
                                             doc="its secret (required with OIDC_ISSUER)")
    oidc_admin_group: str = setting("OIDC_ADMIN_GROUP", default="portal-admins",
                                    doc="the group claim that makes a person an admin")
    coder_url: str = setting(
        "CODER_URL", values.service_url, dev=lambda v: f"http://127.0.0.1:{v['dev_coder_port']}",
        required="CODER_URL is required (e.g. https://coder.example.com)", doc="Coder's access URL")
    coder_admin_api_key: str = setting(
        "CODER_ADMIN_API_KEY", secret=True, dev=DEV_CODER_TOKEN,
        required="CODER_ADMIN_API_KEY is required: an owner's API token for the portal",
        doc="an owner's API token for the portal")
    coder_organization: str | None = setting(
        "CODER_ORGANIZATION", unset="not set: Coder's default organization",
        doc="the Coder organization of the portal's workspaces")
    coder_template: str = setting("CODER_TEMPLATE", default="portal-workspace",
                                  doc="the workspaces' template")
    coder_login_type: str = setting("CODER_LOGIN_TYPE", values.choice("none", "oidc", "password", "github",
                                                                      lower=False),
                                    "none", doc="login type of the Coder users the portal creates")
    coder_wildcard_host: str | None = setting(
        "CODER_WILDCARD_ACCESS_URL", unset="not set: read from Coder (its app wildcard host)",
        doc="Coder's app wildcard host: only its app hosts may be framed")
    gitea_url: str = setting(
        "GITEA_URL", values.service_url, dev=lambda v: f"http://127.0.0.1:{v['dev_gitea_port']}",
        required="GITEA_URL is required (e.g. https://git.example.com)", doc="Gitea's URL")
    gitea_admin_token: str = setting(
        "GITEA_ADMIN_TOKEN", secret=True, dev=DEV_GITEA_TOKEN,
        required="GITEA_ADMIN_TOKEN is required: an admin token with "
                 "write:admin,write:organization,write:repository,write:user",
        doc="a Gitea admin token")
    gitea_auth_source_id: int | None = setting(
        "GITEA_AUTH_SOURCE_ID", values.whole(1),
        unset="not set: Gitea users are not linked to an authentication source",
        doc="Gitea's OAuth source that links its users to their OIDC subject")
    litellm_url: str | None = setting("LITELLM_URL", values.http_url, unset=NO_GATEWAY,
                                      doc="the AI gateway (per-person virtual keys when set)")
    litellm_master_key: str | None = setting(
        "LITELLM_MASTER_KEY", secret=True, unset=NO_GATEWAY,
        dev=lambda v: DEV_LITELLM_KEY if v["litellm_url"] == DEV_LITELLM_URL else None,
        doc="the gateway's master key (required with LITELLM_URL)")
    litellm_models: tuple[str, ...] = setting(
        "LITELLM_MODELS", values.models, (), unset="not set: every model the gateway offers",
        doc="the models a person's key may use; the first is the default")
    litellm_max_budget: float | None = setting("LITELLM_MAX_BUDGET", values.budget,
                                               unset="not set: no spending limit per key",
                                               doc="spend limit of each person's key")
    litellm_rpm_limit: int = setting("LITELLM_RPM_LIMIT", values.whole(1), 60,
                                     doc="requests per minute of each person's key")
    smtp_url: str | None = setting(
        "SMTP_URL", values.smtp_url, secret=True, mask=mask_url,
        unset="not set: no invitation email is sent (leads are told to pass it on)",
        doc="the mail relay of invitation emails")
    http_connect_timeout: float = setting("PORTAL_HTTP_CONNECT_TIMEOUT", values.seconds, 3.0,
                                          doc="outbound connect timeout, seconds")
    http_read_timeout: float = setting("PORTAL_HTTP_READ_TIMEOUT", values.seconds, 10.0,
                                       doc="outbound read timeout, seconds")
    build_timeout: int = setting("PORTAL_BUILD_TIMEOUT", values.whole(10), 600,
                                 doc="seconds before a workspace build counts as failed")
    project_folder: str = setting(
        "PORTAL_PROJECT_FOLDER", values.folder, PROJECT_FOLDER,
        doc="the folder code-server opens, where the template clones the repository")
    reconcile_lease_seconds: int = setting("PORTAL_RECONCILE_LEASE_SECONDS", values.whole(1), 30,
                                           doc="a killed pass blocks its workspace row this long")
    queue_url: str = setting(
        "PORTAL_QUEUE_URL", values.queue_url, f"sqlite:///{ROOT / 'instance' / 'portal-queue.sqlite'}",
        secret=True, mask=mask_url, doc="the job queue: sqlite:///file or redis://host:6379/0")
    worker_threads: int = setting("PORTAL_WORKER_THREADS", values.whole(1), 4,
                                  doc="jobs run at once per worker process")
    prewarm: str = setting("PORTAL_PREWARM", values.choice(*PREWARM_MODES), PREWARM_MODES[0],
                           doc="whose workspaces are built in advance: creator|members|off")
    drift_apply: bool = setting("PORTAL_DRIFT_APPLY", flag, False,
                                doc="the hourly drift check repairs, not only reports")
    worker_stale_seconds: int = setting("PORTAL_WORKER_STALE_SECONDS", values.whole(5), 60,
                                        doc="/readyz fails when no worker ran this long")
    bind_host: str | None = setting("PORTAL_BIND_HOST", also=("FLASK_RUN_HOST",),
                                    unset="not set: the address the server was started on",
                                    doc="the address the server listens on (dev sign-in only on loopback)")
    dev_coder_port: int = setting("PORTAL_DEV_CODER_PORT", values.port, DEV_CODER_PORT,
                                  doc="the simulated Coder's port (PORTAL_DEV=1)")
    dev_gitea_port: int = setting("PORTAL_DEV_GITEA_PORT", values.port, DEV_GITEA_PORT,
                                  doc="the simulated Gitea's port (PORTAL_DEV=1)")
    invitation_days: int = setting("PORTAL_INVITATION_DAYS", values.whole(1), 14,
                                   doc="days before a pending invitation expires")
    removal_policy: str = setting("PORTAL_REMOVAL_POLICY", values.choice("stop", "delete"), "stop",
                                  doc="stop|delete a removed member's workspaces")
    ratelimit_storage: str = setting("PORTAL_RATELIMIT_STORAGE", values.storage_uri, "memory://",
                                     secret=True, mask=mask_url, doc="Flask-Limiter's storage URI")
    session_idle_minutes: int = setting("PORTAL_SESSION_IDLE_MINUTES", values.whole(1), 480,
                                        doc="a session unused this long ends")
    portal_url: str | None = setting(
        "PORTAL_URL", values.base_url,
        required="PORTAL_URL is required: the portal's public base URL, used in emailed links "
                 "(e.g. https://portal.example.com)",
        doc="the base of every absolute link (emails)")
    import_allow_private: bool = setting("PORTAL_IMPORT_ALLOW_PRIVATE", flag, False,
                                         doc="imports may come from private addresses")
    dev_max_workspaces: int = setting("PORTAL_DEV_MAX_WORKSPACES", values.whole(1), 4,
                                      doc="code-servers `portal dev` runs at once")
    behind_proxy: bool = setting("PORTAL_BEHIND_PROXY", flag, False,
                                 doc="trust one proxy's X-Forwarded-* and X-Request-ID (never in dev)")
    log_format: str = setting("PORTAL_LOG_FORMAT", values.choice("text", "json"), "text",
                              doc="log lines as text or json")
    metrics_enabled: bool = setting("PORTAL_METRICS", flag, True, doc="record metrics and serve /metrics")
    metrics_allow: tuple = setting("PORTAL_METRICS_ALLOW", values.networks,
                                   values.networks(LOOPBACK_NETWORKS, "PORTAL_METRICS_ALLOW"),
                                   doc="networks that may read /metrics without a token")
    metrics_token: str | None = setting("PORTAL_METRICS_TOKEN", values.bearer_token, secret=True,
                                        doc="bearer token that opens /metrics from anywhere")
    prometheus_multiproc_dir: str | None = setting(
        "PROMETHEUS_MULTIPROC_DIR", values.existing_dir,
        doc="prometheus-client's multiprocess directory under gunicorn")
    workspace_sizes: tuple[SizeSpec, ...] = setting("PORTAL_WORKSPACE_SIZES", values.sizes, parse_sizes(None),
                                                    doc="the workspace sizes seeded at first use")
    max_running: int | None = setting("PORTAL_MAX_RUNNING_WORKSPACES", values.whole(1),
                                      doc="workspaces running at once on the host (seed; unset: no limit)")
    max_per_person: int = setting("PORTAL_MAX_RUNNING_PER_PERSON", values.whole(1), 2,
                                  doc="workspaces one person may run at once (seed)")

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def discovery_url(self) -> str:
        """Authentik's issuer ends with a slash; others may not."""
        assert self.oidc_issuer
        return self.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Every declared variable parsed (or its default, or its dev default), then the
        rules between settings; the first problem raises ConfigError naming the variable."""
        env = os.environ if environ is None else environ
        declared = {f.name: declaration(f) for f in fields(cls)}
        raw = {name: spec.raw(env) for name, spec in declared.items()}
        found = {name: spec.default if raw[name] is None else spec.parse(raw[name], spec.env)
                 for name, spec in declared.items()}
        for name, spec in declared.items():
            if raw[name] is None:
                found[name] = spec.when_unset(found["dev"], found)
        _check_together(found)
        return cls(**found)

    @classmethod
    def unset_meanings(cls) -> dict[str, str]:
        """What an empty setting means, said in words on the System page."""
        return {f.name: declaration(f).unset for f in fields(cls) if declaration(f).unset}

    def public_base(self, dev_port: int | None = None) -> str:
        """The base of absolute links (emails): PORTAL_URL, never the request's Host header.
        In dev mode without it, the dev server's own address (`portal dev --port`)."""
        if self.portal_url:
            return self.portal_url
        return f"http://{DEV_PORTAL_HOST}:{dev_port or 5000}"

    def public_view(self) -> dict[str, str]:
        """Every setting with secrets masked: for the admin System page and `doctor`."""
        return {f.name: declaration(f).shown(getattr(self, f.name)) for f in fields(self)}


def _check_together(found: dict) -> None:
    """The rules between settings (a setting's own rules are in its parser)."""
    if not found["dev"] and len(found["secret_key"]) < 16:
        raise ConfigError("PORTAL_SECRET_KEY is too short: use at least 32 random characters")
    if found["oidc_issuer"]:
        for name, value in (("OIDC_CLIENT_ID", found["oidc_client_id"]),
                            ("OIDC_CLIENT_SECRET", found["oidc_client_secret"])):
            if not value:
                raise ConfigError(f"{name} is required when OIDC_ISSUER is set")
    if found["litellm_url"] and not found["litellm_master_key"]:
        raise ConfigError("LITELLM_MASTER_KEY is required when LITELLM_URL is set")


SECRET_FIELDS = frozenset(f.name for f in fields(Settings) if declaration(f).secret)


def names() -> frozenset[str]:
    """Every environment variable the portal reads as a setting (create_app's config keys)."""
    return frozenset(name for f in fields(Settings)
                     for name in (declaration(f).env, *declaration(f).also))


def dev_secret_key(instance: pathlib.Path) -> str:
    """Dev mode's session key: random, generated once into instance/ (never a constant).

    Written to a temporary file and hard-linked into place, so two processes starting at
    once (gunicorn workers) agree on one key: the loser of the link reads the winner's."""
    path = instance / DEV_SECRET_KEY_FILE
    try:
        existing = path.read_text().strip()
    except OSError:
        existing = ""
    if len(existing) >= 32:
        return existing
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    temporary = instance / f".{DEV_SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    try:
        if existing:  # a short or damaged key from elsewhere: replace it
            os.replace(temporary, path)
            return key
        os.link(temporary, path)
        return key
    except FileExistsError:
        return path.read_text().strip()
    finally:
        temporary.unlink(missing_ok=True)
