"""`flask portal doctor`: is this deployment wired up right? One row per check.

`run_checks(app) -> list[Check]` does the work and is reused by the admin
System page (templates/admin/_doctor.html); `doctor_command` prints the rows as
one table and exits 0 only when every check passed.

Checked: the settings (already validated by Settings.from_env; the effective
non-secret values are shown), the database (reachable, migrations at the
head of migrations/), Coder (/healthz, version, the admin token belongs to an
owner and is not about to expire (portal/ops/coder_token_expiry.py), the template exists and its active version declares the parameters the
portal sends), Gitea (/api/healthz, version, the admin token is a site admin
and, where Gitea lets us see it, has the scopes the portal needs) and the OIDC
discovery document when OIDC_ISSUER is set.

Every outbound call uses short timeouts and few retries; every typed error
becomes a failed row with a one-line fix hint. No secret ever reaches a row:
rows are scrubbed of every secret setting before they are returned.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Iterable
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from portal.ops import coder_token_expiry
from portal.clients.coder import CoderClient
from portal.clients.gitea import REQUIRED_ADMIN_SCOPES, GiteaClient
from portal.clients.http import (BadRequest, BadResponse, Forbidden, NotFound, RateLimited,
                           ServiceClient, ServiceError, ServiceUnavailable, Unauthorized)
from portal.config import Settings
from portal.workspaces.workspace_params import PARAMETERS

CONNECT_TIMEOUT = 2.0      # seconds, at most (the settings may ask for less)
READ_TIMEOUT = 5.0
RETRIES = 1                # one retry of idempotent calls: a blip is not a failure
# The rich parameters provisioning sends on every workspace create (provisioning.py's
# workspace_parameters); Coder answers 400 when the template does not declare one.
TEMPLATE_PARAMETERS = ("git_repo", "gitea_token")
SCOPES = ",".join(REQUIRED_ADMIN_SCOPES)
MASK = "••••••"


@dataclass(frozen=True)
class Check:
    """One row: what was checked, whether it passed, what was seen, how to fix it.

    A warning passes (exit code 0) but says what to do soon."""

    name: str
    ok: bool
    detail: str = ""
    hint: str = ""
    warn: bool = False

    @property
    def status(self) -> str:
        return ("warn" if self.warn else "ok") if self.ok else "fail"

    @property
    def note(self) -> str:
        """The row's third column: the fix hint when there is one, else the detail."""
        return self.hint or self.detail


def _ok(name: str, detail: str = "", hint: str = "") -> Check:
    return Check(name, True, detail, hint)


def _fail(name: str, hint: str, detail: str = "") -> Check:
    return Check(name, False, detail, hint)


# -- entry point ---------------------------------------------------------------------------
def run_checks(app: Flask) -> list[Check]:
    """Run every check against `app`'s settings; the rows in a stable order."""
    settings: Settings = app.config["SETTINGS"]
    coder, gitea = _clients(settings)
    rows: list[Check] = [settings_row(settings)]
    with app.app_context():
        rows += _database_rows(app)
        rows.append(_worker_row(settings, rows[-1].ok))
    rows += _coder_rows(settings, coder)
    rows += _gitea_rows(settings, gitea)
    rows.append(_oidc_row(settings))
    gitea.http.session.close()
    return [_scrub(row, _secrets(settings)) for row in rows]


def format_table(checks: Iterable[Check]) -> str:
    """The rows as one plain-text table: check, ok|fail, hint (or detail)."""
    rows = [("CHECK", "RESULT", "HINT / DETAIL")]
    rows += [(c.name, c.status, " ".join(c.note.split())) for c in checks]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}".rstrip() for r in rows)


@click.command("doctor")
@with_appcontext
def doctor_command() -> None:
    """Check settings, database, Coder, Gitea and OIDC; exit 1 if anything fails."""
    checks = run_checks(current_app._get_current_object())
    click.echo(format_table(checks))
    failed = [c for c in checks if not c.ok]
    raise SystemExit(1 if failed else 0)


# -- plumbing ------------------------------------------------------------------------------
def _timeouts(settings: Settings) -> dict[str, float]:
    return {"connect_timeout": min(settings.http_connect_timeout, CONNECT_TIMEOUT),
            "read_timeout": min(settings.http_read_timeout, READ_TIMEOUT)}


def _clients(settings: Settings) -> tuple[CoderClient, GiteaClient]:
    """Clients like services.build's, but with short timeouts and a single retry."""
    timeouts = _timeouts(settings)
    coder = CoderClient(settings.coder_url, settings.coder_admin_api_key,
                        login_type=settings.coder_login_type,
                        organization=settings.coder_organization,
                        wildcard_host=settings.coder_wildcard_host, retries=RETRIES,
                        backoff=0.1, max_retry_after=1.0, **timeouts)
    gitea = GiteaClient(settings.gitea_url, settings.gitea_admin_token,
                        auth_source_id=settings.gitea_auth_source_id, retries=RETRIES, **timeouts)
    return coder, gitea


def _secrets(settings: Settings) -> list[str]:
    """Every secret value that must never appear in a row (longest first)."""
    values = [settings.secret_key, settings.encryption_key, settings.oidc_client_secret,
              settings.coder_admin_api_key, settings.gitea_admin_token,
              settings.litellm_master_key]
    for url in (settings.database_url, settings.smtp_url):
        password = urlsplit(url).password if url else None
        values.append(password)
    return sorted({v for v in values if v and len(v) >= 8}, key=len, reverse=True)


def _scrub(row: Check, secrets: list[str]) -> Check:
    def clean(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, MASK)
        return text
    return dataclasses.replace(row, name=clean(row.name), detail=clean(row.detail),
                               hint=clean(row.hint))


def _guard(name: str, describe: Callable[[ServiceError], str], run: Callable[[], Check]) -> Check:
    """run() -> Check; a ServiceError becomes a failed row whose hint describe() writes."""
    try:
        return run()
    except ServiceError as exc:
        return _fail(name, describe(exc), detail=exc.message)


def _common(service: str, url: str, setting: str, exc: ServiceError) -> str | None:
    """Hints shared by every call to one service, or None when the caller must decide."""
    if isinstance(exc, RateLimited):
        return f"{service} rate-limited the portal (429): wait a minute and run doctor again"
    if isinstance(exc, ServiceUnavailable):
        if exc.status is None:
            return (f"{service} is not reachable at {url} ({exc.message}): "
                    f"start it or fix {setting}")
        return (f"{service} at {url} answers HTTP {exc.status}: check that it is running "
                f"and healthy (its logs), or fix {setting}")
    if isinstance(exc, NotFound):
        return (f"{service} at {url} has no {exc.path} (404): is {setting} the address of "
                f"{service} itself (not a proxy or another site)?")
    if isinstance(exc, BadResponse):
        return (f"{service} at {url} gave an unexpected reply ({exc.message}): "
                f"is {setting} the address of {service} itself (not a proxy or login page)?")
    return None


def _skipped(names: Iterable[str], service: str) -> list[Check]:
    return [_fail(n, f"skipped: {service} did not answer its health check (see above)")
            for n in names]


# -- settings and database ----------------------------------------------------------------
def settings_row(settings: Settings) -> Check:
    view = settings.public_view()
    db_kind = settings.database_url.split(":", 1)[0].split("+", 1)[0]
    parts = [
        f"dev={'on' if settings.dev else 'off'}",
        f"database={db_kind}",
        f"coder={view['coder_url']} template={view['coder_template']} "
        f"org={view['coder_organization'] or '(default)'} login={view['coder_login_type']}",
        f"gitea={view['gitea_url']} auth_source={view['gitea_auth_source_id'] or '(none)'}",
        f"oidc={view['oidc_issuer'] or '(off: dev sign-in)'}",
        f"timeouts={view['http_connect_timeout']}s/{view['http_read_timeout']}s",
        f"portal_url={settings.public_base()}",
    ]
    if not settings.dev and not settings.public_base().startswith("https://"):
        return _fail("settings", "PORTAL_URL must be the portal's https:// address: emailed links "
                                 "use it and the session cookie is Secure.", "; ".join(parts))
    return _ok("settings", "; ".join(parts))


def _database_rows(app: Flask) -> list[Check]:
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from portal.extensions import db

    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:  # noqa: BLE001 - any driver error means "not reachable"
        return [_fail("database", f"the database is not reachable ({type(exc).__name__}): "
                                  "start it or fix DATABASE_URL"),
                _fail("database migrations", "skipped: the database is not reachable")]
    reachable = _ok("database", f"{db.engine.dialect.name} reachable")

    migrate = app.extensions["migrate"]
    script = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))
    heads = set(script.get_heads())
    known = {rev.revision for rev in script.walk_revisions()}
    if current == heads:
        return [reachable, _ok("database migrations", f"at head {', '.join(sorted(heads))}")]
    if not current:
        hint = ("the database has no migrations applied: run `flask db upgrade` "
                f"(head {', '.join(sorted(heads))})")
    elif current - known:
        hint = (f"the database is at revision {', '.join(sorted(current - known))}, unknown to "
                "this code: deploy the matching portal version")
    else:
        hint = (f"migrations pending: the database is at {', '.join(sorted(current))}, the code "
                f"at {', '.join(sorted(heads))}: run `flask db upgrade`")
    return [reachable, _fail("database migrations", hint)]


def _worker_row(settings: Settings, database_ok: bool) -> Check:
    """The reconciler tier's heartbeat (portal/workspaces/beats.py)."""
    from portal.workspaces.beats import seconds_since, worker_problem
    if not database_ok:
        return _fail("worker", "skipped: the database is not ready")
    try:
        problem = worker_problem(settings.worker_stale_seconds)
        since = seconds_since("tick")
    except Exception as exc:  # noqa: BLE001 - an old schema: the migrations row says why
        return _fail("worker", f"cannot read the heartbeat ({type(exc).__name__})")
    if problem:
        return _fail("worker", problem)
    return _ok("worker", f"last tick {since:.0f} s ago")


# -- Coder ---------------------------------------------------------------------------------
def _coder_rows(settings: Settings, coder: CoderClient) -> list[Check]:
    url = settings.coder_url

    def common(exc: ServiceError) -> str:
        return _common("Coder", url, "CODER_URL", exc) or f"Coder answered: {exc.message}"

    def health() -> Check:
        body = coder.healthz()
        return _ok("coder health", f"{url}/healthz: {body[:40] or 'HTTP 200'}")

    rows = [_guard("coder health", common, health)]
    if not rows[0].ok:  # down, or not Coder at all: every other call would fail the same way
        return rows + _skipped(("coder version", "coder admin token", "coder token expiry",
                                "coder template"), "Coder")

    def version() -> Check:
        return _ok("coder version", coder.buildinfo().version)

    def token_hint(exc: ServiceError) -> str:
        if isinstance(exc, Unauthorized):
            return ("Coder refused CODER_ADMIN_API_KEY (401): create a token for an owner "
                    "(`coder tokens create --lifetime 720h`, at most "
                    "CODER_MAX_ADMIN_TOKEN_LIFETIME) and set CODER_ADMIN_API_KEY")
        if isinstance(exc, Forbidden):
            return ("Coder forbids CODER_ADMIN_API_KEY to read its own user (403): use a "
                    "token of an owner account")
        return common(exc)

    def owner() -> Check:
        me = coder.get_user("me")
        if me is None:
            return _fail("coder admin token", "Coder does not know the user of "
                         "CODER_ADMIN_API_KEY: create a token for an owner account")
        roles = me.roles
        if "owner" not in roles:
            return _fail("coder admin token",
                         f"the CODER_ADMIN_API_KEY user '{me.username}' is not an owner "
                         f"(site roles: {', '.join(r for r in roles if r) or 'none'}): "
                         "use a token of an owner (`coder users edit-roles` or another account)")
        return _ok("coder admin token", f"user '{me.username}' is an owner")

    def expiry() -> Check:
        found = coder_token_expiry.check(coder, settings.coder_admin_api_key)
        return Check("coder token expiry", found.ok, found.detail, found.hint, warn=found.warn)

    rows += [_guard("coder version", common, version),
             _guard("coder admin token", token_hint, owner),
             _guard("coder token expiry", token_hint, expiry),
             _template_row(settings, coder, token_hint)]
    return rows


def _template_row(settings: Settings, coder: CoderClient,
                  token_hint: Callable[[ServiceError], str]) -> Check:
    name = settings.coder_template
    org = settings.coder_organization

    def describe(exc: ServiceError) -> str:
        if isinstance(exc, NotFound) and exc.path == "/organizations" and exc.status == 404 \
                and not exc.message.startswith("HTTP"):
            if not org:
                return ("Coder has no default organization: set CODER_ORGANIZATION to the "
                        "name or id of the organization the portal should use")
            return (f"Coder has no organization '{org}': fix CODER_ORGANIZATION "
                    "(a name or id; unset means the default organization)")
        if isinstance(exc, NotFound) or (isinstance(exc, BadRequest)
                                         and "organization" in exc.message.lower()):
            return (f"Coder has no template '{name}' in organization {org or '(default)'}: "
                    f"push it (`coder templates push {name}` from workspace-image/template) "
                    "or fix CODER_TEMPLATE")
        return token_hint(exc)

    def run() -> Check:
        template = coder.template_by_name(None, name)
        params = coder.rich_parameters(template.active_version_id)
        declared = {p.name for p in params}
        missing = [p for p in TEMPLATE_PARAMETERS if p not in declared]
        if missing:
            return _fail("coder template",
                         f"template '{name}' (active version) declares no "
                         f"{', '.join(missing)} parameter: update the template to declare it "
                         "(see portal/workspaces/workspace_params.py) and push a new version")
        unset = [p.name for p in params if p.required and p.name not in PARAMETERS]
        if unset:
            return _fail("coder template",
                         f"template '{name}' requires parameter(s) {', '.join(unset)} that the "
                         "portal never sets: give them defaults in the template and push it")
        return _ok("coder template", f"'{name}' declares {', '.join(TEMPLATE_PARAMETERS)}")

    return _guard("coder template", describe, run)


# -- Gitea ---------------------------------------------------------------------------------
def _gitea_rows(settings: Settings, gitea: GiteaClient) -> list[Check]:
    url = settings.gitea_url
    refused = ("Gitea refused GITEA_ADMIN_TOKEN (401): create a new token of a site admin "
               f"with scopes {SCOPES} and set GITEA_ADMIN_TOKEN")

    def common(exc: ServiceError) -> str:
        return _common("Gitea", url, "GITEA_URL", exc) or f"Gitea answered: {exc.message}"

    def token_hint(exc: ServiceError) -> str:
        if isinstance(exc, Unauthorized):
            return refused
        if isinstance(exc, Forbidden):
            return (f"Gitea forbids GITEA_ADMIN_TOKEN (403: {exc.message}): create a new "
                    f"admin token with scopes {SCOPES}")
        return common(exc)

    def health() -> Check:
        result = gitea.health()
        if not result.ok:
            return _fail("gitea health", f"Gitea at {url} reports itself unhealthy "
                         f"({result.status}): check its database and logs")
        return _ok("gitea health", f"{url}/api/healthz: {result.status}")

    try:
        rows = [health()]
    except ServiceError as exc:  # down, or not Gitea: every other call would fail the same way
        rows = [_fail("gitea health", common(exc), detail=exc.message)]
        return rows + _skipped(("gitea version", "gitea admin token", "gitea token scopes"),
                               "Gitea")
    # An unhealthy Gitea (424) still answers: the other checks may tell more.

    def version() -> Check:
        return _ok("gitea version", gitea.version())

    def admin() -> Check:
        me = gitea.whoami()
        if not me.is_admin:
            return _fail("gitea admin token", f"the GITEA_ADMIN_TOKEN user '{me.login}' is not "
                         f"a site admin: make it one or use an admin's token (scopes {SCOPES})")
        return _ok("gitea admin token", f"user '{me.login}' is a site admin")

    rows += [_guard("gitea version", common, version),
             _guard("gitea admin token", token_hint, admin)]
    if not rows[-1].ok:
        rows.append(_fail("gitea token scopes", "skipped: the admin token is not usable"))
        return rows

    def scopes() -> Check:
        found = gitea.admin_token_scopes()
        if found is None:
            return _ok("gitea token scopes", "not discoverable",
                       hint=("could not verify: Gitea does not list this token among its "
                             f"user's tokens; make sure it has {SCOPES}"))
        missing = gitea.missing_admin_scopes(found)
        if missing:
            return _fail("gitea token scopes",
                         f"GITEA_ADMIN_TOKEN lacks {', '.join(missing)} (has "
                         f"{', '.join(found) or 'none'}): create a new admin token with "
                         f"scopes {SCOPES}")
        return _ok("gitea token scopes", ", ".join(found))

    def scope_hint(exc: ServiceError) -> str:
        if isinstance(exc, Forbidden):
            return (f"GITEA_ADMIN_TOKEN may not list its user's tokens (403): it lacks "
                    f"scopes; create a new admin token with {SCOPES}")
        return token_hint(exc)

    rows.append(_guard("gitea token scopes", scope_hint, scopes))
    return rows


# -- OIDC ----------------------------------------------------------------------------------
def _oidc_row(settings: Settings) -> Check:
    name = "oidc discovery"
    if not settings.oidc_enabled:
        return _ok(name, "OIDC_ISSUER not set: dev sign-in only (PORTAL_DEV=1)")
    issuer, url = settings.oidc_issuer, settings.discovery_url
    client = ServiceClient("oidc", url, retries=RETRIES, backoff=0.1, **_timeouts(settings))

    def describe(exc: ServiceError) -> str:
        if isinstance(exc, NotFound):
            return (f"no discovery document at {url} (404): fix OIDC_ISSUER (Authentik: "
                    "https://<host>/application/o/<slug>/)")
        return (_common("The OIDC provider", issuer, "OIDC_ISSUER", exc)
                or f"the discovery document at {url} failed: {exc.message}: fix OIDC_ISSUER")

    def run() -> Check:
        doc = client.json("GET", "", expect=dict)
        if doc.get("issuer") != issuer:
            return _fail(name, f"the provider's issuer is '{doc.get('issuer')}', not "
                         f"OIDC_ISSUER '{issuer}': set OIDC_ISSUER to exactly the issuer "
                         "(mind the trailing slash)")
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")
                   if not isinstance(doc.get(k), str) or not doc.get(k)]
        if missing:
            return _fail(name, f"the discovery document lacks {', '.join(missing)}: "
                         "is OIDC_ISSUER an OpenID Connect provider (not an OAuth2-only one)?")
        methods = doc.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            return _fail(name, f"the provider does not support PKCE S256 (advertises "
                         f"{', '.join(map(str, methods)) or 'none'}): enable PKCE S256 for the "
                         "portal's client")
        pkce = "PKCE S256" if isinstance(methods, list) else "PKCE methods not advertised"
        return _ok(name, f"{issuer}: endpoints present, {pkce}")

    try:
        return _guard(name, describe, run)
    finally:
        client.session.close()
