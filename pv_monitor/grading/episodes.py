"""CRS and ICANS episodes: graded days folded into onset, peak, resolution and treatments.

ASTCT 2019 defines no rule for when an episode ends (clinical.md §1.1, [UNCONFIRMED - local
choice]). pv-monitor's rule, configurable through :class:`ClosureRule`: an episode opens on the
first day graded >= 1 and closes after ``zero_days`` (default 2) graded days of grade 0 in a row;
days that could not be graded neither count toward closure nor interrupt the run. The
resolution day is the first of those grade-0 days, and the duration is resolution minus onset
(the number of days from onset to the last day with grade >= 1, inclusive). An episode still
open at the last assessed day has no resolution day.

The same rule decides ``crs_treated`` (the fever-masking rule, clinical.md §1.1): a day counts
as treated when an antipyretic, tocilizumab or a corticosteroid was given on it or earlier in a
CRS episode that was already open at the start of the day.

Examples
--------
>>> import pandas as pd
>>> days = pd.DataFrame({"infusion_id": 1, "subject_id": 1, "study_day": range(1, 9),
...                      "grade": [0, 1, 2, 0, 1, 0, 0, 0]})
>>> episode = fold_episodes(days, "crs", "astct_2019_crs").iloc[0]
>>> [int(episode[c]) for c in ("onset_day", "peak_grade", "peak_day", "resolution_day")]
[2, 2, 3, 6]
>>> int(episode["duration_days"]), episode["closure_rule"]
(4, 'grade0_2_days')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from pv_monitor.grading.crs import grade_crs
from pv_monitor.grading.daily import CRS_TREATMENT_CLASSES
from pv_monitor.vocabulary import DrugClass

EPISODE_TREATMENT_CLASSES = (
    DrugClass.IL6_BLOCKADE,
    DrugClass.CORTICOSTEROID,
    DrugClass.IL1_BLOCKADE,
    DrugClass.VASOPRESSOR,
    DrugClass.ANTISEIZURE,
)
"""Drug classes listed as an episode's treatments (antipyretics and lymphodepletion are not)."""


@dataclass(frozen=True)
class ClosureRule:
    """When an episode ends: after ``zero_days`` graded days of grade 0 in a row."""

    zero_days: int = 2

    @property
    def name(self) -> str:
        """Stored with every episode, e.g. ``grade0_2_days``."""
        return f"grade0_{self.zero_days}_days"


DEFAULT_CLOSURE = ClosureRule()

FloatGrid = npt.NDArray[np.float64]


def _grid(frame: pd.DataFrame, values: npt.ArrayLike, fill: float = np.nan) -> FloatGrid:
    """Values of a frame sorted by infusion and contiguous day as a (infusions x days) grid."""
    starts, lengths = _runs(frame)
    grid = np.full((len(starts), int(lengths.max(initial=0))), fill)
    row = np.repeat(np.arange(len(starts)), lengths)
    column = np.arange(len(frame)) - np.repeat(starts, lengths)
    grid[row, column] = np.asarray(values, dtype=float)
    return grid


def _runs(frame: pd.DataFrame) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """First row and length of each infusion's run of rows."""
    infusion = frame["infusion_id"].to_numpy()
    if infusion.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    change = np.r_[True, infusion[1:] != infusion[:-1]]
    starts = np.flatnonzero(change).astype(np.int64)
    lengths = np.diff(np.r_[starts, infusion.size]).astype(np.int64)
    return starts, lengths


def _ungrid(frame: pd.DataFrame, grid: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    starts, lengths = _runs(frame)
    row = np.repeat(np.arange(len(starts)), lengths)
    column = np.arange(len(frame)) - np.repeat(starts, lengths)
    return grid[row, column]


@dataclass
class _Scan:
    """Per-infusion episode state while walking the days."""

    open: npt.NDArray[np.bool_]
    zeros: npt.NDArray[np.int64]
    run_start: npt.NDArray[np.int64]
    number: npt.NDArray[np.int64]

    @classmethod
    def start(cls, n: int) -> _Scan:
        return cls(np.zeros(n, bool), np.zeros(n, np.int64), np.zeros(n, np.int64),
                   np.zeros(n, np.int64))  # fmt: skip

    def step(
        self, column: int, grade: FloatGrid, rule: ClosureRule
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Advance one day; returns (in an episode today, episode closed today)."""
        graded = ~np.isnan(grade)
        positive = graded & (grade >= 1)
        zero = graded & (grade == 0)
        opened = positive & ~self.open
        self.number = np.where(opened, self.number + 1, self.number)
        self.open = self.open | positive
        self.zeros = np.where(positive, 0, np.where(zero & self.open, self.zeros + 1, self.zeros))
        self.run_start = np.where(zero & self.open & (self.zeros == 1), column, self.run_start)
        closed = self.open & (self.zeros >= rule.zero_days)
        in_episode = self.open.copy()
        self.open &= ~closed
        self.zeros = np.where(closed, 0, self.zeros)
        return in_episode, closed


def add_crs_treated(
    frame: pd.DataFrame,
    drug_days: pd.DataFrame,
    rule: ClosureRule = DEFAULT_CLOSURE,
    grader: Callable[[pd.DataFrame], pd.DataFrame] = grade_crs,
) -> pd.DataFrame:
    """``frame`` (sorted by infusion and contiguous day) with the ``crs_treated`` column.

    The frame is graded twice by ``grader``, as if treated and as if not; a walk over the days
    then follows the CRS episode and picks, day by day, which applies.
    """
    treatment = drug_days[drug_days["drug_class"].isin([c.value for c in CRS_TREATMENT_CLASSES])]
    given_keys = pd.MultiIndex.from_frame(treatment[["infusion_id", "study_day"]])
    given = pd.MultiIndex.from_frame(frame[["infusion_id", "study_day"]]).isin(given_keys)
    if_treated = grader(frame.assign(crs_treated=True))["crs_grade"]
    if_not = grader(frame.assign(crs_treated=False))["crs_grade"]
    treated_grid = _grid(frame, if_treated.to_numpy(dtype=float, na_value=np.nan))
    untreated_grid = _grid(frame, if_not.to_numpy(dtype=float, na_value=np.nan))
    given_grid = _grid(frame, given, fill=0.0) > 0
    n, days = treated_grid.shape
    scan = _Scan.start(n)
    treated_so_far = np.zeros(n, bool)
    crs_treated = np.zeros((n, days), bool)
    for column in range(days):
        counts = scan.open & (treated_so_far | given_grid[:, column])
        crs_treated[:, column] = counts
        grade = np.where(counts, treated_grid[:, column], untreated_grid[:, column])
        in_episode, closed = scan.step(column, grade, rule)
        treated_so_far = (treated_so_far | (in_episode & given_grid[:, column])) & ~closed
    return frame.assign(crs_treated=_ungrid(frame, crs_treated).astype(bool))


EPISODE_COLUMNS = (
    "infusion_id",
    "subject_id",
    "syndrome",
    "criteria_version",
    "episode_number",
    "onset_day",
    "peak_grade",
    "peak_day",
    "resolution_day",
    "duration_days",
    "treatments",
    "closure_rule",
)


def fold_episodes(
    graded: pd.DataFrame,
    syndrome: str,
    criteria_version: str,
    rule: ClosureRule = DEFAULT_CLOSURE,
    drug_days: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Episodes of one syndrome from graded days.

    Parameters
    ----------
    graded : DataFrame
        ``infusion_id, subject_id, study_day, grade``, sorted by infusion and contiguous day.
    syndrome, criteria_version : str
        Written on every episode.
    rule : ClosureRule
        When an episode ends.
    drug_days : DataFrame, optional
        ``infusion_id, study_day, drug, drug_class``; drugs of
        :data:`EPISODE_TREATMENT_CLASSES` given between onset and resolution are listed.

    Returns
    -------
    DataFrame
        One row per episode, columns :data:`EPISODE_COLUMNS`.
    """
    grades = graded["grade"].to_numpy(dtype=float, na_value=np.nan)
    grid = _grid(graded, grades)
    n, days = grid.shape
    scan = _Scan.start(n)
    label = np.zeros((n, days), np.int64)
    resolution_column = np.full((n, days + 1), -1, np.int64)  # by episode number
    for column in range(days):
        in_episode, closed = scan.step(column, grid[:, column], rule)
        label[:, column] = np.where(in_episode, scan.number, 0)
        rows = np.flatnonzero(closed)
        resolution_column[rows, scan.number[rows]] = scan.run_start[rows]
    cells = graded.assign(
        episode_number=_ungrid(graded, label), grade=grades, position=np.arange(len(graded))
    )
    cells = cells[(cells["episode_number"] > 0) & (cells["grade"] >= 1)]
    if cells.empty:
        return pd.DataFrame(columns=list(EPISODE_COLUMNS))
    keys = ["infusion_id", "episode_number"]
    episodes = cells.groupby(keys, sort=True).agg(
        subject_id=("subject_id", "first"),
        onset_day=("study_day", "min"),
        last_day=("study_day", "max"),
        peak_grade=("grade", "max"),
        first_position=("position", "min"),
    )
    peak = cells.merge(episodes["peak_grade"].rename("grade").reset_index(), on=[*keys, "grade"])
    episodes["peak_day"] = peak.groupby(keys)["study_day"].min()
    episodes = episodes.reset_index()
    starts, _ = _runs(graded)
    infusion_row = np.searchsorted(starts, episodes["first_position"].to_numpy(), side="right") - 1
    closing = resolution_column[infusion_row, episodes["episode_number"].to_numpy()]
    first_day = graded["study_day"].to_numpy()[starts[infusion_row]]
    resolution = np.where(closing >= 0, first_day + closing, np.nan)
    episodes["resolution_day"] = pd.array(resolution, dtype="Float64").astype("Int64")
    episodes["duration_days"] = episodes["resolution_day"] - episodes["onset_day"]
    episodes["peak_grade"] = episodes["peak_grade"].astype(int)
    episodes["treatments"] = _treatments(episodes, drug_days)
    episodes["syndrome"] = syndrome
    episodes["criteria_version"] = criteria_version
    episodes["closure_rule"] = rule.name
    return episodes[list(EPISODE_COLUMNS)]


def _treatments(episodes: pd.DataFrame, drug_days: pd.DataFrame | None) -> pd.Series:
    """``;``-separated drugs given from onset to resolution (or the last graded day)."""
    empty = pd.Series([None] * len(episodes), index=episodes.index, dtype=object)
    if drug_days is None or drug_days.empty:
        return empty
    wanted = drug_days[drug_days["drug_class"].isin([c.value for c in EPISODE_TREATMENT_CLASSES])]
    spans = episodes[["infusion_id", "episode_number", "onset_day"]].assign(
        end_day=episodes["resolution_day"].fillna(episodes["last_day"]).astype(int)
    )
    joined = spans.merge(wanted, on="infusion_id")
    joined = joined[joined["study_day"].between(joined["onset_day"], joined["end_day"])]
    names = (
        joined.drop_duplicates(["infusion_id", "episode_number", "drug"])
        .sort_values("drug")
        .groupby(["infusion_id", "episode_number"], as_index=False)["drug"]
        .agg(";".join)
    )
    found = episodes[["infusion_id", "episode_number"]].merge(
        names, on=["infusion_id", "episode_number"], how="left"
    )["drug"]
    return pd.Series(found.to_numpy(dtype=object), index=episodes.index).where(
        found.notna().to_numpy(), None
    )
