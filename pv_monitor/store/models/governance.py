"""Governance tables: load batches and rejections, audit trail, users, signal tracking."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pv_monitor.store.base import (
    Base,
    BigId,
    Code,
    JsonValue,
    Key,
    LongText,
    Name,
    Sha256,
    Timestamp,
)
from pv_monitor.store.models._mixins import check_in
from pv_monitor.vocabulary import LOAD_STATUSES, METHOD_FAMILIES, ROLES, SIGNAL_STATUSES


class LoadBatch(Base):
    """One load of one export (a file or a folder of files): the load manifest."""

    __tablename__ = "load_batch"
    __table_args__ = (
        Index("ix_load_batch_sha256", "source_sha256"),
        CheckConstraint(check_in("status", LOAD_STATUSES), "status"),
        {"comment": "Load manifest: what was loaded, by whom, when, with which result."},
    )

    load_batch_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    source_path: Mapped[LongText] = mapped_column(comment="File or folder as given to the loader.")
    source_sha256: Mapped[Sha256] = mapped_column(
        comment="SHA-256 of the file, or of the sorted list of file digests for a folder."
    )
    source_format: Mapped[Code] = mapped_column(comment="sdtm, tidy, faers or mapping:<file>.")
    files: Mapped[JsonValue | None] = mapped_column(
        comment="Per-file name, size, SHA-256 and row count (JSON)."
    )
    study_id: Mapped[int | None] = mapped_column(
        ForeignKey("study.study_id"), comment="Study loaded, when the source names one."
    )
    loaded_by: Mapped[Name] = mapped_column(comment="User who ran the load.")
    started_at: Mapped[Timestamp] = mapped_column(comment="Start (UTC).")
    finished_at: Mapped[Timestamp | None] = mapped_column(comment="End (UTC).")
    status: Mapped[Code] = mapped_column(comment="running, committed, partial, rejected, failed.")
    policy: Mapped[Code] = mapped_column(comment="all_or_nothing or accept_partial.")
    rows_read: Mapped[int] = mapped_column(comment="Rows read from the source.")
    rows_loaded: Mapped[int] = mapped_column(comment="Rows written to the store.")
    rows_rejected: Mapped[int] = mapped_column(comment="Rows rejected (see load_rejection).")
    etl_version: Mapped[Code] = mapped_column(comment="pv-monitor version that ran the load.")
    message: Mapped[LongText | None] = mapped_column(comment="Summary or error message.")

    rejections: Mapped[list[LoadRejection]] = relationship(back_populates="batch")


class LoadRejection(Base):
    """A rejected row: file, row number, field, offending value and the reason in words."""

    __tablename__ = "load_rejection"
    __table_args__ = {"comment": "Row-level rejections of load batches."}

    load_rejection_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    load_batch_id: Mapped[int] = mapped_column(
        ForeignKey("load_batch.load_batch_id"), index=True, comment="The batch."
    )
    file_name: Mapped[Name] = mapped_column(comment="File the row is in.")
    row_number: Mapped[int | None] = mapped_column(
        comment="1-based data row number in the file (header excluded); empty for file-level."
    )
    field: Mapped[Name | None] = mapped_column(comment="Column (field) at fault.")
    value: Mapped[LongText | None] = mapped_column(comment="Offending value as written.")
    rule: Mapped[Code] = mapped_column(comment="Identifier of the rule that failed.")
    reason: Mapped[LongText] = mapped_column(comment="Why, in words a data manager understands.")

    batch: Mapped[LoadBatch] = relationship(back_populates="rejections")


class AuditLog(Base):
    """The audit trail: append-only, hash-chained record of every change.

    UPDATE and DELETE are refused by database triggers (``pv_monitor.store.triggers``). Each
    row's ``row_sha256`` covers the previous row's digest, so an edit made by a privileged user
    outside the application breaks the chain (``pv_monitor.store.audit.verify_audit_chain``).
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_table_key", "table_name", "record_key"),
        Index("ix_audit_log_occurred_at", "occurred_at"),
        {"comment": "Append-only, hash-chained audit trail (21 CFR 11.10(e))."},
    )

    audit_log_id: Mapped[BigId] = mapped_column(primary_key=True, comment="Sequence of entries.")
    occurred_at: Mapped[Timestamp] = mapped_column(comment="Server time stamp (UTC).")
    actor: Mapped[Name] = mapped_column(comment="Who made the change (user name or process).")
    action: Mapped[Code] = mapped_column(comment="create, update, delete, load, transition, ...")
    table_name: Mapped[Code] = mapped_column(comment="Table of the changed record.")
    record_key: Mapped[Key] = mapped_column(comment="Key of the changed record.")
    old_value: Mapped[LongText | None] = mapped_column(
        comment="Changed fields before, as canonical JSON; empty for a creation."
    )
    new_value: Mapped[LongText | None] = mapped_column(
        comment="Changed fields after, as canonical JSON; empty for a deletion."
    )
    reason: Mapped[LongText | None] = mapped_column(comment="Reason for the change.")
    previous_sha256: Mapped[Sha256] = mapped_column(
        comment="row_sha256 of the previous entry (64 zeros for the first)."
    )
    row_sha256: Mapped[Sha256] = mapped_column(
        unique=True, comment="SHA-256 over previous_sha256 and this entry's canonical content."
    )


class AppUser(Base):
    """A dashboard or CLI user with one role; passwords are stored only as hashes."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(check_in("role", ROLES), "role"),
        {"comment": "Users and roles (clinician, safety_officer, data_manager, admin)."},
    )

    app_user_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    username: Mapped[Key] = mapped_column(unique=True, comment="Login name.")
    display_name: Mapped[Name | None] = mapped_column(comment="Name shown in the dashboard.")
    role: Mapped[Code] = mapped_column(comment="clinician, safety_officer, data_manager, admin.")
    password_hash: Mapped[LongText] = mapped_column(
        comment="Salted password hash (never plain).", info={"secret": True}
    )
    is_active: Mapped[bool] = mapped_column(comment="False once access is revoked.")
    created_at: Mapped[Timestamp] = mapped_column(comment="When the user was created (UTC).")


class AppUserSite(Base):
    """The sites whose subjects a clinician may see."""

    __tablename__ = "app_user_site"
    __table_args__ = {"comment": "Site scope of users (clinicians see only their sites)."}

    app_user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.app_user_id"), primary_key=True, comment="The user."
    )
    site_id: Mapped[int] = mapped_column(
        ForeignKey("site.site_id"), primary_key=True, comment="A site the user may see."
    )


class AnalysisRun(Base):
    """One run of a signal-detection method: what was computed, on which data, by whom.

    Every potential signal links to the run that raised it, so its statistics at detection can be
    traced to the method, parameters, thresholds, data-lock point, database content hash and
    software version (pharmacovigilance.md §1.2 "Origin", §8 "Signal management").
    """

    __tablename__ = "analysis_run"
    __table_args__ = (
        UniqueConstraint("run_key"),
        CheckConstraint(check_in("method_family", METHOD_FAMILIES), "method_family"),
        {"comment": "Signal-detection runs (method, parameters, thresholds, data cut, version)."},
    )

    analysis_run_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    run_key: Mapped[Key] = mapped_column(comment="Human-facing run identifier.")
    method_family: Mapped[Code] = mapped_column(
        comment="disproportionality, rate_vs_reference, sequential, bayesian or "
        "rule_based_clinical."
    )
    method: Mapped[Name] = mapped_column(comment="Method, e.g. gps, prr, bernoulli_cusum.")
    parameters: Mapped[JsonValue | None] = mapped_column(comment="Method parameters (JSON).")
    thresholds: Mapped[JsonValue | None] = mapped_column(comment="Thresholds applied (JSON).")
    data_from: Mapped[date | None] = mapped_column(comment="Start of the data interval.")
    data_lock_point: Mapped[date | None] = mapped_column(comment="Data-lock point (end).")
    database_sha256: Mapped[Sha256 | None] = mapped_column(
        comment="Content hash of the data analysed."
    )
    software_version: Mapped[Code] = mapped_column(comment="pv-monitor version.")
    run_by: Mapped[Name] = mapped_column(comment="Who ran it.")
    started_at: Mapped[Timestamp] = mapped_column(comment="When (UTC).")
    hits: Mapped[int] = mapped_column(comment="Combinations over threshold.")


class Signal(Base):
    """A potential signal and its GVP Module IX lifecycle (pharmacovigilance.md §1.2)."""

    __tablename__ = "signal"
    __table_args__ = (
        UniqueConstraint("signal_key"),
        Index("ix_signal_status", "status"),
        CheckConstraint(check_in("status", SIGNAL_STATUSES), "status"),
        {"comment": "Signal tracking: a statistical hit stays 'potential' until validated."},
    )

    signal_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    signal_key: Mapped[Key] = mapped_column(comment="Human-facing signal identifier.")
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("product.product_id"), comment="Product, when one product is concerned."
    )
    event_term: Mapped[Name] = mapped_column(comment="Event (MedDRA PT or grouping).")
    meddra_version: Mapped[Code | None] = mapped_column(comment="MedDRA version of event_term.")
    population: Mapped[Name | None] = mapped_column(comment="Population or subgroup, if any.")
    source_type: Mapped[Code] = mapped_column(
        comment="statistical, clinical_review, literature, dsmb, regulator."
    )
    analysis_run: Mapped[JsonValue | None] = mapped_column(
        comment="Run id, method, parameters, thresholds, data cut, version, statistics (JSON)."
    )
    analysis_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("analysis_run.analysis_run_id"),
        comment="The analysis run that raised it (statistical sources).",
    )
    method_family: Mapped[Code | None] = mapped_column(
        comment="Method family of a statistical source (vocabulary.METHOD_FAMILIES)."
    )
    status: Mapped[Code] = mapped_column(comment="GVP IX status (vocabulary.SIGNAL_STATUSES).")
    priority: Mapped[Code | None] = mapped_column(comment="Priority level.")
    detected_on: Mapped[date] = mapped_column(comment="Date detected.")
    closed_on: Mapped[date | None] = mapped_column(comment="Date closed.")
    created_at: Mapped[Timestamp] = mapped_column(comment="When the record was created (UTC).")
    updated_at: Mapped[Timestamp] = mapped_column(comment="Last change (UTC).")

    events: Mapped[list[SignalEvent]] = relationship(
        back_populates="signal", order_by="SignalEvent.signal_event_id"
    )


class SignalEvent(Base):
    """One decision on a signal: status transition with its rationale."""

    __tablename__ = "signal_event"
    __table_args__ = {"comment": "Append-only history of signal decisions."}

    signal_event_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    signal_id: Mapped[int] = mapped_column(
        ForeignKey("signal.signal_id"), index=True, comment="The signal."
    )
    from_status: Mapped[Code | None] = mapped_column(comment="Status before.")
    to_status: Mapped[Code] = mapped_column(comment="Status after.")
    actor: Mapped[Name] = mapped_column(comment="Who decided.")
    actor_role: Mapped[Code] = mapped_column(comment="Role of who decided.")
    occurred_at: Mapped[Timestamp] = mapped_column(comment="When (UTC, server clock).")
    rationale: Mapped[LongText] = mapped_column(comment="Rationale (required at each decision).")
    signed_name: Mapped[Name | None] = mapped_column(
        comment="Printed name of the signer, for decisions that need an electronic signature."
    )
    signature_meaning: Mapped[Name | None] = mapped_column(
        comment="Meaning of the signature (21 CFR 11.50), e.g. 'closure approved'."
    )

    signal: Mapped[Signal] = relationship(back_populates="events")


__all__ = [
    "AnalysisRun",
    "AppUser",
    "AppUserSite",
    "AuditLog",
    "LoadBatch",
    "LoadRejection",
    "Signal",
    "SignalEvent",
]
