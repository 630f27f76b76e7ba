"""Pipeline runs (the manifest that makes ``pv-monitor run`` incremental); longer criteria names.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 22:54:56.599433
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``pipeline_run``: which load batches a run covered, with which criteria versions.
    Widen ``criteria_version`` of grades and episodes to 255 characters: a version names a part
    of its table (``ctcae_v5_0_labs:aspartate_aminotransferase_increased``)."""
    for table, comment in (
        ("toxicity_grade", "Criteria table used, e.g. astct_2019_crs or ctcae_v5_0_labs:anemia."),
        ("toxicity_episode", "Criteria table used."),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "criteria_version",
                existing_type=sa.String(length=32),
                type_=sa.String(length=255),
                existing_nullable=False,
                comment=comment,
                existing_comment="Criteria table used, e.g. astct_2019_crs."
                if table == "toxicity_grade"
                else "Criteria table used.",
            )
    op.create_table(
        "pipeline_run",
        sa.Column("pipeline_run_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column(
            "run_by", sa.String(length=255), nullable=False, comment="User or process that ran it."
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, comment="Start (UTC)."),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True, comment="End (UTC)."),
        sa.Column(
            "status", sa.String(length=32), nullable=False, comment="running, committed or failed."
        ),
        sa.Column(
            "mode",
            sa.String(length=32),
            nullable=False,
            comment="incremental (subjects touched since the last run) or full.",
        ),
        sa.Column(
            "last_load_batch_id",
            sa.Integer(),
            nullable=False,
            comment="Highest load batch whose rows this run took into account.",
        ),
        sa.Column(
            "criteria",
            sa.JSON(),
            nullable=False,
            comment="Criteria, score and closure-rule versions used (JSON).",
        ),
        sa.Column("subjects", sa.Integer(), nullable=False, comment="Subjects recomputed."),
        sa.Column("counts", sa.JSON(), nullable=True, comment="Rows written per table (JSON)."),
        sa.Column(
            "pv_monitor_version",
            sa.String(length=32),
            nullable=False,
            comment="pv-monitor version that ran it.",
        ),
        sa.CheckConstraint("mode IN ('incremental', 'full')", name=op.f("ck_pipeline_run_mode")),
        sa.CheckConstraint(
            "status IN ('running', 'committed', 'failed')", name=op.f("ck_pipeline_run_status")
        ),
        sa.PrimaryKeyConstraint("pipeline_run_id", name=op.f("pk_pipeline_run")),
        comment="Pipeline runs: the load batches they covered, criteria versions, counts.",
    )


def downgrade() -> None:
    """Drop ``pipeline_run``; criteria versions back to 32 characters."""
    op.drop_table("pipeline_run")
    for table in ("toxicity_grade", "toxicity_episode"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "criteria_version",
                existing_type=sa.String(length=255),
                type_=sa.String(length=32),
                existing_nullable=False,
            )
