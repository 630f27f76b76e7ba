"""Subject-level tables: subject, infusion, death, follow-up."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, Index, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pv_monitor.store.base import Base, ClinicalDateTime, Code, Key, LongText, Name
from pv_monitor.store.models._mixins import Provenance, SubjectScoped
from pv_monitor.store.models.reference import Study


class Subject(Provenance, Base):
    """A treated patient, known only by a pseudonymous key (never names, MRNs or birth dates)."""

    __tablename__ = "subject"
    __table_args__ = (
        UniqueConstraint("study_id", "subject_key"),
        CheckConstraint("age_years IS NULL OR (age_years >= 0 AND age_years < 130)", "age_years"),
        {"comment": "Pseudonymous subjects; no direct identifiers are ever stored."},
    )

    subject_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    study_id: Mapped[int] = mapped_column(
        ForeignKey("study.study_id"), comment="Study the subject is enrolled in."
    )
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("site.site_id"), index=True, comment="Treating site."
    )
    subject_key: Mapped[Key] = mapped_column(
        comment="Pseudonymous subject key from the source (USUBJID); never a name or MRN."
    )
    sex: Mapped[Code | None] = mapped_column(comment="F, M or U.")
    age_years: Mapped[float | None] = mapped_column(
        comment="Age in years at (first) infusion; picks ICE vs CAPD and paediatric thresholds."
    )
    diagnosis: Mapped[Code | None] = mapped_column(
        comment="Diagnosis code (pv_monitor.vocabulary.DIAGNOSES), e.g. LBCL, B-ALL, MM."
    )
    weight_kg: Mapped[float | None] = mapped_column(comment="Weight at baseline, kg.")

    study: Mapped[Study] = relationship()
    infusions: Mapped[list[Infusion]] = relationship(back_populates="subject")


class Infusion(Provenance, SubjectScoped, Base):
    """A CAR-T infusion; its date is day 0 of every post-infusion course."""

    __tablename__ = "infusion"
    __table_args__ = (
        UniqueConstraint("subject_id", "infusion_number"),
        Index("ix_infusion_subject_date", "subject_id", "infusion_date"),
        {"comment": "CAR-T infusions; infusion_date is day 0."},
    )

    infusion_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    product_id: Mapped[int] = mapped_column(
        ForeignKey("product.product_id"), index=True, comment="Product infused."
    )
    infusion_number: Mapped[int] = mapped_column(
        comment="1 for the first infusion of the subject, 2 for a re-infusion, ..."
    )
    infusion_date: Mapped[date] = mapped_column(comment="Day 0.")
    infusion_datetime: Mapped[ClinicalDateTime | None] = mapped_column(
        comment="Infusion start date-time, when recorded."
    )
    dose_cells: Mapped[float | None] = mapped_column(comment="CAR-positive viable cells infused.")
    lymphodepletion: Mapped[Name | None] = mapped_column(
        comment="Lymphodepleting regimen, e.g. fludarabine/cyclophosphamide."
    )
    day_zero_anchored: Mapped[bool] = mapped_column(
        server_default=false(),
        comment="True when the source gives only days after infusion: infusion_date is then an "
        "anchor (2000-01-01), not a calendar date, and only study days are meaningful.",
    )

    subject: Mapped[Subject] = relationship(back_populates="infusions")


class Death(Provenance, SubjectScoped, Base):
    """Death of a subject, with date (possibly partial in the source) and cause."""

    __tablename__ = "death"
    __table_args__ = (UniqueConstraint("subject_id"), {"comment": "Deaths (one per subject)."})

    death_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    death_date: Mapped[date | None] = mapped_column(
        comment="Date of death (imputed when the source gives a partial date)."
    )
    death_date_source_value: Mapped[Code | None] = mapped_column(
        comment="Date of death as written in the source (may be partial ISO 8601)."
    )
    death_date_imputation: Mapped[Code | None] = mapped_column(
        comment="Empty when complete; 'day' or 'month' when that part was imputed."
    )
    cause: Mapped[LongText | None] = mapped_column(comment="Cause of death as reported.")


class FollowUp(Provenance, SubjectScoped, Base):
    """Last known contact and disposition of a subject (censoring for survival)."""

    __tablename__ = "follow_up"
    __table_args__ = (
        UniqueConstraint("subject_id"),
        {"comment": "Last contact and disposition per subject."},
    )

    follow_up_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    last_contact_date: Mapped[date | None] = mapped_column(comment="Last date known alive.")
    disposition: Mapped[Name | None] = mapped_column(
        comment="Disposition, e.g. ongoing, completed, lost to follow-up, withdrew."
    )
    disposition_date: Mapped[date | None] = mapped_column(comment="Date of the disposition.")


__all__ = ["Death", "FollowUp", "Infusion", "Subject"]
