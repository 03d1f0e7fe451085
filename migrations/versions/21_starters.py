"""starters: the starter a project's repository is generated from; cached reads of Gitea

Revision ID: i21_starters
Revises: i20_capacity
Create Date: 2026-12-05 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "i21_starters"
down_revision = "i20_capacity"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("starter", sa.String(length=100), nullable=True))
    op.create_table(
        "cached_reads",
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("cached_reads")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("starter")
