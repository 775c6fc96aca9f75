"""settlement by period: the site's district and the refund's month on each charge

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 19:22:48.543063
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("charge", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site_district", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("refund_period", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=True))
        batch_op.create_index(batch_op.f("ix_charge_refund_period"), ["refund_period"], unique=False)
    # Existing charges: the district comes from pricing's copy of the site. Before this revision no month could be
    # closed, so every refund landed in its charge's own month.
    op.execute("UPDATE charge SET site_district = (SELECT site.district FROM site WHERE site.site_id = charge.site_id)")
    op.execute("UPDATE charge SET refund_period = period WHERE status = 'refunded'")


def downgrade() -> None:
    with op.batch_alter_table("charge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charge_refund_period"))
        batch_op.drop_column("refund_period")
        batch_op.drop_column("site_district")
