"""Versioned grading criteria tables.

Each criteria set is a CSV file in this package named after its version (``astct_2019_crs``,
``astct_2019_icans``): one row per rule with the ``domain`` it grades, the ``finding`` (a
controlled value, or the name of a measured quantity), an optional ``interval`` of values in
interval notation (``[7, 9]``, ``(6, inf)``), the ``grade`` it gives, and the ``evidence`` tag,
``source`` and ``note`` from ``clinical.md``. The graders read thresholds only from here, so a
site that needs another boundary (for instance CAPD up to age 12 inclusive) writes a new version
of the file and grades with it; every stored grade names the version it came from.

Examples
--------
>>> crs = load_criteria("astct_2019_crs")
>>> crs.version
'astct_2019_crs'
>>> crs.grades("hypoxia")["facemask"]
3
>>> crs.interval_grades("hypoxia", "nasal_cannula", np.array([6.0, 6.5, np.nan]))
array([ 2.,  3., nan])
>>> crs.interval("fever", "temperature_c")
Interval(38.0, inf, closed='left')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pandera.pandas as pa

from pv_monitor.reference.trials import EVIDENCE_TAGS

_INTERVAL = re.compile(r"^\s*([\[(])\s*(-?[\d.]+|-inf)\s*,\s*(-?[\d.]+|inf)\s*([\])])\s*$")

RULE_TABLE = pa.DataFrameSchema(
    {
        "domain": pa.Column(str),
        "finding": pa.Column(str),
        "interval": pa.Column(str, pa.Check.str_matches(_INTERVAL.pattern), nullable=True),
        "grade": pa.Column("Int64", pa.Check.in_range(0, 5), nullable=True),
        "evidence": pa.Column(str, pa.Check.isin(EVIDENCE_TAGS)),
        "source": pa.Column(str),
        "note": pa.Column(str, nullable=True),
    },
    strict=True,
    coerce=True,
)
"""Contract of a criteria table (validated on load; a malformed table is refused)."""


class CriteriaError(ValueError):
    """A criteria table is malformed (overlapping intervals, unknown tags, bad notation)."""


def parse_interval(text: str) -> pd.Interval:
    """An interval from its notation: ``[7, 9]``, ``(6, inf)``, ``[0, 12)``.

    >>> parse_interval("(6, inf)")
    Interval(6.0, inf, closed='neither')
    """
    match = _INTERVAL.match(text)
    if match is None:
        raise CriteriaError(f"not an interval: {text!r}")
    left, low, high, right = match.groups()
    closed: dict[tuple[str, str], Literal["both", "left", "right", "neither"]] = {
        ("[", "]"): "both",
        ("[", ")"): "left",
        ("(", "]"): "right",
        ("(", ")"): "neither",
    }
    return pd.Interval(float(low), float(high), closed=closed[(left, right)])


def contains(interval: pd.Interval, values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Whether each value lies in ``interval`` (NaN lies in none).

    >>> contains(parse_interval("(6, inf)"), np.array([6.0, 6.1, np.nan]))
    array([False,  True, False])
    """
    above = values >= interval.left if interval.closed_left else values > interval.left
    below = values <= interval.right if interval.closed_right else values < interval.right
    return np.asarray(above & below)


@dataclass(frozen=True)
class Criteria:
    """One versioned criteria table.

    Attributes
    ----------
    version : str
        Name of the table, stored with every grade made from it.
    rules : DataFrame
        The validated rule rows (columns of :data:`RULE_TABLE`) plus ``bounds``, the parsed
        :class:`pandas.Interval` of each interval rule.
    """

    version: str
    rules: pd.DataFrame

    def _rows(self, domain: str, finding: str | None = None) -> pd.DataFrame:
        cache: dict[tuple[str, str | None], pd.DataFrame] = self.__dict__.setdefault("_cache", {})
        if (domain, finding) not in cache:
            rows = self.rules[self.rules["domain"] == domain]
            if finding is not None:
                rows = rows[rows["finding"] == finding]
            if rows.empty:
                raise KeyError(f"{self.version}: no rule for {domain} {finding or ''}".rstrip())
            cache[(domain, finding)] = rows
        return cache[(domain, finding)]

    def grades(self, domain: str) -> dict[str, int]:
        """Grade of each controlled finding of ``domain`` (rules without an interval)."""
        rows = self._rows(domain)
        rows = rows[rows["interval"].isna()]
        return {str(f): int(g) for f, g in zip(rows["finding"], rows["grade"], strict=True)}

    def interval_grades(
        self, domain: str, finding: str, values: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """Grade of each value by the interval rules of ``domain``/``finding``; NaN where the
        value is missing or falls in no interval."""
        rows = self._rows(domain, finding)
        rows = rows[rows["interval"].notna()]
        values = np.asarray(values, dtype=np.float64)
        out = np.full(values.shape, np.nan)
        for bounds, grade in zip(rows["bounds"], rows["grade"], strict=True):
            out = np.where(contains(bounds, values), float(grade), out)
        return out

    def lowest_interval_grade(self, domain: str, finding: str) -> int:
        """The smallest grade the interval rules of ``domain``/``finding`` can give (the lower
        bound when the measured value is missing)."""
        rows = self._rows(domain, finding)
        return int(rows.loc[rows["interval"].notna(), "grade"].min())

    def interval(self, domain: str, finding: str) -> pd.Interval:
        """The single interval of ``domain``/``finding`` (e.g. the ages ICE is used at)."""
        bounds = self._rows(domain, finding)["bounds"]
        if len(bounds) != 1:
            raise KeyError(f"{self.version}: {domain} {finding} has {len(bounds)} intervals")
        interval: pd.Interval = bounds.iloc[0]
        return interval


def read_criteria(path: Path | str, version: str | None = None) -> Criteria:
    """Read and validate a criteria table from a CSV file (a site's own version, say).

    Raises
    ------
    CriteriaError
        When the table breaks its contract or two intervals of one finding overlap.
    """
    path = Path(path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    try:
        rules = RULE_TABLE.validate(table, lazy=True)
    except pa.errors.SchemaErrors as error:
        raise CriteriaError(f"{path.name}: {error.failure_cases.to_dict('records')}") from error
    rules["bounds"] = pd.Series(
        [parse_interval(t) if isinstance(t, str) else None for t in rules["interval"]],
        index=rules.index,
        dtype=object,
    )
    for (domain, finding), rows in rules[rules["interval"].notna()].groupby(["domain", "finding"]):
        bounds = list(rows["bounds"])
        for i, first in enumerate(bounds):
            if any(first.overlaps(second) for second in bounds[i + 1 :]):
                raise CriteriaError(f"{path.name}: intervals of {domain} {finding} overlap")
    return Criteria(version or path.stem, rules)


@cache
def load_criteria(version: str, package: str = "pv_monitor.grading.criteria") -> Criteria:
    """The criteria table shipped with pv-monitor under ``version`` (in ``package``)."""
    resource = files(package).joinpath(f"{version}.csv")
    return read_criteria(Path(str(resource)), version)


__all__ = ["RULE_TABLE", "Criteria", "CriteriaError", "load_criteria", "parse_interval"]
