"""simulation results stored packed (columns, deflated) instead of as JSON; runs record
the process that will finish them, so a run lost with its process can be requeued

Revision ID: 0005
Revises: 0012
Create Date: 2026-12-01 10:00:00

"""
import json

import sqlalchemy as sa
from alembic import op

from quizapp.models.result_packing import pack_result, unpack_result

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0012'
branch_labels = None
depends_on = None

_results = sa.table(
    "sim_results",
    sa.column("key", sa.String),
    sa.column("result", sa.JSON),
    sa.column("packed", sa.LargeBinary),
)


def _value(raw):
    # SQLite hands JSON back as text through a lightweight table; PostgreSQL as a dict.
    return json.loads(raw) if isinstance(raw, str) else raw


def upgrade():
    with op.batch_alter_table('sim_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('submitted_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('sim_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('packed', sa.LargeBinary(), nullable=True))
    connection = op.get_bind()
    # One row at a time: a result can be megabytes, and there can be many.
    keys = [row.key for row in connection.execute(sa.select(_results.c.key))]
    for key in keys:
        raw = connection.execute(
            sa.select(_results.c.result).where(_results.c.key == key)
        ).scalar_one()
        connection.execute(
            _results.update().where(_results.c.key == key).values(packed=pack_result(_value(raw)))
        )
    with op.batch_alter_table('sim_results', schema=None) as batch_op:
        batch_op.alter_column('packed', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column('result')


def downgrade():
    with op.batch_alter_table('sim_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('result', sa.JSON(), nullable=True))
    connection = op.get_bind()
    keys = [row.key for row in connection.execute(sa.select(_results.c.key))]
    for key in keys:
        packed = connection.execute(
            sa.select(_results.c.packed).where(_results.c.key == key)
        ).scalar_one()
        connection.execute(
            _results.update().where(_results.c.key == key).values(result=unpack_result(packed))
        )
    with op.batch_alter_table('sim_results', schema=None) as batch_op:
        batch_op.alter_column('result', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('packed')
    with op.batch_alter_table('sim_runs', schema=None) as batch_op:
        batch_op.drop_column('submitted_at')
        batch_op.drop_column('owner')
