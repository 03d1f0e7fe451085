"""`flask portal ...`: operator commands."""
from __future__ import annotations

import sys
import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from portal.ops.doctor import doctor_command
from portal.groups.drift import reconcile_command

portal_cli = AppGroup("portal", help="Operate the portal: checks, provisioning, reconciliation.")
portal_cli.add_command(doctor_command)
portal_cli.add_command(reconcile_command)


def init_app(app: Flask) -> None:
    app.cli.add_command(portal_cli)


@portal_cli.command("dev")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--build-seconds", default=8.0, show_default=True, help="Simulated build time.")
@click.option("--i-know-this-is-exposed", "exposed", is_flag=True,
              help="Allow a non-loopback --host: anyone who reaches it can use the dev stack.")
def dev_command(host: str, port: int, build_seconds: float, exposed: bool) -> None:
    """Serve the embedded default: the portal plus the simulated Coder and Gitea."""
    from portal.web.auth import is_loopback
    from portal.devstack.run import serve_embedded
    settings = current_app.config["SETTINGS"]
    if not settings.dev:
        raise click.ClickException("`flask portal dev` needs PORTAL_DEV=1 (the embedded default).")
    if not is_loopback(host) and not exposed:
        raise click.ClickException(
            f"--host {host} is not a loopback address: the dev stack has no real sign-in and "
            "simulated admin tokens. Use 127.0.0.1, or add --i-know-this-is-exposed.")
    if not is_loopback(host):
        click.echo(f"WARNING: the dev stack is exposed on {host}; the dev sign-in stays off.",
                   err=True)
    current_app.config["PORTAL_DEV_PORT"] = port
    serve_embedded(current_app._get_current_object(), host, port, build_seconds)


@portal_cli.command("worker")
@click.option("--threads", type=int, default=None,
              help="Jobs run at once (default PORTAL_WORKER_THREADS).")
@click.option("--check", is_flag=True, help="Exit 0 if a worker ticked recently (health check).")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve this process's job metrics (Prometheus text) on this port.")
@click.option("--metrics-host", default="0.0.0.0", show_default=True,
              help="Address for --metrics-port (keep it inside the cluster's network).")
def worker_command(threads: int | None, check: bool, metrics_port: int | None,
                   metrics_host: str) -> None:
    """Run the reconciler tier: consume the job queue (PORTAL_QUEUE_URL) until stopped.

    The jobs' own figures (portal_jobs_total, portal_job_duration_seconds, portal_pass_*) live
    in this process; --metrics-port serves them for Prometheus to scrape. Queue depth, heartbeat
    and last sweep come from the queue and the database and are on the web tier's /metrics."""
    from portal.workspaces.queue import run_worker
    settings = current_app.config["SETTINGS"]
    if check:
        from portal.workspaces.beats import worker_problem
        problem = worker_problem(settings.worker_stale_seconds)
        click.echo(problem or "ok")
        sys.exit(1 if problem else 0)
    if threads is not None and threads < 1:
        raise click.BadParameter("must be at least 1", param_hint="--threads")
    if metrics_port is not None and settings.metrics_enabled:
        from prometheus_client import start_http_server
        start_http_server(metrics_port, addr=metrics_host)
        click.echo(f"Job metrics at http://{metrics_host}:{metrics_port}/metrics")
    run_worker(current_app._get_current_object(), threads or settings.worker_threads)


@portal_cli.command("provision")
@click.option("--email", required=True, help="The person (created as the project's lead if new).")
@click.option("--group", "group_slug", required=True, help="Group short name (created if missing).")
@click.option("--project", "project_slug", required=True, help="Project short name (created if missing).")
@click.option("--timeout", default=900.0, show_default=True, help="Seconds to wait for ready.")
def provision_command(email: str, group_slug: str, project_slug: str, timeout: float) -> None:
    """Provision a person's workspace for a project; the IDE URL is the last line."""
    from portal.workspaces import provisioning
    from portal.ops.provision_cli import ensure_records
    from portal.services import current_services

    try:
        user, project, role = ensure_records(email, group_slug, project_slug)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    provisioning.want_running(user, project)
    deadline = time.monotonic() + timeout
    last = None
    while True:
        status = provisioning.reconcile(current_services(), user, project, role)
        line = f"{status.stage}: {status.message}"
        if line != last:
            click.echo(line)
            last = line
        if status.ready:
            click.echo(status.app_url)
            return
        if status.failed:
            sys.exit(1)
        if time.monotonic() > deadline:
            click.echo(f"timed out after {timeout:.0f} s", err=True)
            sys.exit(1)
        time.sleep(1.0)
