"""Reported grades against grades derived from raw observations (``pv-monitor reconcile``).

Trial exports report CRS and ICANS grades on the scale the trial used (Lee 2014, Penn, MSKCC,
CARTOX, CTCAE or ASTCT 2019). They are stored as reported and never converted (clinical.md
§3.3: there is no lossless mapping). The reconciliation puts, for each subject and reported
episode, the reported grade and its scale beside the ASTCT 2019 grade pv-monitor derived from
the raw observations of the same days, and says how they compare:

* ``agree`` / ``discordant``: reported on ASTCT 2019 and derived, same or different grade (a
  reported grade 5, death from the syndrome, agrees with a derived 4: death is not derived);
* ``other scale``: reported on a legacy scale; shown side by side, never compared numerically;
* ``not gradable``: the raw observations of those days cannot be graded (e.g. no vital signs);
* ``not reported``: a derived episode (grade >= 1) that no reported event covers.

A reported event and a derived episode are the same episode when their days overlap (an event
without dates matches every derived episode of the subject). A reported grade 0 ("no CRS")
matches nothing and is compared with the subject's highest derived grade.

Examples
--------
>>> import pandas as pd
>>> reported = pd.DataFrame({"subject": ["A", "A"], "syndrome": ["crs", "crs"],
...     "scale": ["lee_2014", "astct_2019"], "reported_grade": [2, 3],
...     "onset_day": [3, None], "resolved_day": [9, None]})
>>> derived = pd.DataFrame({"subject": ["A"], "syndrome": ["crs"], "episode_number": [1],
...     "onset_day": [2], "resolution_day": [8], "peak_grade": [3]})
>>> gradable = pd.DataFrame({"subject": ["A"], "syndrome": ["crs"], "graded_days": [20]})
>>> table = reconcile(reported, derived, gradable)
>>> table[["scale", "reported_grade", "derived_grade", "status"]].to_dict("records")
[{'scale': 'astct_2019', 'reported_grade': 3, 'derived_grade': 3, 'status': 'agree'}, \
{'scale': 'lee_2014', 'reported_grade': 2, 'derived_grade': 3, 'status': 'other scale'}]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pv_monitor.vocabulary import REPORTED_GRADE_STEP, GradingScale

DERIVED_SCALE = GradingScale.ASTCT_2019.value
RECONCILIATION_COLUMNS = (
    "subject",
    "syndrome",
    "scale",
    "reported_grade",
    "reported_onset_day",
    "derived_episode",
    "derived_onset_day",
    "derived_grade",
    "status",
)


def reconcile(
    reported: pd.DataFrame, derived: pd.DataFrame, gradable: pd.DataFrame
) -> pd.DataFrame:
    """Match reported events with derived episodes.

    Parameters
    ----------
    reported : DataFrame
        ``subject, syndrome, scale, reported_grade, onset_day, resolved_day`` (study days;
        missing when the export gives no date).
    derived : DataFrame
        ``subject, syndrome, episode_number, onset_day, resolution_day, peak_grade``.
    gradable : DataFrame
        ``subject, syndrome, graded_days``: days with a derived grade (0 means none could be
        graded).

    Returns
    -------
    DataFrame
        Columns :data:`RECONCILIATION_COLUMNS`, one row per reported event and per derived
        episode no event covers, sorted by subject, syndrome and scale.
    """
    keys = ["subject", "syndrome"]
    days = {"onset_day": "float64", "resolved_day": "float64", "reported_grade": "float64"}
    events = reported.astype(days).reset_index(drop=True)
    events["event"] = np.arange(len(events))
    derived = derived.astype({"onset_day": "float64", "resolution_day": "float64"})
    pairs = events.merge(derived, on=keys, how="inner", suffixes=("", "_derived"))
    event_end = pairs["resolved_day"].fillna(pairs["onset_day"])
    episode_end = pairs["resolution_day"].fillna(np.inf)
    undated = pairs["onset_day"].isna()
    overlaps = undated | (
        (pairs["onset_day"] <= episode_end) & (pairs["onset_day_derived"] <= event_end)
    )
    pairs = pairs[overlaps & (pairs["reported_grade"] > 0)]
    # one derived episode per event: the highest peak among those it overlaps
    best = pairs.sort_values(["event", "peak_grade"], ascending=[True, False]).drop_duplicates(
        "event"
    )
    rows = events.merge(
        best[["event", "episode_number", "onset_day_derived", "peak_grade"]], on="event", how="left"
    )
    highest = derived.groupby(keys)["peak_grade"].max().rename("highest").reset_index()
    rows = rows.merge(highest, on=keys, how="left")
    rows = rows.merge(gradable, on=keys, how="left")
    graded = rows["graded_days"].fillna(0) > 0
    no_match = rows["episode_number"].isna()
    derived_grade = np.where(
        no_match,
        np.where(rows["reported_grade"] == 0, rows["highest"].astype("float64").fillna(0), 0),
        rows["peak_grade"],
    )
    rows["derived_grade"] = pd.array(np.where(graded, derived_grade, np.nan)).astype("Int64")
    # grade 5 (death from the syndrome) is never derived from daily rows: a reported 5 agrees
    # with a derived 4
    comparable = rows["reported_grade"].clip(upper=4)
    same = (rows["derived_grade"] == comparable).fillna(False)
    rows["status"] = np.select(
        [
            (~graded).to_numpy(),
            (rows["scale"] != DERIVED_SCALE).to_numpy(),
            same.to_numpy(dtype=bool),
        ],
        ["not gradable", "other scale", "agree"],
        "discordant",
    )
    rows = rows.rename(
        columns={
            "onset_day": "reported_onset_day",
            "episode_number": "derived_episode",
            "onset_day_derived": "derived_onset_day",
        }
    )
    covered = pd.MultiIndex.from_frame(best[["subject", "syndrome", "episode_number"]])
    episode_keys = pd.MultiIndex.from_frame(derived[["subject", "syndrome", "episode_number"]])
    unreported = derived.loc[~episode_keys.isin(covered)]
    extra = pd.DataFrame(
        {
            "subject": unreported["subject"],
            "syndrome": unreported["syndrome"],
            "scale": None,
            "reported_grade": np.nan,
            "reported_onset_day": np.nan,
            "derived_episode": unreported["episode_number"],
            "derived_onset_day": unreported["onset_day"],
            "derived_grade": unreported["peak_grade"],
            "status": "not reported",
        }
    ).astype(rows[list(RECONCILIATION_COLUMNS)].dtypes.to_dict())  # concat guesses no dtype
    table = pd.concat([rows[list(RECONCILIATION_COLUMNS)], extra], ignore_index=True)
    for column in ("reported_grade", "derived_grade", "derived_episode"):
        table[column] = pd.to_numeric(table[column]).astype("Float64").astype("Int64")
    return table.sort_values(["subject", "syndrome", "scale"], na_position="last").reset_index(
        drop=True
    )


def agreement_table(reported: pd.DataFrame, syndrome: str, rows: str, columns: str) -> pd.DataFrame:
    """Subjects by their highest reported grade on scale ``rows`` against scale ``columns``
    (e.g. Lee 2014 against ASTCT 2019), for one syndrome; the diagonal is agreement."""
    wanted = reported[(reported["syndrome"] == syndrome)]
    highest = wanted.pivot_table(
        index="subject", columns="scale", values="reported_grade", aggfunc="max"
    )
    both = highest[[rows, columns]].dropna().astype(int)
    return pd.crosstab(both[rows], both[columns], margins=True, margins_name="total")


# ---- daily reported grades (observations CRS_GRADE and ICANS_GRADE) ---------------------------

DAILY_COLUMNS = (
    "subject",
    "syndrome",
    "study_day",
    "scale",
    "reported_grade",
    "derived_grade",
    "status",
)
PEAK_COLUMNS = (
    "subject",
    "syndrome",
    "scale",
    "reported_days",
    "reported_peak",
    "reported_peak_day",
    "derived_peak",
    "status",
)


def grades_agree(reported: pd.Series, derived: pd.Series) -> pd.Series:
    """Whether reported grades (whole or half, as given) agree with derived whole grades.

    A whole grade agrees with the same derived grade; a half grade (the mean of two raters)
    agrees with either neighbouring whole grade (1.5 with 1 or 2); a reported 5 or 4.5 (death
    from the syndrome) agrees with a derived 4, since death is not derived from daily rows.
    Missing on either side is not agreement. This rule is a project choice (docs/grading.md).

    Examples
    --------
    >>> grades_agree(pd.Series([1.5, 1.5, 1.5, 2.0, 5.0]), pd.Series([1, 2, 3, 2, 4])).tolist()
    [True, True, False, True, True]
    """
    comparable = reported.astype("float64").clip(upper=4)
    gap = (comparable - derived.astype("float64")).abs()
    agree: pd.Series = (gap <= REPORTED_GRADE_STEP).fillna(False).astype(bool)
    return agree


def reconcile_daily(reported: pd.DataFrame, derived: pd.DataFrame) -> pd.DataFrame:
    """Reported daily grades against the grades derived from raw observations, day by day.

    Parameters
    ----------
    reported : DataFrame
        ``subject, syndrome, study_day, scale, reported_grade``: the observations
        ``CRS_GRADE``/``ICANS_GRADE`` (grade as given, half grades kept; the scale is the
        observation's unit). Several grades of one day and scale count as the day's highest.
    derived : DataFrame
        ``subject, syndrome, study_day, derived_grade``: pv-monitor's ASTCT 2019 grade of each
        day (missing when nothing gradable was observed that day).

    Returns
    -------
    DataFrame
        Columns :data:`DAILY_COLUMNS`: one row per subject, syndrome, day and reported scale,
        with ``status`` ``agree`` or ``discordant`` (ASTCT 2019 reports, see
        :func:`grades_agree`), ``other scale`` (a legacy scale, shown not compared),
        ``not gradable`` (no derived grade that day); plus a ``not reported`` row for each day
        with a derived grade >= 1 on which a subject with daily reports of that syndrome has
        none.

    Examples
    --------
    >>> reported = pd.DataFrame({"subject": ["A"] * 3, "syndrome": "icans",
    ...     "study_day": [1, 2, 3], "scale": "astct_2019", "reported_grade": [0, 1.5, 3]})
    >>> derived = pd.DataFrame({"subject": ["A"] * 4, "syndrome": "icans",
    ...     "study_day": [1, 2, 3, 4], "derived_grade": [0, 2, None, 1]})
    >>> reconcile_daily(reported, derived)[["study_day", "reported_grade", "status"]].to_dict(
    ...     "list")
    {'study_day': [1, 2, 3, 4], 'reported_grade': [0.0, 1.5, 3.0, nan], \
'status': ['agree', 'agree', 'not gradable', 'not reported']}
    """
    day = ["subject", "syndrome", "study_day"]
    reports = (
        reported.astype({"reported_grade": "float64", "study_day": "int64"})
        .groupby([*day, "scale"], as_index=False)
        .agg(reported_grade=("reported_grade", "max"))
    )
    grades = (
        derived.astype({"derived_grade": "float64", "study_day": "int64"})
        .groupby(day, as_index=False)
        .agg(derived_grade=("derived_grade", "max"))
    )
    rows = reports.merge(grades, on=day, how="left")
    graded = rows["derived_grade"].notna()
    rows["status"] = np.select(
        [
            (~graded).to_numpy(),
            (rows["scale"] != DERIVED_SCALE).to_numpy(),
            grades_agree(rows["reported_grade"], rows["derived_grade"]).to_numpy(),
        ],
        ["not gradable", "other scale", "agree"],
        "discordant",
    )
    reporting = pd.MultiIndex.from_frame(reports[["subject", "syndrome"]].drop_duplicates())
    unreported = grades[
        pd.MultiIndex.from_frame(grades[["subject", "syndrome"]]).isin(reporting)
        & ~pd.MultiIndex.from_frame(grades[day]).isin(pd.MultiIndex.from_frame(reports[day]))
        & (grades["derived_grade"] >= 1)
    ]
    extra = unreported.assign(scale=None, reported_grade=np.nan, status="not reported")
    parts = [part for part in (rows, extra[rows.columns]) if len(part)]
    table = (pd.concat(parts, ignore_index=True) if parts else rows)[list(DAILY_COLUMNS)]
    table["derived_grade"] = table["derived_grade"].astype("Float64").astype("Int64")
    ordered = table.sort_values(["subject", "syndrome", "study_day", "scale"], na_position="last")
    result: pd.DataFrame = ordered.reset_index(drop=True)
    return result


def reported_peaks(reported: pd.DataFrame, derived: pd.DataFrame) -> pd.DataFrame:
    """Each subject's highest reported daily grade per syndrome and scale, beside the highest
    grade derived over the whole course.

    The reported peak is the maximum of the daily values as given: half grades are never
    rounded (1.5 stays 1.5). It agrees with the derived peak by :func:`grades_agree`.

    Parameters
    ----------
    reported, derived : DataFrame
        As in :func:`reconcile_daily`.

    Returns
    -------
    DataFrame
        Columns :data:`PEAK_COLUMNS`; ``reported_peak_day`` is the first day the peak was
        reported; ``status`` as in :func:`reconcile_daily` (without ``not reported``).

    Examples
    --------
    >>> reported = pd.DataFrame({"subject": ["A"] * 3, "syndrome": "icans",
    ...     "study_day": [1, 2, 3], "scale": "astct_2019", "reported_grade": [0, 1.5, 1]})
    >>> derived = pd.DataFrame({"subject": ["A"] * 3, "syndrome": "icans",
    ...     "study_day": [1, 2, 3], "derived_grade": [0, 2, 1]})
    >>> reported_peaks(reported, derived)[["reported_peak", "reported_peak_day",
    ...     "derived_peak", "status"]].to_dict("records")
    [{'reported_peak': 1.5, 'reported_peak_day': 2, 'derived_peak': 2, 'status': 'agree'}]
    """
    keys = ["subject", "syndrome", "scale"]
    reports = reported.astype({"reported_grade": "float64", "study_day": "int64"})
    ordered = reports.sort_values(
        [*keys, "reported_grade", "study_day"], ascending=[True, True, True, False, True]
    )
    peaks = ordered.groupby(keys, as_index=False).agg(
        reported_days=("study_day", "nunique"),
        reported_peak=("reported_grade", "first"),
        reported_peak_day=("study_day", "first"),
    )
    highest = (
        derived.astype({"derived_grade": "float64"})
        .groupby(["subject", "syndrome"], as_index=False)
        .agg(derived_peak=("derived_grade", "max"))
    )
    peaks = peaks.merge(highest, on=["subject", "syndrome"], how="left")
    graded = peaks["derived_peak"].notna()
    peaks["status"] = np.select(
        [
            (~graded).to_numpy(),
            (peaks["scale"] != DERIVED_SCALE).to_numpy(),
            grades_agree(peaks["reported_peak"], peaks["derived_peak"]).to_numpy(),
        ],
        ["not gradable", "other scale", "agree"],
        "discordant",
    )
    peaks["derived_peak"] = peaks["derived_peak"].astype("Float64").astype("Int64")
    return peaks[list(PEAK_COLUMNS)]
