"""reconciler tier: sweep due time, watched time, prepared flag, worker beats

Revision ID: i13_reconciler
Revises: i14_session_generation
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "i13_reconciler"
down_revision = "i14_session_generation"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("workspace_states") as batch:
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("watched_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("prepared", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.create_index("ix_workspace_states_due_at", ["due_at"])
    op.create_table(
        "worker_beats",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("info", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_worker_beats"),
    )


def downgrade():
    op.drop_table("worker_beats")
    with op.batch_alter_table("workspace_states") as batch:
        batch.drop_index("ix_workspace_states_due_at")
        batch.drop_column("prepared")
        batch.drop_column("watched_at")
        batch.drop_column("due_at")
