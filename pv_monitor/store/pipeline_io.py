"""The pipeline's SQL: which subjects to recompute, their inputs, and replacing derived rows.

:mod:`pv_monitor.pipeline` orchestrates; the grading and scoring it calls are pure. Every
query here is bounded by a list of subjects, so a run over a large store works chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Select, case, delete, func, select, true, union
from sqlalchemy.orm import Session

from pv_monitor.store.base import Base
from pv_monitor.store.loading import insert_frame
from pv_monitor.store.models import (
    AdverseEvent,
    DailyAssessment,
    Death,
    DrugExposure,
    Infusion,
    LoadBatch,
    Measurement,
    Observation,
    PipelineRun,
    Product,
    Subject,
    ToxicityEpisode,
    ToxicityGrade,
)
from pv_monitor.vocabulary import REPORTED_GRADE_CODES

SUBJECT_TABLES = (
    "subject",
    "infusion",
    "death",
    "follow_up",
    "measurement",
    "observation",
    "drug_exposure",
    "adverse_event",
    "disease_assessment",
)
"""Tables whose rows, when a load batch writes them, make a subject's derived rows stale."""
DERIVED_TABLES = ("toxicity_grade", "toxicity_episode", "risk_score", "daily_assessment")
"""Replaced per subject by every run, children before parents."""


@dataclass(frozen=True)
class PipelineInputs:
    """What the pure steps need about a set of subjects (see ``grading.daily``)."""

    infusions: pd.DataFrame
    measurements: pd.DataFrame
    observations: pd.DataFrame
    drugs: pd.DataFrame


def latest_load_batch_id(session: Session) -> int:
    """The newest load batch id (0 for an empty store)."""
    return int(session.scalar(select(func.max(LoadBatch.load_batch_id))) or 0)


def last_committed_run(session: Session) -> PipelineRun | None:
    """The most recent pipeline run that committed."""
    query = (
        select(PipelineRun)
        .where(PipelineRun.status == "committed")
        .order_by(PipelineRun.pipeline_run_id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def subjects_to_run(session: Session, after_batch_id: int | None) -> list[int]:
    """Subjects with an infusion whose rows a load batch newer than ``after_batch_id`` wrote;
    every subject with an infusion when ``after_batch_id`` is None."""
    infused = select(Infusion.subject_id).distinct()
    if after_batch_id is None:
        return sorted(int(s) for s in session.scalars(infused))
    parts: list[Select[Any]] = []
    for name in SUBJECT_TABLES:
        table = Base.metadata.tables[name]
        parts.append(select(table.c.subject_id).where(table.c.load_batch_id > after_batch_id))
    touched = {int(s) for s in session.scalars(union(*parts))}
    return sorted(touched & {int(s) for s in session.scalars(infused)})


def read_frame(session: Session, query: Select[*tuple[Any, ...]]) -> pd.DataFrame:
    """The rows of ``query`` as a DataFrame with the query's column names."""
    result = session.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def read_inputs(session: Session, subject_ids: Sequence[int], codes: Mapping[str, Iterable[str]]
                ) -> PipelineInputs:  # fmt: skip
    """Infusions, measurements, observations and drugs of ``subject_ids``.

    ``codes`` names the measurement and observation codes to read
    (``{"measurement": [...], "observation": [...]}``); other codes stay in the database.
    """
    death = (
        select(Death.subject_id, func.min(Death.death_date).label("death_date"))
        .where(Death.subject_id.in_(subject_ids))
        .group_by(Death.subject_id)
        .subquery()
    )
    infusions = read_frame(
        session,
        select(
            Infusion.infusion_id,
            Infusion.subject_id,
            Infusion.infusion_date,
            Subject.age_years,
            death.c.death_date,
            Subject.diagnosis,
            Product.generic_name.label("product"),
            Product.costimulatory_domain,
            Product.target_antigen,
        )
        .join(Subject, Subject.subject_id == Infusion.subject_id)
        .join(Product, Product.product_id == Infusion.product_id)
        .outerjoin(death, death.c.subject_id == Infusion.subject_id)
        .where(Infusion.subject_id.in_(subject_ids)),
    )
    measurements = read_frame(
        session,
        select(
            Measurement.subject_id,
            Measurement.code,
            Measurement.measured_at.label("at"),
            Measurement.value,
            Measurement.other_cause,
        ).where(
            Measurement.subject_id.in_(subject_ids),
            Measurement.code.in_(list(codes["measurement"])),
        ),
    )
    observations = read_frame(
        session,
        select(
            Observation.subject_id,
            Observation.code,
            Observation.observed_at.label("at"),
            Observation.value,
            Observation.other_cause,
        ).where(
            Observation.subject_id.in_(subject_ids),
            Observation.code.in_(list(codes["observation"])),
        ),
    )
    drugs = read_frame(
        session,
        select(
            DrugExposure.subject_id,
            DrugExposure.drug,
            DrugExposure.drug_class,
            DrugExposure.started_at,
            DrugExposure.ended_at,
        ).where(DrugExposure.subject_id.in_(subject_ids)),
    )
    return PipelineInputs(infusions, measurements, observations, drugs)


def replace_derived(
    session: Session,
    subject_ids: Sequence[int],
    daily: pd.DataFrame,
    time_points: pd.DataFrame,
    grades: pd.DataFrame,
    episodes: pd.DataFrame,
    scores: pd.DataFrame,
) -> dict[str, int]:
    """Delete the derived rows of ``subject_ids`` and write the new ones; rows written per table.

    ``grades`` carries ``infusion_id``, ``granularity`` and ``study_day`` (days) or
    ``assessed_at`` (time points) instead of ``daily_assessment_id``: the ids of the new
    assessment rows are looked up here.
    """
    for name in DERIVED_TABLES:
        table = Base.metadata.tables[name]
        session.execute(delete(table).where(table.c.subject_id.in_(subject_ids)))
    now = datetime.now(UTC).replace(tzinfo=None)
    columns = [c for c in daily.columns if c in DailyAssessment.__table__.c]
    rows = pd.concat(
        [
            daily[columns].assign(granularity="day"),
            time_points[[c for c in columns if c in time_points.columns]].assign(
                granularity="time_point"
            ),
        ],
        ignore_index=True,
    ).assign(computed_at=now)
    written = {"daily_assessment": insert_frame(session, "daily_assessment", rows)}
    ids = read_frame(
        session,
        select(
            DailyAssessment.daily_assessment_id,
            DailyAssessment.infusion_id,
            DailyAssessment.granularity,
            DailyAssessment.study_day,
            DailyAssessment.assessed_at,
        ).where(DailyAssessment.subject_id.in_(subject_ids)),
    )
    ids["assessed_at"] = pd.to_datetime(ids["assessed_at"])
    by_day = ids[ids["granularity"] == "day"][["daily_assessment_id", "infusion_id", "study_day"]]
    by_time = ids[ids["granularity"] == "time_point"][
        ["daily_assessment_id", "infusion_id", "assessed_at"]
    ]
    day_grades = grades[grades["granularity"] == "day"].drop(columns=["granularity", "assessed_at"])
    time_grades = grades[grades["granularity"] == "time_point"].drop(columns="granularity")
    grades = pd.concat(
        [
            day_grades.merge(by_day, on=["infusion_id", "study_day"], how="left", validate="m:1"),
            time_grades.assign(assessed_at=pd.to_datetime(time_grades["assessed_at"]))
            .merge(by_time, on=["infusion_id", "assessed_at"], how="left", validate="m:1")
            .drop(columns="assessed_at"),
        ],
        ignore_index=True,
    )
    if grades["daily_assessment_id"].isna().any():
        raise RuntimeError("a grade has no assessment row to belong to")
    written["toxicity_grade"] = insert_frame(
        session, "toxicity_grade", grades.assign(computed_at=now)
    )
    written["toxicity_episode"] = insert_frame(
        session, "toxicity_episode", episodes.assign(computed_at=now)
    )
    written["risk_score"] = insert_frame(session, "risk_score", scores.assign(computed_at=now))
    return written


def peak_grades(session: Session) -> pd.DataFrame:
    """Per infused subject: product, diagnosis and the highest derived CRS and ICANS grades
    (0 when no episode), aggregated in SQL."""
    crs = func.max(case((ToxicityEpisode.syndrome == "crs", ToxicityEpisode.peak_grade), else_=0))
    icans = func.max(
        case((ToxicityEpisode.syndrome == "icans", ToxicityEpisode.peak_grade), else_=0)
    )
    query = (
        select(
            Subject.subject_id,
            func.min(Product.generic_name).label("product"),
            func.min(Product.brand_name).label("brand"),
            func.min(Subject.diagnosis).label("diagnosis"),
            func.coalesce(crs, 0).label("crs_peak"),
            func.coalesce(icans, 0).label("icans_peak"),
        )
        .join(Infusion, Infusion.subject_id == Subject.subject_id)
        .join(Product, Product.product_id == Infusion.product_id)
        .outerjoin(ToxicityEpisode, ToxicityEpisode.subject_id == Subject.subject_id)
        .group_by(Subject.subject_id)
    )
    return read_frame(session, query)


@dataclass(frozen=True)
class ReconciliationInputs:
    """Reported CRS/ICANS events, derived episodes and graded-day counts (``grading.reconcile``)."""

    reported: pd.DataFrame
    derived: pd.DataFrame
    gradable: pd.DataFrame


def reconciliation_inputs(
    session: Session, syndromes: Sequence[str], subject_ids: Sequence[int] | None = None
) -> ReconciliationInputs:
    """Everything :func:`pv_monitor.grading.reconcile.reconcile` compares, keyed by subject key
    (all subjects, or ``subject_ids``); study days count from the subject's first infusion."""

    def scoped(column: Any) -> Any:
        return column.in_(subject_ids) if subject_ids is not None else true()

    first = (
        select(Infusion.subject_id, func.min(Infusion.infusion_date).label("day0"))
        .group_by(Infusion.subject_id)
        .subquery()
    )
    reported = read_frame(
        session,
        select(
            Subject.subject_key.label("subject"),
            AdverseEvent.syndrome,
            AdverseEvent.grading_scale.label("scale"),
            AdverseEvent.reported_grade,
            AdverseEvent.onset_date,
            AdverseEvent.resolved_date,
            first.c.day0,
        )
        .join(Subject, Subject.subject_id == AdverseEvent.subject_id)
        .join(first, first.c.subject_id == AdverseEvent.subject_id)
        .where(
            AdverseEvent.syndrome.in_(syndromes),
            AdverseEvent.reported_grade.is_not(None),
            scoped(AdverseEvent.subject_id),
        ),
    )
    day0 = pd.to_datetime(reported.pop("day0"))
    for column, name in (("onset_date", "onset_day"), ("resolved_date", "resolved_day")):
        reported[name] = (pd.to_datetime(reported.pop(column)) - day0).dt.days
    derived = read_frame(
        session,
        select(
            Subject.subject_key.label("subject"),
            ToxicityEpisode.syndrome,
            ToxicityEpisode.episode_number,
            ToxicityEpisode.onset_day,
            ToxicityEpisode.resolution_day,
            ToxicityEpisode.peak_grade,
        )
        .join(Subject, Subject.subject_id == ToxicityEpisode.subject_id)
        .where(ToxicityEpisode.syndrome.in_(syndromes), scoped(ToxicityEpisode.subject_id)),
    )
    gradable = read_frame(
        session,
        select(
            Subject.subject_key.label("subject"),
            ToxicityGrade.syndrome,
            func.count(ToxicityGrade.grade).label("graded_days"),
        )
        .join(Subject, Subject.subject_id == ToxicityGrade.subject_id)
        .where(ToxicityGrade.syndrome.in_(syndromes), scoped(ToxicityGrade.subject_id))
        .group_by(Subject.subject_key, ToxicityGrade.syndrome),
    )
    return ReconciliationInputs(reported, derived, gradable)


@dataclass(frozen=True)
class DailyReconciliationInputs:
    """Reported daily grades and derived daily grades (``grading.reconcile.reconcile_daily``)."""

    reported: pd.DataFrame
    derived: pd.DataFrame


def daily_reconciliation_inputs(
    session: Session, syndromes: Sequence[str], subject_ids: Sequence[int] | None = None
) -> DailyReconciliationInputs:
    """Reported daily grades (observations ``CRS_GRADE``/``ICANS_GRADE``: value as given, the
    unit is the scale) and the ASTCT grade pv-monitor derived for each day (the day rows of
    ``toxicity_grade``), keyed by subject key and by study day counted from the subject's first
    infusion, so that the two sides are compared on the same calendar day."""

    def scoped(column: Any) -> Any:
        return column.in_(subject_ids) if subject_ids is not None else true()

    first = (
        select(Infusion.subject_id, func.min(Infusion.infusion_date).label("day0"))
        .group_by(Infusion.subject_id)
        .subquery()
    )
    codes = {code: syndrome for code, syndrome in REPORTED_GRADE_CODES.items()
             if syndrome in syndromes}  # fmt: skip
    reported = read_frame(
        session,
        select(
            Subject.subject_key.label("subject"),
            Measurement.code,
            Measurement.measured_at,
            Measurement.unit.label("scale"),
            Measurement.value.label("reported_grade"),
            first.c.day0,
        )
        .join(Subject, Subject.subject_id == Measurement.subject_id)
        .join(first, first.c.subject_id == Measurement.subject_id)
        .where(Measurement.code.in_(list(codes)), scoped(Measurement.subject_id)),
    )
    reported["syndrome"] = reported.pop("code").map(codes)
    day0 = pd.to_datetime(reported.pop("day0"))
    measured = pd.to_datetime(reported.pop("measured_at")).dt.normalize()
    reported["study_day"] = (measured - day0).dt.days.astype("int64")
    derived = read_frame(
        session,
        select(
            Subject.subject_key.label("subject"),
            ToxicityGrade.syndrome,
            DailyAssessment.assessed_at,
            ToxicityGrade.grade.label("derived_grade"),
            first.c.day0,
        )
        .join(
            DailyAssessment,
            DailyAssessment.daily_assessment_id == ToxicityGrade.daily_assessment_id,
        )
        .join(Subject, Subject.subject_id == ToxicityGrade.subject_id)
        .join(first, first.c.subject_id == ToxicityGrade.subject_id)
        .where(
            ToxicityGrade.syndrome.in_(list(codes.values())),
            DailyAssessment.granularity == "day",
            scoped(ToxicityGrade.subject_id),
        ),
    )
    day0 = pd.to_datetime(derived.pop("day0"))
    assessed = pd.to_datetime(derived.pop("assessed_at")).dt.normalize()
    derived["study_day"] = (assessed - day0).dt.days.astype("int64")
    return DailyReconciliationInputs(reported, derived)


def training_frames(session: Session, codes: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Everything model training reads, for every infused subject: infusions with product and
    subject attributes, the ``codes`` measurements, drugs, early day rows and episodes."""
    infusions = read_frame(
        session,
        select(
            Infusion.infusion_id,
            Infusion.subject_id,
            Infusion.infusion_date,
            Subject.age_years,
            Subject.diagnosis,
            Product.generic_name.label("product"),
            Product.costimulatory_domain,
            Product.target_antigen,
        )
        .join(Subject, Subject.subject_id == Infusion.subject_id)
        .join(Product, Product.product_id == Infusion.product_id),
    )
    subject_ids = sorted(int(s) for s in infusions["subject_id"].unique())
    parts = [
        read_inputs(session, subject_ids[i : i + 2000], {"measurement": codes, "observation": ()})
        for i in range(0, len(subject_ids), 2000)
    ]
    daily = read_frame(
        session,
        select(
            DailyAssessment.infusion_id, DailyAssessment.study_day, DailyAssessment.temp_c_max
        ).where(DailyAssessment.granularity == "day", DailyAssessment.study_day.between(0, 3)),
    )
    episodes = read_frame(
        session,
        select(ToxicityEpisode.infusion_id, ToxicityEpisode.syndrome, ToxicityEpisode.peak_grade),
    )
    return {
        "infusions": infusions,
        "measurements": pd.concat([p.measurements for p in parts], ignore_index=True),
        "drugs": pd.concat([p.drugs for p in parts], ignore_index=True),
        "daily": daily,
        "episodes": episodes,
    }


def models_in_use(session: Session) -> list[str]:
    """The trained models the last committed run used, as ``name@version[>=threshold]`` (empty:
    alerts came from the published scores alone)."""
    run = last_committed_run(session)
    models = str((run.criteria or {}).get("models", "")) if run is not None else ""
    return [m for m in models.split(";") if m]


def data_version(session: Session) -> tuple[int, int]:
    """The newest load batch and pipeline run ids: what derived views are cached against."""
    batch = session.scalar(select(func.max(LoadBatch.load_batch_id))) or 0
    run = session.scalar(select(func.max(PipelineRun.pipeline_run_id))) or 0
    return int(batch), int(run)
