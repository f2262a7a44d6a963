"""stations and readings (reading partitioned by month on PostgreSQL)

Revision ID: 0006_stations_readings
Revises: 0005_user_sessions
Create Date: 2026-11-30 19:00:00

Readings are keyed by (station, pollutant, period, measured_at): the primary key is the index a
station's series is read by, and a resent reading is stored once. On PostgreSQL the table is
partitioned by range of measured_at, one partition a month (reading_pYYYYMM) plus a default one
for what no month holds; `flask alerts partitions` (run daily by the task queue) creates the
months ahead. SQLite keeps one table.
"""
from datetime import date

from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry


# revision identifiers, used by Alembic.
revision = '0006_stations_readings'
down_revision = '0005_user_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_geospatial_table('station',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('point', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=False),
    sa.Column('lon', sa.Double(), nullable=False),
    sa.Column('lat', sa.Double(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('mn', sa.String(length=24), nullable=True),
    sa.Column('pw_hash', sa.String(length=64), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('lenient', sa.Boolean(), nullable=False),
    sa.Column('last_reading_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('national', 'regional', 'micro')", name='station_kind_known'),
    sa.CheckConstraint("status IN ('active', 'maintenance', 'retired')", name='station_status_known'),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    sa.UniqueConstraint('mn'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('station', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_station_point', ['point'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_station_grid_id'), ['grid_id'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        op.execute("""
            CREATE TABLE reading (
                station_id INTEGER NOT NULL REFERENCES station (id),
                pollutant VARCHAR(8) NOT NULL,
                period VARCHAR(8) NOT NULL,
                measured_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
                value DOUBLE PRECISION NOT NULL,
                flag VARCHAR(1) NOT NULL,
                received_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
                source VARCHAR(8) NOT NULL,
                CONSTRAINT reading_pkey PRIMARY KEY (station_id, pollutant, period, measured_at)
            ) PARTITION BY RANGE (measured_at)
        """)
        op.execute("CREATE TABLE reading_default PARTITION OF reading DEFAULT")
        # This month and the next twelve; the daily task keeps creating the months ahead.
        first = date.today().replace(day=1)
        for n in range(13):
            month = (first.month - 1 + n) % 12 + 1
            year = first.year + (first.month - 1 + n) // 12
            start = date(year, month, 1)
            end = date(year + month // 12, month % 12 + 1, 1)
            op.execute(
                f"CREATE TABLE reading_p{start:%Y%m} PARTITION OF reading "
                f"FOR VALUES FROM ('{start}') TO ('{end}')"
            )
    else:
        op.create_table('reading',
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('pollutant', sa.String(length=8), nullable=False),
        sa.Column('period', sa.String(length=8), nullable=False),
        sa.Column('measured_at', sa.DateTime(), nullable=False),
        sa.Column('value', sa.Double(), nullable=False),
        sa.Column('flag', sa.String(length=1), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('source', sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(['station_id'], ['station.id'], ),
        sa.PrimaryKeyConstraint('station_id', 'pollutant', 'period', 'measured_at')
        )
    with op.batch_alter_table('reading', schema=None) as batch_op:
        batch_op.create_index('ix_reading_period_time', ['period', 'measured_at'], unique=False)


def downgrade():
    with op.batch_alter_table('reading', schema=None) as batch_op:
        batch_op.drop_index('ix_reading_period_time')
    op.drop_table('reading')  # on PostgreSQL its partitions go with it

    with op.batch_alter_table('station', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_station_grid_id'))
        batch_op.drop_geospatial_index('idx_station_point', postgresql_using='gist', column_name='point')

    op.drop_geospatial_table('station')
