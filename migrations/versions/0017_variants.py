"""per-learner variants: a question's params, the variant an attempt was drawn in, the epoch

Revision ID: 0017
Revises: 0007
Create Date: 2026-12-01 12:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs (nullable or with a server default): SQLite need not rebuild tables
    # that attempts and review cards point at with foreign keys.
    op.add_column('questions', sa.Column('variant_spec', sa.JSON(), nullable=True))
    op.add_column('attempts', sa.Column('variant', sa.JSON(), nullable=True))
    op.add_column(
        'review_cards',
        sa.Column('variant_epoch', sa.Integer(), nullable=False, server_default='0'),
    )


def downgrade():
    op.drop_column('review_cards', 'variant_epoch')
    op.drop_column('attempts', 'variant')
    op.drop_column('questions', 'variant_spec')
