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


def test_project_ids_are_never_reused_on_sqlite(make_app):
    """Workspaces are named proj-<id>: a new project must not take a deleted one's id."""
    from portal.models import Group, Project
    app = make_app()
    with app.app_context():
        group = Group(slug="g", name="G")
        db.session.add(group)
        first = Project(group=group, slug="a", name="A")
        db.session.add(first)
        db.session.commit()
        old_id = first.id
        db.session.delete(first)
        db.session.commit()
        second = Project(group=group, slug="b", name="B")
        db.session.add(second)
        db.session.commit()
        assert second.id > old_id


@pytest.mark.parametrize("stored, desired, stage_after, desired_after", [
    ("building", "running", "building", "running"),
    ("ready", "stopped", "ready", "stopped"),
    ("retry", "running", "retry", "running"),
    ("no-such-stage", "paused", "not_created", "stopped"),  # what the code made of them
])
def test_workspace_enums_keep_rows_and_then_refuse_other_values(make_app, stored, desired,
                                                                 stage_after, desired_after):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from portal.models import Group, Project, User, WorkspaceState
    from portal.stages import DesiredState, Stage
    app = make_app(upgrade=False)
    with app.app_context():
        upgrade(revision="i21_starters")
        user = User(sub="s", email="a@example.com", name="A", username="a")
        project = Project(group=Group(slug="g", name="G"), slug="p", name="P")
        db.session.add_all([user, project])
        db.session.commit()
        db.session.execute(text(
            "INSERT INTO workspace_states (user_id, project_id, desired_state, stage) "
            "VALUES (:u, :p, :d, :s)"), {"u": user.id, "p": project.id, "d": desired, "s": stored})
        db.session.commit()
        upgrade()
        db.session.expunge_all()
        row = db.session.scalar(db.select(WorkspaceState))
        assert (row.stage, row.desired_state) == (Stage(stage_after), DesiredState(desired_after))
        with pytest.raises(IntegrityError):
            db.session.execute(text("UPDATE workspace_states SET stage = 'bogus'"))
        db.session.rollback()


def test_sqlite_pragmas_apply_to_the_apps_engine_only(make_app, tmp_path):
    """Foreign keys, WAL and the busy timeout are set on the app's engine in create_app; an
    engine made elsewhere in the process is left as SQLite makes it."""
    import sqlalchemy
    app = make_app()
    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    other = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with other.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"
    other.dispose()
