"""double-random inspections: the inspector library, conflicts, draws and tasks

Revision ID: 0015_enforce_draws
Revises: 0014_enforce_exceedances
Create Date: 2026-12-01 04:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_enforce_draws'
down_revision = '0014_enforce_exceedances'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
