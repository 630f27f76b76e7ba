"""ICAHT: immune effector cell-associated hematotoxicity (EHA/EBMT 2023, clinical.md §4.2).

Source: Rejeski K, Subklewe M, Aljurf M, et al. Blood 2023;142(10):865-877. The grading table
itself was not read; its thresholds are [C2] (two public implementations that cite it) and live
in the criteria table ``ehaebmt_2023_icaht`` with their tags. Three grades per infusion:

* **early neutropenia** (days 0 to +30): cumulative days with the day's lowest ANC <= 500/uL
  (1-6 days grade 1, 7-13 grade 2, 14-30 grade 3, never recovering grade 4 [UNCONFIRMED]) or
  <= 100/uL (7-13 days grade 3, >= 14 grade 4), whichever is worse;
* **late neutropenia** (after day +30, to day +100): the ANC nadir confirmed by a second value
  (the second-lowest value is graded): <= 1500/uL 1, <= 1000 2, <= 500 3, <= 100 4;
* **early thrombocytopenia** (T-ICAHT, days 0 to +30): days with platelets < 50 x 10^9/L (1-6
  grade 1, >= 7 grade 2) or < 20 x 10^9/L (1-13 grade 3, >= 14 grade 4).

Counting (pv-monitor decisions, ``docs/grading.md``): between two blood counts the last value
stands (counts are drawn daily while low); a recovery shorter than 3 days does not interrupt
the count (T-ICAHT: "days of nonstable count recovery (<3 days) are counted"); the window ends
early at death or at the last day with data, and a grade below 4 from a shortened window is a
lower bound (provisional). With no count in the window the grade is not gradable.

Late thrombocytopenia is not graded: the source table's column alignment is ambiguous
(clinical.md §4.2). Neutropenia from relapse or new therapy is not excluded [UNCONFIRMED].

Examples
--------
>>> import pandas as pd
>>> counts = pd.DataFrame({"infusion_id": 1, "subject_id": 1, "code": "ANC",
...     "study_day": [0, 3, 12], "low": [0.3, 0.05, 1.8]})
>>> extent = pd.DataFrame({"infusion_id": [1], "subject_id": [1], "last_day": [60]})
>>> early = grade_icaht(counts, extent).iloc[0]
>>> early["criteria_version"], int(early["grade"])
('ehaebmt_2023_icaht:early_anc', 3)
>>> early["reason"].split(" (")[0]
'12 days with ANC <= 500/uL and 9 days <= 100/uL in days 0-30'
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from pv_monitor.grading._frame import COURSE_GRADE_COLUMNS
from pv_monitor.grading.criteria import Criteria, contains, load_criteria

ICAHT_CRITERIA = "ehaebmt_2023_icaht"
EARLY_DAYS = (0, 30)
LATE_DAYS = (31, 100)
GRADE_COLUMNS = COURSE_GRADE_COLUMNS

BoolGrid = npt.NDArray[np.bool_]


def _early_grid(counts: pd.DataFrame, infusions: pd.Index, code: str) -> npt.NDArray[np.float64]:
    """Day values of ``code`` for days -7..30, one row per infusion, NaN where not measured."""
    first, last = -7, EARLY_DAYS[1]
    rows = counts[(counts["code"] == code) & counts["study_day"].between(first, last)]
    grid = np.full((len(infusions), last - first + 1), np.nan)
    grid[
        infusions.get_indexer(pd.Index(rows["infusion_id"])), rows["study_day"].to_numpy() - first
    ] = rows["low"].to_numpy(dtype=float)
    return grid


def _carry_forward(grid: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    filled: npt.NDArray[np.float64] = pd.DataFrame(grid).ffill(axis=1).to_numpy()
    return filled


def fill_short_recoveries(low: BoolGrid, min_recovery: int) -> BoolGrid:
    """Days of a recovery shorter than ``min_recovery`` days, between two low days, count as low.

    >>> fill_short_recoveries(np.array([[True, False, False, True, False, False, False, True]]), 3)
    array([[ True,  True,  True,  True, False, False, False,  True]])
    """
    out = low.copy()
    n = low.shape[1]
    for length in range(1, min_recovery):
        for start in range(1, n - length):
            gap = ~low[:, start : start + length].any(axis=1)
            bounded = low[:, start - 1] & low[:, start + length]
            out[:, start : start + length] |= (gap & bounded)[:, None]
    return out


def _days_below(values: npt.NDArray[np.float64], interval: pd.Interval, window: BoolGrid,
                min_recovery: int) -> npt.NDArray[np.int64]:  # fmt: skip
    low = contains(interval, values) & window
    return np.asarray(fill_short_recoveries(low, min_recovery).sum(axis=1), dtype=np.int64)


def grade_icaht(
    counts: pd.DataFrame, extent: pd.DataFrame, criteria: Criteria | None = None
) -> pd.DataFrame:
    """Early and late neutropenia and early thrombocytopenia grades of each infusion.

    Parameters
    ----------
    counts : DataFrame
        ``infusion_id, study_day, code, low``: each day's lowest ANC and PLT (10^9/L).
    extent : DataFrame
        ``infusion_id, subject_id, last_day``: the last study day of each infusion's grid.
    criteria : Criteria, optional
        ``ehaebmt_2023_icaht`` by default.

    Returns
    -------
    DataFrame
        Columns :data:`GRADE_COLUMNS`; ``study_day`` is the day the grade is filed under (the
        end of its window).
    """
    criteria = criteria or load_criteria(ICAHT_CRITERIA)
    infusions = pd.Index(extent["infusion_id"])
    last_day = extent["last_day"].to_numpy()
    min_recovery = int(criteria.interval("recovery", "stable_days").left)
    days = np.arange(-7, EARLY_DAYS[1] + 1)
    end = np.minimum(last_day, EARLY_DAYS[1])
    window = (days[None, :] >= EARLY_DAYS[0]) & (days[None, :] <= end[:, None])
    parts = []
    for code, name, factor, intervals in (
        ("ANC", "early_anc", 1000.0, (("severe_anc_per_ul", "severe_days", "ANC <= 500/uL"),
                                      ("profound_anc_per_ul", "profound_days", "<= 100/uL"))),
        ("PLT", "early_platelets", 1.0, (("platelets_below_50", "below_50_days",
                                          "platelets < 50 x 10^9/L"),
                                         ("platelets_below_20", "below_20_days", "< 20"))),
    ):  # fmt: skip
        raw = _early_grid(counts, infusions, code)
        measured = (~np.isnan(raw) & window).any(axis=1)
        values = _carry_forward(raw) * factor
        texts, grades = [], []
        for threshold, finding, label in intervals:
            n = _days_below(values, criteria.interval("threshold", threshold), window, min_recovery)
            grades.append(criteria.interval_grades(name, finding, n))
            texts.append((n, label))
        grade = np.where(measured, np.fmax(*grades), np.nan)
        full_window = end >= EARLY_DAYS[1]
        provisional = measured & ~full_window & (grade < 4)
        reason = [
            (
                f"{a} days with {texts[0][1]} and {b} days {texts[1][1]} in days 0-{e} "
                f"(last count carried to the next) -> {int(g)}"
                + ("" if full else f"; window ends at day {e}: a lower bound")
                if ok
                else f"not gradable: no {code} count in days 0-{e}"
            )
            for a, b, e, g, ok, full in zip(
                texts[0][0], texts[1][0], end, np.nan_to_num(grade), measured, full_window,
                strict=True,
            )
        ]  # fmt: skip
        parts.append(
            pd.DataFrame(
                {
                    "infusion_id": extent["infusion_id"].to_numpy(),
                    "subject_id": extent["subject_id"].to_numpy(),
                    "study_day": np.maximum(end, EARLY_DAYS[0]),
                    "criteria_version": f"{criteria.version}:{name}",
                    "grade": grade,
                    "reason": reason,
                    "provisional": provisional,
                }
            )
        )
    parts.append(_late_anc(counts, extent, criteria))
    out = pd.concat(parts, ignore_index=True).assign(syndrome="icaht")
    out = out[out["study_day"] <= extent.set_index("infusion_id")["last_day"].reindex(
        out["infusion_id"]).to_numpy()]  # fmt: skip
    out["grade"] = out["grade"].astype("Float64").astype("Int64")
    return out[list(GRADE_COLUMNS)].reset_index(drop=True)


def _late_anc(counts: pd.DataFrame, extent: pd.DataFrame, criteria: Criteria) -> pd.DataFrame:
    """Late neutropenia: the second-lowest ANC after day +30 (the nadir, confirmed)."""
    late = counts[(counts["code"] == "ANC") & counts["study_day"].between(*LATE_DAYS)]
    ordered = late.sort_values(["infusion_id", "low"])
    second = ordered.groupby("infusion_id")["low"].nth(1)
    confirmed = ordered.loc[second.index].set_index("infusion_id")["low"]
    n_values = late.groupby("infusion_id").size()
    frame = extent[["infusion_id", "subject_id", "last_day"]].copy()
    frame["second_lowest"] = frame["infusion_id"].map(confirmed)
    frame["n"] = frame["infusion_id"].map(n_values).fillna(0).astype(int)
    per_ul = frame["second_lowest"].to_numpy(dtype=float) * 1000.0
    grade = criteria.interval_grades("late_anc", "nadir_per_ul", per_ul)
    end = np.minimum(frame["last_day"].to_numpy(), LATE_DAYS[1])
    reason = [
        (
            f"ANC nadir {value:g}/uL confirmed by a second value after day {LATE_DAYS[0] - 1} "
            f"({n} counts to day {e}) -> {int(g)}"
            if not np.isnan(g)
            else f"not gradable: {n} ANC count(s) after day {LATE_DAYS[0] - 1}, 2 needed"
        )
        for value, n, e, g in zip(per_ul, frame["n"], end, grade, strict=True)
    ]
    return pd.DataFrame(
        {
            "infusion_id": frame["infusion_id"].to_numpy(),
            "subject_id": frame["subject_id"].to_numpy(),
            "study_day": np.maximum(end, LATE_DAYS[0]),
            "criteria_version": f"{criteria.version}:late_anc",
            "grade": grade,
            "reason": reason,
            "provisional": ~np.isnan(grade) & (end < LATE_DAYS[1]) & (grade < 4),
        }
    )
