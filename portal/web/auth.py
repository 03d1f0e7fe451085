"""Sign-in and sign-out: OIDC (Authentik) through authlib, and the dev sign-in.

OIDC uses discovery, PKCE S256, state and nonce (authlib checks both, plus the
ID token's issuer and audience). `next` only ever leads to a path of this
portal. The dev sign-in exists only with PORTAL_DEV=1 on a loopback address.
"""
from __future__ import annotations

import ipaddress
import logging
from functools import wraps
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import (Blueprint, Flask, abort, current_app, flash, redirect, render_template, request,
                   session, url_for)
from flask_login import current_user, login_required, login_user, logout_user
from joserfc.errors import JoseError

from portal import audit
from portal.web import sessions
from portal.extensions import db, login_manager
from portal.web.htmx import hx_redirect
from portal.models import User, utcnow
from portal.observability import context as observability_context
from portal.observability.outbound import TimedOAuth2Session
from portal.people.users import SignInRefused, upsert_from_claims

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, url_prefix="/auth")

NEXT_KEY = "portal_next"
ID_TOKEN_KEY = "portal_id_token"


# -- setup ------------------------------------------------------------------------------
def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the sign-in page says what to do; no scolding on a first visit
    login_manager.login_message_category = "info"
    if settings.oidc_enabled:
        oauth = OAuth(app)
        oauth.register(
            "oidc",
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            server_metadata_url=settings.discovery_url,
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256",
                           "default_timeout": (settings.http_connect_timeout,
                                               settings.http_read_timeout)},
        )
        oauth.oidc.client_cls = TimedOAuth2Session  # every call to the provider is measured
        app.extensions["portal.oidc"] = oauth.oidc
    app.register_blueprint(bp)
    app.before_request(recheck_claims)


def oidc_client():
    return current_app.extensions.get("portal.oidc")


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active:
        observability_context.bind_person(None)
        return None
    problem = sessions.problem(user)
    if problem:
        sessions.refuse(problem)
        observability_context.bind_person(None)
        return None
    observability_context.bind_person(user.id)  # log lines name the id only
    return user


def recheck_claims() -> None:
    """At most every sessions.RECHECK, ask the provider again whether this person is an admin."""
    client = oidc_client()
    if client is None or not sessions.recheck_due() or not current_user.is_authenticated:
        return
    settings = current_app.config["SETTINGS"]
    problem = sessions.recheck(current_app.extensions["portal.services"], client,
                               current_user._get_current_object(), settings.oidc_admin_group)
    if problem:
        logout_user()
        sessions.refuse(problem)


@login_manager.unauthorized_handler
def unauthorized():
    target = url_for("auth.login", next=safe_next(request.full_path))
    if getattr(request, "htmx", None):
        resp = hx_redirect(target)
        resp.status_code = 401
        return resp
    flash(login_manager.login_message, "info")
    return redirect(target)


# -- helpers ----------------------------------------------------------------------------
def safe_next(value: str | None) -> str | None:
    """A path of this portal, or None. Refuses schemes, hosts, '//' and backslashes."""
    if not value or len(value) > 2000:
        return None
    value = value.strip()
    if value.endswith("?"):
        value = value[:-1]
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(c) < 32 for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    if parts.path.startswith("/auth/"):
        return None
    return value


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(host: str) -> str | None:
    return urlsplit("//" + host).hostname


def dev_signin_allowed() -> bool:
    """Only with PORTAL_DEV=1, bound to loopback, and reached from loopback by a loopback name."""
    settings = current_app.config["SETTINGS"]
    if not settings.dev:
        return False
    if settings.bind_host and not is_loopback(settings.bind_host):
        return False
    server_name = request.environ.get("SERVER_NAME", "")
    try:
        if not ipaddress.ip_address(server_name.strip("[]")).is_loopback:
            return False  # the dev server reports the address it is bound to (0.0.0.0 refused)
    except ValueError:
        pass
    return is_loopback(request.remote_addr) and is_loopback(_hostname(request.host))


def _token_problem(exc: JoseError) -> str:
    text = f"{exc.error} {exc.description or ''}"
    for needles, problem in ((("'aud'", "'azp'", "aud", "azp"), "it was issued for another application (audience)"),
                             (("nonce",), "it does not belong to this sign-in attempt (nonce)"),
                             (("'iss'", "iss"), "it comes from an unexpected issuer"),
                             (("exp", "iat", "expired"), "it has expired; check the clocks of both servers")):
        if any(n in text for n in needles):
            return problem
    return "its signature or claims could not be verified"


def _finish_sign_in(claims: dict, via: str, token: dict | None = None):
    settings = current_app.config["SETTINGS"]
    try:
        user, created = upsert_from_claims(claims, settings.oidc_admin_group)
    except SignInRefused as exc:
        db.session.rollback()
        return render_template("auth/error.html", title="Sign-in refused", message=str(exc)), 403
    user.last_seen_at = utcnow()
    services = current_app.extensions["portal.services"]
    if token is not None:
        sessions.keep_access_token(services, user, token)
    audit.record(user, "user.sign_in", user.email, via=via, created=created)
    db.session.commit()
    target = session.pop(NEXT_KEY, None) or url_for("dashboard.index")
    id_token = session.get(ID_TOKEN_KEY)
    sessions.begin(user, via)  # a new session (and CSRF token): nothing of the anonymous one
    if id_token:
        session[ID_TOKEN_KEY] = id_token
    try:  # pending invitations (portal/groups/invitations.py); never blocks a sign-in
        from portal.groups.invitations import apply_at_sign_in
        for group in apply_at_sign_in(services, user, claims):
            flash(f"You joined “{group.name}”.", "success")
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.exception("applying invitations at sign-in failed")
    login_user(user)
    return redirect(target)


# -- routes -----------------------------------------------------------------------------
@bp.get("/login")
def login():
    nxt = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(nxt or url_for("dashboard.index"))
    settings = current_app.config["SETTINGS"]
    if nxt:
        session[NEXT_KEY] = nxt
    if settings.oidc_enabled and not settings.dev:
        return redirect(url_for("auth.oidc_start"))
    return render_template("auth/login.html", oidc=settings.oidc_enabled,
                           dev=dev_signin_allowed())


@bp.get("/oidc")
def oidc_start():
    client = oidc_client()
    if client is None:
        abort(404)
    try:
        return client.authorize_redirect(url_for("auth.callback", _external=True))
    except (requests.RequestException, ValueError, OAuthError) as exc:
        log.warning("OIDC discovery failed: %s", type(exc).__name__)
        return render_template("auth/error.html", title="Sign-in is unavailable",
                               message="The sign-in service could not be reached. "
                                       "Please try again in a moment.", retry=True), 503


@bp.get("/callback")
def callback():
    client = oidc_client()
    if client is None:
        abort(404)
    try:
        token = client.authorize_access_token()
    except MismatchingStateError:
        return render_template("auth/error.html", title="Sign-in expired",
                               message="This sign-in attempt is not valid any more (its state did "
                                       "not match). Please start again.", retry=True), 400
    except OAuthError as exc:
        message = {"access_denied": "You declined to share your account with the portal."}.get(
            exc.error or "", f"The sign-in service refused the request ({exc.error or 'error'}).")
        return render_template("auth/error.html", title="Sign-in failed", message=message,
                               retry=True), 400
    except JoseError as exc:
        log.warning("ID token refused: %s (%s)", exc.error, exc.description)
        return render_template("auth/error.html", title="Sign-in failed",
                               message="The identity token was not valid for this portal: "
                                       f"{_token_problem(exc)}.", retry=True), 400
    except requests.RequestException:
        return render_template("auth/error.html", title="Sign-in is unavailable",
                               message="The sign-in service could not be reached. Please try again.",
                               retry=True), 503
    except ValueError as exc:  # a token or key-set reply that is not JSON (authlib raises ValueError)
        log.warning("OIDC reply not understood: %s", type(exc).__name__)
        return render_template("auth/error.html", title="Sign-in is unavailable",
                               message="The sign-in service sent a reply the portal could not "
                                       "understand. Please try again in a moment.", retry=True), 503
    claims = dict(token.get("userinfo") or {})
    try:
        extra = client.userinfo(token=token)
        for key, value in dict(extra).items():
            if key == "sub" and value != claims.get("sub"):
                continue  # userinfo must describe the same subject as the ID token
            claims.setdefault(key, value)
    except (requests.RequestException, OAuthError, ValueError):
        log.info("userinfo endpoint unavailable; using ID token claims only")
    session[ID_TOKEN_KEY] = token.get("id_token")
    return _finish_sign_in(claims, "oidc", token)


@bp.route("/dev", methods=["GET", "POST"])
def dev_login():
    if not dev_signin_allowed():
        abort(404)
    from portal.web.forms import DevSignInForm
    form = DevSignInForm()
    known = db.session.scalars(db.select(User).where(User.active.is_(True))
                               .order_by(User.last_seen_at.desc()).limit(20)).all()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        before = db.session.scalar(db.select(User.name).where(User.sub == f"dev:{email}"))
        claims = {"sub": f"dev:{email}", "email": email, "email_verified": True,
                  # an empty name keeps the one this person had (never renames them to the email)
                  "name": (form.name.data or "").strip() or before or email.split("@")[0],
                  "preferred_username": email.split("@")[0],
                  "groups": [current_app.config["SETTINGS"].oidc_admin_group] if form.admin.data else []}
        return _finish_sign_in(claims, "dev")
    status = 400 if form.is_submitted() else 200
    return render_template("auth/dev.html", form=form, known=known), status


@bp.post("/logout")
def logout():
    id_token = session.get(ID_TOKEN_KEY)
    if current_user.is_authenticated:
        # The cookie alone cannot be revoked: every session of this person ends on the server.
        sessions.end_everywhere(current_user)
        audit.record(current_user, "user.sign_out", current_user.email)
        db.session.commit()
    logout_user()
    session.clear()
    client = oidc_client()
    if client is not None and id_token:
        try:
            end_session = client.load_server_metadata().get("end_session_endpoint")
        except (requests.RequestException, ValueError):
            end_session = None
        if end_session:
            from urllib.parse import urlencode
            params = {"id_token_hint": id_token, "client_id": client.client_id,
                      "post_logout_redirect_uri": url_for("auth.signed_out", _external=True)}
            sep = "&" if "?" in end_session else "?"
            return hx_redirect(f"{end_session}{sep}{urlencode(params)}")
    return hx_redirect(url_for("auth.signed_out"))


@bp.get("/signed-out")
def signed_out():
    return render_template("auth/signed_out.html")
