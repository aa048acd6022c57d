"""former slugs (aliases) of questions and exercises

Revision ID: 0009
Revises: 0012
Create Date: 2026-12-01 09:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    # Existing rows get an empty list; the next import writes each file's own aliases.
    for table in ('questions', 'exercises'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('aliases', sa.JSON(), nullable=True))
        op.execute(sa.text(f"UPDATE {table} SET aliases = '[]'"))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('aliases', existing_type=sa.JSON(), nullable=False)


def downgrade():
    for table in ('exercises', 'questions'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('aliases')
