"""capacity: workspace sizes, the admission line, the running-workspace limits

Revision ID: i20_capacity
Revises: i19_ide_waits
Create Date: 2026-12-05 09:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = "i20_capacity"
down_revision = "i19_ide_waits"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("default_size", sa.String(40), nullable=True))
    with op.batch_alter_table("workspace_states") as batch:
        batch.add_column(sa.Column("size_name", sa.String(40), nullable=True))
        batch.add_column(sa.Column("disk_size", sa.Integer(), nullable=True))
    op.create_table(
        "workspace_sizes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("cpu_cores", sa.Integer(), nullable=False),
        sa.Column("memory_gb", sa.Integer(), nullable=False),
        sa.Column("disk_size", sa.Integer(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_workspace_sizes"),
        sa.UniqueConstraint("name", name="uq_workspace_sizes_name"),
    )
    op.create_table(
        "admission_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("size_name", sa.String(40), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("coder_workspace_id", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name="fk_admission_entries_user_id_users"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE",
                                name="fk_admission_entries_project_id_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_admission_entries"),
        sa.UniqueConstraint("user_id", "project_id", name="uq_admission_user_project"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "capacity_limits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("max_running", sa.Integer(), nullable=True),
        sa.Column("max_per_person", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_capacity_limits"),
    )


def downgrade():
    op.drop_table("capacity_limits")
    op.drop_table("admission_entries")
    op.drop_table("workspace_sizes")
    with op.batch_alter_table("workspace_states") as batch:
        batch.drop_column("disk_size")
        batch.drop_column("size_name")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("default_size")
