"""Settings read from the environment inside create_app (DESIGN §4).

`Settings.from_env(environ)` validates every variable and raises `ConfigError`
with one line naming the variable and what is expected. Nothing is read at
import time. Secrets are kept out of `repr()` and `public_view()`.
"""
from __future__ import annotations

import ipaddress
import os
import pathlib
import re
from dataclasses import dataclass, field, fields
from typing import Mapping
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit

from cryptography.fernet import Fernet

from .workspace_params import PROJECT_FOLDER
from .workspaces.size_spec import SizeError, SizeSpec
from .workspaces.size_spec import parse as parse_sizes

ROOT = pathlib.Path(__file__).resolve().parent.parent
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}

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

SECRET_FIELDS = {"secret_key", "encryption_key", "oidc_client_secret", "coder_admin_api_key",
                 "gitea_admin_token", "litellm_master_key", "smtp_url", "database_url",
                 "ratelimit_storage", "queue_url", "metrics_token"}
PREWARM_MODES = ("creator", "members", "off")
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"


class ConfigError(Exception):
    """A setting is missing or malformed. str() is one line naming the variable."""


def _secret(default: str | None = None):
    return field(default=default, repr=False)


@dataclass(frozen=True)
class Settings:
    dev: bool = False
    secret_key: str = _secret("")
    database_url: str = _secret("")
    encryption_key: str = _secret("")
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = _secret(None)
    oidc_admin_group: str = "portal-admins"
    coder_url: str = ""
    coder_admin_api_key: str = _secret("")
    coder_organization: str | None = None
    coder_template: str = "portal-workspace"
    coder_login_type: str = "none"
    coder_wildcard_host: str | None = None
    gitea_url: str = ""
    gitea_admin_token: str = _secret("")
    gitea_auth_source_id: int | None = None
    litellm_url: str | None = None
    litellm_master_key: str | None = _secret(None)
    litellm_models: tuple[str, ...] = ()
    litellm_max_budget: float | None = None
    litellm_rpm_limit: int = 60
    smtp_url: str | None = _secret(None)
    http_connect_timeout: float = 3.0
    http_read_timeout: float = 10.0
    build_timeout: int = 600
    project_folder: str = PROJECT_FOLDER
    reconcile_lease_seconds: int = 30   # PORTAL_RECONCILE_LEASE_SECONDS: a killed pass blocks its row this long
    queue_url: str = _secret("")        # PORTAL_QUEUE_URL: sqlite:///file (default) or redis://host:6379/0
    worker_threads: int = 4             # PORTAL_WORKER_THREADS: jobs run at once per worker process
    prewarm: str = "creator"            # PORTAL_PREWARM: creator|members|off workspaces built in advance
    drift_apply: bool = False           # PORTAL_DRIFT_APPLY: the hourly drift check repairs, not only reports
    worker_stale_seconds: int = 60      # PORTAL_WORKER_STALE_SECONDS: /readyz fails when no worker ran this long
    bind_host: str | None = None
    dev_coder_port: int = DEV_CODER_PORT  # PORTAL_DEV_CODER_PORT: the simulated Coder (PORTAL_DEV=1)
    dev_gitea_port: int = DEV_GITEA_PORT  # PORTAL_DEV_GITEA_PORT: the simulated Gitea (PORTAL_DEV=1)
    invitation_days: int = 14           # PORTAL_INVITATION_DAYS: pending invitations expire
    removal_policy: str = "stop"        # PORTAL_REMOVAL_POLICY: stop|delete a removed member's workspaces
    ratelimit_storage: str = _secret("memory://")  # PORTAL_RATELIMIT_STORAGE: Flask-Limiter storage URI
    session_idle_minutes: int = 480     # PORTAL_SESSION_IDLE_MINUTES: a session unused this long ends
    portal_url: str | None = None       # PORTAL_URL: the base of every absolute link (emails)
    import_allow_private: bool = False  # PORTAL_IMPORT_ALLOW_PRIVATE: imports from private addresses
    dev_max_workspaces: int = 4         # PORTAL_DEV_MAX_WORKSPACES: code-servers `portal dev` runs at once
    behind_proxy: bool = False          # PORTAL_BEHIND_PROXY: trust one proxy's X-Forwarded-*, X-Request-ID
    log_format: str = "text"            # PORTAL_LOG_FORMAT: text|json
    metrics_enabled: bool = True        # PORTAL_METRICS: record metrics and serve /metrics
    metrics_allow: tuple = ()           # PORTAL_METRICS_ALLOW: networks that may read /metrics
    metrics_token: str | None = _secret(None)  # PORTAL_METRICS_TOKEN: bearer token for /metrics
    workspace_sizes: tuple[SizeSpec, ...] = parse_sizes(None)  # PORTAL_WORKSPACE_SIZES (seed)
    max_running: int | None = None      # PORTAL_MAX_RUNNING_WORKSPACES: None = no limit
    max_per_person: int = 2             # PORTAL_MAX_RUNNING_PER_PERSON

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
        env = dict(os.environ if environ is None else environ)
        dev = _bool(env, "PORTAL_DEV", False)
        get = lambda name: (env.get(name) or "").strip() or None  # noqa: E731

        secret_key = get("PORTAL_SECRET_KEY")
        if not secret_key:
            if not dev:
                raise ConfigError("PORTAL_SECRET_KEY is required (a long random string) unless PORTAL_DEV=1")
            secret_key = dev_secret_key(ROOT / "instance")
        elif len(secret_key) < 16 and not dev:
            raise ConfigError("PORTAL_SECRET_KEY is too short: use at least 32 random characters")

        database_url = get("DATABASE_URL") or f"sqlite:///{ROOT / 'instance' / 'portal.sqlite'}"
        if not database_url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ConfigError("DATABASE_URL must be a sqlite:/// or postgresql:// URL")
        if database_url.startswith("postgres:"):
            database_url = "postgresql+psycopg:" + database_url[len("postgres:"):]
        elif database_url.startswith("postgresql:"):
            database_url = "postgresql+psycopg:" + database_url[len("postgresql:"):]

        encryption_key = get("PORTAL_ENCRYPTION_KEY")
        if not encryption_key:
            if not dev:
                raise ConfigError("PORTAL_ENCRYPTION_KEY is required: a Fernet key "
                                  "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')")
            encryption_key = DEV_ENCRYPTION_KEY
        try:
            Fernet(encryption_key.encode())
        except (ValueError, TypeError):
            raise ConfigError("PORTAL_ENCRYPTION_KEY is malformed: expected a url-safe base64 Fernet key of 32 bytes") from None

        issuer = get("OIDC_ISSUER")
        client_id, client_secret = get("OIDC_CLIENT_ID"), get("OIDC_CLIENT_SECRET")
        if issuer:
            _url(issuer, "OIDC_ISSUER")
            if not client_id:
                raise ConfigError("OIDC_CLIENT_ID is required when OIDC_ISSUER is set")
            if not client_secret:
                raise ConfigError("OIDC_CLIENT_SECRET is required when OIDC_ISSUER is set")
        elif not dev:
            raise ConfigError("OIDC_ISSUER is required (e.g. https://auth.example.com/application/o/portal/) unless PORTAL_DEV=1")

        dev_coder_port = _port(env, "PORTAL_DEV_CODER_PORT", DEV_CODER_PORT)
        dev_gitea_port = _port(env, "PORTAL_DEV_GITEA_PORT", DEV_GITEA_PORT)
        coder_url = get("CODER_URL") or (f"http://127.0.0.1:{dev_coder_port}" if dev else None)
        gitea_url = get("GITEA_URL") or (f"http://127.0.0.1:{dev_gitea_port}" if dev else None)
        if not coder_url:
            raise ConfigError("CODER_URL is required (e.g. https://coder.example.com)")
        if not gitea_url:
            raise ConfigError("GITEA_URL is required (e.g. https://git.example.com)")
        _url(coder_url, "CODER_URL")
        _url(gitea_url, "GITEA_URL")
        coder_key = get("CODER_ADMIN_API_KEY") or (DEV_CODER_TOKEN if dev else None)
        gitea_token = get("GITEA_ADMIN_TOKEN") or (DEV_GITEA_TOKEN if dev else None)
        if not coder_key:
            raise ConfigError("CODER_ADMIN_API_KEY is required: an owner's API token for the portal")
        if not gitea_token:
            raise ConfigError("GITEA_ADMIN_TOKEN is required: an admin token with write:admin,write:organization,write:repository,write:user")

        login_type = get("CODER_LOGIN_TYPE") or "none"
        if login_type not in {"none", "oidc", "password", "github"}:
            raise ConfigError("CODER_LOGIN_TYPE must be one of none, oidc, password, github")

        litellm_url = get("LITELLM_URL")
        if litellm_url:
            _url(litellm_url, "LITELLM_URL")
            if not get("LITELLM_MASTER_KEY") and not (dev and litellm_url == DEV_LITELLM_URL):
                raise ConfigError("LITELLM_MASTER_KEY is required when LITELLM_URL is set")
        litellm_key = get("LITELLM_MASTER_KEY") or (
            DEV_LITELLM_KEY if dev and litellm_url == DEV_LITELLM_URL else None)
        litellm_models = _models(get("LITELLM_MODELS"))
        litellm_budget = _budget(get("LITELLM_MAX_BUDGET"))
        smtp_url = get("SMTP_URL")
        if smtp_url and urlsplit(smtp_url).scheme not in {"smtp", "smtps", "smtp+starttls"}:
            raise ConfigError("SMTP_URL must look like smtp://user:pass@host:25 (or smtps://, smtp+starttls://)")
        removal_policy = (get("PORTAL_REMOVAL_POLICY") or "stop").lower()
        if removal_policy not in {"stop", "delete"}:
            raise ConfigError("PORTAL_REMOVAL_POLICY must be stop or delete")
        ratelimit_storage = get("PORTAL_RATELIMIT_STORAGE") or "memory://"
        if not re.match(r"^[a-z][a-z0-9+.-]*://", ratelimit_storage):
            raise ConfigError("PORTAL_RATELIMIT_STORAGE must be a storage URI such as memory:// "
                              "or redis://host:6379")

        portal_url = get("PORTAL_URL")
        if portal_url:
            _url(portal_url, "PORTAL_URL")
            parts = urlsplit(portal_url)
            if parts.query or parts.fragment or parts.username:
                raise ConfigError("PORTAL_URL must be the portal's base URL, like https://portal.example.com")
            portal_url = portal_url.rstrip("/")
        elif not dev:
            raise ConfigError("PORTAL_URL is required: the portal's public base URL, used in "
                              "emailed links (e.g. https://portal.example.com)")
        log_format = (get("PORTAL_LOG_FORMAT") or "text").lower()
        if log_format not in {"text", "json"}:
            raise ConfigError("PORTAL_LOG_FORMAT must be text or json")
        metrics_token = get("PORTAL_METRICS_TOKEN")
        if metrics_token and (len(metrics_token) < 16 or not metrics_token.isprintable()
                              or " " in metrics_token):
            raise ConfigError("PORTAL_METRICS_TOKEN must be at least 16 printable characters "
                              "without spaces")
        multiproc = get("PROMETHEUS_MULTIPROC_DIR")
        if multiproc and not os.path.isdir(multiproc):
            raise ConfigError("PROMETHEUS_MULTIPROC_DIR must name an existing directory "
                              "(gunicorn_conf.py creates it)")
        try:
            sizes = parse_sizes(get("PORTAL_WORKSPACE_SIZES"))
        except SizeError as exc:
            raise ConfigError(f"PORTAL_WORKSPACE_SIZES: {exc}") from None

        return cls(
            dev=dev,
            secret_key=secret_key,
            database_url=database_url,
            encryption_key=encryption_key,
            oidc_issuer=issuer,
            oidc_client_id=client_id,
            oidc_client_secret=client_secret,
            oidc_admin_group=get("OIDC_ADMIN_GROUP") or "portal-admins",
            coder_url=coder_url.rstrip("/"),
            coder_admin_api_key=coder_key,
            coder_organization=get("CODER_ORGANIZATION"),
            coder_template=get("CODER_TEMPLATE") or "portal-workspace",
            coder_login_type=login_type,
            coder_wildcard_host=get("CODER_WILDCARD_ACCESS_URL"),
            gitea_url=gitea_url.rstrip("/"),
            gitea_admin_token=gitea_token,
            gitea_auth_source_id=_int(env, "GITEA_AUTH_SOURCE_ID", None, minimum=1),
            litellm_url=litellm_url,
            litellm_master_key=litellm_key,
            litellm_models=litellm_models,
            litellm_max_budget=litellm_budget,
            litellm_rpm_limit=_int(env, "LITELLM_RPM_LIMIT", 60, minimum=1),
            smtp_url=smtp_url,
            http_connect_timeout=_float(env, "PORTAL_HTTP_CONNECT_TIMEOUT", 3.0),
            http_read_timeout=_float(env, "PORTAL_HTTP_READ_TIMEOUT", 10.0),
            build_timeout=_int(env, "PORTAL_BUILD_TIMEOUT", 600, minimum=10),
            project_folder=_folder(env, "PORTAL_PROJECT_FOLDER"),
            reconcile_lease_seconds=_int(env, "PORTAL_RECONCILE_LEASE_SECONDS", 30, minimum=1),
            queue_url=_queue_url(get("PORTAL_QUEUE_URL")),
            worker_threads=_int(env, "PORTAL_WORKER_THREADS", 4, minimum=1),
            prewarm=_choice(get("PORTAL_PREWARM"), "PORTAL_PREWARM", PREWARM_MODES),
            drift_apply=_bool(env, "PORTAL_DRIFT_APPLY", False),
            worker_stale_seconds=_int(env, "PORTAL_WORKER_STALE_SECONDS", 60, minimum=5),
            bind_host=get("PORTAL_BIND_HOST") or get("FLASK_RUN_HOST"),
            dev_coder_port=dev_coder_port,
            dev_gitea_port=dev_gitea_port,
            invitation_days=_int(env, "PORTAL_INVITATION_DAYS", 14, minimum=1),
            removal_policy=removal_policy,
            ratelimit_storage=ratelimit_storage,
            session_idle_minutes=_int(env, "PORTAL_SESSION_IDLE_MINUTES", 480, minimum=1),
            portal_url=portal_url,
            import_allow_private=_bool(env, "PORTAL_IMPORT_ALLOW_PRIVATE", False),
            dev_max_workspaces=_int(env, "PORTAL_DEV_MAX_WORKSPACES", 4, minimum=1),
            behind_proxy=_bool(env, "PORTAL_BEHIND_PROXY", False),
            log_format=log_format,
            metrics_enabled=_bool(env, "PORTAL_METRICS", True),
            metrics_allow=_networks(get("PORTAL_METRICS_ALLOW") or LOOPBACK_NETWORKS,
                                    "PORTAL_METRICS_ALLOW"),
            metrics_token=metrics_token,
            workspace_sizes=sizes,
            max_running=_int(env, "PORTAL_MAX_RUNNING_WORKSPACES", None, minimum=1),
            max_per_person=_int(env, "PORTAL_MAX_RUNNING_PER_PERSON", 2, minimum=1),
        )

    def public_base(self, dev_port: int | None = None) -> str:
        """The base of absolute links (emails): PORTAL_URL, never the request's Host header.
        In dev mode without it, the dev server's own address (`portal dev --port`)."""
        if self.portal_url:
            return self.portal_url
        return f"http://{DEV_PORTAL_HOST}:{dev_port or 5000}"

    def public_view(self) -> dict[str, str]:
        """Every setting with secrets masked: for the admin System page and `doctor`."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value:
                value = (mask_url(value) if f.name in {"database_url", "smtp_url", "ratelimit_storage",
                                                        "queue_url"}
                         else "••••••")
            if isinstance(value, (tuple, list)):
                value = ", ".join(map(str, value))
            out[f.name] = "" if value is None else str(value)
        return out


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise ConfigError(f"{name} must be 1 or 0 (got something else)")


def _int(env: Mapping[str, str], name: str, default, minimum: int = 0):
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default, minimum=1)
    if value > 65535:
        raise ConfigError(f"{name} must be a TCP port (1-65535)")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds") from None
    if not 0 < value <= 300:
        raise ConfigError(f"{name} must be between 0 and 300 seconds")
    return value


def _queue_url(raw: str | None) -> str:
    """PORTAL_QUEUE_URL: the job queue's broker (portal/workspaces/queue.py)."""
    url = raw or f"sqlite:///{ROOT / 'instance' / 'portal-queue.sqlite'}"
    scheme = urlsplit(url).scheme
    if scheme == "sqlite" and url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return url
    if scheme in {"redis", "rediss"} and urlsplit(url).hostname:
        return url
    raise ConfigError("PORTAL_QUEUE_URL must be sqlite:///path/to/queue.sqlite or "
                      "redis://host:6379/0")


def _choice(raw: str | None, name: str, allowed: tuple[str, ...]) -> str:
    value = (raw or allowed[0]).lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}")
    return value


_MODEL_NAME = re.compile(r"^[A-Za-z0-9][\w.:/@+-]{0,127}$")


def _models(raw: str | None) -> tuple[str, ...]:
    """LITELLM_MODELS: a comma list of gateway model names (empty: every model)."""
    names = tuple(dict.fromkeys(n.strip() for n in (raw or "").split(",") if n.strip()))
    for name in names:
        if not _MODEL_NAME.match(name):
            raise ConfigError("LITELLM_MODELS must be a comma-separated list of model names "
                              "(letters, digits and . _ - : / @ +)")
    return names


def _budget(raw: str | None) -> float | None:
    """LITELLM_MAX_BUDGET: a positive amount (the gateway's currency, usually USD) or unset."""
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError("LITELLM_MAX_BUDGET must be a number (e.g. 25 or 12.5)") from None
    if not 0 < value < 1_000_000 or value != value:
        raise ConfigError("LITELLM_MAX_BUDGET must be a positive amount below 1000000")
    return value


def _folder(env: Mapping[str, str], name: str) -> str:
    """The folder code-server opens (`?folder=`): where the template clones the repository."""
    raw = (env.get(name) or "").strip() or PROJECT_FOLDER
    if not raw.startswith("/") or any(ord(c) < 32 for c in raw) or len(raw) > 200:
        raise ConfigError(f"{name} must be an absolute path in the workspace (e.g. {PROJECT_FOLDER})")
    return raw


def _networks(raw: str, name: str) -> tuple:
    """A comma list of addresses or CIDR networks (IPv4 or IPv6)."""
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False)
                     for part in raw.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a comma-separated list of addresses or CIDR "
                          f"networks (e.g. 127.0.0.1/32,10.0.0.0/8)") from None


def _url(value: str, name: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL (got a value without scheme or host)")


SECRET_PARAMS = {"password", "pass", "passwd", "pwd", "secret", "token", "key", "api_key",
                 "access_token", "sslpassword", "auth"}


def mask_url(value: str) -> str:
    """The URL with every password hidden: the userinfo's, and `password=`-like parameters."""
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return "••••••"
    netloc = parts.netloc
    if password is not None:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:••••••@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "••••••" if k.lower() in SECRET_PARAMS and v else v)
                           for k, v in pairs], safe="•:/@")
    return parts._replace(netloc=netloc, query=query).geturl()


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
