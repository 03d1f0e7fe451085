"""observed status: what the last reconcile pass showed (message, build-log tail, warnings)

Revision ID: 0005_observed_status
Revises: 0004_offboarding
Create Date: 2026-11-26 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "0005_observed_status"
down_revision = "0004_offboarding"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("workspace_states") as batch:
        batch.add_column(sa.Column("status_message", sa.Text(), nullable=True))
        batch.add_column(sa.Column("log_tail", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("status_warnings", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("workspace_states") as batch:
        batch.drop_column("status_warnings")
        batch.drop_column("log_tail")
        batch.drop_column("status_message")
