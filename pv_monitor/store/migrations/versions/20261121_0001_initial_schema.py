"""Initial schema: every table of architecture.md, append-only history tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 19:43:10.821782
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pv_monitor.store.triggers import POSTGRESQL_FUNCTION, postgresql_triggers, sqlite_triggers

# Frozen here: a later change to pv_monitor.store.triggers.APPEND_ONLY_TABLES needs its own migration.
APPEND_ONLY_TABLES = ("audit_log", "alert_event", "signal_event")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create every table of the store and make the history tables append-only."""
    op.create_table(
        "app_user",
        sa.Column("app_user_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column("username", sa.String(length=64), nullable=False, comment="Login name."),
        sa.Column(
            "display_name",
            sa.String(length=255),
            nullable=True,
            comment="Name shown in the dashboard.",
        ),
        sa.Column(
            "role",
            sa.String(length=32),
            nullable=False,
            comment="clinician, safety_officer, data_manager, admin.",
        ),
        sa.Column(
            "password_hash",
            sa.Text(),
            nullable=False,
            comment="Salted password hash (never plain).",
        ),
        sa.Column(
            "is_active", sa.Boolean(), nullable=False, comment="False once access is revoked."
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the user was created (UTC).",
        ),
        sa.CheckConstraint(
            "role IN ('clinician', 'safety_officer', 'data_manager', 'admin')",
            name=op.f("ck_app_user_role"),
        ),
        sa.PrimaryKeyConstraint("app_user_id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
        comment="Users and roles (clinician, safety_officer, data_manager, admin).",
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "audit_log_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Sequence of entries.",
        ),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="Server time stamp (UTC).",
        ),
        sa.Column(
            "actor",
            sa.String(length=255),
            nullable=False,
            comment="Who made the change (user name or process).",
        ),
        sa.Column(
            "action",
            sa.String(length=32),
            nullable=False,
            comment="create, update, delete, load, transition, ...",
        ),
        sa.Column(
            "table_name",
            sa.String(length=32),
            nullable=False,
            comment="Table of the changed record.",
        ),
        sa.Column(
            "record_key", sa.String(length=64), nullable=False, comment="Key of the changed record."
        ),
        sa.Column(
            "old_value",
            sa.Text(),
            nullable=True,
            comment="Changed fields before, as canonical JSON; empty for a creation.",
        ),
        sa.Column(
            "new_value",
            sa.Text(),
            nullable=True,
            comment="Changed fields after, as canonical JSON; empty for a deletion.",
        ),
        sa.Column("reason", sa.Text(), nullable=True, comment="Reason for the change."),
        sa.Column(
            "previous_sha256",
            sa.String(length=64),
            nullable=False,
            comment="row_sha256 of the previous entry (64 zeros for the first).",
        ),
        sa.Column(
            "row_sha256",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 over previous_sha256 and this entry's canonical content.",
        ),
        sa.PrimaryKeyConstraint("audit_log_id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("row_sha256", name=op.f("uq_audit_log_row_sha256")),
        comment="Append-only, hash-chained audit trail (21 CFR 11.10(e)).",
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_occurred_at", ["occurred_at"], unique=False)
        batch_op.create_index("ix_audit_log_table_key", ["table_name", "record_key"], unique=False)

    op.create_table(
        "product",
        sa.Column("product_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column(
            "generic_name",
            sa.String(length=255),
            nullable=False,
            comment="Generic (INN) name, e.g. axicabtagene ciloleucel.",
        ),
        sa.Column(
            "brand_name",
            sa.String(length=255),
            nullable=True,
            comment="Brand name, e.g. Yescarta; empty for investigational products.",
        ),
        sa.Column(
            "target_antigen",
            sa.String(length=32),
            nullable=False,
            comment="Targeted antigen, e.g. CD19 or BCMA.",
        ),
        sa.Column(
            "costimulatory_domain",
            sa.String(length=32),
            nullable=True,
            comment="Costimulatory domain, e.g. CD28 or 4-1BB.",
        ),
        sa.Column(
            "vector",
            sa.String(length=32),
            nullable=True,
            comment="Gene-transfer vector, e.g. lentivirus.",
        ),
        sa.Column(
            "is_approved",
            sa.Boolean(),
            nullable=False,
            comment="True for products with a marketing authorisation.",
        ),
        sa.Column(
            "source",
            sa.Text(),
            nullable=True,
            comment="Where the product facts come from (reference and evidence tag).",
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_product")),
        sa.UniqueConstraint("brand_name", name=op.f("uq_product_brand_name")),
        sa.UniqueConstraint("generic_name", name=op.f("uq_product_generic_name")),
        comment="CAR-T products (approved ones seeded from pv_monitor.reference).",
    )
    op.create_table(
        "study",
        sa.Column("study_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column(
            "study_key",
            sa.String(length=64),
            nullable=False,
            comment="Study identifier as in the source (SDTM STUDYID).",
        ),
        sa.Column(
            "title", sa.String(length=255), nullable=True, comment="Study title, when known."
        ),
        sa.PrimaryKeyConstraint("study_id", name=op.f("pk_study")),
        sa.UniqueConstraint("study_key", name=op.f("uq_study_study_key")),
        comment="A trial, registry or programme whose exports are loaded.",
    )
    op.create_table(
        "load_batch",
        sa.Column("load_batch_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column(
            "source_path",
            sa.Text(),
            nullable=False,
            comment="File or folder as given to the loader.",
        ),
        sa.Column(
            "source_sha256",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 of the file, or of the sorted list of file digests for a folder.",
        ),
        sa.Column(
            "source_format",
            sa.String(length=32),
            nullable=False,
            comment="sdtm, tidy, faers or mapping:<file>.",
        ),
        sa.Column(
            "files",
            sa.JSON(),
            nullable=True,
            comment="Per-file name, size, SHA-256 and row count (JSON).",
        ),
        sa.Column(
            "study_id",
            sa.Integer(),
            nullable=True,
            comment="Study loaded, when the source names one.",
        ),
        sa.Column(
            "loaded_by", sa.String(length=255), nullable=False, comment="User who ran the load."
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, comment="Start (UTC)."),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True, comment="End (UTC)."),
        sa.Column(
            "status",
            sa.String(length=32),
            nullable=False,
            comment="running, committed, partial, rejected, failed.",
        ),
        sa.Column(
            "policy",
            sa.String(length=32),
            nullable=False,
            comment="all_or_nothing or accept_partial.",
        ),
        sa.Column("rows_read", sa.Integer(), nullable=False, comment="Rows read from the source."),
        sa.Column(
            "rows_loaded", sa.Integer(), nullable=False, comment="Rows written to the store."
        ),
        sa.Column(
            "rows_rejected",
            sa.Integer(),
            nullable=False,
            comment="Rows rejected (see load_rejection).",
        ),
        sa.Column(
            "etl_version",
            sa.String(length=32),
            nullable=False,
            comment="pv-monitor version that ran the load.",
        ),
        sa.Column("message", sa.Text(), nullable=True, comment="Summary or error message."),
        sa.CheckConstraint(
            "status IN ('running', 'committed', 'partial', 'rejected', 'failed')",
            name=op.f("ck_load_batch_status"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.study_id"], name=op.f("fk_load_batch_study_id_study")
        ),
        sa.PrimaryKeyConstraint("load_batch_id", name=op.f("pk_load_batch")),
        comment="Load manifest: what was loaded, by whom, when, with which result.",
    )
    with op.batch_alter_table("load_batch", schema=None) as batch_op:
        batch_op.create_index("ix_load_batch_sha256", ["source_sha256"], unique=False)

    op.create_table(
        "signal",
        sa.Column("signal_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column(
            "signal_key",
            sa.String(length=64),
            nullable=False,
            comment="Human-facing signal identifier.",
        ),
        sa.Column(
            "product_id",
            sa.Integer(),
            nullable=True,
            comment="Product, when one product is concerned.",
        ),
        sa.Column(
            "event_term",
            sa.String(length=255),
            nullable=False,
            comment="Event (MedDRA PT or grouping).",
        ),
        sa.Column(
            "meddra_version",
            sa.String(length=32),
            nullable=True,
            comment="MedDRA version of event_term.",
        ),
        sa.Column(
            "population",
            sa.String(length=255),
            nullable=True,
            comment="Population or subgroup, if any.",
        ),
        sa.Column(
            "source_type",
            sa.String(length=32),
            nullable=False,
            comment="statistical, clinical_review, literature, dsmb, regulator.",
        ),
        sa.Column(
            "analysis_run",
            sa.JSON(),
            nullable=True,
            comment="Run id, method, parameters, thresholds, data cut, version, statistics (JSON).",
        ),
        sa.Column(
            "status",
            sa.String(length=32),
            nullable=False,
            comment="GVP IX status (vocabulary.SIGNAL_STATUSES).",
        ),
        sa.Column("priority", sa.String(length=32), nullable=True, comment="Priority level."),
        sa.Column("detected_on", sa.Date(), nullable=False, comment="Date detected."),
        sa.Column("closed_on", sa.Date(), nullable=True, comment="Date closed."),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the record was created (UTC).",
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, comment="Last change (UTC)."
        ),
        sa.CheckConstraint(
            "status IN ('new', 'under_validation', 'validated', 'refuted', 'under_assessment', 'closed')",
            name=op.f("ck_signal_status"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.product_id"], name=op.f("fk_signal_product_id_product")
        ),
        sa.PrimaryKeyConstraint("signal_id", name=op.f("pk_signal")),
        sa.UniqueConstraint("signal_key", name=op.f("uq_signal_signal_key")),
        comment="Signal tracking: a statistical hit stays 'potential' until validated.",
    )
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.create_index("ix_signal_status", ["status"], unique=False)

    op.create_table(
        "site",
        sa.Column("site_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column("study_id", sa.Integer(), nullable=False, comment="Study the site belongs to."),
        sa.Column(
            "site_key",
            sa.String(length=64),
            nullable=False,
            comment="Site identifier as in the source (SITEID).",
        ),
        sa.Column("name", sa.String(length=255), nullable=True, comment="Site name, when known."),
        sa.Column(
            "country",
            sa.String(length=32),
            nullable=True,
            comment="ISO 3166 country code, when known.",
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.study_id"], name=op.f("fk_site_study_id_study")
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site")),
        sa.UniqueConstraint("study_id", "site_key", name=op.f("uq_site_study_id_site_key")),
        comment="A clinical site of a study; clinicians see only their sites' subjects.",
    )
    op.create_table(
        "app_user_site",
        sa.Column("app_user_id", sa.Integer(), nullable=False, comment="The user."),
        sa.Column("site_id", sa.Integer(), nullable=False, comment="A site the user may see."),
        sa.ForeignKeyConstraint(
            ["app_user_id"],
            ["app_user.app_user_id"],
            name=op.f("fk_app_user_site_app_user_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.site_id"], name=op.f("fk_app_user_site_site_id_site")
        ),
        sa.PrimaryKeyConstraint("app_user_id", "site_id", name=op.f("pk_app_user_site")),
        comment="Site scope of users (clinicians see only their sites).",
    )
    op.create_table(
        "icsr_case",
        sa.Column(
            "icsr_case_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Surrogate key.",
        ),
        sa.Column(
            "source", sa.String(length=32), nullable=False, comment="faers or aers (legacy layout)."
        ),
        sa.Column(
            "report_key",
            sa.String(length=64),
            nullable=False,
            comment="primaryid (FAERS) or isr (legacy AERS).",
        ),
        sa.Column(
            "case_key",
            sa.String(length=64),
            nullable=False,
            comment="caseid (FAERS) or case (legacy AERS).",
        ),
        sa.Column("case_version", sa.Integer(), nullable=True, comment="caseversion (FAERS only)."),
        sa.Column(
            "is_latest",
            sa.Boolean(),
            nullable=False,
            comment="True for the latest version of the case loaded so far.",
        ),
        sa.Column(
            "quarter", sa.String(length=32), nullable=True, comment="Quarterly file, e.g. 2017Q2."
        ),
        sa.Column(
            "initial_or_followup", sa.String(length=32), nullable=True, comment="I or F (i_f_code)."
        ),
        sa.Column(
            "event_date", sa.Date(), nullable=True, comment="event_dt (imputed when partial)."
        ),
        sa.Column(
            "event_date_source_value",
            sa.String(length=32),
            nullable=True,
            comment="event_dt as given.",
        ),
        sa.Column("fda_received_date", sa.Date(), nullable=True, comment="fda_dt / init_fda_dt."),
        sa.Column(
            "report_type",
            sa.String(length=32),
            nullable=True,
            comment="rept_cod: EXP, PER, DIR, ...",
        ),
        sa.Column("age", sa.Double(), nullable=True, comment="Age as reported."),
        sa.Column(
            "age_unit",
            sa.String(length=32),
            nullable=True,
            comment="age_cod: YR, MON, WK, DY, DEC, HR.",
        ),
        sa.Column("sex", sa.String(length=32), nullable=True, comment="F, M or UNK."),
        sa.Column("weight", sa.Double(), nullable=True, comment="Weight as reported."),
        sa.Column("weight_unit", sa.String(length=32), nullable=True, comment="KG or LBS."),
        sa.Column(
            "reporter_country", sa.String(length=32), nullable=True, comment="Reporter country."
        ),
        sa.Column(
            "occurrence_country",
            sa.String(length=32),
            nullable=True,
            comment="Country of occurrence.",
        ),
        sa.Column(
            "reporter_occupation",
            sa.String(length=32),
            nullable=True,
            comment="occp_cod: MD, PH, ...",
        ),
        sa.Column(
            "outcomes",
            sa.String(length=255),
            nullable=True,
            comment="';'-separated OUTC codes: DE, LT, HO, DS, CA, RI, OT.",
        ),
        sa.Column(
            "report_sources",
            sa.String(length=255),
            nullable=True,
            comment="';'-separated RPSR codes: FGN, SDY, LIT, CSM, HP, ...",
        ),
        sa.Column(
            "load_batch_id", sa.Integer(), nullable=False, comment="Load batch that wrote this row."
        ),
        sa.Column(
            "source_key",
            sa.String(length=64),
            nullable=False,
            comment="Key of the row in its source file (file#row, or domain#subject#sequence).",
        ),
        sa.ForeignKeyConstraint(
            ["load_batch_id"],
            ["load_batch.load_batch_id"],
            name=op.f("fk_icsr_case_load_batch_id_load_batch"),
        ),
        sa.PrimaryKeyConstraint("icsr_case_id", name=op.f("pk_icsr_case")),
        sa.UniqueConstraint("source", "report_key", name=op.f("uq_icsr_case_source_report_key")),
        comment="Spontaneous report versions; is_latest marks the version analysed.",
    )
    with op.batch_alter_table("icsr_case", schema=None) as batch_op:
        batch_op.create_index(
            "ix_icsr_case_case_version", ["source", "case_key", "case_version"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_icsr_case_load_batch_id"), ["load_batch_id"], unique=False
        )

    op.create_table(
        "load_rejection",
        sa.Column("load_rejection_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column("load_batch_id", sa.Integer(), nullable=False, comment="The batch."),
        sa.Column(
            "file_name", sa.String(length=255), nullable=False, comment="File the row is in."
        ),
        sa.Column(
            "row_number",
            sa.Integer(),
            nullable=True,
            comment="1-based data row number in the file (header excluded); empty for file-level.",
        ),
        sa.Column(
            "field", sa.String(length=255), nullable=True, comment="Column (field) at fault."
        ),
        sa.Column("value", sa.Text(), nullable=True, comment="Offending value as written."),
        sa.Column(
            "rule",
            sa.String(length=32),
            nullable=False,
            comment="Identifier of the rule that failed.",
        ),
        sa.Column(
            "reason", sa.Text(), nullable=False, comment="Why, in words a data manager understands."
        ),
        sa.ForeignKeyConstraint(
            ["load_batch_id"],
            ["load_batch.load_batch_id"],
            name=op.f("fk_load_rejection_load_batch_id_load_batch"),
        ),
        sa.PrimaryKeyConstraint("load_rejection_id", name=op.f("pk_load_rejection")),
        comment="Row-level rejections of load batches.",
    )
    with op.batch_alter_table("load_rejection", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_load_rejection_load_batch_id"), ["load_batch_id"], unique=False
        )

    op.create_table(
        "signal_event",
        sa.Column("signal_event_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column("signal_id", sa.Integer(), nullable=False, comment="The signal."),
        sa.Column("from_status", sa.String(length=32), nullable=True, comment="Status before."),
        sa.Column("to_status", sa.String(length=32), nullable=False, comment="Status after."),
        sa.Column("actor", sa.String(length=255), nullable=False, comment="Who decided."),
        sa.Column(
            "actor_role", sa.String(length=32), nullable=False, comment="Role of who decided."
        ),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When (UTC, server clock).",
        ),
        sa.Column(
            "rationale", sa.Text(), nullable=False, comment="Rationale (required at each decision)."
        ),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signal.signal_id"], name=op.f("fk_signal_event_signal_id_signal")
        ),
        sa.PrimaryKeyConstraint("signal_event_id", name=op.f("pk_signal_event")),
        comment="Append-only history of signal decisions.",
    )
    with op.batch_alter_table("signal_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signal_event_signal_id"), ["signal_id"], unique=False)

    op.create_table(
        "subject",
        sa.Column("subject_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column(
            "study_id", sa.Integer(), nullable=False, comment="Study the subject is enrolled in."
        ),
        sa.Column("site_id", sa.Integer(), nullable=True, comment="Treating site."),
        sa.Column(
            "subject_key",
            sa.String(length=64),
            nullable=False,
            comment="Pseudonymous subject key from the source (USUBJID); never a name or MRN.",
        ),
        sa.Column("sex", sa.String(length=32), nullable=True, comment="F, M or U."),
        sa.Column(
            "age_years",
            sa.Double(),
            nullable=True,
            comment="Age in years at (first) infusion; picks ICE vs CAPD and paediatric thresholds.",
        ),
        sa.Column(
            "diagnosis",
            sa.String(length=32),
            nullable=True,
            comment="Diagnosis code (pv_monitor.vocabulary.DIAGNOSES), e.g. LBCL, B-ALL, MM.",
        ),
        sa.Column("weight_kg", sa.Double(), nullable=True, comment="Weight at baseline, kg."),
        sa.Column(
            "load_batch_id", sa.Integer(), nullable=False, comment="Load batch that wrote this row."
        ),
        sa.Column(
            "source_key",
            sa.String(length=64),
            nullable=False,
            comment="Key of the row in its source file (file#row, or domain#subject#sequence).",
        ),
        sa.CheckConstraint(
            "age_years IS NULL OR (age_years >= 0 AND age_years < 130)",
            name=op.f("ck_subject_age_years"),
        ),
        sa.ForeignKeyConstraint(
            ["load_batch_id"],
            ["load_batch.load_batch_id"],
            name=op.f("fk_subject_load_batch_id_load_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.site_id"], name=op.f("fk_subject_site_id_site")
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.study_id"], name=op.f("fk_subject_study_id_study")
        ),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_subject")),
        sa.UniqueConstraint(
            "study_id", "subject_key", name=op.f("uq_subject_study_id_subject_key")
        ),
        comment="Pseudonymous subjects; no direct identifiers are ever stored.",
    )
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subject_load_batch_id"), ["load_batch_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_subject_site_id"), ["site_id"], unique=False)

    op.create_table(
        "adverse_event",
        sa.Column("adverse_event_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column(
            "term", sa.String(length=255), nullable=False, comment="Reported term (verbatim)."
        ),
        sa.Column(
            "decoded_term",
            sa.String(length=255),
            nullable=True,
            comment="Dictionary-derived term (MedDRA preferred term), when coded.",
        ),
        sa.Column(
            "syndrome",
            sa.String(length=32),
            nullable=True,
            comment="crs, icans, iec_hs, ... when the term names one of the monitored syndromes.",
        ),
        sa.Column("onset_date", sa.Date(), nullable=True, comment="Onset (imputed when partial)."),
        sa.Column(
            "onset_date_source_value",
            sa.String(length=32),
            nullable=True,
            comment="Onset as written in the source (may be partial ISO 8601).",
        ),
        sa.Column(
            "resolved_date", sa.Date(), nullable=True, comment="Resolution (imputed when partial)."
        ),
        sa.Column(
            "resolved_date_source_value",
            sa.String(length=32),
            nullable=True,
            comment="Resolution as written in the source.",
        ),
        sa.Column(
            "date_imputation",
            sa.String(length=32),
            nullable=True,
            comment="Empty when complete; otherwise which parts of onset/resolution were imputed.",
        ),
        sa.Column(
            "reported_grade", sa.Integer(), nullable=True, comment="Grade as reported (0-5)."
        ),
        sa.Column(
            "grading_scale",
            sa.String(length=32),
            nullable=True,
            comment="Scale of reported_grade (pv_monitor.vocabulary.GradingScale).",
        ),
        sa.Column("serious", sa.Boolean(), nullable=True, comment="Reported as serious."),
        sa.Column(
            "outcome",
            sa.String(length=32),
            nullable=True,
            comment="Outcome (vocabulary.AE_OUTCOMES).",
        ),
        sa.Column(
            "verbatim",
            sa.Text(),
            nullable=True,
            comment="Free-text description, when the source has one.",
        ),
        sa.Column(
            "load_batch_id", sa.Integer(), nullable=False, comment="Load batch that wrote this row."
        ),
        sa.Column(
            "source_key",
            sa.String(length=64),
            nullable=False,
            comment="Key of the row in its source file (file#row, or domain#subject#sequence).",
        ),
        sa.Column(
            "subject_id",
            sa.Integer(),
            nullable=False,
            comment="The subject (pseudonymous) this row is about.",
        ),
        sa.CheckConstraint(
            "reported_grade IS NULL OR reported_grade BETWEEN 0 AND 5",
            name=op.f("ck_adverse_event_grade"),
        ),
        sa.ForeignKeyConstraint(
            ["load_batch_id"],
            ["load_batch.load_batch_id"],
            name=op.f("fk_adverse_event_load_batch_id_load_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_adverse_event_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("adverse_event_id", name=op.f("pk_adverse_event")),
        comment="Adverse events as reported (term, grade and scale, dates, seriousness).",
    )
    with op.batch_alter_table("adverse_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adverse_event_load_batch_id"), ["load_batch_id"], unique=False
        )
        batch_op.create_index(
            "ix_adverse_event_subject_onset", ["subject_id", "onset_date"], unique=False
        )

    op.create_table(
        "death",
        sa.Column("death_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column(
            "death_date",
            sa.Date(),
            nullable=True,
            comment="Date of death (imputed when the source gives a partial date).",
        ),
        sa.Column(
            "death_date_source_value",
            sa.String(length=32),
            nullable=True,
            comment="Date of death as written in the source (may be partial ISO 8601).",
        ),
        sa.Column(
            "death_date_imputation",
            sa.String(length=32),
            nullable=True,
            comment="Empty when complete; 'day' or 'month' when that part was imputed.",
        ),
        sa.Column("cause", sa.Text(), nullable=True, comment="Cause of death as reported."),
        sa.Column(
            "load_batch_id", sa.Integer(), nullable=False, comment="Load batch that wrote this row."
        ),
        sa.Column(
            "source_key",
            sa.String(length=64),
            nullable=False,
            comment="Key of the row in its source file (file#row, or domain#subject#sequence).",
        ),
        sa.Column(
            "subject_id",
            sa.Integer(),
            nullable=False,
            comment="The subject (pseudonymous) this row is about.",
        ),
        sa.ForeignKeyConstraint(
            ["load_batch_id"],
            ["load_batch.load_batch_id"],
            name=op.f("fk_death_load_batch_id_load_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_death_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("death_id", name=op.f("pk_death")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_death_subject_id")),
        comment="Deaths (one per subject).",
    )
    with op.batch_alter_table("death", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_death_load_batch_id"), ["load_batch_id"], unique=False)

    op.create_table(
        "disease_assessment",
        sa.Column("disease_assessment_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column(
            "assessed_on", sa.Date(), nullable=False, comment="Date of the assessment or sample."
        ),
        sa.Column(
            "response",
            sa.String(length=32),
            nullable=True,
            comment="CR, CRi, PR, SD, PD or relapse (vocabulary.RESPONSES).",
        ),
        sa.Column(
            "is_relapse",
            sa.Boolean(),
            nullable=False,
            comment="True when this assessment documents relapse or progression.",
        ),
        sa.Column(
            "mrd_fraction",
            sa.Double(),
            nullable=True,
            comment="Minimal residual disease as a fraction (0-1); 0 means not detected.",
        ),
        sa.Column(
            "mrd_method",
            sa.String(length=32),
            nullable=True,
            comment="MRD method, e.g. NGS or flow.",
        ),
        sa.Column(
            "antigen_status",
            sa.String(length=32),
            nullable=True,
            comment="Target antigen on relapse blasts: positive, dim, negative, lineage_switch.",
        ),
        sa.Column(
            "value_source_value",
            sa.String(length=255),
            nullable=True,
            comment="Result as in the source.",
        ),
        sa.Column(
            "load_batch_id", sa.Integer(), nullable=False, comment="Load batch that wrote this row."
        ),
        sa.Column(
            "source_key",
            sa.String(length=64),
            nullable=False,
            comment="Key of the row in its source file (file#row, or domain#subject#sequence).",
        ),
        sa.Column(
            "subject_id",
            sa.Integer(),
            nullable=False,
            comment="The subject (pseudonymous) this row is about.",
        ),
        sa.CheckConstraint(
            "mrd_fraction IS NULL OR (mrd_fraction >= 0 AND mrd_fraction <= 1)",
            name=op.f("ck_disease_assessment_mrd_fraction"),
        ),
        sa.ForeignKeyConstraint(
            ["load_batch_id"],
            ["load_batch.load_batch_id"],
            name=op.f("fk_disease_assessment_load_batch_id_load_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.subject_id"],
            name=op.f("fk_disease_assessment_subject_id_subject"),
        ),
        sa.PrimaryKeyConstraint("disease_assessment_id", name=op.f("pk_disease_assessment")),
        comment="Responses, MRD, relapses and relapse antigen phenotype.",
    )
    with op.batch_alter_table("disease_assessment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_disease_assessment_load_batch_id"), ["load_batch_id"], unique=False
        )
        batch_op.create_index(
            "ix_disease_assessment_subject_date", ["subject_id", "assessed_on"], unique=False
        )

    op.create_table(
        "drug_exposure",
        sa.Column(
            "drug_exposure_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Surrogate key.",
        ),
        sa.Column(
            "drug",
            sa.String(length=32),
            nullable=False,
            comment="Canonical generic name, lower case (pv_monitor.vocabulary.DRUG_CLASSES).",
        ),
        sa.Column(
            "drug_class",
            sa.String(length=32),
            nullable=True,
            comment="vasopressor, il6_blockade, corticosteroid, antipyretic, il1_blockade, ...",
        ),
        sa.Column(
            "drug_source_value",
            sa.String(length=255),
            nullable=True,
            comment="Drug name as in the source.",
        ),
        sa.Column(
            "started_at",
            sa.DateTime(),
            nullable=False,
            comment="Start (imputed when the source gives a partial date).",
        ),
        sa.Column(
            "ended_at",
            sa.DateTime(),
            nullable=True,
            comment="End; empty for a single administration or an unknown end.",
        ),
        sa.Column(
            "date_imputation",
            sa.String(length=32),
            nullable=True,
            comment="Empty when complete; otherwise which parts of start/end were imputed.",
        ),
        sa.Column("dose", sa.Double(), nullable=True, comment="Dose per administration or rate."),
        sa.Column(
            "dose_unit",
            sa.String(length=32),
            nullable=True,
            comment="Unit of dose, e.g. mg, ug/min.",
        ),
        sa.Column("route", sa.String(length=32), nullable=True, comment="Route, e.g. IV, PO, SC."),
        sa.Column(
            "load_batch_id", sa.Integer(), nullable=False, comment="Load batch that wrote this row."
        ),
        sa.Column(
            "source_key",
            sa.String(length=64),
            nullable=False,
            comment="Key of the row in its source file (file#row, or domain#subject#sequence).",
        ),
        sa.Column(
            "subject_id",
            sa.Integer(),
            nullable=False,
            comment="The subject (pseudonymous) this row is about.",
        ),
        sa.CheckConstraint(
            "ended_at IS NULL OR ended_at >= started_at",
            name=op.f("ck_drug_exposure_end_after_start"),
        ),
        sa.ForeignKeyConstraint(
            ["load_batch_id"],
            ["load_batch.load_batch_id"],
            name=op.f("fk_drug_exposure_load_batch_id_load_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_drug_exposure_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("drug_exposure_id", name=op.f("pk_drug_exposure")),
        comment="Drug administrations with start and end.",
    )
    with op.batch_alter_table("drug_exposure", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_drug_exposure_load_batch_id"), ["load_batch_id"], unique=False
        )
        batch_op.create_index(
            "ix_drug_exposure_subject_start", ["subject_id", "started_at"], unique=False
        )

    op.create_table(
        "follow_up",
        sa.Column("follow_up_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column("last_contact_date", sa.Date(), nullable=True, comment="Last date known alive."),
        sa.Column(
            "disposition",
            sa.String(length=255),
            nullable=True,
            comment="Disposition, e.g. ongoing, completed, lost to follow-up, withdrew.",
        ),
        sa.Column("disposition_date", sa.Date(), nullable=True, comment="Date of the disposition."),
        sa.Column(
            "load_batch_id", sa.Integer(), nullable=False, comment="Load batch that wrote this row."
        ),
        sa.Column(
            "source_key",
            sa.String(length=64),
            nullable=False,
            comment="Key of the row in its source file (file#row, or domain#subject#sequence).",
        ),
        sa.Column(
            "subject_id",
            sa.Integer(),
            nullable=False,
            comment="The subject (pseudonymous) this row is about.",
        ),
        sa.ForeignKeyConstraint(
            ["load_batch_id"],
            ["load_batch.load_batch_id"],
            name=op.f("fk_follow_up_load_batch_id_load_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_follow_up_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("follow_up_id", name=op.f("pk_follow_up")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_follow_up_subject_id")),
        comment="Last contact and disposition per subject.",
    )
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_follow_up_load_batch_id"), ["load_batch_id"], unique=False
        )

    op.create_table(
        "icsr_drug",
        sa.Column(
            "icsr_drug_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Surrogate key.",
        ),
        sa.Column(
            "icsr_case_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="The report version.",
        ),
        sa.Column("drug_seq", sa.Integer(), nullable=False, comment="drug_seq within the report."),
        sa.Column("role", sa.String(length=32), nullable=True, comment="role_cod: PS, SS, C or I."),
        sa.Column(
            "drug_name",
            sa.String(length=255),
            nullable=False,
            comment="drugname as reported (verbatim).",
        ),
        sa.Column("active_ingredient", sa.String(length=255), nullable=True, comment="prod_ai."),
        sa.Column(
            "product_id",
            sa.Integer(),
            nullable=True,
            comment="Normalised CAR-T product (brand and generic names map to one), when matched.",
        ),
        sa.Column("route", sa.String(length=255), nullable=True, comment="Route as reported."),
        sa.Column("dose_amount", sa.Double(), nullable=True, comment="dose_amt."),
        sa.Column("dose_unit", sa.String(length=32), nullable=True, comment="dose_unit."),
        sa.Column(
            "start_date", sa.Date(), nullable=True, comment="THER start_dt (imputed if partial)."
        ),
        sa.Column(
            "end_date", sa.Date(), nullable=True, comment="THER end_dt (imputed if partial)."
        ),
        sa.Column("indication", sa.String(length=255), nullable=True, comment="INDI indi_pt."),
        sa.Column(
            "dechallenge", sa.String(length=32), nullable=True, comment="dechal: Y, N, U or D."
        ),
        sa.Column(
            "rechallenge", sa.String(length=32), nullable=True, comment="rechal: Y, N, U or D."
        ),
        sa.Column(
            "load_batch_id", sa.Integer(), nullable=False, comment="Load batch that wrote this row."
        ),
        sa.Column(
            "source_key",
            sa.String(length=64),
            nullable=False,
            comment="Key of the row in its source file (file#row, or domain#subject#sequence).",
        ),
        sa.ForeignKeyConstraint(
            ["icsr_case_id"],
            ["icsr_case.icsr_case_id"],
            name=op.f("fk_icsr_drug_icsr_case_id_icsr_case"),
        ),
        sa.ForeignKeyConstraint(
            ["load_batch_id"],
            ["load_batch.load_batch_id"],
            name=op.f("fk_icsr_drug_load_batch_id_load_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.product_id"], name=op.f("fk_icsr_drug_product_id_product")
        ),
        sa.PrimaryKeyConstraint("icsr_drug_id", name=op.f("pk_icsr_drug")),
        sa.UniqueConstraint(
            "icsr_case_id", "drug_seq", name=op.f("uq_icsr_drug_icsr_case_id_drug_seq")
        ),
        comment="Drugs of spontaneous reports, with normalised CAR-T product.",
    )
    with op.batch_alter_table("icsr_drug", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_icsr_drug_load_batch_id"), ["load_batch_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_icsr_drug_product_id"), ["product_id"], unique=False)

    op.create_table(
        "icsr_reaction",
        sa.Column(
            "icsr_reaction_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Surrogate key.",
        ),
        sa.Column(
            "icsr_case_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="The report version.",
        ),
        sa.Column(
            "preferred_term",
            sa.String(length=255),
            nullable=False,
            comment="MedDRA preferred term (pt).",
        ),
        sa.Column(
            "drug_recurrence_action", sa.String(length=32), nullable=True, comment="drug_rec_act."
        ),
        sa.Column(
            "load_batch_id", sa.Integer(), nullable=False, comment="Load batch that wrote this row."
        ),
        sa.Column(
            "source_key",
            sa.String(length=64),
            nullable=False,
            comment="Key of the row in its source file (file#row, or domain#subject#sequence).",
        ),
        sa.ForeignKeyConstraint(
            ["icsr_case_id"],
            ["icsr_case.icsr_case_id"],
            name=op.f("fk_icsr_reaction_icsr_case_id_icsr_case"),
        ),
        sa.ForeignKeyConstraint(
            ["load_batch_id"],
            ["load_batch.load_batch_id"],
            name=op.f("fk_icsr_reaction_load_batch_id_load_batch"),
        ),
        sa.PrimaryKeyConstraint("icsr_reaction_id", name=op.f("pk_icsr_reaction")),
        comment="Reactions (MedDRA PT) of spontaneous reports.",
    )
    with op.batch_alter_table("icsr_reaction", schema=None) as batch_op:
        batch_op.create_index("ix_icsr_reaction_case", ["icsr_case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_icsr_reaction_load_batch_id"), ["load_batch_id"], unique=False
        )
        batch_op.create_index("ix_icsr_reaction_term", ["preferred_term"], unique=False)

    op.create_table(
        "infusion",
        sa.Column("infusion_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column("product_id", sa.Integer(), nullable=False, comment="Product infused."),
        sa.Column(
            "infusion_number",
            sa.Integer(),
            nullable=False,
            comment="1 for the first infusion of the subject, 2 for a re-infusion, ...",
        ),
        sa.Column("infusion_date", sa.Date(), nullable=False, comment="Day 0."),
        sa.Column(
            "infusion_datetime",
            sa.DateTime(),
            nullable=True,
            comment="Infusion start date-time, when recorded.",
        ),
        sa.Column(
            "dose_cells", sa.Double(), nullable=True, comment="CAR-positive viable cells infused."
        ),
        sa.Column(
            "lymphodepletion",
            sa.String(length=255),
            nullable=True,
            comment="Lymphodepleting regimen, e.g. fludarabine/cyclophosphamide.",
        ),
        sa.Column(
            "load_batch_id", sa.Integer(), nullable=False, comment="Load batch that wrote this row."
        ),
        sa.Column(
            "source_key",
            sa.String(length=64),
            nullable=False,
            comment="Key of the row in its source file (file#row, or domain#subject#sequence).",
        ),
        sa.Column(
            "subject_id",
            sa.Integer(),
            nullable=False,
            comment="The subject (pseudonymous) this row is about.",
        ),
        sa.ForeignKeyConstraint(
            ["load_batch_id"],
            ["load_batch.load_batch_id"],
            name=op.f("fk_infusion_load_batch_id_load_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.product_id"], name=op.f("fk_infusion_product_id_product")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_infusion_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("infusion_id", name=op.f("pk_infusion")),
        sa.UniqueConstraint(
            "subject_id", "infusion_number", name=op.f("uq_infusion_subject_id_infusion_number")
        ),
        comment="CAR-T infusions; infusion_date is day 0.",
    )
    with op.batch_alter_table("infusion", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_infusion_load_batch_id"), ["load_batch_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_infusion_product_id"), ["product_id"], unique=False)
        batch_op.create_index(
            "ix_infusion_subject_date", ["subject_id", "infusion_date"], unique=False
        )

    op.create_table(
        "measurement",
        sa.Column(
            "measurement_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Surrogate key.",
        ),
        sa.Column(
            "code",
            sa.String(length=32),
            nullable=False,
            comment="Observation code, e.g. TEMP, CRP, ICE, ANC.",
        ),
        sa.Column(
            "measured_at",
            sa.DateTime(),
            nullable=False,
            comment="When it was measured (midnight when the source gives only a date).",
        ),
        sa.Column(
            "has_time",
            sa.Boolean(),
            nullable=False,
            comment="False when the source gave a date without a time of day.",
        ),
        sa.Column(
            "value",
            sa.Double(),
            nullable=True,
            comment="Value in the canonical unit; empty when the result is censored or not done.",
        ),
        sa.Column("unit", sa.String(length=32), nullable=True, comment="Canonical unit of value."),
        sa.Column(
            "operator",
            sa.String(length=32),
            nullable=True,
            comment="'<' or '>' for censored results such as '<0.2'; empty otherwise.",
        ),
        sa.Column(
            "value_source_value",
            sa.String(length=255),
            nullable=True,
            comment="Value as in the source.",
        ),
        sa.Column(
            "unit_source_value",
            sa.String(length=32),
            nullable=True,
            comment="Unit as in the source.",
        ),
        sa.Column(
            "specimen",
            sa.String(length=32),
            nullable=True,
            comment="Specimen when it matters, e.g. BONE MARROW for MRD.",
        ),
        sa.Column(
            "other_cause",
            sa.Boolean(),
            nullable=False,
            comment="True when a clinician attributes the finding to a cause other than CAR-T.",
        ),
        sa.Column(
            "load_batch_id", sa.Integer(), nullable=False, comment="Load batch that wrote this row."
        ),
        sa.Column(
            "source_key",
            sa.String(length=64),
            nullable=False,
            comment="Key of the row in its source file (file#row, or domain#subject#sequence).",
        ),
        sa.Column(
            "subject_id",
            sa.Integer(),
            nullable=False,
            comment="The subject (pseudonymous) this row is about.",
        ),
        sa.ForeignKeyConstraint(
            ["load_batch_id"],
            ["load_batch.load_batch_id"],
            name=op.f("fk_measurement_load_batch_id_load_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_measurement_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("measurement_id", name=op.f("pk_measurement")),
        comment="Numeric observations (vitals, labs, scores, markers) in canonical units.",
    )
    with op.batch_alter_table("measurement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_measurement_load_batch_id"), ["load_batch_id"], unique=False
        )
        batch_op.create_index(
            "ix_measurement_subject_code_time", ["subject_id", "code", "measured_at"], unique=False
        )
        batch_op.create_index(
            "ix_measurement_subject_time", ["subject_id", "measured_at"], unique=False
        )

    op.create_table(
        "observation",
        sa.Column(
            "observation_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Surrogate key.",
        ),
        sa.Column(
            "code",
            sa.String(length=32),
            nullable=False,
            comment="Observation code, e.g. O2_DEVICE, LOC, SEIZURE.",
        ),
        sa.Column(
            "observed_at",
            sa.DateTime(),
            nullable=False,
            comment="When it was observed (midnight when the source gives only a date).",
        ),
        sa.Column(
            "has_time",
            sa.Boolean(),
            nullable=False,
            comment="False when the source gave a date without a time of day.",
        ),
        sa.Column(
            "value",
            sa.String(length=32),
            nullable=False,
            comment="Controlled value, e.g. high_flow_nasal_cannula, awakens_to_voice, true.",
        ),
        sa.Column(
            "value_source_value",
            sa.String(length=255),
            nullable=True,
            comment="Value as in the source.",
        ),
        sa.Column(
            "other_cause",
            sa.Boolean(),
            nullable=False,
            comment="True when a clinician attributes the finding to a cause other than CAR-T.",
        ),
        sa.Column(
            "load_batch_id", sa.Integer(), nullable=False, comment="Load batch that wrote this row."
        ),
        sa.Column(
            "source_key",
            sa.String(length=64),
            nullable=False,
            comment="Key of the row in its source file (file#row, or domain#subject#sequence).",
        ),
        sa.Column(
            "subject_id",
            sa.Integer(),
            nullable=False,
            comment="The subject (pseudonymous) this row is about.",
        ),
        sa.ForeignKeyConstraint(
            ["load_batch_id"],
            ["load_batch.load_batch_id"],
            name=op.f("fk_observation_load_batch_id_load_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_observation_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("observation_id", name=op.f("pk_observation")),
        comment="Categorical observations in controlled vocabulary.",
    )
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_observation_load_batch_id"), ["load_batch_id"], unique=False
        )
        batch_op.create_index(
            "ix_observation_subject_code_time", ["subject_id", "code", "observed_at"], unique=False
        )
        batch_op.create_index(
            "ix_observation_subject_time", ["subject_id", "observed_at"], unique=False
        )

    op.create_table(
        "alert",
        sa.Column("alert_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column(
            "infusion_id",
            sa.Integer(),
            nullable=True,
            comment="Infusion the alert is about, when any.",
        ),
        sa.Column("rule_id", sa.String(length=32), nullable=False, comment="Rule that raised it."),
        sa.Column(
            "rule_version", sa.String(length=32), nullable=False, comment="Version of the rule."
        ),
        sa.Column(
            "severity",
            sa.String(length=32),
            nullable=False,
            comment="Severity declared by the rule.",
        ),
        sa.Column(
            "syndrome", sa.String(length=32), nullable=False, comment="crs, icans, relapse, ..."
        ),
        sa.Column(
            "episode_key",
            sa.String(length=64),
            nullable=True,
            comment="Episode the alert belongs to (deduplication key), when any.",
        ),
        sa.Column(
            "status",
            sa.String(length=32),
            nullable=False,
            comment="open, acknowledged, resolved or dismissed.",
        ),
        sa.Column(
            "title",
            sa.String(length=255),
            nullable=False,
            comment="One-line summary shown in the queue.",
        ),
        sa.Column(
            "study_day",
            sa.Integer(),
            nullable=True,
            comment="Study day of the triggering evidence.",
        ),
        sa.Column(
            "evidence",
            sa.JSON(),
            nullable=False,
            comment="Values, days and source rows that made the rule fire (JSON).",
        ),
        sa.Column(
            "evidence_sha256",
            sa.String(length=64),
            nullable=False,
            comment="Digest of the evidence, so resolved alerts are never re-raised for it.",
        ),
        sa.Column(
            "assigned_to_id", sa.Integer(), nullable=True, comment="User the alert is assigned to."
        ),
        sa.Column(
            "raised_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the alert was first raised.",
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="Last change of status or evidence.",
        ),
        sa.Column(
            "subject_id",
            sa.Integer(),
            nullable=False,
            comment="The subject (pseudonymous) this row is about.",
        ),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged', 'resolved', 'dismissed')",
            name=op.f("ck_alert_status"),
        ),
        sa.CheckConstraint(
            "syndrome IN ('crs', 'icans', 'iec_hs', 'icaht', 'relapse', 'other')",
            name=op.f("ck_alert_syndrome"),
        ),
        sa.ForeignKeyConstraint(
            ["assigned_to_id"],
            ["app_user.app_user_id"],
            name=op.f("fk_alert_assigned_to_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["infusion_id"], ["infusion.infusion_id"], name=op.f("fk_alert_infusion_id_infusion")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_alert_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alert")),
        comment="Alerts with their evidence and workflow status.",
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index("ix_alert_status_severity", ["status", "severity"], unique=False)
        batch_op.create_index("ix_alert_subject_raised", ["subject_id", "raised_at"], unique=False)

    op.create_table(
        "daily_assessment",
        sa.Column(
            "daily_assessment_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Surrogate key.",
        ),
        sa.Column(
            "study_day",
            sa.Integer(),
            nullable=False,
            comment="Days since infusion (day 0 = infusion).",
        ),
        sa.Column(
            "granularity", sa.String(length=32), nullable=False, comment="day or time_point."
        ),
        sa.Column(
            "assessed_at",
            sa.DateTime(),
            nullable=False,
            comment="Midnight of the day for day rows; the time point otherwise.",
        ),
        sa.Column("age_years", sa.Double(), nullable=True, comment="Age; ICE >= 12 y, CAPD below."),
        sa.Column(
            "temp_c_max", sa.Double(), nullable=True, comment="Highest temperature, Celsius."
        ),
        sa.Column(
            "crs_treated",
            sa.Boolean(),
            nullable=True,
            comment="Antipyretic, tocilizumab or corticosteroid already given in this CRS episode.",
        ),
        sa.Column("hypotension", sa.Boolean(), nullable=True, comment="Hypotension present."),
        sa.Column(
            "vasopressors",
            sa.String(length=255),
            nullable=True,
            comment="';'-separated vasopressor agents running; empty if none.",
        ),
        sa.Column(
            "o2_device", sa.String(length=32), nullable=True, comment="Highest oxygen support."
        ),
        sa.Column("o2_flow_l_min", sa.Double(), nullable=True, comment="Oxygen flow, L/min."),
        sa.Column("ice_score", sa.Double(), nullable=True, comment="Worst ICE score (0-10)."),
        sa.Column("capd_score", sa.Double(), nullable=True, comment="Worst CAPD score (0-32)."),
        sa.Column(
            "loc", sa.String(length=32), nullable=True, comment="Worst level of consciousness."
        ),
        sa.Column("seizure", sa.String(length=32), nullable=True, comment="Worst seizure finding."),
        sa.Column(
            "motor_weakness", sa.Boolean(), nullable=True, comment="Deep focal motor weakness."
        ),
        sa.Column(
            "cerebral_edema", sa.String(length=32), nullable=True, comment="none, focal or diffuse."
        ),
        sa.Column("icp_signs", sa.Boolean(), nullable=True, comment="Signs of raised ICP."),
        sa.Column("sedated", sa.Boolean(), nullable=True, comment="Under sedating drugs."),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the pipeline wrote the row.",
        ),
        sa.Column(
            "infusion_id",
            sa.Integer(),
            nullable=False,
            comment="Infusion whose day 0 the row counts from.",
        ),
        sa.Column(
            "subject_id",
            sa.Integer(),
            nullable=False,
            comment="The subject (pseudonymous) this row is about.",
        ),
        sa.CheckConstraint(
            "granularity IN ('day', 'time_point')", name=op.f("ck_daily_assessment_granularity")
        ),
        sa.ForeignKeyConstraint(
            ["infusion_id"],
            ["infusion.infusion_id"],
            name=op.f("fk_daily_assessment_infusion_id_infusion"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.subject_id"],
            name=op.f("fk_daily_assessment_subject_id_subject"),
        ),
        sa.PrimaryKeyConstraint("daily_assessment_id", name=op.f("pk_daily_assessment")),
        sa.UniqueConstraint(
            "infusion_id",
            "granularity",
            "assessed_at",
            name=op.f("uq_daily_assessment_infusion_id_granularity_assessed_at"),
        ),
        comment="Assessment frame (contract 2): one row per subject per day or time point.",
    )
    with op.batch_alter_table("daily_assessment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_daily_assessment_subject_day", ["subject_id", "study_day"], unique=False
        )

    op.create_table(
        "risk_score",
        sa.Column("risk_score_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column(
            "score",
            sa.String(length=32),
            nullable=False,
            comment="easix, m_easix, car_hematotox, ...",
        ),
        sa.Column(
            "score_version",
            sa.String(length=32),
            nullable=False,
            comment="Version of the score definition.",
        ),
        sa.Column(
            "timepoint",
            sa.String(length=32),
            nullable=False,
            comment="When it applies, e.g. pre_lymphodepletion, day_0, day_3.",
        ),
        sa.Column(
            "study_day", sa.Integer(), nullable=True, comment="Study day of the inputs used."
        ),
        sa.Column(
            "value", sa.Double(), nullable=True, comment="Score value; empty when not computable."
        ),
        sa.Column(
            "category", sa.String(length=32), nullable=True, comment="Risk group, e.g. high or low."
        ),
        sa.Column(
            "inputs", sa.JSON(), nullable=True, comment="Input values, units and days used (JSON)."
        ),
        sa.Column(
            "reason",
            sa.Text(),
            nullable=True,
            comment="Why the score is what it is, or which input is missing.",
        ),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the pipeline wrote the row.",
        ),
        sa.Column(
            "infusion_id",
            sa.Integer(),
            nullable=False,
            comment="Infusion whose day 0 the row counts from.",
        ),
        sa.Column(
            "subject_id",
            sa.Integer(),
            nullable=False,
            comment="The subject (pseudonymous) this row is about.",
        ),
        sa.ForeignKeyConstraint(
            ["infusion_id"],
            ["infusion.infusion_id"],
            name=op.f("fk_risk_score_infusion_id_infusion"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.subject_id"], name=op.f("fk_risk_score_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("risk_score_id", name=op.f("pk_risk_score")),
        sa.UniqueConstraint(
            "infusion_id",
            "score",
            "score_version",
            "timepoint",
            name=op.f("uq_risk_score_infusion_id_score_score_version_timepoint"),
        ),
        comment="Risk scores with their inputs; missing inputs leave the value empty.",
    )
    with op.batch_alter_table("risk_score", schema=None) as batch_op:
        batch_op.create_index("ix_risk_score_subject_score", ["subject_id", "score"], unique=False)

    op.create_table(
        "toxicity_episode",
        sa.Column("toxicity_episode_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column("syndrome", sa.String(length=32), nullable=False, comment="crs, icans, ..."),
        sa.Column(
            "criteria_version", sa.String(length=32), nullable=False, comment="Criteria table used."
        ),
        sa.Column(
            "episode_number",
            sa.Integer(),
            nullable=False,
            comment="1 for the first episode, 2, ...",
        ),
        sa.Column("onset_day", sa.Integer(), nullable=False, comment="Study day of onset."),
        sa.Column(
            "peak_grade", sa.Integer(), nullable=False, comment="Highest grade in the episode."
        ),
        sa.Column(
            "peak_day",
            sa.Integer(),
            nullable=False,
            comment="Study day the peak grade was first reached.",
        ),
        sa.Column(
            "resolution_day",
            sa.Integer(),
            nullable=True,
            comment="Study day of resolution; empty while ongoing.",
        ),
        sa.Column(
            "duration_days", sa.Integer(), nullable=True, comment="Days from onset to resolution."
        ),
        sa.Column(
            "treatments",
            sa.String(length=255),
            nullable=True,
            comment="';'-separated treatments given during the episode.",
        ),
        sa.Column(
            "closure_rule",
            sa.String(length=32),
            nullable=False,
            comment="Rule that closed the episode, e.g. grade0_2_days.",
        ),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the pipeline wrote the row.",
        ),
        sa.Column(
            "infusion_id",
            sa.Integer(),
            nullable=False,
            comment="Infusion whose day 0 the row counts from.",
        ),
        sa.Column(
            "subject_id",
            sa.Integer(),
            nullable=False,
            comment="The subject (pseudonymous) this row is about.",
        ),
        sa.CheckConstraint(
            "syndrome IN ('crs', 'icans', 'iec_hs', 'icaht', 'relapse', 'other')",
            name=op.f("ck_toxicity_episode_syndrome"),
        ),
        sa.CheckConstraint(
            "peak_grade BETWEEN 0 AND 5", name=op.f("ck_toxicity_episode_peak_grade")
        ),
        sa.ForeignKeyConstraint(
            ["infusion_id"],
            ["infusion.infusion_id"],
            name=op.f("fk_toxicity_episode_infusion_id_infusion"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.subject_id"],
            name=op.f("fk_toxicity_episode_subject_id_subject"),
        ),
        sa.PrimaryKeyConstraint("toxicity_episode_id", name=op.f("pk_toxicity_episode")),
        sa.UniqueConstraint(
            "infusion_id",
            "syndrome",
            "criteria_version",
            "episode_number",
            name=op.f("uq_toxicity_episode_infusion_id_syndrome_criteria_version_episode_number"),
        ),
        comment="CRS and ICANS episodes derived from graded days.",
    )
    with op.batch_alter_table("toxicity_episode", schema=None) as batch_op:
        batch_op.create_index(
            "ix_toxicity_episode_subject_syndrome", ["subject_id", "syndrome"], unique=False
        )

    op.create_table(
        "alert_event",
        sa.Column("alert_event_id", sa.Integer(), nullable=False, comment="Surrogate key."),
        sa.Column("alert_id", sa.Integer(), nullable=False, comment="The alert."),
        sa.Column(
            "event_type",
            sa.String(length=32),
            nullable=False,
            comment="raised, escalated, acknowledged, assigned, resolved, dismissed, commented.",
        ),
        sa.Column("from_status", sa.String(length=32), nullable=True, comment="Status before."),
        sa.Column("to_status", sa.String(length=32), nullable=True, comment="Status after."),
        sa.Column(
            "actor",
            sa.String(length=255),
            nullable=False,
            comment="User name, or 'pipeline' for the engine.",
        ),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When (UTC, server clock).",
        ),
        sa.Column("comment_text", sa.Text(), nullable=True, comment="Comment given by the user."),
        sa.Column("details", sa.JSON(), nullable=True, comment="What changed (JSON)."),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.alert_id"], name=op.f("fk_alert_event_alert_id_alert")
        ),
        sa.PrimaryKeyConstraint("alert_event_id", name=op.f("pk_alert_event")),
        comment="Append-only history of every alert change.",
    )
    with op.batch_alter_table("alert_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_event_alert_id"), ["alert_id"], unique=False)

    op.create_table(
        "toxicity_grade",
        sa.Column(
            "toxicity_grade_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Surrogate key.",
        ),
        sa.Column(
            "daily_assessment_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="Assessment row graded.",
        ),
        sa.Column("study_day", sa.Integer(), nullable=False, comment="Days since infusion."),
        sa.Column("syndrome", sa.String(length=32), nullable=False, comment="crs, icans, ..."),
        sa.Column(
            "criteria_version",
            sa.String(length=32),
            nullable=False,
            comment="Criteria table used, e.g. astct_2019_crs.",
        ),
        sa.Column(
            "grade",
            sa.Integer(),
            nullable=True,
            comment="0-5; empty when nothing gradable was observed (never 0 for missing data).",
        ),
        sa.Column(
            "reason",
            sa.Text(),
            nullable=True,
            comment="Which domain set the grade, in words a clinician reads.",
        ),
        sa.Column(
            "provisional",
            sa.Boolean(),
            nullable=False,
            comment="True when sedation or missing domains make the grade a lower bound.",
        ),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When the pipeline wrote the row.",
        ),
        sa.Column(
            "infusion_id",
            sa.Integer(),
            nullable=False,
            comment="Infusion whose day 0 the row counts from.",
        ),
        sa.Column(
            "subject_id",
            sa.Integer(),
            nullable=False,
            comment="The subject (pseudonymous) this row is about.",
        ),
        sa.CheckConstraint(
            "syndrome IN ('crs', 'icans', 'iec_hs', 'icaht', 'relapse', 'other')",
            name=op.f("ck_toxicity_grade_syndrome"),
        ),
        sa.CheckConstraint(
            "grade IS NULL OR grade BETWEEN 0 AND 5", name=op.f("ck_toxicity_grade_grade")
        ),
        sa.ForeignKeyConstraint(
            ["daily_assessment_id"],
            ["daily_assessment.daily_assessment_id"],
            name=op.f("fk_toxicity_grade_daily_assessment_id_daily_assessment"),
        ),
        sa.ForeignKeyConstraint(
            ["infusion_id"],
            ["infusion.infusion_id"],
            name=op.f("fk_toxicity_grade_infusion_id_infusion"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.subject_id"],
            name=op.f("fk_toxicity_grade_subject_id_subject"),
        ),
        sa.PrimaryKeyConstraint("toxicity_grade_id", name=op.f("pk_toxicity_grade")),
        sa.UniqueConstraint(
            "daily_assessment_id",
            "syndrome",
            "criteria_version",
            name=op.f("uq_toxicity_grade_daily_assessment_id_syndrome_criteria_version"),
        ),
        comment="Derived grades per assessment row, syndrome and criteria version.",
    )
    with op.batch_alter_table("toxicity_grade", schema=None) as batch_op:
        batch_op.create_index(
            "ix_toxicity_grade_subject_syndrome_day",
            ["subject_id", "syndrome", "study_day"],
            unique=False,
        )
    _make_history_tables_append_only()


def downgrade() -> None:
    """Drop every table (and, on PostgreSQL, the trigger function)."""
    with op.batch_alter_table("toxicity_grade", schema=None) as batch_op:
        batch_op.drop_index("ix_toxicity_grade_subject_syndrome_day")

    op.drop_table("toxicity_grade")
    with op.batch_alter_table("alert_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_event_alert_id"))

    op.drop_table("alert_event")
    with op.batch_alter_table("toxicity_episode", schema=None) as batch_op:
        batch_op.drop_index("ix_toxicity_episode_subject_syndrome")

    op.drop_table("toxicity_episode")
    with op.batch_alter_table("risk_score", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_score_subject_score")

    op.drop_table("risk_score")
    with op.batch_alter_table("daily_assessment", schema=None) as batch_op:
        batch_op.drop_index("ix_daily_assessment_subject_day")

    op.drop_table("daily_assessment")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_subject_raised")
        batch_op.drop_index("ix_alert_status_severity")

    op.drop_table("alert")
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_index("ix_observation_subject_time")
        batch_op.drop_index("ix_observation_subject_code_time")
        batch_op.drop_index(batch_op.f("ix_observation_load_batch_id"))

    op.drop_table("observation")
    with op.batch_alter_table("measurement", schema=None) as batch_op:
        batch_op.drop_index("ix_measurement_subject_time")
        batch_op.drop_index("ix_measurement_subject_code_time")
        batch_op.drop_index(batch_op.f("ix_measurement_load_batch_id"))

    op.drop_table("measurement")
    with op.batch_alter_table("infusion", schema=None) as batch_op:
        batch_op.drop_index("ix_infusion_subject_date")
        batch_op.drop_index(batch_op.f("ix_infusion_product_id"))
        batch_op.drop_index(batch_op.f("ix_infusion_load_batch_id"))

    op.drop_table("infusion")
    with op.batch_alter_table("icsr_reaction", schema=None) as batch_op:
        batch_op.drop_index("ix_icsr_reaction_term")
        batch_op.drop_index(batch_op.f("ix_icsr_reaction_load_batch_id"))
        batch_op.drop_index("ix_icsr_reaction_case")

    op.drop_table("icsr_reaction")
    with op.batch_alter_table("icsr_drug", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_icsr_drug_product_id"))
        batch_op.drop_index(batch_op.f("ix_icsr_drug_load_batch_id"))

    op.drop_table("icsr_drug")
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_up_load_batch_id"))

    op.drop_table("follow_up")
    with op.batch_alter_table("drug_exposure", schema=None) as batch_op:
        batch_op.drop_index("ix_drug_exposure_subject_start")
        batch_op.drop_index(batch_op.f("ix_drug_exposure_load_batch_id"))

    op.drop_table("drug_exposure")
    with op.batch_alter_table("disease_assessment", schema=None) as batch_op:
        batch_op.drop_index("ix_disease_assessment_subject_date")
        batch_op.drop_index(batch_op.f("ix_disease_assessment_load_batch_id"))

    op.drop_table("disease_assessment")
    with op.batch_alter_table("death", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_death_load_batch_id"))

    op.drop_table("death")
    with op.batch_alter_table("adverse_event", schema=None) as batch_op:
        batch_op.drop_index("ix_adverse_event_subject_onset")
        batch_op.drop_index(batch_op.f("ix_adverse_event_load_batch_id"))

    op.drop_table("adverse_event")
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_site_id"))
        batch_op.drop_index(batch_op.f("ix_subject_load_batch_id"))

    op.drop_table("subject")
    with op.batch_alter_table("signal_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signal_event_signal_id"))

    op.drop_table("signal_event")
    with op.batch_alter_table("load_rejection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_load_rejection_load_batch_id"))

    op.drop_table("load_rejection")
    with op.batch_alter_table("icsr_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_icsr_case_load_batch_id"))
        batch_op.drop_index("ix_icsr_case_case_version")

    op.drop_table("icsr_case")
    op.drop_table("app_user_site")
    op.drop_table("site")
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.drop_index("ix_signal_status")

    op.drop_table("signal")
    with op.batch_alter_table("load_batch", schema=None) as batch_op:
        batch_op.drop_index("ix_load_batch_sha256")

    op.drop_table("load_batch")
    op.drop_table("study")
    op.drop_table("product")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_table_key")
        batch_op.drop_index("ix_audit_log_occurred_at")

    op.drop_table("audit_log")
    op.drop_table("app_user")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS pv_monitor_refuse_change()")


def _make_history_tables_append_only() -> None:
    """Install the triggers of pv_monitor.store.triggers (UPDATE and DELETE raise)."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
    for table in APPEND_ONLY_TABLES:
        statements = (
            postgresql_triggers(table) if dialect == "postgresql" else sqlite_triggers(table)
        )
        for statement in statements:
            op.execute(statement)
