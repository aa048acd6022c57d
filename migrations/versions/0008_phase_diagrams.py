"""phase diagrams: sweeps and their cells

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01 09:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('phase_sweeps',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('preset', sa.String(length=60), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('simulator_version', sa.String(length=20), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('theory', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_phase_sweeps'))
    )
    op.create_table('phase_cells',
    sa.Column('sweep_key', sa.String(length=64), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('log10_ratio', sa.Float(), nullable=True),
    sa.Column('verdict', sa.String(length=10), nullable=False),
    sa.Column('chi1', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['sweep_key'], ['phase_sweeps.key'], name=op.f('fk_phase_cells_sweep_key_phase_sweeps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sweep_key', 'index', name=op.f('pk_phase_cells'))
    )


def downgrade():
    op.drop_table('phase_cells')
    op.drop_table('phase_sweeps')
