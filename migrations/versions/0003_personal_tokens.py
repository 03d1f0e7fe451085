"""personal tokens: projects imported from an existing repository

The GitHub token and the LiteLLM key are rows of user_secrets (kind
"github_token" / "litellm_key"), which already exists; only the project's
source repository URL is new.

Revision ID: 0003_personal_tokens
Revises: 0002_collaboration
Create Date: 2026-11-24 12:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = "0003_personal_tokens"
down_revision = "0002_collaboration"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_url", sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("source_url")
