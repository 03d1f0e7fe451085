"""One blueprint per area."""
from flask import Flask


def register_views(app: Flask) -> None:
    from . import admin, dashboard, health
    app.register_blueprint(health.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(admin.bp)
