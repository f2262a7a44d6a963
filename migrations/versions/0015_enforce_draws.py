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
    # ### written by hand in the style of the generated commands ###
    op.create_table('enforce_inspector',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('certificate_no', sa.String(length=30), nullable=False),
    sa.Column('unit', sa.String(length=120), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('certificate_no', name='enforce_inspector_certificate_once'),
    sa.UniqueConstraint('user_id', name='enforce_inspector_user_once')
    )
    with op.batch_alter_table('enforce_inspector', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforce_inspector_grid_id'), ['grid_id'], unique=False)

    op.create_table('enforce_conflict',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspector_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['inspector_id'], ['enforce_inspector.id'], ),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('inspector_id', 'source_id', name='enforce_conflict_once')
    )
    with op.batch_alter_table('enforce_conflict', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforce_conflict_inspector_id'), ['inspector_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforce_conflict_source_id'), ['source_id'], unique=False)

    op.create_table('enforce_draw',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('asked', sa.Text(), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=False),
    sa.Column('snapshot_sha256', sa.String(length=64), nullable=False),
    sa.Column('drawn_at', sa.DateTime(), nullable=False),
    sa.Column('drawn_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['drawn_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('enforce_draw', schema=None) as batch_op:
        batch_op.create_index('ix_enforce_draw_grid_month', ['grid_id', 'month'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforce_draw_grid_id'), ['grid_id'], unique=False)

    op.create_table('enforce_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.SmallInteger(), nullable=True),
    sa.Column('record', sa.Text(), nullable=True),
    sa.Column('done_on', sa.Date(), nullable=True),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.Column('completed_by_id', sa.Integer(), nullable=True),
    sa.Column('publish_due', sa.Date(), nullable=True),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("category IN ('key', 'general', 'special', 'facility')", name='enforce_task_category_known'),
    sa.CheckConstraint("status IN ('assigned', 'done')", name='enforce_task_status_known'),
    sa.CheckConstraint('outcome IS NULL OR outcome BETWEEN 1 AND 7', name='enforce_task_outcome_range'),
    sa.ForeignKeyConstraint(['completed_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['draw_id'], ['enforce_draw.id'], ),
    sa.ForeignKeyConstraint(['published_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('draw_id', 'source_id', name='enforce_task_once_a_draw')
    )
    with op.batch_alter_table('enforce_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforce_task_draw_id'), ['draw_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforce_task_source_id'), ['source_id'], unique=False)

    op.create_table('enforce_task_inspector',
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('inspector_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.ForeignKeyConstraint(['inspector_id'], ['enforce_inspector.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['enforce_task.id'], ),
    sa.PrimaryKeyConstraint('task_id', 'inspector_id'),
    sa.UniqueConstraint('task_id', 'position', name='enforce_task_inspector_position_once')
    )
    with op.batch_alter_table('enforce_task_inspector', schema=None) as batch_op:
        batch_op.create_index('ix_enforce_task_inspector_inspector_id', ['inspector_id'], unique=False)

    op.create_table('enforce_task_photo',
    sa.Column('enforce_task_id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['enforce_task_id'], ['enforce_task.id'], ),
    sa.ForeignKeyConstraint(['photo_id'], ['photo.id'], ),
    sa.PrimaryKeyConstraint('enforce_task_id', 'photo_id')
    )
    with op.batch_alter_table('enforce_task_photo', schema=None) as batch_op:
        batch_op.create_index('ix_enforce_task_photo_photo_id', ['photo_id'], unique=True)

    # ### end ###


def downgrade():
    # ### written by hand in the style of the generated commands ###
    with op.batch_alter_table('enforce_task_photo', schema=None) as batch_op:
        batch_op.drop_index('ix_enforce_task_photo_photo_id')

    # Their photos go with them: a photo belongs to one record (0004's check, going further
    # back, wants each to belong to a visit or a problem).
    bind = op.get_bind()
    held = [row[0] for row in bind.execute(sa.text("SELECT photo_id FROM enforce_task_photo"))]
    op.drop_table('enforce_task_photo')
    if held:
        bind.execute(
            sa.text("DELETE FROM photo WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": held},
        )
    with op.batch_alter_table('enforce_task_inspector', schema=None) as batch_op:
        batch_op.drop_index('ix_enforce_task_inspector_inspector_id')

    op.drop_table('enforce_task_inspector')
    with op.batch_alter_table('enforce_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforce_task_source_id'))
        batch_op.drop_index(batch_op.f('ix_enforce_task_draw_id'))

    op.drop_table('enforce_task')
    with op.batch_alter_table('enforce_draw', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforce_draw_grid_id'))
        batch_op.drop_index('ix_enforce_draw_grid_month')

    op.drop_table('enforce_draw')
    with op.batch_alter_table('enforce_conflict', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforce_conflict_source_id'))
        batch_op.drop_index(batch_op.f('ix_enforce_conflict_inspector_id'))

    op.drop_table('enforce_conflict')
    with op.batch_alter_table('enforce_inspector', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforce_inspector_grid_id'))

    op.drop_table('enforce_inspector')
    # ### end ###
