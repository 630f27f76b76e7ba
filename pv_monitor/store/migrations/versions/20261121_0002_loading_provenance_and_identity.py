"""Loading: row identity and provenance, date flags, relative-day sources, unchanged loads.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 20:18:16.732029
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add what the ETL needs to load idempotently and trace every row.

    Event tables get a unique (subject_id, source_key) identity, a source_row and a date_flag;
    source keys widen to 255 characters; a drug may be known as given without a start date;
    products may have no known target; disease assessments keep a partial date as written; infusions may be anchored (relative-day sources); a load
    can end "unchanged". The (subject, time) indexes of measurement and observation are dropped:
    the (subject, code, time) index and the identity index both start with subject_id.
    """
    with op.batch_alter_table("adverse_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source_row",
                sa.Integer(),
                nullable=True,
                comment="1-based data row number in the source file the row was last loaded from.",
            )
        )
        batch_op.add_column(
            sa.Column(
                "date_flag",
                sa.String(length=32),
                nullable=True,
                comment="before_day_0 or after_death when the date is implausible; empty otherwise.",
            )
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.VARCHAR(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_adverse_event_subject_id_source_key"), ["subject_id", "source_key"]
        )

    with op.batch_alter_table("death", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source_row",
                sa.Integer(),
                nullable=True,
                comment="1-based data row number in the source file the row was last loaded from.",
            )
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.VARCHAR(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )

    with op.batch_alter_table("disease_assessment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source_row",
                sa.Integer(),
                nullable=True,
                comment="1-based data row number in the source file the row was last loaded from.",
            )
        )
        batch_op.add_column(
            sa.Column(
                "date_flag",
                sa.String(length=32),
                nullable=True,
                comment="before_day_0 or after_death when the date is implausible; empty otherwise.",
            )
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.VARCHAR(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )
        batch_op.add_column(
            sa.Column(
                "assessed_on_source_value",
                sa.String(length=32),
                nullable=True,
                comment="Assessment date as written in the source (may be partial ISO 8601).",
            )
        )
        batch_op.add_column(
            sa.Column(
                "date_imputation",
                sa.String(length=32),
                nullable=True,
                comment="Empty when complete; day or month when that part was imputed.",
            )
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_disease_assessment_subject_id_source_key"), ["subject_id", "source_key"]
        )

    with op.batch_alter_table("drug_exposure", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source_row",
                sa.Integer(),
                nullable=True,
                comment="1-based data row number in the source file the row was last loaded from.",
            )
        )
        batch_op.add_column(
            sa.Column(
                "date_flag",
                sa.String(length=32),
                nullable=True,
                comment="before_day_0 or after_death when the date is implausible; empty otherwise.",
            )
        )
        batch_op.alter_column("started_at", existing_type=sa.DateTime(), nullable=True)
        batch_op.alter_column(
            "source_key",
            existing_type=sa.VARCHAR(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_drug_exposure_subject_id_source_key"), ["subject_id", "source_key"]
        )

    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source_row",
                sa.Integer(),
                nullable=True,
                comment="1-based data row number in the source file the row was last loaded from.",
            )
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.VARCHAR(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )

    with op.batch_alter_table("icsr_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source_row",
                sa.Integer(),
                nullable=True,
                comment="1-based data row number in the source file the row was last loaded from.",
            )
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.VARCHAR(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )

    with op.batch_alter_table("icsr_drug", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source_row",
                sa.Integer(),
                nullable=True,
                comment="1-based data row number in the source file the row was last loaded from.",
            )
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.VARCHAR(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )

    with op.batch_alter_table("icsr_reaction", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source_row",
                sa.Integer(),
                nullable=True,
                comment="1-based data row number in the source file the row was last loaded from.",
            )
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.VARCHAR(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )
        batch_op.drop_index(batch_op.f("ix_icsr_reaction_case"))
        batch_op.create_unique_constraint(
            batch_op.f("uq_icsr_reaction_icsr_case_id_preferred_term"),
            ["icsr_case_id", "preferred_term"],
        )

    with op.batch_alter_table("infusion", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "day_zero_anchored",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
                comment="True when the source gives only days after infusion: infusion_date is then an anchor (2000-01-01), not a calendar date, and only study days are meaningful.",
            )
        )
        batch_op.add_column(
            sa.Column(
                "source_row",
                sa.Integer(),
                nullable=True,
                comment="1-based data row number in the source file the row was last loaded from.",
            )
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.VARCHAR(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )

    with op.batch_alter_table("measurement", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source_row",
                sa.Integer(),
                nullable=True,
                comment="1-based data row number in the source file the row was last loaded from.",
            )
        )
        batch_op.add_column(
            sa.Column(
                "date_flag",
                sa.String(length=32),
                nullable=True,
                comment="before_day_0 or after_death when the date is implausible; empty otherwise.",
            )
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.VARCHAR(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )
        batch_op.drop_index(batch_op.f("ix_measurement_subject_time"))
        batch_op.create_unique_constraint(
            batch_op.f("uq_measurement_subject_id_source_key"), ["subject_id", "source_key"]
        )

    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source_row",
                sa.Integer(),
                nullable=True,
                comment="1-based data row number in the source file the row was last loaded from.",
            )
        )
        batch_op.add_column(
            sa.Column(
                "date_flag",
                sa.String(length=32),
                nullable=True,
                comment="before_day_0 or after_death when the date is implausible; empty otherwise.",
            )
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.VARCHAR(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )
        batch_op.drop_index(batch_op.f("ix_observation_subject_time"))
        batch_op.create_unique_constraint(
            batch_op.f("uq_observation_subject_id_source_key"), ["subject_id", "source_key"]
        )

    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.alter_column("target_antigen", existing_type=sa.VARCHAR(length=32), nullable=True)

    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source_row",
                sa.Integer(),
                nullable=True,
                comment="1-based data row number in the source file the row was last loaded from.",
            )
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.VARCHAR(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )
    _load_statuses(_STATUSES_0002)
    _comment_columns(_COMMENTS_0002)


def downgrade() -> None:
    """Undo migration 0002."""
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.alter_column(
            "source_key",
            existing_type=sa.String(length=255),
            type_=sa.VARCHAR(length=64),
            existing_nullable=False,
        )
        batch_op.drop_column("source_row")

    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.alter_column("target_antigen", existing_type=sa.VARCHAR(length=32), nullable=False)

    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_observation_subject_id_source_key"), type_="unique")
        batch_op.create_index(
            batch_op.f("ix_observation_subject_time"), ["subject_id", "observed_at"], unique=False
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.String(length=255),
            type_=sa.VARCHAR(length=64),
            existing_nullable=False,
        )
        batch_op.drop_column("date_flag")
        batch_op.drop_column("source_row")

    with op.batch_alter_table("measurement", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_measurement_subject_id_source_key"), type_="unique")
        batch_op.create_index(
            batch_op.f("ix_measurement_subject_time"), ["subject_id", "measured_at"], unique=False
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.String(length=255),
            type_=sa.VARCHAR(length=64),
            existing_nullable=False,
        )
        batch_op.drop_column("date_flag")
        batch_op.drop_column("source_row")

    with op.batch_alter_table("infusion", schema=None) as batch_op:
        batch_op.alter_column(
            "source_key",
            existing_type=sa.String(length=255),
            type_=sa.VARCHAR(length=64),
            existing_nullable=False,
        )
        batch_op.drop_column("source_row")
        batch_op.drop_column("day_zero_anchored")

    with op.batch_alter_table("icsr_reaction", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_icsr_reaction_icsr_case_id_preferred_term"), type_="unique"
        )
        batch_op.create_index(batch_op.f("ix_icsr_reaction_case"), ["icsr_case_id"], unique=False)
        batch_op.alter_column(
            "source_key",
            existing_type=sa.String(length=255),
            type_=sa.VARCHAR(length=64),
            existing_nullable=False,
        )
        batch_op.drop_column("source_row")

    with op.batch_alter_table("icsr_drug", schema=None) as batch_op:
        batch_op.alter_column(
            "source_key",
            existing_type=sa.String(length=255),
            type_=sa.VARCHAR(length=64),
            existing_nullable=False,
        )
        batch_op.drop_column("source_row")

    with op.batch_alter_table("icsr_case", schema=None) as batch_op:
        batch_op.alter_column(
            "source_key",
            existing_type=sa.String(length=255),
            type_=sa.VARCHAR(length=64),
            existing_nullable=False,
        )
        batch_op.drop_column("source_row")

    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.alter_column(
            "source_key",
            existing_type=sa.String(length=255),
            type_=sa.VARCHAR(length=64),
            existing_nullable=False,
        )
        batch_op.drop_column("source_row")

    with op.batch_alter_table("drug_exposure", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_drug_exposure_subject_id_source_key"), type_="unique"
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.String(length=255),
            type_=sa.VARCHAR(length=64),
            existing_nullable=False,
        )
        batch_op.alter_column("started_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.drop_column("date_flag")
        batch_op.drop_column("source_row")

    with op.batch_alter_table("disease_assessment", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_disease_assessment_subject_id_source_key"), type_="unique"
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.String(length=255),
            type_=sa.VARCHAR(length=64),
            existing_nullable=False,
        )
        batch_op.drop_column("date_imputation")
        batch_op.drop_column("assessed_on_source_value")
        batch_op.drop_column("date_flag")
        batch_op.drop_column("source_row")

    with op.batch_alter_table("death", schema=None) as batch_op:
        batch_op.alter_column(
            "source_key",
            existing_type=sa.String(length=255),
            type_=sa.VARCHAR(length=64),
            existing_nullable=False,
        )
        batch_op.drop_column("source_row")

    with op.batch_alter_table("adverse_event", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_adverse_event_subject_id_source_key"), type_="unique"
        )
        batch_op.alter_column(
            "source_key",
            existing_type=sa.String(length=255),
            type_=sa.VARCHAR(length=64),
            existing_nullable=False,
        )
        batch_op.drop_column("date_flag")
        batch_op.drop_column("source_row")
    _load_statuses(_STATUSES_0001)
    _comment_columns(_COMMENTS_0001)


_STATUSES_0001 = ("running", "committed", "partial", "rejected", "failed")
_STATUSES_0002 = (*_STATUSES_0001, "unchanged")


def _load_statuses(statuses: tuple[str, ...]) -> None:
    """Replace the CHECK constraint on load_batch.status (frozen lists: history, not vocabulary)."""
    allowed = ", ".join(f"'{s}'" for s in statuses)
    with op.batch_alter_table("load_batch", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_load_batch_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_load_batch_status"), f"status IN ({allowed})"
        )


_LOADED_TABLES = (
    "subject", "infusion", "death", "follow_up", "measurement", "observation", "drug_exposure",
    "adverse_event", "disease_assessment", "icsr_case", "icsr_drug", "icsr_reaction",
)  # fmt: skip
_COMMENTS_0001 = {
    **{(t, "load_batch_id"): "Load batch that wrote this row." for t in _LOADED_TABLES},
    **{
        (
            t,
            "source_key",
        ): "Key of the row in its source file (file#row, or domain#subject#sequence)."
        for t in _LOADED_TABLES
    },
    ("drug_exposure", "started_at"): "Start (imputed when the source gives a partial date).",
    ("product", "target_antigen"): "Targeted antigen, e.g. CD19 or BCMA.",
    ("disease_assessment", "assessed_on"): "Date of the assessment or sample.",
}
_COMMENTS_0002 = {
    **{(t, "load_batch_id"): "Load batch that last wrote this row." for t in _LOADED_TABLES},
    **{
        (t, "source_key"): (
            "Identity of the row in its source (e.g. LB|12 for SDTM, TEMP|2024-05-01T08:00)."
        )
        for t in _LOADED_TABLES
    },
    ("drug_exposure", "started_at"): (
        "Start (imputed when partial); empty when the source says only that it was given."
    ),
    ("product", "target_antigen"): (
        "Targeted antigen, e.g. CD19 or BCMA; empty when the source does not say."
    ),
    ("disease_assessment", "assessed_on"): (
        "Date of the assessment or sample (imputed when partial)."
    ),
}


def _comment_columns(comments: dict[tuple[str, str], str]) -> None:
    """Column comments exist on PostgreSQL only (SQLite has none)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for (table, column), text in comments.items():
        quoted = text.replace("'", "''")
        op.execute(f"COMMENT ON COLUMN {table}.{column} IS '{quoted}'")
