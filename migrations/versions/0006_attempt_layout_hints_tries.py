"""attempts record the layout the learner saw, the hints they used and their tries

Revision ID: 0006
Revises: 0009
Create Date: 2026-12-01 09:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('layout', sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column('hints_used', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(
            sa.Column('tries_used', sa.Integer(), server_default='1', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_column('tries_used')
        batch_op.drop_column('hints_used')
        batch_op.drop_column('layout')
