"""the monthly cycle of the exceedance workflow: steps done, review minutes, clues

Revision ID: 0017_enforce_cycle
Revises: 0016_enforce_cases
Create Date: 2026-12-01 04:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_enforce_cycle'
down_revision = '0016_enforce_cases'
branch_labels = None
depends_on = None


def upgrade():
    # ### written by hand in the style of Alembic's autogenerate ###
    op.create_table('enforce_cycle_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('step', sa.String(length=20), nullable=False),
    sa.Column('party', sa.String(length=20), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=True),
    sa.Column('done_on', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('exceedances', sa.Integer(), nullable=True),
    sa.Column('cases', sa.Integer(), nullable=True),
    sa.Column('opinions', sa.Integer(), nullable=True),
    sa.Column('undisposed', sa.Integer(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("step IN ('county_report', 'detachment_stats', 'centre_compile', 'review_meeting', 'clue_handover', 'monthly_notice')", name='enforce_cycle_step_known'),
    sa.CheckConstraint("(step = 'county_report') = (county_id IS NOT NULL)", name='enforce_cycle_step_county_reports'),
    sa.ForeignKeyConstraint(['county_id'], ['grid.id'], ),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('month', 'step', 'party', name='enforce_cycle_step_once')
    )
    op.create_table('enforce_cycle_minutes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('met_on', sa.Date(), nullable=False),
    sa.Column('summary', sa.String(length=4000), nullable=False),
    sa.Column('county_cases', sa.String(length=4000), nullable=True),
    sa.Column('conclusions', sa.String(length=4000), nullable=False),
    sa.Column('escalations', sa.String(length=4000), nullable=True),
    sa.Column('accountability', sa.String(length=4000), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('month', name='enforce_cycle_minutes_once')
    )
    op.create_table('enforce_cycle_clue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('exceedances', sa.Integer(), nullable=False),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('key_polluter', sa.Boolean(), nullable=False),
    sa.Column('difficult', sa.Boolean(), nullable=False),
    sa.Column('kept', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['county_id'], ['grid.id'], ),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('month', 'source_id', name='enforce_cycle_clue_once')
    )
    # ### end Alembic commands ###


def downgrade():
    # ### written by hand in the style of Alembic's autogenerate ###
    op.drop_table('enforce_cycle_clue')
    op.drop_table('enforce_cycle_minutes')
    op.drop_table('enforce_cycle_step')
    # ### end Alembic commands ###
