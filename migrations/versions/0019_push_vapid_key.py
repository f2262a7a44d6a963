"""the VAPID public key each Web Push subscription was made for, so that an old key can be kept
as a fallback for its subscriptions while a new one takes over

Revision ID: 0019_push_vapid_key
Revises: 0018_delivery_at
Create Date: 2026-12-02 10:00:00.000000

No data moves: the key of a subscription kept before is not known here (it is configuration);
it is recorded by the first push its push service accepts, or when its browser next reports it.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_push_vapid_key'
down_revision = '0018_delivery_at'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('push_subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vapid_public', sa.String(length=100), nullable=True))


def downgrade():
    with op.batch_alter_table('push_subscription', schema=None) as batch_op:
        batch_op.drop_column('vapid_public')
