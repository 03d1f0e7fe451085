"""The Alembic migrations go up, down and up again on SQLite and PostgreSQL."""
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from portal.extensions import db

TABLES = {"users", "groups", "memberships", "projects", "workspace_states", "audit_events",
          "user_secrets"}


def round_trip(app):
    with app.app_context():
        upgrade()
        assert TABLES <= set(inspect(db.engine).get_table_names())
        downgrade(revision="base")
        assert not TABLES & set(inspect(db.engine).get_table_names())
        upgrade()
        assert TABLES <= set(inspect(db.engine).get_table_names())
        # the models and the migrations agree (no pending autogenerate diff)
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []


def test_round_trip_sqlite(make_app):
    round_trip(make_app(upgrade=False))


@pytest.mark.postgres
def test_round_trip_postgres(make_app, pg_url):
    round_trip(make_app(upgrade=False, DATABASE_URL=pg_url))
