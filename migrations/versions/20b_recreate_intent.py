"""recreate intent: a person confirmed a size with another disk; the worker replaces the workspace

Revision ID: i20_recreate_intent
Revises: i16_workspace_enums
Create Date: 2026-12-05 12:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = "i20_recreate_intent"
down_revision = "i16_workspace_enums"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("workspace_states") as batch:
        batch.add_column(sa.Column("recreate_requested_at", sa.DateTime(timezone=True),
                                   nullable=True))


def downgrade():
    with op.batch_alter_table("workspace_states") as batch:
        batch.drop_column("recreate_requested_at")
