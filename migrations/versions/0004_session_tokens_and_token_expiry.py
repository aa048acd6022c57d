"""random session tokens, ids never reused on SQLite, API token expiry

Cookies used to name `<user id>:<session version>`; on SQLite a deleted account's id went to
the next sign-up, so the deleted account's cookies opened the new one. Users now carry a
random `session_token` (replaced on log-out and password change), and the tables whose ids
leave the database are rebuilt on SQLite with AUTOINCREMENT so no id is handed out twice
(PostgreSQL sequences never go back; nothing changes there but the columns).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:40:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Tables whose ids appear in cookies, URLs, API answers or logs.
NEVER_REUSE_IDS = ("users", "api_tokens", "attempts", "review_cards")


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _switch_foreign_keys(enabled: bool) -> None:
    """SQLite rebuilds a table by dropping the old one; with foreign keys enforced that drop
    would delete (ON DELETE CASCADE) every row that points at it. The pragma is ignored inside
    a transaction, so the open one is committed around it and a new one begun."""
    raw = op.get_bind().connection.driver_connection
    if enabled:
        problems = raw.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"foreign keys broken by the table rebuild: {problems[:5]}")
    if raw.in_transaction:
        raw.commit()
    raw.execute(f"PRAGMA foreign_keys = {'ON' if enabled else 'OFF'}")
    raw.execute("BEGIN")


def _set_autoincrement(enabled: bool) -> None:
    for table in NEVER_REUSE_IDS:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": enabled}
        ):
            pass


def upgrade():
    sqlite = _is_sqlite()
    if sqlite:
        _switch_foreign_keys(False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('session_token', sa.String))
    bind = op.get_bind()
    for (user_id,) in bind.execute(sa.select(users.c.id)).fetchall():
        bind.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(session_token=secrets.token_urlsafe(32))
        )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('session_token', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_users_session_token'), ['session_token'])
        batch_op.drop_column('session_version')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
    if sqlite:
        _set_autoincrement(True)
        _switch_foreign_keys(True)


def downgrade():
    sqlite = _is_sqlite()
    if sqlite:
        _switch_foreign_keys(False)
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('session_version', sa.Integer(), nullable=False, server_default='1')
        )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('session_version', existing_type=sa.Integer(), server_default=None)
        batch_op.drop_constraint(batch_op.f('uq_users_session_token'), type_='unique')
        batch_op.drop_column('session_token')
    if sqlite:
        _set_autoincrement(False)
        _switch_foreign_keys(True)
