"""Observation tables: what was measured, observed, given and reported after infusion."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pv_monitor.store.base import Base, BigId, ClinicalDateTime, Code, LongText, Name
from pv_monitor.store.models._mixins import DateFlagged, Provenance, SubjectScoped


class Measurement(Provenance, SubjectScoped, DateFlagged, Base):
    """A numeric observation: vital sign, laboratory value, score or marker.

    The value is stored in the canonical unit of its code (``pv_monitor.vocabulary``); the value
    and unit as written in the source are kept beside it.
    """

    __tablename__ = "measurement"
    __table_args__ = (
        UniqueConstraint("subject_id", "source_key"),
        Index("ix_measurement_subject_code_time", "subject_id", "code", "measured_at"),
        {"comment": "Numeric observations (vitals, labs, scores, markers) in canonical units."},
    )

    measurement_id: Mapped[BigId] = mapped_column(primary_key=True, comment="Surrogate key.")
    code: Mapped[Code] = mapped_column(comment="Observation code, e.g. TEMP, CRP, ICE, ANC.")
    measured_at: Mapped[ClinicalDateTime] = mapped_column(
        comment="When it was measured (midnight when the source gives only a date)."
    )
    has_time: Mapped[bool] = mapped_column(
        comment="False when the source gave a date without a time of day."
    )
    value: Mapped[float | None] = mapped_column(
        comment="Value in the canonical unit; empty when the result is censored or not done."
    )
    unit: Mapped[Code | None] = mapped_column(comment="Canonical unit of value.")
    operator: Mapped[Code | None] = mapped_column(
        comment="'<' or '>' for censored results such as '<0.2'; empty otherwise."
    )
    value_source_value: Mapped[Name | None] = mapped_column(comment="Value as in the source.")
    unit_source_value: Mapped[Code | None] = mapped_column(comment="Unit as in the source.")
    specimen: Mapped[Code | None] = mapped_column(
        comment="Specimen when it matters, e.g. BONE MARROW for MRD."
    )
    other_cause: Mapped[bool] = mapped_column(
        comment="True when a clinician attributes the finding to a cause other than CAR-T."
    )


class Observation(Provenance, SubjectScoped, DateFlagged, Base):
    """A categorical observation: oxygen device, consciousness, seizure, edema, sedation, ..."""

    __tablename__ = "observation"
    __table_args__ = (
        UniqueConstraint("subject_id", "source_key"),
        Index("ix_observation_subject_code_time", "subject_id", "code", "observed_at"),
        {"comment": "Categorical observations in controlled vocabulary."},
    )

    observation_id: Mapped[BigId] = mapped_column(primary_key=True, comment="Surrogate key.")
    code: Mapped[Code] = mapped_column(comment="Observation code, e.g. O2_DEVICE, LOC, SEIZURE.")
    observed_at: Mapped[ClinicalDateTime] = mapped_column(
        comment="When it was observed (midnight when the source gives only a date)."
    )
    has_time: Mapped[bool] = mapped_column(
        comment="False when the source gave a date without a time of day."
    )
    value: Mapped[Code] = mapped_column(
        comment="Controlled value, e.g. high_flow_nasal_cannula, awakens_to_voice, true."
    )
    value_source_value: Mapped[Name | None] = mapped_column(comment="Value as in the source.")
    other_cause: Mapped[bool] = mapped_column(
        comment="True when a clinician attributes the finding to a cause other than CAR-T."
    )


class DrugExposure(Provenance, SubjectScoped, DateFlagged, Base):
    """A drug given: tocilizumab, corticosteroids, vasopressors, antipyretics, anakinra, ..."""

    __tablename__ = "drug_exposure"
    __table_args__ = (
        UniqueConstraint("subject_id", "source_key"),
        Index("ix_drug_exposure_subject_start", "subject_id", "started_at"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", "end_after_start"),
        {"comment": "Drug administrations with start and end."},
    )

    drug_exposure_id: Mapped[BigId] = mapped_column(primary_key=True, comment="Surrogate key.")
    drug: Mapped[Code] = mapped_column(
        comment="Canonical generic name, lower case (pv_monitor.vocabulary.DRUG_CLASSES)."
    )
    drug_class: Mapped[Code | None] = mapped_column(
        comment="vasopressor, il6_blockade, corticosteroid, antipyretic, il1_blockade, ..."
    )
    drug_source_value: Mapped[Name | None] = mapped_column(comment="Drug name as in the source.")
    started_at: Mapped[ClinicalDateTime | None] = mapped_column(
        comment="Start (imputed when partial); empty when the source says only that it was given."
    )
    ended_at: Mapped[ClinicalDateTime | None] = mapped_column(
        comment="End; empty for a single administration or an unknown end."
    )
    date_imputation: Mapped[Code | None] = mapped_column(
        comment="Empty when complete; otherwise which parts of start/end were imputed."
    )
    dose: Mapped[float | None] = mapped_column(comment="Dose per administration or rate.")
    dose_unit: Mapped[Code | None] = mapped_column(comment="Unit of dose, e.g. mg, ug/min.")
    route: Mapped[Code | None] = mapped_column(comment="Route, e.g. IV, PO, SC.")


class AdverseEvent(Provenance, SubjectScoped, DateFlagged, Base):
    """An adverse event as reported, with its grade on the scale the source used.

    Reported grades are never converted between scales; the pipeline re-grades CRS and ICANS
    from raw observations under ASTCT and reconciles the two.
    """

    __tablename__ = "adverse_event"
    __table_args__ = (
        UniqueConstraint("subject_id", "source_key"),
        Index("ix_adverse_event_subject_onset", "subject_id", "onset_date"),
        CheckConstraint("reported_grade IS NULL OR reported_grade BETWEEN 0 AND 5", "grade"),
        {"comment": "Adverse events as reported (term, grade and scale, dates, seriousness)."},
    )

    adverse_event_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    term: Mapped[Name] = mapped_column(comment="Reported term (verbatim).")
    decoded_term: Mapped[Name | None] = mapped_column(
        comment="Dictionary-derived term (MedDRA preferred term), when coded."
    )
    syndrome: Mapped[Code | None] = mapped_column(
        comment="crs, icans, iec_hs, ... when the term names one of the monitored syndromes."
    )
    onset_date: Mapped[date | None] = mapped_column(comment="Onset (imputed when partial).")
    onset_date_source_value: Mapped[Code | None] = mapped_column(
        comment="Onset as written in the source (may be partial ISO 8601)."
    )
    resolved_date: Mapped[date | None] = mapped_column(comment="Resolution (imputed when partial).")
    resolved_date_source_value: Mapped[Code | None] = mapped_column(
        comment="Resolution as written in the source."
    )
    date_imputation: Mapped[Code | None] = mapped_column(
        comment="Empty when complete; otherwise which parts of onset/resolution were imputed."
    )
    reported_grade: Mapped[int | None] = mapped_column(comment="Grade as reported (0-5).")
    grading_scale: Mapped[Code | None] = mapped_column(
        comment="Scale of reported_grade (pv_monitor.vocabulary.GradingScale)."
    )
    serious: Mapped[bool | None] = mapped_column(comment="Reported as serious.")
    outcome: Mapped[Code | None] = mapped_column(comment="Outcome (vocabulary.AE_OUTCOMES).")
    verbatim: Mapped[LongText | None] = mapped_column(
        comment="Free-text description, when the source has one."
    )


class DiseaseAssessment(Provenance, SubjectScoped, DateFlagged, Base):
    """A disease assessment: response, MRD, relapse and the antigen phenotype of the relapse."""

    __tablename__ = "disease_assessment"
    __table_args__ = (
        UniqueConstraint("subject_id", "source_key"),
        Index("ix_disease_assessment_subject_date", "subject_id", "assessed_on"),
        CheckConstraint(
            "mrd_fraction IS NULL OR (mrd_fraction >= 0 AND mrd_fraction <= 1)", "mrd_fraction"
        ),
        {"comment": "Responses, MRD, relapses and relapse antigen phenotype."},
    )

    disease_assessment_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    assessed_on: Mapped[date] = mapped_column(
        comment="Date of the assessment or sample (imputed when partial)."
    )
    assessed_on_source_value: Mapped[Code | None] = mapped_column(
        comment="Assessment date as written in the source (may be partial ISO 8601)."
    )
    date_imputation: Mapped[Code | None] = mapped_column(
        comment="Empty when complete; day or month when that part was imputed."
    )
    response: Mapped[Code | None] = mapped_column(
        comment="CR, CRi, PR, SD, PD or relapse (vocabulary.RESPONSES)."
    )
    is_relapse: Mapped[bool] = mapped_column(
        comment="True when this assessment documents relapse or progression."
    )
    mrd_fraction: Mapped[float | None] = mapped_column(
        comment="Minimal residual disease as a fraction (0-1); 0 means not detected."
    )
    mrd_method: Mapped[Code | None] = mapped_column(comment="MRD method, e.g. NGS or flow.")
    antigen_status: Mapped[Code | None] = mapped_column(
        comment="Target antigen on relapse blasts: positive, dim, negative, lineage_switch."
    )
    value_source_value: Mapped[Name | None] = mapped_column(comment="Result as in the source.")


__all__ = ["AdverseEvent", "DiseaseAssessment", "DrugExposure", "Measurement", "Observation"]
