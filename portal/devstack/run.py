"""The embedded default: the portal and the simulated Coder and Gitea in one process.

The simulators listen on the loopback addresses the dev settings point at
(portal/config.py), and the portal reaches them over real HTTP through its
production clients. Coder's app hosts are `*.portal.localhost`, which browsers
resolve to this machine, so the IDE iframe runs the production hand-off.
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

import click
from flask import Flask
from werkzeug.serving import run_simple

from ..config import (DEV_CODER_TOKEN, DEV_CODER_URL, DEV_GITEA_TOKEN, DEV_GITEA_URL,
                      DEV_LITELLM_URL)
from .coder import make_coder_sim
from .gitea import make_gitea_sim
from .server import ServerThread

APP_DOMAIN = "portal.localhost"
log = logging.getLogger(__name__)


def start_simulators(settings, build_seconds: float) -> list[ServerThread]:
    """Start the simulators the settings point at (only the dev stack's own addresses)."""
    servers = []
    if settings.coder_url == DEV_CODER_URL:
        port = urlsplit(DEV_CODER_URL).port
        app, _sim = make_coder_sim(admin_token=DEV_CODER_TOKEN, access_url=DEV_CODER_URL,
                                   wildcard_host=f"*.{APP_DOMAIN}:{port}",
                                   build_seconds=build_seconds, agent_seconds=2.0)
        servers.append(_start(app, port, "Coder"))
    if settings.gitea_url == DEV_GITEA_URL:
        app, _sim = make_gitea_sim(admin_token=DEV_GITEA_TOKEN)
        servers.append(_start(app, urlsplit(DEV_GITEA_URL).port, "Gitea"))
    if (settings.litellm_url or "").rstrip("/") == DEV_LITELLM_URL:  # off unless LITELLM_URL says so
        from .litellm import make_litellm_sim
        app, _sim = make_litellm_sim(settings.litellm_master_key)
        servers.append(_start(app, urlsplit(DEV_LITELLM_URL).port, "LiteLLM"))
    return servers


def _start(app, port: int, name: str) -> ServerThread:
    try:
        return ServerThread(app, port=port).start()
    except OSError as exc:
        raise click.ClickException(f"cannot start the simulated {name} on 127.0.0.1:{port}: "
                                   f"{exc.strerror}. Is another `make run` still running?") from None


def serve_embedded(app: Flask, host: str, port: int, build_seconds: float) -> None:
    from ..workspaces.queue import InProcessWorker
    settings = app.config["SETTINGS"]
    servers = start_simulators(settings, build_seconds)
    worker = InProcessWorker(app, settings.worker_threads).start()  # the reconciler tier
    click.echo(f"Simulated Coder at {DEV_CODER_URL}, Gitea at {DEV_GITEA_URL}")
    click.echo(f"Provisioning worker in-process ({settings.worker_threads} threads)")
    click.echo(f"Portal at http://{APP_DOMAIN}:{port}/ (dev sign-in; bound to {host})")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        worker.stop()
        for server in servers:
            server.stop()
