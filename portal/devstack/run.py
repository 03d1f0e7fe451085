"""The embedded default: the portal and the simulated Coder and Gitea in one process.

The simulators listen on the loopback addresses the dev settings point at
(portal/config.py), and the portal reaches them over real HTTP through its
production clients. Coder's app hosts are `*.portal.localhost`, which browsers
resolve to this machine, so the IDE iframe runs the production hand-off.

Repositories are real bare git repositories under `instance/gitea/`; each
workspace is a home folder under `instance/workspaces/<owner>/<workspace>/`
prepared by the template's own startup.sh and, when `make ide` has installed
code-server, served by a real code-server (workspace_host.py). Every workspace
process ends when `portal dev` does (Ctrl-C or SIGTERM).
"""
from __future__ import annotations

import atexit
import logging
import signal
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import Flask
from werkzeug.serving import run_simple

from portal.config import DEV_CODER_TOKEN, DEV_GITEA_TOKEN, DEV_LITELLM_URL
from portal.devstack import ports
from portal.devstack.coder import make_coder_sim
from portal.devstack.gitea import make_gitea_sim
from portal.devstack.server import ServerThread
from portal.devstack.workspace_host import WorkspaceHost, installed_code_server

APP_DOMAIN = "portal.localhost"
log = logging.getLogger(__name__)


def simulated(settings) -> dict[str, int]:
    """{"Coder": port, "Gitea": port} of the simulators the settings point at (the dev stack's
    own loopback addresses; a real CODER_URL or GITEA_URL is left alone)."""
    out = {}
    if settings.coder_url == f"http://127.0.0.1:{settings.dev_coder_port}":
        out["Coder"] = settings.dev_coder_port
    if settings.gitea_url == f"http://127.0.0.1:{settings.dev_gitea_port}":
        out["Gitea"] = settings.dev_gitea_port
    return out


def start_simulators(settings, build_seconds: float, instance: Path,
                     host: WorkspaceHost | None = None) -> list[ServerThread]:
    """Start the simulators the settings point at (only the dev stack's own addresses)."""
    servers = []
    sims = simulated(settings)
    if "Coder" in sims:
        port = sims["Coder"]
        app, _sim = make_coder_sim(admin_token=DEV_CODER_TOKEN, access_url=settings.coder_url,
                                   wildcard_host=f"*.{APP_DOMAIN}:{port}",
                                   build_seconds=build_seconds, agent_seconds=2.0, host=host)
        servers.append(_start(app, port, "Coder"))
    if "Gitea" in sims:
        app, _sim = make_gitea_sim(admin_token=DEV_GITEA_TOKEN, data_dir=instance / "gitea",
                                   starters=True)
        servers.append(_start(app, sims["Gitea"], "Gitea"))
    if (settings.litellm_url or "").rstrip("/") == DEV_LITELLM_URL:  # off unless LITELLM_URL says so
        from portal.devstack.litellm import make_litellm_sim
        app, _sim = make_litellm_sim(settings.litellm_master_key)
        servers.append(_start(app, urlsplit(DEV_LITELLM_URL).port, "LiteLLM"))
    return servers


def _start(app, port: int, name: str) -> ServerThread:
    try:
        return ServerThread(app, port=port).start()
    except OSError as exc:
        raise click.ClickException(f"cannot start the simulated {name} on 127.0.0.1:{port}: "
                                   f"{exc.strerror}. Is another `make run` still running?") from None


def workspace_host(settings, instance: Path) -> WorkspaceHost:
    """Real workspaces for the simulated Coder: startup.sh, and code-server when installed."""
    return WorkspaceHost(instance / "workspaces", gitea_url=settings.gitea_url,
                         ai_gateway_url=settings.litellm_url or "",
                         code_server=installed_code_server(),
                         max_running=settings.dev_max_workspaces)


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt  # SIGTERM ends `portal dev` through its finally, like Ctrl-C


def serve_embedded(app: Flask, host: str, port: int, build_seconds: float) -> None:
    from portal.workspaces.queue import InProcessWorker
    settings = app.config["SETTINGS"]
    try:  # every port before anything starts: one clear message instead of werkzeug's
        if host == "127.0.0.1":
            ports.check(host, {"portal": port, **simulated(settings)})
        else:
            ports.check("127.0.0.1", simulated(settings))
            ports.check(host, {"portal": port})
    except ports.PortTaken as exc:
        raise click.ClickException(str(exc)) from None
    instance = Path(app.instance_path)
    workspaces = workspace_host(settings, instance) if "Coder" in simulated(settings) else None
    if workspaces is not None:
        atexit.register(workspaces.shutdown)
    servers = start_simulators(settings, build_seconds, instance, workspaces)
    worker = InProcessWorker(app, settings.worker_threads).start()  # the reconciler tier
    click.echo(f"Simulated Coder at {settings.coder_url}, Gitea at {settings.gitea_url}")
    click.echo(f"Provisioning worker in-process ({settings.worker_threads} threads)")
    if workspaces is not None and workspaces.code_server is not None:
        click.echo(f"Workspaces: real code-server ({workspaces.code_server}), at most "
                   f"{workspaces.max_running} running, homes in {workspaces.root}")
    elif workspaces is not None:
        click.echo("Workspaces: code-server is not installed, the IDE is a placeholder page "
                   "(run `make ide` for a real VS Code)")
    click.echo(f"Portal at http://{APP_DOMAIN}:{port}/ (dev sign-in; bound to {host})")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
        for server in servers:
            server.stop()
        if workspaces is not None:
            workspaces.shutdown()
