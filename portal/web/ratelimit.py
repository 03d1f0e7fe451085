"""Rate limits (Flask-Limiter): sign-in starts per address, provisioning calls per person.

Limits are attached to the endpoints after the blueprints are registered, so the views stay
unaware of them. Storage comes from PORTAL_RATELIMIT_STORAGE (default `memory://`: counts
are per worker process; use `redis://host:6379` to share them between gunicorn workers).
`RATELIMIT_ENABLED=False` in app.config switches every limit off (the test suite's default).

Why these numbers:
* sign-in starts (`/auth/oidc`, `/auth/callback`, POST `/auth/dev`): 20 a minute per
  address. A person needs one or two; a script guessing or flooding the provider needs many.
* Code tab status polls: the partial polls every 0.2-3 s (at most ~5/s while the IDE starts,
  i.e. 300 a minute), so 600 a minute per person leaves room for two tabs.
* open/retry/start/stop/restart (each may start a build): 60 a minute per person.
* keep-alive (every 300 s while the IDE is shown): 60 a minute per person (many tabs).
A refusal is a 429 with Retry-After, rendered as the portal's error page or, for HTMX, its
error fragment; static/js/portal.js makes a polling partial wait and try again.
"""
from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_login import current_user

SIGN_IN = "20 per minute"
STATUS_POLLS = "600 per minute"
PROVISIONING_ACTIONS = "60 per minute"
KEEPALIVE = "60 per minute"

# endpoint -> (limit, key); "ip": the client address, "user": the signed-in person.
LIMITS = {
    "auth.oidc_start": (SIGN_IN, "ip"),
    "auth.callback": (SIGN_IN, "ip"),
    "auth.dev_login": (SIGN_IN, "ip"),
    "code.status": (STATUS_POLLS, "user"),
    "code.open_": (PROVISIONING_ACTIONS, "user"),
    "code.retry": (PROVISIONING_ACTIONS, "user"),
    "code.workspace_action": (PROVISIONING_ACTIONS, "user"),
    "code.keepalive": (KEEPALIVE, "user"),
}
# Only these methods count (a GET of the dev sign-in form is not a sign-in start).
METHODS = {"auth.dev_login": ["POST"]}


def client_address() -> str:
    """The peer address (ProxyFix, when PORTAL_BEHIND_PROXY=1, has already applied X-Forwarded-For)."""
    return request.remote_addr or "unknown"


def person_or_address() -> str:
    if current_user and current_user.is_authenticated:
        return f"user:{current_user.get_id()}"
    return f"ip:{client_address()}"


def init_app(app: Flask) -> Limiter:
    settings = app.config["SETTINGS"]
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.ratelimit_storage)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)  # a dead store never blocks people
    limiter = Limiter(key_func=client_address, app=app, default_limits=[])
    keys = {"ip": client_address, "user": person_or_address}
    for endpoint, (limit, key) in LIMITS.items():
        view = app.view_functions.get(endpoint)
        if view is None:
            continue
        app.view_functions[endpoint] = limiter.limit(
            limit, key_func=keys[key], methods=METHODS.get(endpoint))(view)
    app.extensions["portal.limiter"] = limiter
    return limiter
