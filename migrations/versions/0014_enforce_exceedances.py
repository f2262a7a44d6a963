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
    # ### written by hand in the style of alembic's autogenerate ###
    op.create_table('enforce_point',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('mn', sa.String(length=24), nullable=False),
    sa.Column('pw_hash', sa.String(length=64), nullable=True),
    sa.Column('st', sa.String(length=2), nullable=False),
    sa.Column('lenient', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("st IN ('31', '32')", name='enforce_point_st_known'),
    sa.ForeignKeyConstraint(['county_id'], ['grid.id'], ),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('mn', name='enforce_point_mn_unique')
    )
    with op.batch_alter_table('enforce_point', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforce_point_county_id'), ['county_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforce_point_source_id'), ['source_id'], unique=False)

    op.create_table('enforce_limit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('value', sa.Double(), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('standard', sa.String(length=200), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('set_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('value > 0', name='enforce_limit_positive'),
    sa.ForeignKeyConstraint(['point_id'], ['enforce_point.id'], ),
    sa.ForeignKeyConstraint(['set_by_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('point_id', 'code', 'valid_from', name='enforce_limit_once_a_day')
    )
    with op.batch_alter_table('enforce_limit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforce_limit_point_id'), ['point_id'], unique=False)

    op.create_table('enforce_value',
    sa.Column('point_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('period', sa.String(length=6), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('value', sa.Double(), nullable=False),
    sa.Column('flag', sa.String(length=1), nullable=False),
    sa.CheckConstraint("flag IN ('N', 'F', 'M', 'S', 'D', 'C', 'T', 'B')", name='enforce_value_flag_known'),
    sa.CheckConstraint("period IN ('minute', 'hour')", name='enforce_value_period_known'),
    sa.ForeignKeyConstraint(['point_id'], ['enforce_point.id'], ),
    sa.PrimaryKeyConstraint('point_id', 'code', 'period', 'at')
    )

    op.create_table('enforce_daily_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['county_id'], ['grid.id'], ),
    sa.ForeignKeyConstraint(['issued_by_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('county_id', 'day', name='enforce_daily_report_once_a_day')
    )
    with op.batch_alter_table('enforce_daily_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforce_daily_report_county_id'), ['county_id'], unique=False)

    op.create_table('enforce_disposal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('case_number', sa.String(length=60), nullable=True),
    sa.Column('opinion', sa.String(length=4000), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("(kind = 'case' AND case_number IS NOT NULL) OR (kind = 'opinion' AND opinion IS NOT NULL)", name='enforce_disposal_says_what'),
    sa.CheckConstraint("kind IN ('case', 'opinion')", name='enforce_disposal_kind_known'),
    sa.ForeignKeyConstraint(['county_id'], ['grid.id'], ),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('enforce_disposal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforce_disposal_county_id'), ['county_id'], unique=False)

    op.create_table('enforce_disposal_photo',
    sa.Column('enforce_disposal_id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['enforce_disposal_id'], ['enforce_disposal.id'], ),
    sa.ForeignKeyConstraint(['photo_id'], ['photo.id'], ),
    sa.PrimaryKeyConstraint('enforce_disposal_id', 'photo_id')
    )
    with op.batch_alter_table('enforce_disposal_photo', schema=None) as batch_op:
        batch_op.create_index('ix_enforce_disposal_photo_photo_id', ['photo_id'], unique=True)

    op.create_table('enforce_exceedance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('hour', sa.DateTime(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('average', sa.Double(), nullable=False),
    sa.Column('limit_value', sa.Double(), nullable=True),
    sa.Column('unit', sa.String(length=20), nullable=True),
    sa.Column('standard', sa.String(length=200), nullable=True),
    sa.Column('minutes', sa.Integer(), nullable=True),
    sa.Column('flag', sa.String(length=1), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('invalid_reason', sa.String(length=500), nullable=True),
    sa.Column('invalid_by_id', sa.Integer(), nullable=True),
    sa.Column('invalid_at', sa.DateTime(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('disposal_id', sa.Integer(), nullable=True),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("status IN ('valid', 'invalid')", name='enforce_exceedance_status_known'),
    sa.ForeignKeyConstraint(['county_id'], ['grid.id'], ),
    sa.ForeignKeyConstraint(['disposal_id'], ['enforce_disposal.id'], ),
    sa.ForeignKeyConstraint(['invalid_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['point_id'], ['enforce_point.id'], ),
    sa.ForeignKeyConstraint(['report_id'], ['enforce_daily_report.id'], ),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('point_id', 'code', 'hour', name='enforce_exceedance_once_an_hour')
    )
    with op.batch_alter_table('enforce_exceedance', schema=None) as batch_op:
        batch_op.create_index('ix_enforce_exceedance_county_day', ['county_id', 'day'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforce_exceedance_disposal_id'), ['disposal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforce_exceedance_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforce_exceedance_source_id'), ['source_id'], unique=False)

    # ### end ###


def downgrade():
    with op.batch_alter_table('enforce_exceedance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforce_exceedance_source_id'))
        batch_op.drop_index(batch_op.f('ix_enforce_exceedance_report_id'))
        batch_op.drop_index(batch_op.f('ix_enforce_exceedance_disposal_id'))
        batch_op.drop_index('ix_enforce_exceedance_county_day')

    op.drop_table('enforce_exceedance')
    with op.batch_alter_table('enforce_disposal_photo', schema=None) as batch_op:
        batch_op.drop_index('ix_enforce_disposal_photo_photo_id')

    # Their photos go with them: a photo belongs to one record (0004's check, going further
    # back, wants each to belong to a visit or a problem).
    bind = op.get_bind()
    held = [row[0] for row in bind.execute(sa.text("SELECT photo_id FROM enforce_disposal_photo"))]
    op.drop_table('enforce_disposal_photo')
    if held:
        bind.execute(
            sa.text("DELETE FROM photo WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": held},
        )
    with op.batch_alter_table('enforce_disposal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforce_disposal_county_id'))

    op.drop_table('enforce_disposal')
    with op.batch_alter_table('enforce_daily_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforce_daily_report_county_id'))

    op.drop_table('enforce_daily_report')
    op.drop_table('enforce_value')
    with op.batch_alter_table('enforce_limit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforce_limit_point_id'))

    op.drop_table('enforce_limit')
    with op.batch_alter_table('enforce_point', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforce_point_source_id'))
        batch_op.drop_index(batch_op.f('ix_enforce_point_county_id'))

    op.drop_table('enforce_point')
