"""What the periodic signal report reads from the store, cut at the data-lock point.

:func:`report_inputs` returns one frame per source
(:class:`~pv_monitor.report.tables.ReportInputs`), every row dated on or before the data-lock
point (DLP) and, when a product is named, restricted to that product's subjects. The report's
tables (:mod:`pv_monitor.report.tables`) are pure functions of these frames, and
:func:`content_sha256` hashes them, so the report can state exactly which data it summarises
and the same inputs always give the same tables.

Unit of analysis: each infused subject's **first** infusion on or before the DLP (as
``pv_monitor.store.survival_io``); subjects enrolled but never infused are not exposed and do not
appear (pharmacovigilance.md §8, "exclude patients who were enrolled but not infused").
"""

from __future__ import annotations

import hashlib
from dataclasses import fields
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from pv_monitor.reference.products import find_product
from pv_monitor.report.tables import ReportInputs
from pv_monitor.store.models import (
    AdverseEvent,
    Death,
    DiseaseAssessment,
    DrugExposure,
    Infusion,
    Product,
    RiskScore,
    Study,
    Subject,
    ToxicityEpisode,
    ToxicityGrade,
)
from pv_monitor.store.pipeline_io import read_frame

TREATMENT_CLASSES = ("il6_blockade", "corticosteroid", "il1_blockade")
"""Drug classes of toxicity management counted by the report (tocilizumab, steroids, anakinra:
clinical.md §8)."""


MODEL_RISK_SCORES = ("crs_grade3_by_day0", "icans_grade3_by_day0")
"""Day-0 model predictions (stored only for models that met the minimum AUROC: docs/models.md)
used by the risk-adjusted CUSUM."""


class UnknownProduct(ValueError):
    """The product named for the report is not one of the store's products."""


def _product_id(session: Session, name: str) -> int:
    known = find_product(name)
    generic = known.generic_name if known else name
    product_id = session.scalar(
        select(Product.product_id).where(func.lower(Product.generic_name) == generic.lower())
    )
    if product_id is None:
        raise UnknownProduct(f"no product {name!r} in the store")
    return int(product_id)


def _first_infusions(lock: date, product_id: int | None) -> Select[*tuple[Any, ...]]:
    """Each subject's first infusion on or before the lock (earliest date, lowest number)."""
    ranked = (
        select(
            Infusion.infusion_id,
            func.row_number()
            .over(
                partition_by=Infusion.subject_id,
                order_by=(Infusion.infusion_date, Infusion.infusion_number, Infusion.infusion_id),
            )
            .label("rank"),
        )
        .where(Infusion.infusion_date <= lock)
        .subquery()
    )
    query = (
        select(
            Subject.subject_id,
            Subject.subject_key,
            Study.study_key.label("study"),
            Infusion.infusion_id,
            Infusion.infusion_date,
            func.coalesce(Product.brand_name, Product.generic_name).label("product"),
            func.coalesce(Subject.diagnosis, "not recorded").label("diagnosis"),
            Subject.age_years,
            func.coalesce(Subject.sex, "U").label("sex"),
        )
        .join(ranked, and_(ranked.c.infusion_id == Infusion.infusion_id, ranked.c.rank == 1))
        .join(Subject, Subject.subject_id == Infusion.subject_id)
        .join(Study, Study.study_id == Subject.study_id)
        .join(Product, Product.product_id == Infusion.product_id)
        .order_by(Subject.subject_id)
    )
    if product_id is not None:
        query = query.where(Infusion.product_id == product_id)
    return query


def report_inputs(
    session: Session, data_lock_point: date, *, product: str | None = None
) -> ReportInputs:
    """Read every frame of the report for the data-lock point (and product, if named).

    Raises
    ------
    UnknownProduct
        ``product`` names no product of the store.
    """
    product_id = None if product is None else _product_id(session, product)
    first = _first_infusions(data_lock_point, product_id).subquery()
    lock_end = datetime.combine(data_lock_point + timedelta(days=1), time())
    infusions = read_frame(session, select(first))
    in_cohort = select(first.c.infusion_id)
    subjects = select(first.c.subject_id)
    episodes = read_frame(
        session,
        select(
            ToxicityEpisode.infusion_id,
            ToxicityEpisode.syndrome,
            ToxicityEpisode.episode_number,
            ToxicityEpisode.onset_day,
            ToxicityEpisode.peak_grade,
            ToxicityEpisode.duration_days,
        )
        .where(ToxicityEpisode.infusion_id.in_(in_cohort))
        .order_by(
            ToxicityEpisode.infusion_id, ToxicityEpisode.syndrome, ToxicityEpisode.episode_number
        ),
    )
    icaht = read_frame(
        session,
        select(
            ToxicityGrade.infusion_id,
            ToxicityGrade.criteria_version,
            func.max(ToxicityGrade.grade).label("grade"),
            func.min(ToxicityGrade.study_day).label("first_day"),
        )
        .where(
            ToxicityGrade.subject_id.in_(subjects),  # the (subject_id, syndrome, ...) index
            ToxicityGrade.infusion_id.in_(in_cohort),
            ToxicityGrade.syndrome == "icaht",
        )
        .group_by(ToxicityGrade.infusion_id, ToxicityGrade.criteria_version)
        .order_by(ToxicityGrade.infusion_id, ToxicityGrade.criteria_version),
    )
    iec_hs = read_frame(
        session,
        select(RiskScore.infusion_id, RiskScore.category, RiskScore.study_day)
        .where(RiskScore.infusion_id.in_(in_cohort), RiskScore.score == "iec_hs_screen")
        .order_by(RiskScore.infusion_id, RiskScore.study_day),
    )
    treatments = read_frame(
        session,
        select(
            DrugExposure.subject_id,
            DrugExposure.drug,
            DrugExposure.drug_class,
            func.min(DrugExposure.started_at).label("first_given"),
        )
        .where(
            DrugExposure.subject_id.in_(subjects),
            DrugExposure.drug_class.in_(TREATMENT_CLASSES),
            DrugExposure.started_at < lock_end,
        )
        .group_by(DrugExposure.subject_id, DrugExposure.drug, DrugExposure.drug_class)
        .order_by(DrugExposure.subject_id, DrugExposure.drug),
    )
    adverse_events = read_frame(
        session,
        select(
            AdverseEvent.subject_id,
            AdverseEvent.term,
            AdverseEvent.decoded_term,
            AdverseEvent.syndrome,
            AdverseEvent.onset_date,
            AdverseEvent.serious,
            AdverseEvent.reported_grade,
            AdverseEvent.outcome,
        )
        .where(
            AdverseEvent.subject_id.in_(subjects),
            or_(AdverseEvent.onset_date.is_(None), AdverseEvent.onset_date <= data_lock_point),
        )
        .order_by(AdverseEvent.subject_id, AdverseEvent.onset_date, AdverseEvent.term),
    )
    assessments = read_frame(
        session,
        select(
            DiseaseAssessment.subject_id,
            DiseaseAssessment.assessed_on,
            DiseaseAssessment.is_relapse,
            DiseaseAssessment.antigen_status,
        )
        .where(
            DiseaseAssessment.subject_id.in_(subjects),
            DiseaseAssessment.assessed_on <= data_lock_point,
            or_(DiseaseAssessment.is_relapse, DiseaseAssessment.antigen_status.is_not(None)),
        )
        .order_by(DiseaseAssessment.subject_id, DiseaseAssessment.assessed_on),
    )
    deaths = read_frame(
        session,
        select(Death.subject_id, Death.death_date, Death.cause)
        .where(
            Death.subject_id.in_(subjects),
            or_(Death.death_date.is_(None), Death.death_date <= data_lock_point),
        )
        .order_by(Death.subject_id),
    )
    model_risks = read_frame(
        session,
        select(RiskScore.infusion_id, RiskScore.score, RiskScore.value)
        .where(
            RiskScore.infusion_id.in_(in_cohort),
            RiskScore.score.in_(MODEL_RISK_SCORES),
            RiskScore.value.is_not(None),
        )
        .order_by(RiskScore.infusion_id, RiskScore.score),
    )
    return ReportInputs(
        infusions=infusions,
        episodes=_within_lock(episodes, infusions, data_lock_point, "onset_day"),
        icaht=_within_lock(icaht, infusions, data_lock_point, "first_day"),
        iec_hs=_within_lock(iec_hs, infusions, data_lock_point, "study_day"),
        treatments=treatments,
        adverse_events=adverse_events,
        assessments=assessments,
        deaths=deaths,
        model_risks=model_risks,
    )


def _within_lock(
    frame: pd.DataFrame, infusions: pd.DataFrame, lock: date, day_column: str
) -> pd.DataFrame:
    """Rows whose study day falls on or before the lock (day 0 = the infusion date)."""
    if frame.empty:
        return frame
    day0 = frame["infusion_id"].map(infusions.set_index("infusion_id")["infusion_date"])
    last_day = (pd.Timestamp(lock) - pd.to_datetime(day0)).dt.days
    keep = frame[day_column].isna() | (frame[day_column] <= last_day)
    return frame[keep].reset_index(drop=True)


def content_sha256(inputs: ReportInputs, *extra: pd.DataFrame) -> str:
    """SHA-256 of the report's input frames (and ``extra`` ones), in a fixed order and form.

    Each frame is written as CSV (columns in order, ``\\n`` line ends, missing values empty),
    so the digest changes exactly when the data the report summarises changes.
    """
    digest = hashlib.sha256()
    frames = [getattr(inputs, f.name) for f in fields(inputs)] + list(extra)
    for frame in (f for f in frames if f is not None):
        digest.update(frame.to_csv(index=False, lineterminator="\n").encode())
    return digest.hexdigest()


__all__ = ["TREATMENT_CLASSES", "ReportInputs", "UnknownProduct", "content_sha256", "report_inputs"]
