"""typical cases prepared for publication, with their steps

Revision ID: 0016_enforce_cases
Revises: 0015_enforce_draws
Create Date: 2026-12-01 04:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_enforce_cases'
down_revision = '0015_enforce_draws'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
