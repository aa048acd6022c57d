"""problem reports from learners, item-statistics snapshots and an index for them

Revision ID: 0012
Revises: 0004
Create Date: 2026-12-01 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('problem_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=True),
    sa.Column('exercise_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('replied_by_id', sa.Integer(), nullable=True),
    sa.Column('replied_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['exercise_id'], ['exercises.id'], name=op.f('fk_problem_reports_exercise_id_exercises')),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_problem_reports_question_id_questions')),
    sa.ForeignKeyConstraint(['replied_by_id'], ['users.id'], name=op.f('fk_problem_reports_replied_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_problem_reports_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_problem_reports'))
    )
    with op.batch_alter_table('problem_reports', schema=None) as batch_op:
        batch_op.create_index('ix_problem_reports_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index('ix_problem_reports_user_created', ['user_id', 'created_at'], unique=False)
    op.create_table('stat_snapshots',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('attempt_watermark', sa.Integer(), nullable=False),
    sa.Column('attempt_count', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_stat_snapshots'))
    )
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.create_index('ix_attempts_item_user', ['question_id', 'check_index', 'user_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_attempts_item_user')
    op.drop_table('stat_snapshots')
    with op.batch_alter_table('problem_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_problem_reports_user_created')
        batch_op.drop_index('ix_problem_reports_status_created')
    op.drop_table('problem_reports')
