"""session generation: sign-out, "sign out everywhere" and offboarding end every session

Revision ID: i14_session_generation
Revises: 0005_observed_status
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "i14_session_generation"
down_revision = "0005_observed_status"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_generation")
