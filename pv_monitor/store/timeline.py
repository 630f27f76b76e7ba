"""One patient's course as the dashboard's timeline shows it, read from the store.

Everything is placed on the study-day axis of the subject's **latest infusion** (day 0 = that
infusion's date; fractional days for timed measurements), from day -7 to the latest recorded
day. The reads are by subject and use the ``subject_id`` indexes, so a timeline costs a handful
of indexed queries whatever the size of the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from pv_monitor.store.models import (
    Alert,
    DailyAssessment,
    Death,
    DiseaseAssessment,
    DrugExposure,
    Infusion,
    Measurement,
    Product,
    RiskScore,
    Site,
    Subject,
    ToxicityGrade,
)
from pv_monitor.store.pipeline_io import read_frame
from pv_monitor.vocabulary import DRUG_CLASSES, DrugClass

TIMELINE_LAB_CODES = ("CRP", "FERRITIN", "IL6", "PLT", "ANC", "SBP")
"""Measurements drawn as lines (clinical.md §8 work-up: CRP, ferritin, blood counts; SBP for
hypotension)."""
MARKER_CODES = ("BCELL", "CAR_TRANSGENE")
"""Relapse-monitoring markers (clinical.md §6.3-6.4); MRD comes from disease assessments."""
TIMELINE_DRUG_CLASSES = (
    DrugClass.IL6_BLOCKADE,
    DrugClass.CORTICOSTEROID,
    DrugClass.IL1_BLOCKADE,
    DrugClass.VASOPRESSOR,
)
"""Treatments drawn as bars: tocilizumab/siltuximab, steroids, anakinra, vasopressors."""


class PatientNotVisible(LookupError):
    """No such subject, or it is outside the user's sites (the two are not told apart)."""


@dataclass(frozen=True)
class PatientTimeline:
    """What the patient page draws.

    Attributes
    ----------
    subject : dict
        ``subject_id, subject_key, site, sex, age_years, diagnosis, product, infusion_date,
        death_date``.
    days : DataFrame
        One row per study day: the daily assessment (temperature, hypotension, vasopressors,
        oxygen, ICE/CAPD, consciousness, sedation) with ``crs_grade``, ``crs_reason``,
        ``icans_grade``, ``icans_reason``, ``icans_provisional``.
    labs, markers : DataFrame
        ``code, study_day, value, unit``.
    drugs : DataFrame
        ``drug, drug_class, start_day, end_day``.
    alerts, scores, assessments : DataFrame
        The subject's alerts, risk scores and disease assessments (MRD, antigen status).
    """

    subject: dict[str, Any]
    days: pd.DataFrame
    labs: pd.DataFrame
    markers: pd.DataFrame
    drugs: pd.DataFrame
    alerts: pd.DataFrame
    scores: pd.DataFrame
    assessments: pd.DataFrame


def _study_day(moments: pd.Series, day0: date) -> pd.Series:
    """Fractional days since midnight of ``day0``."""
    anchor = pd.Timestamp(day0)
    stamps = pd.to_datetime(moments, utc=True).dt.tz_localize(None)
    return (stamps - anchor) / pd.Timedelta(days=1)


def patient_timeline(
    session: Session, subject_id: int, scope: frozenset[int] | None
) -> PatientTimeline:
    """The timeline of ``subject_id`` for a user who sees the sites ``scope`` (``None``: all).

    Raises
    ------
    PatientNotVisible
        No such subject, it has no infusion, or it is outside ``scope``.
    """
    head = session.execute(
        select(
            Subject.subject_id,
            Subject.subject_key,
            Subject.site_id,
            Site.site_key.label("site"),
            Subject.sex,
            Subject.age_years,
            Subject.diagnosis,
            Infusion.infusion_id,
            Infusion.infusion_date,
            Product.generic_name,
            Product.brand_name,
        )
        .join(Site, Site.site_id == Subject.site_id)
        .join(Infusion, Infusion.subject_id == Subject.subject_id)
        .join(Product, Product.product_id == Infusion.product_id)
        .where(Subject.subject_id == subject_id)
        .order_by(Infusion.infusion_date.desc(), Infusion.infusion_id.desc())
        .limit(1)
    ).one_or_none()
    if head is None or (scope is not None and head.site_id not in scope):
        raise PatientNotVisible(f"subject {subject_id} is not visible")
    day0 = head.infusion_date
    death = session.scalar(select(Death.death_date).where(Death.subject_id == subject_id))
    subject = {
        "subject_id": head.subject_id,
        "subject_key": head.subject_key,
        "site": head.site,
        "sex": head.sex,
        "age_years": head.age_years,
        "diagnosis": head.diagnosis,
        "product": head.brand_name or head.generic_name,
        "infusion_date": day0,
        "death_date": death,
    }
    return PatientTimeline(
        subject=subject,
        days=_days(session, subject_id, head.infusion_id),
        labs=_measurements(session, subject_id, TIMELINE_LAB_CODES, day0),
        markers=_measurements(session, subject_id, MARKER_CODES, day0),
        drugs=_drugs(session, subject_id, day0),
        alerts=read_frame(
            session,
            select(
                Alert.alert_id,
                Alert.study_day,
                Alert.severity,
                Alert.syndrome,
                Alert.status,
                Alert.title,
            )
            .where(Alert.subject_id == subject_id)
            .order_by(Alert.study_day, Alert.alert_id),
        ),
        scores=read_frame(
            session,
            select(
                RiskScore.score,
                RiskScore.timepoint,
                RiskScore.study_day,
                RiskScore.value,
                RiskScore.category,
                RiskScore.reason,
            )
            .where(RiskScore.infusion_id == head.infusion_id)
            .order_by(RiskScore.study_day, RiskScore.score),
        ),
        assessments=_assessments(session, subject_id, day0),
    )


def _days(session: Session, subject_id: int, infusion_id: int) -> pd.DataFrame:
    day = DailyAssessment
    days = read_frame(
        session,
        select(
            day.daily_assessment_id,
            day.study_day,
            day.temp_c_max,
            day.hypotension,
            day.vasopressors,
            day.o2_device,
            day.o2_flow_l_min,
            day.ice_score,
            day.capd_score,
            day.loc,
            day.sedated,
        )
        .where(day.infusion_id == infusion_id, day.granularity == "day")
        .order_by(day.study_day),
    )
    grades = read_frame(
        session,
        select(
            ToxicityGrade.daily_assessment_id,
            ToxicityGrade.syndrome,
            ToxicityGrade.grade,
            ToxicityGrade.reason,
            ToxicityGrade.provisional,
        ).where(
            ToxicityGrade.subject_id == subject_id,  # the (subject_id, ...) index: no scan
            ToxicityGrade.infusion_id == infusion_id,
            ToxicityGrade.syndrome.in_(("crs", "icans")),
            ToxicityGrade.daily_assessment_id.is_not(None),
        ),
    )
    for syndrome in ("crs", "icans"):
        part = grades[grades["syndrome"] == syndrome].drop(columns="syndrome")
        part = part.rename(
            columns={
                "grade": f"{syndrome}_grade",
                "reason": f"{syndrome}_reason",
                "provisional": f"{syndrome}_provisional",
            }
        )
        days = days.merge(part, on="daily_assessment_id", how="left")
    return days.drop(columns="daily_assessment_id")


def _measurements(
    session: Session, subject_id: int, codes: tuple[str, ...], day0: date
) -> pd.DataFrame:
    rows = read_frame(
        session,
        select(Measurement.code, Measurement.measured_at, Measurement.value, Measurement.unit)
        .where(Measurement.subject_id == subject_id, Measurement.code.in_(codes))
        .order_by(Measurement.code, Measurement.measured_at),
    )
    rows["study_day"] = _study_day(rows["measured_at"], day0) if len(rows) else []
    return rows[["code", "study_day", "value", "unit"]]


def _drugs(session: Session, subject_id: int, day0: date) -> pd.DataFrame:
    names = [name for name, kind in DRUG_CLASSES.items() if kind in TIMELINE_DRUG_CLASSES]
    rows = read_frame(
        session,
        select(
            DrugExposure.drug,
            DrugExposure.drug_class,
            DrugExposure.started_at,
            DrugExposure.ended_at,
        )
        .where(DrugExposure.subject_id == subject_id, DrugExposure.drug.in_(names))
        .order_by(DrugExposure.started_at),
    )
    if rows.empty:
        return pd.DataFrame(columns=["drug", "drug_class", "start_day", "end_day"])
    start = _study_day(rows["started_at"], day0)
    end = _study_day(rows["ended_at"].fillna(rows["started_at"]), day0)
    return rows[["drug", "drug_class"]].assign(start_day=start, end_day=end)


def _assessments(session: Session, subject_id: int, day0: date) -> pd.DataFrame:
    rows = read_frame(
        session,
        select(
            DiseaseAssessment.assessed_on,
            DiseaseAssessment.response,
            DiseaseAssessment.is_relapse,
            DiseaseAssessment.mrd_fraction,
            DiseaseAssessment.antigen_status,
        )
        .where(DiseaseAssessment.subject_id == subject_id)
        .order_by(DiseaseAssessment.assessed_on),
    )
    rows["study_day"] = _study_day(rows["assessed_on"], day0) if len(rows) else []
    return rows.drop(columns="assessed_on")
