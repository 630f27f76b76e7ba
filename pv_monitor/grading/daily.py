"""The daily assessment frame (architecture contract 2) built from observation rows.

One row per infusion per study day from day -7 to day +100 (day 0 = the infusion's calendar
date), holding each day's worst values:

* ``temp_c_max``: highest temperature; ``hypotension``: a clinician-recorded hypotension or a
  systolic pressure below the age's threshold (:func:`~pv_monitor.grading.sbp_threshold_mmhg`),
  False when pressure was measured and never low, missing when not assessed;
* ``vasopressors``: the agents running that day (an exposure runs from the day it started to
  the day it ended, or only its start day when no end is given);
* ``o2_device`` and ``o2_flow_l_min``: the time point with the highest oxygen support, device
  and flow taken together from the same time (hypoxia tier from the CRS criteria table);
* ``ice_score`` lowest, ``capd_score`` highest, ``loc``, ``seizure`` and ``cerebral_edema``
  most severe, ``motor_weakness``, ``icp_signs`` and ``sedated`` true when any record says so.

Findings a clinician attributed to another cause (``other_cause``) do not count. Each infusion's
rows stop at the earliest of day +100, death, the last day anything was recorded for the
subject, and the day before the next infusion's day -7, so days no one could have observed are
not rows. ``crs_treated`` is added by :func:`pv_monitor.grading.episodes.add_crs_treated`
because it depends on the CRS episode.

Examples
--------
>>> import pandas as pd
>>> infusions = pd.DataFrame({"infusion_id": [1], "subject_id": [7], "age_years": [60.0],
...     "infusion_date": pd.to_datetime(["2024-01-10"]), "death_date": pd.to_datetime([None])})
>>> measurements = pd.DataFrame({"subject_id": [7, 7, 7], "code": ["TEMP", "TEMP", "SBP"],
...     "at": pd.to_datetime(["2024-01-12 08:00", "2024-01-12 20:00", "2024-01-12 20:00"]),
...     "value": [38.4, 37.1, 85.0], "other_cause": [False, False, False]})
>>> empty_obs = pd.DataFrame(columns=["subject_id", "code", "at", "value", "other_cause"])
>>> empty_drugs = pd.DataFrame(
...     columns=["subject_id", "drug", "drug_class", "started_at", "ended_at"])
>>> daily = build_daily_assessments(infusions, measurements, empty_obs, empty_drugs)
>>> daily.frame[["study_day", "temp_c_max", "hypotension"]].tail(1)
   study_day  temp_c_max  hypotension
9          2        38.4         True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from pv_monitor.grading.criteria import Criteria, load_criteria
from pv_monitor.grading.crs import CRS_CRITERIA, hypoxia_tier
from pv_monitor.grading.hypotension import sbp_threshold_mmhg
from pv_monitor.vocabulary import (
    CEREBRAL_EDEMA_FINDINGS,
    CONSCIOUSNESS_LEVELS,
    SEIZURE_TYPES,
    DrugClass,
)

FIRST_DAY = -7
LAST_DAY = 100
"""The assessment window, in study days (issue 4; clinical.md §7.2 monitoring evidence)."""
CRS_TREATMENT_CLASSES = (
    DrugClass.ANTIPYRETIC,
    DrugClass.IL6_BLOCKADE,
    DrugClass.CORTICOSTEROID,
)
"""Drugs after which fever is no longer needed to grade CRS (clinical.md §1.1 fever masking)."""

_WORST_FIRST = {
    "LOC": CONSCIOUSNESS_LEVELS,
    "SEIZURE": SEIZURE_TYPES,
    "CEREBRAL_EDEMA": CEREBRAL_EDEMA_FINDINGS,
}
_FLAGS = {
    "HYPOTENSION": "hypotension_recorded",
    "MOTOR_WEAKNESS": "motor_weakness",
    "ICP_SIGNS": "icp_signs",
    "SEDATED": "sedated",
}
_NUMERIC = {"TEMP": ("temp_c_max", "max"), "ICE": ("ice_score", "min"),
            "CAPD": ("capd_score", "max"), "SBP": ("sbp_min", "min")}  # fmt: skip
LAB_CODES = (
    "ANC", "PLT", "HGB", "FERRITIN", "ALT", "AST", "LDH", "FIBRINOGEN", "BILI", "CREAT", "TRIG",
)  # fmt: skip
"""Laboratory codes summarised per day (lowest and highest value) for ICAHT, IEC-HS, CTCAE."""
MEASUREMENT_CODES = (*_NUMERIC, "O2_FLOW", *LAB_CODES)
OBSERVATION_CODES = (*_WORST_FIRST, *_FLAGS, "O2_DEVICE")
"""The codes the builder reads; the pipeline fetches only these."""

FRAME_COLUMNS = (
    "infusion_id",
    "subject_id",
    "study_day",
    "assessed_at",
    "age_years",
    "temp_c_max",
    "hypotension",
    "vasopressors",
    "o2_device",
    "o2_flow_l_min",
    "ice_score",
    "capd_score",
    "loc",
    "seizure",
    "motor_weakness",
    "cerebral_edema",
    "icp_signs",
    "sedated",
)


@dataclass(frozen=True)
class DailyAssessments:
    """The day grid and what was given on each day.

    Attributes
    ----------
    frame : DataFrame
        Columns :data:`FRAME_COLUMNS`, one row per infusion and study day, sorted by infusion
        and day, days contiguous.
    drug_days : DataFrame
        ``infusion_id, study_day, drug, drug_class``: every drug running on every day of the grid.
    labs : DataFrame
        ``infusion_id, subject_id, study_day, code, low, high``: each day's lowest and highest
        value of the :data:`LAB_CODES` measured that day (canonical units).
    time_points : DataFrame
        Columns :data:`FRAME_COLUMNS`, one row per assessment time on the days that have more
        than one (``assessed_at`` is the time): what was recorded at that time and the
        vasopressors running then. ``crs_treated`` comes from the day.
    """

    frame: pd.DataFrame
    drug_days: pd.DataFrame
    labs: pd.DataFrame
    time_points: pd.DataFrame


def _with_datetimes(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """``frame`` with ``columns`` as ``datetime64[ns]`` (dates and timestamps alike)."""
    return frame.assign(**{c: pd.to_datetime(frame[c]).astype("datetime64[ns]") for c in columns})


def _epoch_days(values: pd.Series) -> npt.NDArray[np.int64]:
    """Calendar day numbers (days since 1970-01-01); NaT becomes a very large number."""
    stamps = pd.to_datetime(values).to_numpy(dtype="datetime64[D]")
    days = stamps.astype(np.int64)
    return np.where(np.isnat(stamps), np.iinfo(np.int64).max // 2, days)


def _windows(
    infusions: pd.DataFrame, last_record: pd.Series
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """Infusions sorted by subject and date, with ``day0`` and ``last_day`` (study days), and
    each row's first grid position."""
    inf = infusions.sort_values(["subject_id", "infusion_date"], kind="stable").reset_index(
        drop=True
    )
    day0 = _epoch_days(inf["infusion_date"])
    death = _epoch_days(inf["death_date"]) - day0
    last = _epoch_days(inf["subject_id"].map(last_record)) - day0
    following = inf.groupby("subject_id")["infusion_date"].shift(-1)
    before_next = _epoch_days(following) - day0 + FIRST_DAY - 1
    last_day = np.minimum.reduce([np.full(len(inf), LAST_DAY), death, last, before_next])
    inf = inf.assign(day0=day0, last_day=np.maximum(last_day, FIRST_DAY - 1))
    lengths = (inf["last_day"] - FIRST_DAY + 1).to_numpy()
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return inf, starts


def _locate(
    rows: pd.DataFrame, when: str, inf: pd.DataFrame, starts: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """For each row: its infusion (position in ``inf``), study day and whether it is in a grid."""
    n = len(rows)
    if n == 0 or inf.empty:
        empty = np.zeros(n, dtype=np.int64)
        return empty, empty, np.zeros(n, dtype=bool)
    day = _epoch_days(rows[when])
    # the latest infusion whose window (from day -7) has begun
    window_start = inf["day0"].to_numpy() + FIRST_DAY
    subject_codes, subjects = pd.factorize(inf["subject_id"])
    row_subject = subjects.get_indexer(pd.Index(rows["subject_id"]))
    key_inf = subject_codes.astype(np.int64) * 10_000_000 + window_start
    key_row = row_subject.astype(np.int64) * 10_000_000 + day
    position = np.searchsorted(key_inf, key_row, side="right") - 1
    valid = (row_subject >= 0) & (position >= 0)
    position = np.where(valid, position, 0)
    valid &= subject_codes[position] == row_subject
    study_day = day - inf["day0"].to_numpy()[position]
    valid &= (study_day >= FIRST_DAY) & (study_day <= inf["last_day"].to_numpy()[position])
    return position, study_day, valid


def _cells(
    rows: pd.DataFrame, when: str, inf: pd.DataFrame, starts: npt.NDArray[np.int64]
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """The rows inside a grid, with their grid cell index."""
    position, study_day, valid = _locate(rows, when, inf, starts)
    cell = starts[position] + study_day - FIRST_DAY
    return rows[valid], cell[valid]


def _drug_days(
    drugs: pd.DataFrame, inf: pd.DataFrame, starts: npt.NDArray[np.int64], size: int
) -> pd.DataFrame:
    """Every (cell, drug) a drug exposure covers: from its start day to its end day."""
    drugs = drugs[drugs["started_at"].notna()]
    position, first, valid = _locate(drugs, "started_at", inf, starts)
    ended = drugs["ended_at"].where(drugs["ended_at"].notna(), drugs["started_at"])
    length = np.maximum(_epoch_days(ended) - _epoch_days(drugs["started_at"]), 0)
    last_day = inf["last_day"].to_numpy()[position]
    length = np.clip(np.minimum(first + length, last_day) - first, 0, None)
    valid &= first <= last_day
    position, first, length = position[valid], first[valid], length[valid]
    repeat = length + 1
    offsets = np.arange(repeat.sum()) - np.repeat(np.cumsum(repeat) - repeat, repeat)
    day = np.repeat(first, repeat) + offsets
    cell = np.repeat(starts[position], repeat) + day - FIRST_DAY
    kept = drugs[valid]
    return pd.DataFrame(
        {
            "cell": cell,
            "drug": np.repeat(kept["drug"].to_numpy(), repeat),
            "drug_class": np.repeat(kept["drug_class"].to_numpy(), repeat),
        }
    ).drop_duplicates()


def _worst_category(values: pd.Series, cell: npt.NDArray[np.int64], order: tuple[str, ...],
                    size: int) -> npt.NDArray[np.object_]:  # fmt: skip
    rank = values.map({v: i for i, v in enumerate(order)}).to_numpy(dtype=float, na_value=-1)
    worst = np.full(size, -1.0)
    np.maximum.at(worst, cell, rank)
    names = np.array([*order, None], dtype=object)
    return names[np.where(worst < 0, len(order), worst).astype(np.int64)]


def _any_flag(values: pd.Series, cell: npt.NDArray[np.int64], size: int) -> pd.Series:
    """True when any record says true, False when records exist and none does, else missing."""
    state = np.full(size, np.nan)
    np.fmax.at(state, cell, (values.to_numpy() == "true").astype(float))
    return _nullable_bool(state)


def _nullable_bool(values: npt.NDArray[np.float64]) -> pd.Series:
    """Nullable booleans from 1.0 / 0.0 / NaN."""
    return pd.Series(values, dtype="Float64").astype("boolean")


Locate = Callable[[pd.DataFrame, str], tuple[pd.DataFrame, npt.NDArray[np.int64]]]
"""Maps rows to the index of the assessment row (day or time point) they belong to, dropping
rows that belong to none."""


def _oxygen(
    observations: pd.DataFrame,
    measurements: pd.DataFrame,
    locate: Locate,
    size: int,
    criteria: Criteria,
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.float64]]:
    """Device and flow of each assessment row's time point with the highest hypoxia tier."""
    devices = observations.loc[observations["code"] == "O2_DEVICE", ["subject_id", "at", "value"]]
    flows = measurements.loc[measurements["code"] == "O2_FLOW", ["subject_id", "at", "value"]]
    paired = devices.merge(
        flows.drop_duplicates(["subject_id", "at"]).rename(columns={"value": "flow"}),
        on=["subject_id", "at"],
        how="left",
    )
    paired, cell = locate(paired, "at")
    device = np.full(size, None, dtype=object)
    flow = np.full(size, np.nan)
    if paired.empty:
        return device, flow
    tier, lower_bound, _ = hypoxia_tier(paired["value"], paired["flow"], criteria, describe=False)
    order = np.lexsort((np.nan_to_num(paired["flow"].to_numpy(dtype=float), nan=-1.0),
                        ~lower_bound, np.nan_to_num(tier, nan=-1.0), cell))  # fmt: skip
    last_of_cell = np.r_[cell[order][1:] != cell[order][:-1], True]
    chosen = order[last_of_cell]
    device[cell[chosen]] = paired["value"].to_numpy()[chosen]
    flow[cell[chosen]] = paired["flow"].to_numpy(dtype=float)[chosen]
    return device, flow


def build_daily_assessments(
    infusions: pd.DataFrame,
    measurements: pd.DataFrame,
    observations: pd.DataFrame,
    drugs: pd.DataFrame,
    crs_criteria: Criteria | None = None,
) -> DailyAssessments:
    """Fold observation rows into the daily assessment frame.

    Parameters
    ----------
    infusions : DataFrame
        ``infusion_id, subject_id, infusion_date, age_years, death_date`` (dates as datetimes).
    measurements : DataFrame
        ``subject_id, code, at, value, other_cause`` (numeric codes in canonical units).
    observations : DataFrame
        ``subject_id, code, at, value, other_cause`` (controlled values; booleans as text).
    drugs : DataFrame
        ``subject_id, drug, drug_class, started_at, ended_at``.
    crs_criteria : Criteria, optional
        Decides which oxygen time point of a day is the worst; ``astct_2019_crs`` by default.

    Returns
    -------
    DailyAssessments
    """
    criteria = crs_criteria or load_criteria(CRS_CRITERIA)
    infusions = _with_datetimes(infusions, "infusion_date", "death_date")
    measurements = _with_datetimes(measurements, "at")
    observations = _with_datetimes(observations, "at")
    drugs = _with_datetimes(drugs, "started_at", "ended_at")
    measurements = measurements[~measurements["other_cause"].astype(bool)]
    observations = observations[~observations["other_cause"].astype(bool)]
    latest = [
        measurements.groupby("subject_id")["at"].max(),
        observations.groupby("subject_id")["at"].max(),
        drugs.groupby("subject_id")["started_at"].max(),
    ]
    # empty parts left out: concat would guess the dtype from them (FutureWarning)
    last_record = pd.concat([part for part in latest if len(part)] or latest[:1])
    last_record = pd.to_datetime(last_record).groupby(level=0).max()
    inf, starts = _windows(infusions, last_record)
    lengths = (inf["last_day"] - FIRST_DAY + 1).to_numpy()
    size = int(lengths.sum())
    position = np.repeat(np.arange(len(inf)), lengths)
    study_day = np.arange(size) - np.repeat(starts, lengths) + FIRST_DAY
    day0 = inf["day0"].to_numpy()[position] + study_day
    frame = pd.DataFrame(
        {
            "infusion_id": inf["infusion_id"].to_numpy()[position],
            "subject_id": inf["subject_id"].to_numpy()[position],
            "study_day": study_day.astype(np.int64),
            "assessed_at": day0.astype("datetime64[D]").astype("datetime64[ns]"),
            "age_years": inf["age_years"].to_numpy(dtype=float)[position],
        }
    )

    def locate_day(rows: pd.DataFrame, when: str) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
        return _cells(rows, when, inf, starts)

    _summarise(frame, measurements, observations, locate_day, criteria)
    drug_days = _drug_days(drugs, inf, starts, size)
    pressors = drug_days[drug_days["drug_class"] == DrugClass.VASOPRESSOR.value]
    agents = pressors.sort_values("drug").groupby("cell")["drug"].agg(";".join)
    vasopressors = np.full(size, "", dtype=object)
    vasopressors[agents.index.to_numpy()] = agents.to_numpy()
    frame["vasopressors"] = vasopressors
    frame = frame[list(FRAME_COLUMNS)]
    drug_days = drug_days.assign(
        infusion_id=frame["infusion_id"].to_numpy()[drug_days["cell"].to_numpy()],
        study_day=frame["study_day"].to_numpy()[drug_days["cell"].to_numpy()],
    )[["infusion_id", "study_day", "drug", "drug_class"]]
    return DailyAssessments(
        frame,
        drug_days.reset_index(drop=True),
        _lab_days(measurements, inf, starts, frame),
        _time_points(measurements, observations, drugs, inf, starts, criteria),
    )


def _time_points(
    measurements: pd.DataFrame,
    observations: pd.DataFrame,
    drugs: pd.DataFrame,
    inf: pd.DataFrame,
    starts: npt.NDArray[np.int64],
    criteria: Criteria,
) -> pd.DataFrame:
    """One row per assessment time on days with more than one, holding what was recorded then."""
    measured = measurements[measurements["code"].isin([*_NUMERIC, "O2_FLOW"])]
    observed = observations[observations["code"].isin([*_WORST_FIRST, *_FLAGS, "O2_DEVICE"])]
    keys = []
    for rows in (measured, observed):
        position, study_day, valid = _locate(rows, "at", inf, starts)
        keys.append(
            pd.DataFrame(
                {"position": position[valid], "study_day": study_day[valid],
                 "at": rows["at"].to_numpy()[valid]}
            )
        )  # fmt: skip
    times = pd.concat(keys, ignore_index=True).drop_duplicates(["position", "at"])
    per_day = times.groupby(["position", "study_day"])["at"].transform("size")
    times = times[per_day > 1].sort_values(["position", "at"]).reset_index(drop=True)
    index = pd.MultiIndex.from_frame(times[["position", "at"]])
    position = times["position"].to_numpy()
    frame = pd.DataFrame(
        {
            "infusion_id": inf["infusion_id"].to_numpy()[position],
            "subject_id": inf["subject_id"].to_numpy()[position],
            "study_day": times["study_day"].to_numpy(dtype=np.int64),
            "assessed_at": times["at"].to_numpy(dtype="datetime64[ns]"),
            "age_years": inf["age_years"].to_numpy(dtype=float)[position],
        }
    )

    def locate_time(rows: pd.DataFrame, when: str) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
        row_position, _, valid = _locate(rows, when, inf, starts)
        keys = pd.MultiIndex.from_arrays([row_position, rows[when].to_numpy()])
        cell = np.where(valid, index.get_indexer(keys), -1)
        kept = cell >= 0
        return rows[kept], cell[kept].astype(np.int64)

    _summarise(frame, measurements, observations, locate_time, criteria)
    frame["vasopressors"] = _pressors_at(frame, position, drugs, inf)
    return frame[list(FRAME_COLUMNS)]


def _pressors_at(
    frame: pd.DataFrame, position: npt.NDArray[np.int64], drugs: pd.DataFrame, inf: pd.DataFrame
) -> npt.NDArray[np.object_]:
    """``;``-joined vasopressors running at each row's time (no end: until the end of the start
    day)."""
    out = np.full(len(frame), "", dtype=object)
    pressors = drugs[(drugs["drug_class"] == DrugClass.VASOPRESSOR.value)
                     & drugs["started_at"].notna()]  # fmt: skip
    if pressors.empty or frame.empty:
        return out
    start = pressors["started_at"]
    end = pressors["ended_at"].fillna(start.dt.normalize() + pd.Timedelta(days=1))
    spans = pd.DataFrame(
        {
            "subject_id": pressors["subject_id"].to_numpy(),
            "drug": pressors["drug"].to_numpy(),
            "start": start.to_numpy(),
            "end": end.to_numpy(),
        }
    )
    points = pd.DataFrame(
        {
            "row": np.arange(len(frame)),
            "subject_id": frame["subject_id"].to_numpy(),
            "at": frame["assessed_at"].to_numpy(),
        }
    )
    joined = points.merge(spans, on="subject_id")
    running = joined[(joined["start"] <= joined["at"]) & (joined["at"] <= joined["end"])]
    agents = running.drop_duplicates(["row", "drug"]).sort_values("drug").groupby("row")["drug"]
    names = agents.agg(";".join)
    out[names.index.to_numpy()] = names.to_numpy()
    return out


def _summarise(
    frame: pd.DataFrame,
    measurements: pd.DataFrame,
    observations: pd.DataFrame,
    locate: Locate,
    criteria: Criteria,
) -> None:
    """Fill ``frame``'s contract-2 columns (but ``vasopressors``) with the worst values of the
    rows ``locate`` assigns to each of its rows."""
    size = len(frame)
    numeric, cell = locate(measurements[measurements["code"].isin(list(_NUMERIC))], "at")
    for code, (column, how) in _NUMERIC.items():
        picked = (numeric["code"] == code).to_numpy()
        values = np.full(size, np.nan)
        reducer = np.fmax if how == "max" else np.fmin
        reducer.at(values, cell[picked], numeric["value"].to_numpy(dtype=float)[picked])
        frame[column] = values

    categorical, cell = locate(
        observations[observations["code"].isin([*_WORST_FIRST, *_FLAGS])], "at"
    )
    for code, order in _WORST_FIRST.items():
        picked = (categorical["code"] == code).to_numpy()
        frame[code.lower()] = _worst_category(
            categorical["value"][picked], cell[picked], order, size
        )
    for code, column in _FLAGS.items():
        picked = (categorical["code"] == code).to_numpy()
        frame[column] = _any_flag(categorical["value"][picked], cell[picked], size)

    threshold = sbp_threshold_mmhg(frame["age_years"].fillna(99).to_numpy())
    sbp = frame.pop("sbp_min").to_numpy()
    low_pressure = np.where(np.isnan(sbp), np.nan, (sbp < threshold).astype(float))
    recorded = frame.pop("hypotension_recorded").to_numpy(dtype=float, na_value=np.nan)
    frame["hypotension"] = _nullable_bool(np.fmax(recorded, low_pressure))

    frame["o2_device"], frame["o2_flow_l_min"] = _oxygen(
        observations, measurements, locate, size, criteria
    )


def _lab_days(
    measurements: pd.DataFrame,
    inf: pd.DataFrame,
    starts: npt.NDArray[np.int64],
    frame: pd.DataFrame,
) -> pd.DataFrame:
    """Lowest and highest value of each laboratory code on each day of the grid."""
    labs, cell = _cells(measurements[measurements["code"].isin(LAB_CODES)], "at", inf, starts)
    summary = (
        pd.DataFrame(
            {
                "cell": cell,
                "code": labs["code"].to_numpy(),
                "value": labs["value"].to_numpy(dtype=float),
            }
        )
        .groupby(["cell", "code"], sort=True)["value"]
        .agg(low="min", high="max")
        .reset_index()
    )
    at = summary["cell"].to_numpy()
    return pd.DataFrame(
        {
            "infusion_id": frame["infusion_id"].to_numpy()[at],
            "subject_id": frame["subject_id"].to_numpy()[at],
            "study_day": frame["study_day"].to_numpy()[at],
            "code": summary["code"].to_numpy(),
            "low": summary["low"].to_numpy(),
            "high": summary["high"].to_numpy(),
        }
    )
