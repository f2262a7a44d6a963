"""an index on the time of each delivery attempt: the metrics read the last hour of them

Revision ID: 0018_delivery_at
Revises: 0017_enforce_cycle
Create Date: 2026-12-01 11:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018_delivery_at'
down_revision = '0017_enforce_cycle'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_delivery_at', 'delivery', ['at'], unique=False)


def downgrade():
    op.drop_index('ix_delivery_at', table_name='delivery')
