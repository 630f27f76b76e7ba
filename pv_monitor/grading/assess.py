"""From observation rows to graded days and episodes: the pure part of ``pv-monitor run``.

:func:`assess` chains the steps the pipeline applies to each chunk of subjects:

1. :func:`~pv_monitor.grading.daily.build_daily_assessments` folds the rows into the daily
   frame (architecture contract 2);
2. :func:`~pv_monitor.grading.episodes.add_crs_treated` follows each CRS episode to decide on
   which days fever is no longer needed;
3. :func:`~pv_monitor.grading.grade_crs` and :func:`~pv_monitor.grading.grade_icans` grade
   every day;
4. :func:`~pv_monitor.grading.episodes.fold_episodes` folds graded days into episodes;
5. :func:`~pv_monitor.grading.icaht.grade_icaht`, :func:`~pv_monitor.grading.ctcae.grade_labs`
   and :func:`~pv_monitor.grading.iec_hs.screen_iec_hs` grade the blood counts and laboratory
   values of the course.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from pv_monitor.grading.criteria import Criteria, load_criteria
from pv_monitor.grading.crs import CRS_CRITERIA, grade_crs
from pv_monitor.grading.ctcae import CTCAE_CRITERIA, grade_labs
from pv_monitor.grading.daily import build_daily_assessments
from pv_monitor.grading.episodes import (
    DEFAULT_CLOSURE,
    ClosureRule,
    add_crs_treated,
    fold_episodes,
)
from pv_monitor.grading.icaht import ICAHT_CRITERIA, grade_icaht
from pv_monitor.grading.icans import ICANS_CRITERIA, grade_icans
from pv_monitor.grading.iec_hs import SCREEN_VERSION, screen_iec_hs
from pv_monitor.risk.scores import SCORE_VERSIONS

GRADE_COLUMNS = (
    "subject_id",
    "infusion_id",
    "granularity",
    "study_day",
    "assessed_at",
    "syndrome",
    "criteria_version",
    "grade",
    "reason",
    "provisional",
)


@dataclass(frozen=True)
class Assessment:
    """Graded days and episodes of a set of infusions.

    Attributes
    ----------
    daily : DataFrame
        The daily assessment frame with ``crs_treated`` and the grade columns of both graders.
    grades : DataFrame
        One row per day and syndrome (:data:`GRADE_COLUMNS`), as ``toxicity_grade`` stores them.
    episodes : DataFrame
        CRS and ICANS episodes (``episodes.EPISODE_COLUMNS``).
    screens : DataFrame
        The IEC-HS screen of each infusion, shaped as ``risk_score`` rows.
    time_points : DataFrame
        The assessment-time rows (days with more than one assessment), graded like the days.
    """

    daily: pd.DataFrame
    grades: pd.DataFrame
    episodes: pd.DataFrame
    screens: pd.DataFrame
    time_points: pd.DataFrame


def criteria_versions(rule: ClosureRule = DEFAULT_CLOSURE) -> dict[str, str]:
    """The versions a run grades with; a change makes the next run regrade everyone."""
    return {
        "crs": CRS_CRITERIA,
        "icans": ICANS_CRITERIA,
        "icaht": ICAHT_CRITERIA,
        "ctcae_labs": CTCAE_CRITERIA,
        "iec_hs_screen": SCREEN_VERSION,
        "episode_closure": rule.name,
        **SCORE_VERSIONS,
    }


def assess(
    infusions: pd.DataFrame,
    measurements: pd.DataFrame,
    observations: pd.DataFrame,
    drugs: pd.DataFrame,
    *,
    crs_criteria: Criteria | None = None,
    icans_criteria: Criteria | None = None,
    rule: ClosureRule = DEFAULT_CLOSURE,
) -> Assessment:
    """Assess, grade and fold the courses of ``infusions`` (inputs as in
    :func:`~pv_monitor.grading.daily.build_daily_assessments`)."""
    crs_criteria = crs_criteria or load_criteria(CRS_CRITERIA)
    icans_criteria = icans_criteria or load_criteria(ICANS_CRITERIA)
    days = build_daily_assessments(infusions, measurements, observations, drugs, crs_criteria)

    def crs_grades_only(frame: pd.DataFrame) -> pd.DataFrame:
        return grade_crs(frame, crs_criteria, reasons=False)

    daily = add_crs_treated(days.frame, days.drug_days, rule, grader=crs_grades_only)
    daily = grade_icans(grade_crs(daily, crs_criteria), icans_criteria)

    keys = daily[["subject_id", "infusion_id", "study_day"]]
    extent = keys.groupby("infusion_id", as_index=False, sort=False).agg(
        subject_id=("subject_id", "first"), last_day=("study_day", "max")
    )
    treated = daily.set_index(["infusion_id", "study_day"])["crs_treated"]
    times = days.time_points
    times = times.assign(
        crs_treated=treated.reindex(pd.MultiIndex.from_frame(times[["infusion_id", "study_day"]]))
        .fillna(False)
        .to_numpy(dtype=bool)
    )
    times = grade_icans(grade_crs(times, crs_criteria), icans_criteria)
    syndromes = (("crs", crs_criteria), ("icans", icans_criteria))
    parts = [
        *(
            rows[["subject_id", "infusion_id", "study_day"]].assign(
                granularity=granularity,
                assessed_at=rows["assessed_at"] if granularity == "time_point" else _no_time(rows),
                syndrome=syndrome,
                criteria_version=criteria.version,
                grade=rows[f"{syndrome}_grade"],
                reason=rows[f"{syndrome}_reason"],
                provisional=rows[f"{syndrome}_provisional"],
            )
            for granularity, rows in (("day", daily), ("time_point", times))
            for syndrome, criteria in syndromes
        ),
        _day_grades(grade_icaht(days.labs[days.labs["code"].isin(["ANC", "PLT"])], extent)),
        _day_grades(grade_labs(days.labs)),
    ]
    # empty parts left out (no laboratory grades is an untyped empty frame): concat would
    # guess dtypes from them (FutureWarning)
    grades = pd.concat([part for part in parts if len(part)] or parts[:1], ignore_index=True)
    grades = grades[list(GRADE_COLUMNS)]
    folded = [
        fold_episodes(
            keys.assign(grade=daily[f"{syndrome}_grade"]),
            syndrome,
            criteria.version,
            rule,
            days.drug_days,
        )
        for syndrome, criteria in (("crs", crs_criteria), ("icans", icans_criteria))
    ]
    # a syndrome without episodes is an untyped empty frame: concat would guess dtypes from it
    episodes = pd.concat([part for part in folded if len(part)] or folded[:1], ignore_index=True)
    screens = screen_iec_hs(days.labs, _resolving_from(daily, episodes), extent)
    return Assessment(daily, grades, episodes, screens, times)


def _resolving_from(daily: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """The day after each CRS episode's last day at its peak grade (CRS resolving from then)."""
    columns = ["infusion_id", "peak_grade", "onset_day", "resolution_day"]
    crs = episodes.loc[episodes["syndrome"] == "crs", columns]
    days = daily[["infusion_id", "study_day", "crs_grade"]].merge(crs, on="infusion_id")
    inside = (days["study_day"] >= days["onset_day"]) & (
        days["resolution_day"].isna() | (days["study_day"] < days["resolution_day"])
    )
    at_peak = days[inside & (days["crs_grade"] == days["peak_grade"])]
    last = at_peak.groupby(["infusion_id", "onset_day"], as_index=False)["study_day"].max()
    resolving: pd.DataFrame = last.assign(resolving_from=last["study_day"] + 1)
    return resolving[["infusion_id", "resolving_from"]]


def _no_time(rows: pd.DataFrame) -> npt.NDArray[np.datetime64]:
    """``assessed_at`` of day-level grades: no time (NaT, typed, so frames concatenate fast)."""
    return np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[ns]")


def _day_grades(grades: pd.DataFrame) -> pd.DataFrame:
    """Course grades filed under a day."""
    return grades.assign(granularity="day", assessed_at=_no_time(grades))
