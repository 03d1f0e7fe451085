"""`flask portal ...`: operator commands."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

portal_cli = AppGroup("portal", help="Operate the portal: checks, provisioning, reconciliation.")


def init_app(app: Flask) -> None:
    app.cli.add_command(portal_cli)
