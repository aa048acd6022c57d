"""former slugs (aliases) of questions and exercises

A renamed question or exercise keeps its old slugs in `aliases`; their URLs redirect to it.
On SQLite the tables are rebuilt, so foreign keys are switched off around the rebuild (as in
0004): dropping the old `questions` table would otherwise cascade to attempts and topics.

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-01 09:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0005'
branch_labels = None
depends_on = None

TABLES = ('questions', 'exercises')


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _switch_foreign_keys(enabled: bool) -> None:
    """The pragma is ignored inside a transaction, so the open one is committed around it."""
    raw = op.get_bind().connection.driver_connection
    if enabled:
        problems = raw.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"foreign keys broken by the table rebuild: {problems[:5]}")
    if raw.in_transaction:
        raw.commit()
    raw.execute(f"PRAGMA foreign_keys = {'ON' if enabled else 'OFF'}")
    raw.execute("BEGIN")


def upgrade():
    sqlite = _is_sqlite()
    if sqlite:
        _switch_foreign_keys(False)
    # Existing rows get an empty list; the next import writes each file's own aliases.
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('aliases', sa.JSON(), nullable=True))
        op.execute(sa.text(f"UPDATE {table} SET aliases = '[]'"))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('aliases', existing_type=sa.JSON(), nullable=False)
    if sqlite:
        _switch_foreign_keys(True)


def downgrade():
    sqlite = _is_sqlite()
    if sqlite:
        _switch_foreign_keys(False)
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('aliases')
    if sqlite:
        _switch_foreign_keys(True)
