"""Signal management: analysis runs, the run and method family of each signal, signed decisions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:47:07.525419
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

METHOD_FAMILIES = (  # frozen here: a later change to vocabulary.METHOD_FAMILIES needs a migration
    "disproportionality",
    "rate_vs_reference",
    "sequential",
    "bayesian",
    "rule_based_clinical",
)


def upgrade() -> None:
    """Add ``analysis_run``; link signals to it with their method family; let a signal decision
    carry an electronic signature. ``signal_event`` is append-only (its triggers must survive),
    so its columns are added in place, never by rebuilding the table."""
    families = ", ".join(f"'{family}'" for family in METHOD_FAMILIES)
    op.create_table(
        "analysis_run",
        sa.Column("analysis_run_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column(
            "run_key", sa.String(length=64), nullable=False, comment="Human-facing run identifier."
        ),
        sa.Column(
            "method_family",
            sa.String(length=32),
            nullable=False,
            comment="disproportionality, rate_vs_reference, sequential, bayesian or "
            "rule_based_clinical.",
        ),
        sa.Column(
            "method",
            sa.String(length=255),
            nullable=False,
            comment="Method, e.g. gps, prr, bernoulli_cusum.",
        ),
        sa.Column("parameters", sa.JSON(), nullable=True, comment="Method parameters (JSON)."),
        sa.Column("thresholds", sa.JSON(), nullable=True, comment="Thresholds applied (JSON)."),
        sa.Column("data_from", sa.Date(), nullable=True, comment="Start of the data interval."),
        sa.Column("data_lock_point", sa.Date(), nullable=True, comment="Data-lock point (end)."),
        sa.Column(
            "database_sha256",
            sa.String(length=64),
            nullable=True,
            comment="Content hash of the data analysed.",
        ),
        sa.Column(
            "software_version", sa.String(length=32), nullable=False, comment="pv-monitor version."
        ),
        sa.Column("run_by", sa.String(length=255), nullable=False, comment="Who ran it."),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, comment="When (UTC)."),
        sa.Column("hits", sa.Integer(), nullable=False, comment="Combinations over threshold."),
        sa.CheckConstraint(
            f"method_family IN ({families})", name=op.f("ck_analysis_run_method_family")
        ),
        sa.PrimaryKeyConstraint("analysis_run_id", name=op.f("pk_analysis_run")),
        sa.UniqueConstraint("run_key", name=op.f("uq_analysis_run_run_key")),
        comment="Signal-detection runs (method, parameters, thresholds, data cut, version).",
    )
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "analysis_run_id",
                sa.Integer(),
                nullable=True,
                comment="The analysis run that raised it (statistical sources).",
            )
        )
        batch_op.add_column(
            sa.Column(
                "method_family",
                sa.String(length=32),
                nullable=True,
                comment="Method family of a statistical source (vocabulary.METHOD_FAMILIES).",
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_signal_analysis_run_id_analysis_run"),
            "analysis_run",
            ["analysis_run_id"],
            ["analysis_run_id"],
        )
    op.add_column(
        "signal_event",
        sa.Column(
            "signed_name",
            sa.String(length=255),
            nullable=True,
            comment="Printed name of the signer, for decisions that need an electronic signature.",
        ),
    )
    op.add_column(
        "signal_event",
        sa.Column(
            "signature_meaning",
            sa.String(length=255),
            nullable=True,
            comment="Meaning of the signature (21 CFR 11.50), e.g. 'closure approved'.",
        ),
    )


def downgrade() -> None:
    """Undo: drop the signature columns, the signal's run link and ``analysis_run``."""
    op.drop_column("signal_event", "signature_meaning")
    op.drop_column("signal_event", "signed_name")
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_signal_analysis_run_id_analysis_run"), type_="foreignkey"
        )
        batch_op.drop_column("method_family")
        batch_op.drop_column("analysis_run_id")
    op.drop_table("analysis_run")
