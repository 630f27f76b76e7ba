"""The survival cohort from the store: one row per subject's first infusion, with durations.

:func:`survival_inputs` reads what the estimators in :mod:`pv_monitor.survival` need, with the
joins, aggregates and site filter done by the database, and derives the durations and event
codes with array operations. Definitions (``docs/survival.md``):

* **Unit of analysis**: each subject's **first** infusion (earliest date, then lowest
  infusion number). Time zero is its infusion date; durations are whole days. Later infusions
  do not start new rows and do not censor: a re-infusion is part of the subject's course, as
  in the pivotal trials' intention-to-treat analyses of infused patients.
* **Last known alive**: the latest of the follow-up table's last contact date, any disease
  assessment on or after day 0, and the last graded day after the first infusion (the graded
  day frame ends at the last day anything was recorded, at most day +100).
* **Overall survival** (``os_days``, ``os_event``): death (1) or censored (0) when last known
  alive.
* **Progression-free survival** (``pfs_days``, ``pfs_event``): the first relapse or
  progression (a disease assessment with ``is_relapse`` after day 0) or death, whichever comes
  first (1); censored (0) at the last disease assessment on or after day 0 (day 0 when none).
* **Relapse** (``relapse_days``, ``relapse_code``): 1 relapse or progression, 2 death without
  relapse (competing), 0 censored, at the same times as PFS.
* **Antigen-negative relapse** (``antigen_negative_days``, ``antigen_negative_code``): 1 a
  relapse whose blasts are antigen-negative, ``negative`` or ``lineage_switch``
  (:data:`ANTIGEN_NEGATIVE`); 2 a relapse with another phenotype (positive, dim) or none
  recorded, or death without relapse; 0 censored. The phenotype is the earliest antigen status
  recorded after day 0 (antigen status describes relapse blasts).
* **CRS / ICANS onset** (``crs_onset_*``, ``icans_onset_*``): onset day of the first episode
  starting on or after day 0 (1), else censored (0) at the last graded day (day +100, death or
  the end of the data).
* **Not evaluable**: a duration is NaN, never a guess, when the subject died without a
  recorded date (OS, PFS, relapse), a date lies before the infusion, or the infusion has no
  graded days (onsets); the estimators refuse NaN, so callers drop those rows knowingly.
* **Groups**: ``product`` (brand name, else generic name), ``diagnosis`` ("not recorded" when
  empty), ``risk_group`` (EASIX before lymphodepletion: "EASIX high", "EASIX low" or "not
  computable"), ``crs_grade3`` ("grade >= 3 CRS", "grade < 3 CRS", or "not graded" when the
  pipeline has not graded the infusion).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from pv_monitor.store.models import (
    DailyAssessment,
    Death,
    DiseaseAssessment,
    FollowUp,
    Infusion,
    Product,
    RiskScore,
    Site,
    Subject,
    ToxicityEpisode,
)
from pv_monitor.store.pipeline_io import read_frame

ANTIGEN_NEGATIVE = ("negative", "lineage_switch")
"""Antigen statuses (``vocabulary.ANTIGEN_STATUSES``) that count as antigen-negative relapse:
the target antigen is absent, or the disease switched lineage and lost it (antigen escape)."""
CRS_GRADE3 = "grade >= 3 CRS"
CRS_BELOW_GRADE3 = "grade < 3 CRS"
NOT_GRADED = "not graded"
EASIX_GROUPS = {"high": "EASIX high", "low": "EASIX low"}
NOT_COMPUTABLE = "not computable"
DIAGNOSIS_NOT_RECORDED = "not recorded"
SURVIVAL_COLUMNS = (
    "subject_id",
    "subject_key",
    "infusion_id",
    "site_id",
    "product",
    "diagnosis",
    "risk_group",
    "crs_grade3",
    "os_days",
    "os_event",
    "pfs_days",
    "pfs_event",
    "relapse_days",
    "relapse_code",
    "antigen_negative_days",
    "antigen_negative_code",
    "crs_onset_days",
    "crs_onset_event",
    "icans_onset_days",
    "icans_onset_event",
)

FloatArray = npt.NDArray[np.float64]


def _first_infusions(site_ids: Collection[str | int] | None) -> Select[Any]:
    """Each subject's first infusion, with the subject's site, restricted to ``site_ids``."""
    ranked = select(
        Infusion.infusion_id,
        Infusion.subject_id,
        Infusion.infusion_date,
        Infusion.product_id,
        func.row_number()
        .over(
            partition_by=Infusion.subject_id,
            order_by=(Infusion.infusion_date, Infusion.infusion_number, Infusion.infusion_id),
        )
        .label("rank"),
    ).subquery("ranked")
    query = (
        select(
            ranked.c.infusion_id,
            ranked.c.subject_id,
            ranked.c.infusion_date,
            ranked.c.product_id,
            Subject.site_id,
            Subject.subject_key,
            Subject.diagnosis,
        )
        .join(Subject, Subject.subject_id == ranked.c.subject_id)
        .where(ranked.c.rank == 1)
    )
    if site_ids is not None:
        keys = [s for s in site_ids if isinstance(s, str)]
        numbers = [int(s) for s in site_ids if not isinstance(s, str)]
        by_key = select(Site.site_id).where(Site.site_key.in_(keys))
        query = query.where(or_(Subject.site_id.in_(numbers), Subject.site_id.in_(by_key)))
    return query


def survival_inputs(
    session: Session, site_ids: Collection[str | int] | None = None
) -> pd.DataFrame:
    """One row per infused subject (first infusion) with the survival endpoints.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        An open session on the store.
    site_ids : collection of int or str, optional
        Only subjects of these sites: integers are ``site.site_id`` (what
        ``pv_monitor.store.users.site_scope`` returns), strings ``site.site_key`` (e.g. "S01",
        in any study). ``None`` for every site; an empty collection gives no rows.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SURVIVAL_COLUMNS`, one row per subject, ordered by ``subject_id``:
        ``subject_id`` (surrogate), ``subject_key`` (pseudonymous study key), ``infusion_id``,
        ``site_id``, the grouping columns, and per endpoint a duration in days (float, NaN
        when not evaluable) and an integer event indicator or code (module docstring).
    """
    first = _first_infusions(site_ids).cte("first")  # materialised once, used five times
    day0 = first.c.infusion_date
    last_graded = (
        select(func.max(DailyAssessment.assessed_at))
        .where(
            DailyAssessment.infusion_id == first.c.infusion_id,
            DailyAssessment.granularity == "day",
        )
        .scalar_subquery()
    )  # one index seek per infusion (unique index infusion_id, granularity, assessed_at)
    assessments = (
        select(
            DiseaseAssessment.subject_id,
            func.max(DiseaseAssessment.assessed_on).label("last_assessed_on"),
            func.min(
                case(
                    (
                        DiseaseAssessment.is_relapse & (DiseaseAssessment.assessed_on > day0),
                        DiseaseAssessment.assessed_on,
                    )
                )
            ).label("relapse_on"),
        )
        .join(first, first.c.subject_id == DiseaseAssessment.subject_id)
        .where(DiseaseAssessment.assessed_on >= day0)
        .group_by(DiseaseAssessment.subject_id)
        .subquery("assessments")
    )
    statuses = (
        select(
            DiseaseAssessment.subject_id,
            DiseaseAssessment.antigen_status,
            func.row_number()
            .over(
                partition_by=DiseaseAssessment.subject_id,
                order_by=(DiseaseAssessment.assessed_on, DiseaseAssessment.disease_assessment_id),
            )
            .label("rank"),
        )
        .join(first, first.c.subject_id == DiseaseAssessment.subject_id)
        .where(DiseaseAssessment.antigen_status.is_not(None), DiseaseAssessment.assessed_on > day0)
        .subquery("statuses")
    )
    episodes = (
        select(
            ToxicityEpisode.infusion_id,
            func.min(case((ToxicityEpisode.syndrome == "crs", ToxicityEpisode.onset_day))).label(
                "crs_onset"
            ),
            func.max(case((ToxicityEpisode.syndrome == "crs", ToxicityEpisode.peak_grade))).label(
                "crs_peak"
            ),
            func.min(case((ToxicityEpisode.syndrome == "icans", ToxicityEpisode.onset_day))).label(
                "icans_onset"
            ),
        )
        .join(first, first.c.infusion_id == ToxicityEpisode.infusion_id)
        .where(ToxicityEpisode.syndrome.in_(("crs", "icans")), ToxicityEpisode.onset_day >= 0)
        .group_by(ToxicityEpisode.infusion_id)
        .subquery("episodes")
    )
    easix = (
        select(RiskScore.infusion_id, func.max(RiskScore.category).label("easix_category"))
        .join(first, first.c.infusion_id == RiskScore.infusion_id)
        .where(RiskScore.score == "easix", RiskScore.timepoint == "pre_lymphodepletion")
        .group_by(RiskScore.infusion_id)
        .subquery("easix")
    )
    query = (
        select(
            first.c.subject_id,
            first.c.subject_key,
            first.c.infusion_id,
            first.c.site_id,
            func.coalesce(Product.brand_name, Product.generic_name).label("product"),
            first.c.diagnosis,
            day0.label("infusion_date"),
            Death.subject_id.is_not(None).label("died"),
            Death.death_date,
            FollowUp.last_contact_date,
            assessments.c.last_assessed_on,
            assessments.c.relapse_on,
            statuses.c.antigen_status,
            last_graded.label("last_graded_at"),
            episodes.c.crs_onset,
            episodes.c.crs_peak,
            episodes.c.icans_onset,
            easix.c.easix_category,
        )
        .join(Product, Product.product_id == first.c.product_id)
        .outerjoin(Death, Death.subject_id == first.c.subject_id)
        .outerjoin(FollowUp, FollowUp.subject_id == first.c.subject_id)
        .outerjoin(assessments, assessments.c.subject_id == first.c.subject_id)
        .outerjoin(
            statuses, and_(statuses.c.subject_id == first.c.subject_id, statuses.c.rank == 1)
        )
        .outerjoin(episodes, episodes.c.infusion_id == first.c.infusion_id)
        .outerjoin(easix, easix.c.infusion_id == first.c.infusion_id)
        .order_by(first.c.subject_id)
    )
    return _endpoints(read_frame(session, query))


def _days(frame: pd.DataFrame, column: str) -> FloatArray:
    """Whole days from the infusion date to ``column`` (NaN when empty)."""
    start = pd.to_datetime(frame["infusion_date"]).to_numpy("datetime64[D]")
    end = pd.to_datetime(frame[column]).to_numpy("datetime64[D]")
    days = (end - start).astype("timedelta64[D]").astype(np.float64)
    return np.where(np.isnat(end), np.nan, days)


def _endpoints(raw: pd.DataFrame) -> pd.DataFrame:
    """Durations and codes from the per-subject dates (module docstring)."""
    if raw.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SURVIVAL_COLUMNS})
    died = raw["died"].fillna(False).astype(bool).to_numpy()
    death = _days(raw, "death_date")
    death = np.where(death < 0, np.nan, death)  # a death before the infusion is not evaluable
    death_known = died & ~np.isnan(death)
    graded = _days(raw, "last_graded_at")
    graded = np.where(graded < 0, np.nan, graded)
    assessed = np.fmax(_days(raw, "last_assessed_on"), 0.0)  # on or after day 0 (the query)
    alive = np.fmax.reduce([np.zeros(len(raw)), _days(raw, "last_contact_date"), assessed, graded])
    relapse = _days(raw, "relapse_on")  # after day 0 (the query)
    relapsed = ~np.isnan(relapse) & ~(death_known & (death < relapse))

    os_days = np.where(died, death, alive)
    pfs_event = relapsed | died
    pfs_days = np.where(relapsed, relapse, np.where(died, death, assessed))
    relapse_code = np.where(relapsed, 1, np.where(died, 2, 0))
    negative = raw["antigen_status"].isin(ANTIGEN_NEGATIVE).to_numpy()
    antigen_code = np.where(relapsed & negative, 1, np.where(relapse_code > 0, 2, 0))

    def onset(column: str) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        day = raw[column].to_numpy(dtype=np.float64, na_value=np.nan)
        happened = ~np.isnan(day) & ~np.isnan(graded)
        return np.where(happened, day, graded), happened.astype(np.int64)

    crs_days, crs_event = onset("crs_onset")
    icans_days, icans_event = onset("icans_onset")
    peak = raw["crs_peak"].to_numpy(dtype=np.float64, na_value=np.nan)
    crs_grade3 = np.where(
        np.isnan(graded), NOT_GRADED, np.where(peak >= 3, CRS_GRADE3, CRS_BELOW_GRADE3)
    )
    frame = pd.DataFrame(
        {
            "subject_id": raw["subject_id"].astype(np.int64),
            "subject_key": raw["subject_key"].astype(str),
            "infusion_id": raw["infusion_id"].astype(np.int64),
            "site_id": raw["site_id"].astype("Int64"),
            "product": raw["product"].astype(str),
            "diagnosis": raw["diagnosis"].fillna(DIAGNOSIS_NOT_RECORDED).astype(str),
            "risk_group": raw["easix_category"].map(EASIX_GROUPS).fillna(NOT_COMPUTABLE),
            "crs_grade3": crs_grade3,
            "os_days": os_days,
            "os_event": died.astype(np.int64),
            "pfs_days": pfs_days,
            "pfs_event": pfs_event.astype(np.int64),
            "relapse_days": pfs_days,
            "relapse_code": relapse_code.astype(np.int64),
            "antigen_negative_days": pfs_days,
            "antigen_negative_code": antigen_code.astype(np.int64),
            "crs_onset_days": crs_days,
            "crs_onset_event": crs_event,
            "icans_onset_days": icans_days,
            "icans_onset_event": icans_event,
        }
    )
    return frame[list(SURVIVAL_COLUMNS)]
