"""ide waits: when a person asked for their IDE, for the time-to-IDE histogram

Revision ID: i19_ide_waits
Revises: i13_reconciler
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "i19_ide_waits"
down_revision = "i13_reconciler"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ide_waits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("intent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "project_id", name="uq_ide_wait_user_project"),
    )
    with op.batch_alter_table("ide_waits") as batch:
        batch.create_index("ix_ide_waits_project_id", ["project_id"], unique=False)


def downgrade():
    with op.batch_alter_table("ide_waits") as batch:
        batch.drop_index("ix_ide_waits_project_id")
    op.drop_table("ide_waits")
