"""offboarding: an admin's offboarding of a person, with per-step progress for a retry

Revision ID: 0004_offboarding
Revises: 0003_personal_tokens
Create Date: 2026-11-25 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "0004_offboarding"
down_revision = "0003_personal_tokens"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "offboardings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("workspace_action", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"),
                  nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_offboardings_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_offboardings_actor_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offboardings")),
        sa.UniqueConstraint("user_id", name=op.f("uq_offboardings_user_id")),
    )


def downgrade():
    op.drop_table("offboardings")
