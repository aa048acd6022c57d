"""former slugs (aliases) of questions and exercises

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-01 09:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN with a default: existing rows get an empty list (the next import
    # writes each file's own aliases), and SQLite need not rebuild the table, which with
    # foreign keys enforced would fail while attempts point at the questions.
    for table in ('questions', 'exercises'):
        op.add_column(
            table, sa.Column('aliases', sa.JSON(), nullable=False, server_default='[]')
        )


def downgrade():
    # SQLite (3.35+) and PostgreSQL drop a column in place: no rebuild, no foreign key trouble.
    for table in ('exercises', 'questions'):
        op.drop_column(table, 'aliases')
