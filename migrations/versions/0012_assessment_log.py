"""the assessment's event log: one hash chain per county and month

Revision ID: 0012_assessment_log
Revises: 0011_assessment
Create Date: 2026-12-01 01:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_assessment_log'
down_revision = '0011_assessment'
branch_labels = None
depends_on = None


def upgrade():
    # ### written by hand after the models, reviewed by hand ###
    op.create_table('assess_month',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('last_event_hash', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['county_id'], ['grid.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('county_id', 'month', name='assess_month_county')
    )
    op.create_table('assess_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('event', sa.String(length=12), nullable=False),
    sa.Column('comment', sa.String(length=2000), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['month_id'], ['assess_month.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('month_id', 'seq', name='assess_event_seq')
    )
    with op.batch_alter_table('assess_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assess_event_month_id'), ['month_id'], unique=False)


def downgrade():
    with op.batch_alter_table('assess_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assess_event_month_id'))

    op.drop_table('assess_event')
    op.drop_table('assess_month')
