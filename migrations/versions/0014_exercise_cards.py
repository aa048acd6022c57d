"""exercise cards: exercises reviewed directly, their ratings in the review log

Revision ID: 0014
Revises: 0017
Create Date: 2026-12-01 13:20:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0017"  # after the variants (both were written on 0007)
branch_labels = None
depends_on = None

ONE_CARD_KIND = "(question_id IS NULL) <> (exercise_id IS NULL)"


def upgrade():
    op.create_table(
        "exercise_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("exercise_id", sa.Integer(), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("stability", sa.Float(), nullable=True),
        sa.Column("difficulty", sa.Float(), nullable=True),
        sa.Column("reviews", sa.Integer(), nullable=False),
        sa.Column("lapses", sa.Integer(), nullable=False),
        sa.Column("last_review_at", sa.DateTime(), nullable=True),
        sa.Column("leech", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("suspended_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exercise_id"], ["exercises.id"], name=op.f("fk_exercise_cards_exercise_id_exercises")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_exercise_cards_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exercise_cards")),
        sa.UniqueConstraint("user_id", "exercise_id", name="uq_exercise_cards_user_id_exercise_id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("exercise_cards", schema=None) as batch_op:
        batch_op.create_index("ix_exercise_cards_user_due", ["user_id", "due_at"], unique=False)

    # SQLite rebuilds review_logs (nothing points at it, so foreign keys can stay on).
    with op.batch_alter_table("review_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exercise_id", sa.Integer(), nullable=True))
        batch_op.alter_column("question_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_review_logs_exercise_id_exercises"), "exercises", ["exercise_id"], ["id"]
        )
        batch_op.create_index(
            batch_op.f("ix_review_logs_exercise_id"), ["exercise_id"], unique=False
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_review_logs_one_card_kind"), sa.text(ONE_CARD_KIND)
        )


def downgrade():
    # Exercise ratings have no question to belong to before this revision.
    op.execute("DELETE FROM review_logs WHERE exercise_id IS NOT NULL")
    with op.batch_alter_table("review_logs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_review_logs_one_card_kind"), type_="check")
        batch_op.drop_index(batch_op.f("ix_review_logs_exercise_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_review_logs_exercise_id_exercises"), type_="foreignkey"
        )
        batch_op.alter_column("question_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("exercise_id")

    with op.batch_alter_table("exercise_cards", schema=None) as batch_op:
        batch_op.drop_index("ix_exercise_cards_user_due")
    op.drop_table("exercise_cards")
