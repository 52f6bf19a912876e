"""Meow minting claim: how a generated meow is being minted (server or voucher) and the mint job

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("generated_meows", sa.Column("mint_mode", sa.String(length=16), nullable=True))
    op.add_column("generated_meows", sa.Column("mint_job_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generated_meows") as batch:
        batch.drop_column("mint_job_id")
        batch.drop_column("mint_mode")
