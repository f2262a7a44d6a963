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
    # ### written by hand, in the shape Alembic autogenerates ###
    op.create_table('enforce_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=True),
    sa.Column('problem_id', sa.Integer(), nullable=True),
    sa.Column('original_title', sa.String(length=200), nullable=False),
    sa.Column('original', sa.Text(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('length', sa.Integer(), nullable=False),
    sa.Column('replacements', sa.JSON(), nullable=False),
    sa.Column('extras', sa.JSON(), nullable=False),
    sa.Column('kept', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("state IN ('draft', 'submitted', 'reviewed', 'published')", name='enforce_case_state_known'),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['county_id'], ['grid.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['problem_id'], ['problem.id'], ),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('enforce_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforce_case_county_id'), ['county_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforce_case_problem_id'), ['problem_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforce_case_published_at'), ['published_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforce_case_state'), ['state'], unique=False)

    op.create_table('enforce_case_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('step', sa.String(length=12), nullable=False),
    sa.Column('from_state', sa.String(length=12), nullable=True),
    sa.Column('to_state', sa.String(length=12), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.CheckConstraint("step IN ('prepared', 'edited', 'submitted', 'reviewed', 'approved', 'returned')", name='enforce_case_step_known'),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['enforce_case.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'seq', name='enforce_case_step_seq')
    )
    with op.batch_alter_table('enforce_case_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforce_case_step_case_id'), ['case_id'], unique=False)

    # ### end Alembic commands ###


def downgrade():
    # ### written by hand, in the shape Alembic autogenerates ###
    with op.batch_alter_table('enforce_case_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforce_case_step_case_id'))

    op.drop_table('enforce_case_step')
    with op.batch_alter_table('enforce_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforce_case_state'))
        batch_op.drop_index(batch_op.f('ix_enforce_case_published_at'))
        batch_op.drop_index(batch_op.f('ix_enforce_case_problem_id'))
        batch_op.drop_index(batch_op.f('ix_enforce_case_county_id'))

    op.drop_table('enforce_case')
    # ### end Alembic commands ###
