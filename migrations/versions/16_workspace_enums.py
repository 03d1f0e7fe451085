"""workspace enums: WorkspaceState.stage and .desired_state take only their enum's values

Revision ID: i16_workspace_enums
Revises: i21_starters
Create Date: 2026-12-05 12:00:00

The columns stay VARCHAR(40) and VARCHAR(20) (portal/stages.py: Stage, DesiredState, stored by
value) and gain a CHECK each. Existing rows are kept; a value no code writes any more is set to
what the code already made of it (an unknown stage behaved as a row not yet worked on, any
desired state but "running" as "stopped").
"""
from alembic import op
import sqlalchemy as sa


revision = "i16_workspace_enums"
down_revision = "i21_starters"
branch_labels = None
depends_on = None

STAGES = ("not_created", "repository", "account", "waiting", "workspace", "building", "starting",
          "ready", "stopped", "failed", "retry")
DESIRED = ("running", "stopped")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    op.execute("UPDATE workspace_states SET stage = 'not_created' "
               f"WHERE NOT ({_in('stage', STAGES)})")
    op.execute("UPDATE workspace_states SET desired_state = 'stopped' "
               f"WHERE NOT ({_in('desired_state', DESIRED)})")
    with op.batch_alter_table("workspace_states") as batch:
        batch.create_check_constraint(op.f("ck_workspace_states_stage"),
                                      sa.text(_in("stage", STAGES)))
        batch.create_check_constraint(op.f("ck_workspace_states_desired_state"),
                                      sa.text(_in("desired_state", DESIRED)))


def downgrade():
    with op.batch_alter_table("workspace_states") as batch:
        batch.drop_constraint(op.f("ck_workspace_states_desired_state"), type_="check")
        batch.drop_constraint(op.f("ck_workspace_states_stage"), type_="check")
