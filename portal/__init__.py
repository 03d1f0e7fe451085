"""portal: the self-service developer portal (Flask + HTMX).

`create_app(config=None)` builds the app; nothing happens at import time.
"""
from __future__ import annotations

import datetime as dt
import logging
import pathlib
from typing import Any, Mapping

from flask import Flask

from portal.config import ConfigError, Settings
from portal.config import names as setting_names

__all__ = ["create_app", "ConfigError"]
ROOT = pathlib.Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the portal.

    `config` overrides the environment: keys in UPPER_CASE that name a setting
    (DESIGN §4, e.g. DATABASE_URL) are read as if they were environment
    variables; `settings` may be a ready Settings object; any other key goes
    into `app.config` (e.g. TESTING).
    """
    import os

    config = dict(config or {})
    settings = config.pop("settings", None)
    if settings is None:
        env = {**os.environ, **{k: str(v) for k, v in config.items() if isinstance(v, (str, int, float))}}
        settings = Settings.from_env(env)

    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
                instance_path=str(ROOT / "instance"))
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        SESSION_COOKIE_NAME="portal_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.dev,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=not settings.dev,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
        # 12 hours from sign-in, not from the last request: no new signed cookie on every poll.
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=not settings.dev,
        MAX_CONTENT_LENGTH=1024 * 1024,
        PREFERRED_URL_SCHEME="http" if settings.dev else "https",
    )
    app.config.update({k: v for k, v in config.items() if k not in setting_names()})
    if settings.database_url.startswith("sqlite:///"):
        pathlib.Path(settings.database_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)

    from portal.web import auth, errors, security, sessions, text_input
    from portal.ops import cli
    from portal import observability, services
    from portal.workspaces import queue
    from portal.extensions import csrf, db, htmx, migrate, sqlite_pragmas
    from portal.web.views import register_views

    observability.init_app(app)  # first: its request hooks time and label every request
    _bounded_ids(app)
    sessions.init_app(app)
    db.init_app(app)
    sqlite_pragmas(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    auth.init_app(app)
    security.init_app(app)
    services.init_app(app)
    queue.init_app(app)
    errors.init_app(app)
    text_input.init_app(app)
    register_views(app)
    from portal.web import ratelimit
    ratelimit.init_app(app)  # after the views: limits attach to their endpoints
    cli.init_app(app)
    _fix_proxy(app)
    logging.getLogger("portal").setLevel(logging.DEBUG if settings.dev else logging.INFO)
    return app


def _bounded_ids(app: Flask) -> None:
    """`<int:...>` in a URL matches only ids a database column can hold (32-bit INTEGER on
    PostgreSQL): /projects/99999999999 is a 404, not an OverflowError."""
    from werkzeug.routing import IntegerConverter

    class BoundedInt(IntegerConverter):
        def __init__(self, map, fixed_digits=0, min=None, max=2**31 - 1, signed=False):  # noqa: A002
            super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    app.url_map.converters["int"] = BoundedInt


def _engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    # Enough for every request thread and pass thread of a process (gthread 16 + 4) without
    # opening and closing overflow connections under load.
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 15, "pool_timeout": 10,
            "connect_args": {"connect_timeout": 5}}


def _fix_proxy(app: Flask) -> None:
    """Behind one reverse proxy (compose stack) trust its X-Forwarded-* headers, never in dev."""
    if not app.config["SETTINGS"].dev and app.config["SETTINGS"].behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
