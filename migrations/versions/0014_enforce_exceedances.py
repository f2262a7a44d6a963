"""online-monitoring exceedances: monitoring points, limits, readings, exceedances, daily reports, disposals and the monthly cycle

Revision ID: 0014_enforce_exceedances
Revises: 0013_air_keyareas
Create Date: 2026-12-01 04:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_enforce_exceedances'
down_revision = '0013_air_keyareas'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
