"""availability: portions a site may still sell of a dish (sold out at the till)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "availability",
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("meal_slot", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("menu_item_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("portions_total", sa.Integer(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "service_date", "meal_slot", "menu_item_id"),
    )
    with op.batch_alter_table("meal_order", schema=None) as batch_op:
        batch_op.create_index("ix_meal_order_site_day", ["site_id", "service_date", "meal_slot"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meal_order", schema=None) as batch_op:
        batch_op.drop_index("ix_meal_order_site_day")
    op.drop_table("availability")
