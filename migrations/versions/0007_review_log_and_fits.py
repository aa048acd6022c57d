"""review log, schedule fits, daily limits, leeches

Revision ID: 0007
Revises: 0008
Create Date: 2026-12-01 09:50:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _switch_foreign_keys(enabled: bool) -> None:
    """SQLite drops a column by rebuilding the table, and dropping the old `users` with
    foreign keys enforced would delete (ON DELETE CASCADE) every row pointing at it. The pragma
    is ignored inside a transaction, so the open one is committed around it (as 0004 does)."""
    raw = op.get_bind().connection.driver_connection
    if enabled:
        problems = raw.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"foreign keys broken by the table rebuild: {problems[:5]}")
    if raw.in_transaction:
        raw.commit()
    raw.execute(f"PRAGMA foreign_keys = {'ON' if enabled else 'OFF'}")
    raw.execute("BEGIN")


def _rebuild_kwargs() -> dict:
    # users and review_cards keep SQLite's AUTOINCREMENT (0004) through a rebuild.
    if _is_sqlite():
        return {"recreate": "always", "table_kwargs": {"sqlite_autoincrement": True}}
    return {}


def upgrade():
    op.create_table(
        "review_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("review_state", sa.Integer(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("elapsed_days", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("card_before", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempts.id"],
            name=op.f("fk_review_logs_attempt_id_attempts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["question_id"], ["questions.id"], name=op.f("fk_review_logs_question_id_questions")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_review_logs_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_logs")),
    )
    with op.batch_alter_table("review_logs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_logs_attempt_id"), ["attempt_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_review_logs_question_id"), ["question_id"], unique=False
        )
        batch_op.create_index(
            "ix_review_logs_user_reviewed", ["user_id", "reviewed_at"], unique=False
        )

    op.create_table(
        "schedule_fits",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("trigger", sa.String(length=10), nullable=False),
        sa.Column("review_count", sa.Integer(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=True),
        sa.Column("log_loss_before", sa.Float(), nullable=True),
        sa.Column("log_loss_after", sa.Float(), nullable=True),
        sa.Column("rmse_before", sa.Float(), nullable=True),
        sa.Column("rmse_after", sa.Float(), nullable=True),
        sa.Column("recommended_retention", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_schedule_fits_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_fits")),
        sa.UniqueConstraint("user_id", "version", name="uq_schedule_fits_user_id_version"),
    )
    with op.batch_alter_table("schedule_fits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_fits_user_id"), ["user_id"], unique=False)

    sqlite = _is_sqlite()
    if sqlite:
        _switch_foreign_keys(False)
    with op.batch_alter_table("users", schema=None, **_rebuild_kwargs()) as batch_op:
        batch_op.add_column(
            sa.Column("new_cards_per_day", sa.Integer(), server_default="20", nullable=False)
        )
        batch_op.add_column(
            sa.Column("max_reviews_per_day", sa.Integer(), server_default="200", nullable=False)
        )
        batch_op.add_column(
            sa.Column("leech_threshold", sa.Integer(), server_default="8", nullable=False)
        )

    with op.batch_alter_table("review_cards", schema=None, **_rebuild_kwargs()) as batch_op:
        batch_op.add_column(
            sa.Column("leech", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("suspended_at", sa.DateTime(), nullable=True))
    if sqlite:
        _switch_foreign_keys(True)


def downgrade():
    sqlite = _is_sqlite()
    if sqlite:
        _switch_foreign_keys(False)
    with op.batch_alter_table("review_cards", schema=None, **_rebuild_kwargs()) as batch_op:
        batch_op.drop_column("suspended_at")
        batch_op.drop_column("leech")

    with op.batch_alter_table("users", schema=None, **_rebuild_kwargs()) as batch_op:
        batch_op.drop_column("leech_threshold")
        batch_op.drop_column("max_reviews_per_day")
        batch_op.drop_column("new_cards_per_day")

    with op.batch_alter_table("schedule_fits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_fits_user_id"))
    op.drop_table("schedule_fits")

    with op.batch_alter_table("review_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_review_logs_user_reviewed")
        batch_op.drop_index(batch_op.f("ix_review_logs_question_id"))
        batch_op.drop_index(batch_op.f("ix_review_logs_attempt_id"))
    op.drop_table("review_logs")
    if sqlite:
        _switch_foreign_keys(True)
