"""One blueprint per area."""
from flask import Flask


def register_views(app: Flask) -> None:
    from portal.web.views import admin, code, dashboard, groups, health, members, projects
    app.register_blueprint(health.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(groups.bp)
    app.register_blueprint(projects.bp)
    app.register_blueprint(code.bp)
    from portal.web.views import settings
    app.register_blueprint(settings.bp)
    app.register_blueprint(members.bp)
    from portal.web.views import sizes
    app.register_blueprint(sizes.bp)
