"""Spontaneous reports (FAERS / legacy AERS layout): cases, drugs and reactions."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pv_monitor.store.base import Base, BigId, Code, Key, Name
from pv_monitor.store.models._mixins import Provenance


class IcsrCase(Provenance, Base):
    """One version of an individual case safety report (FAERS DEMO row, with OUTC and RPSR)."""

    __tablename__ = "icsr_case"
    __table_args__ = (
        UniqueConstraint("source", "report_key"),
        Index("ix_icsr_case_case_version", "source", "case_key", "case_version"),
        {"comment": "Spontaneous report versions; is_latest marks the version analysed."},
    )

    icsr_case_id: Mapped[BigId] = mapped_column(primary_key=True, comment="Surrogate key.")
    source: Mapped[Code] = mapped_column(comment="faers or aers (legacy layout).")
    report_key: Mapped[Key] = mapped_column(comment="primaryid (FAERS) or isr (legacy AERS).")
    case_key: Mapped[Key] = mapped_column(comment="caseid (FAERS) or case (legacy AERS).")
    case_version: Mapped[int | None] = mapped_column(comment="caseversion (FAERS only).")
    is_latest: Mapped[bool] = mapped_column(
        comment="True for the latest version of the case loaded so far."
    )
    quarter: Mapped[Code | None] = mapped_column(comment="Quarterly file, e.g. 2017Q2.")
    initial_or_followup: Mapped[Code | None] = mapped_column(comment="I or F (i_f_code).")
    event_date: Mapped[date | None] = mapped_column(comment="event_dt (imputed when partial).")
    event_date_source_value: Mapped[Code | None] = mapped_column(comment="event_dt as given.")
    fda_received_date: Mapped[date | None] = mapped_column(comment="fda_dt / init_fda_dt.")
    report_type: Mapped[Code | None] = mapped_column(comment="rept_cod: EXP, PER, DIR, ...")
    age: Mapped[float | None] = mapped_column(comment="Age as reported.")
    age_unit: Mapped[Code | None] = mapped_column(comment="age_cod: YR, MON, WK, DY, DEC, HR.")
    sex: Mapped[Code | None] = mapped_column(comment="F, M or UNK.")
    weight: Mapped[float | None] = mapped_column(comment="Weight as reported.")
    weight_unit: Mapped[Code | None] = mapped_column(comment="KG or LBS.")
    reporter_country: Mapped[Code | None] = mapped_column(comment="Reporter country.")
    occurrence_country: Mapped[Code | None] = mapped_column(comment="Country of occurrence.")
    reporter_occupation: Mapped[Code | None] = mapped_column(comment="occp_cod: MD, PH, ...")
    outcomes: Mapped[Name | None] = mapped_column(
        comment="';'-separated OUTC codes: DE, LT, HO, DS, CA, RI, OT."
    )
    report_sources: Mapped[Name | None] = mapped_column(
        comment="';'-separated RPSR codes: FGN, SDY, LIT, CSM, HP, ..."
    )

    drugs: Mapped[list[IcsrDrug]] = relationship(back_populates="case")
    reactions: Mapped[list[IcsrReaction]] = relationship(back_populates="case")


class IcsrDrug(Provenance, Base):
    """A drug of a report (DRUG row with its THER dates and INDI indication)."""

    __tablename__ = "icsr_drug"
    __table_args__ = (
        UniqueConstraint("icsr_case_id", "drug_seq"),
        {"comment": "Drugs of spontaneous reports, with normalised CAR-T product."},
    )

    icsr_drug_id: Mapped[BigId] = mapped_column(primary_key=True, comment="Surrogate key.")
    icsr_case_id: Mapped[BigId] = mapped_column(
        ForeignKey("icsr_case.icsr_case_id"), comment="The report version."
    )
    drug_seq: Mapped[int] = mapped_column(comment="drug_seq within the report.")
    role: Mapped[Code | None] = mapped_column(comment="role_cod: PS, SS, C or I.")
    drug_name: Mapped[Name] = mapped_column(comment="drugname as reported (verbatim).")
    active_ingredient: Mapped[Name | None] = mapped_column(comment="prod_ai.")
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("product.product_id"),
        index=True,
        comment="Normalised CAR-T product (brand and generic names map to one), when matched.",
    )
    route: Mapped[Name | None] = mapped_column(comment="Route as reported.")
    dose_amount: Mapped[float | None] = mapped_column(comment="dose_amt.")
    dose_unit: Mapped[Code | None] = mapped_column(comment="dose_unit.")
    start_date: Mapped[date | None] = mapped_column(comment="THER start_dt (imputed if partial).")
    end_date: Mapped[date | None] = mapped_column(comment="THER end_dt (imputed if partial).")
    indication: Mapped[Name | None] = mapped_column(comment="INDI indi_pt.")
    dechallenge: Mapped[Code | None] = mapped_column(comment="dechal: Y, N, U or D.")
    rechallenge: Mapped[Code | None] = mapped_column(comment="rechal: Y, N, U or D.")

    case: Mapped[IcsrCase] = relationship(back_populates="drugs")


class IcsrReaction(Provenance, Base):
    """A reaction (MedDRA preferred term) of a report."""

    __tablename__ = "icsr_reaction"
    __table_args__ = (
        UniqueConstraint("icsr_case_id", "preferred_term"),
        Index("ix_icsr_reaction_term", "preferred_term"),
        {"comment": "Reactions (MedDRA PT) of spontaneous reports."},
    )

    icsr_reaction_id: Mapped[BigId] = mapped_column(primary_key=True, comment="Surrogate key.")
    icsr_case_id: Mapped[BigId] = mapped_column(
        ForeignKey("icsr_case.icsr_case_id"), comment="The report version."
    )
    preferred_term: Mapped[Name] = mapped_column(comment="MedDRA preferred term (pt).")
    drug_recurrence_action: Mapped[Code | None] = mapped_column(comment="drug_rec_act.")

    case: Mapped[IcsrCase] = relationship(back_populates="reactions")


__all__ = ["IcsrCase", "IcsrDrug", "IcsrReaction"]
