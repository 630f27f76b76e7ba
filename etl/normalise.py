"""Normalisation: dates, numbers, units and controlled values, vectorised over a column.

Each function takes a column of text as read from a file and returns the normalised values with
a mask of the values it could not accept; the caller turns the mask into rejections.

Dates
    ISO 8601, complete or partial: ``2014``, ``2014-03``, ``2014-03-05``, ``2014-03-05T14:30``,
    ``2014-03-05T14:30:15`` (a space may replace ``T``; seconds fractions are dropped). The basic
    form without hyphens (``20140305``, ``201403``) is accepted for FAERS. A partial date is kept
    as given and imputed by a documented rule (:func:`impute`), with the imputed parts flagged.

Examples
--------
>>> import pandas as pd
>>> dates = parse_dates(pd.Series(["2014-03-05T14:30", "2014-03", "March 5", ""]))
>>> dates["precision"].tolist()
['minute', 'month', None, None]
>>> str(dates["datetime"].iloc[0])
'2014-03-05 14:30:00'
>>> dates["invalid"].tolist()
[False, False, True, False]
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np
import pandas as pd

from pv_monitor.units import CONVERSIONS, SEPARATE_QUANTITY_UNITS, unit_spelling
from pv_monitor.vocabulary import OBSERVATION_CODES

_DATE = re.compile(
    r"^(?P<year>\d{4})(?:-?(?P<month>\d{2})(?:-?(?P<day>\d{2})"
    r"(?:[T ](?P<hour>\d{2}):?(?P<minute>\d{2})(?::?(?P<second>\d{2})(?:\.\d+)?)?)?)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?$"
)


MIN_YEAR, MAX_YEAR = 1900, 2199
"""Years a date may have: earlier or later ones are typing errors (``0024-03-15``, ``9999-12-31``
as "unknown") and would not fit the store's time stamps."""

_FAST_FORMATS = (
    (16, "%Y-%m-%dT%H:%M", "minute"),
    (16, "%Y-%m-%d %H:%M", "minute"),
    (10, "%Y-%m-%d", "day"),
    (19, "%Y-%m-%dT%H:%M:%S", "second"),
    (19, "%Y-%m-%d %H:%M:%S", "second"),
)
"""Complete formats parsed in C (nearly every value of a real export is one of these)."""


def parse_dates(text: pd.Series) -> pd.DataFrame:
    """Parse ISO 8601 dates and date-times, complete or partial.

    Returns
    -------
    DataFrame
        Same index as ``text``: ``datetime`` (complete dates and date-times; NaT for partial,
        empty or invalid values), ``year`` and ``month`` (float, for partial dates),
        ``precision`` (year, month, day, minute, second or None), ``empty`` and ``invalid``
        (not an ISO 8601 date, not a calendar date such as 2014-02-30, or a year outside
        :data:`MIN_YEAR` to :data:`MAX_YEAR`).
    """
    stripped = text.fillna("").astype(str).str.strip()
    lengths = stripped.str.len()
    value = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    precision = pd.Series(None, index=text.index, dtype=object)
    year = pd.Series(np.nan, index=text.index)
    month = pd.Series(np.nan, index=text.index)
    done = stripped == ""
    for length, pattern, level in _FAST_FORMATS:
        candidates = (lengths == length) & ~done
        if not candidates.any():
            continue
        parsed = pd.to_datetime(stripped[candidates], format=pattern, errors="coerce")
        good = parsed.notna() & parsed.dt.year.between(MIN_YEAR, MAX_YEAR)
        rows = parsed.index[good]
        value.loc[rows] = parsed[good]
        precision.loc[rows] = level
        done.loc[rows] = True
    rest = ~done
    if rest.any():
        slow = _parse_dates_slowly(stripped[rest])
        value.loc[slow.index] = slow["datetime"]
        precision.loc[slow.index] = slow["precision"]
        year.loc[slow.index] = slow["year"]
        month.loc[slow.index] = slow["month"]
    empty = stripped == ""
    return pd.DataFrame(
        {
            "datetime": value,
            "year": year,
            "month": month,
            "precision": precision.astype(object).where(precision.notna(), None),
            "empty": empty,
            "invalid": ~empty & precision.isna(),
        }
    )


def _parse_dates_slowly(text: pd.Series) -> pd.DataFrame:
    """The regular-expression path: partial dates, basic format, fractions, offsets."""
    parts = text.str.extract(_DATE)
    numbers = parts.apply(pd.to_numeric, errors="coerce")
    precision = pd.Series(
        np.select(
            [
                parts["second"].notna(),
                parts["minute"].notna(),
                parts["day"].notna(),
                parts["month"].notna(),
                parts["year"].notna(),
            ],
            ["second", "minute", "day", "month", "year"],
            default="",
        ),
        index=text.index,
    ).replace("", None)
    month_ok = numbers["month"].isna() | numbers["month"].between(1, 12)
    time_ok = (
        (numbers["hour"].isna() | numbers["hour"].between(0, 23))
        & (numbers["minute"].isna() | numbers["minute"].between(0, 59))
        & (numbers["second"].isna() | numbers["second"].between(0, 59))
    )
    complete = numbers["day"].notna()
    stamp = pd.to_datetime(
        pd.DataFrame(
            {
                "year": numbers["year"].where(complete),
                "month": numbers["month"].where(complete),
                "day": numbers["day"].where(complete),
                "hour": numbers["hour"].fillna(0),
                "minute": numbers["minute"].fillna(0),
                "second": numbers["second"].fillna(0),
            }
        ),
        errors="coerce",
    )
    year_ok = numbers["year"].between(MIN_YEAR, MAX_YEAR)
    valid = year_ok & month_ok & time_ok & (~complete | stamp.notna())
    return pd.DataFrame(
        {
            "datetime": stamp.where(valid & complete),
            "year": numbers["year"].where(valid & ~complete),
            "month": numbers["month"].where(valid & ~complete),
            "precision": precision.where(valid, None),
        }
    )


def impute(dates: pd.DataFrame, rule: str) -> tuple[pd.Series, pd.Series]:
    """Impute the missing parts of partial dates.

    ``rule="first"`` (start and onset dates) fills a missing month with January and a missing day
    with the 1st; ``rule="last"`` (end and resolution dates) with December and the last day of
    the month. Times are never imputed: a date without a time is midnight (and the caller records
    that no time was given).

    Returns the datetimes (NaT where empty or invalid) and the imputation flag: None when the
    date was complete, ``"day"`` when the day was imputed, ``"month"`` when month and day were.
    """
    if rule not in ("first", "last"):
        raise ValueError("rule must be 'first' or 'last'")
    value = dates["datetime"].copy()
    partial = dates["precision"].isin(["year", "month"])
    if partial.any():
        year = dates.loc[partial, "year"]
        month = dates.loc[partial, "month"].fillna(1.0 if rule == "first" else 12.0)
        first = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 1.0}))
        value.loc[partial] = first if rule == "first" else first + pd.offsets.MonthEnd(0)
    flag = pd.Series(
        np.select(
            [dates["precision"] == "month", dates["precision"] == "year"], ["day", "month"], ""
        ),
        index=dates.index,
    )
    return value, flag.astype(object).where(flag != "", None)


_NUMBER = re.compile(
    r"^\s*(?P<operator><=|>=|<|>)?\s*(?P<number>[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)\s*$"
)


def parse_numbers(text: pd.Series) -> pd.DataFrame:
    """Parse numbers, keeping the operator of censored results (``<0.2`` -> ``<``, 0.2).

    Returns ``value`` (float), ``operator`` (``<``, ``>``, ``<=``, ``>=`` or None), ``empty`` and
    ``invalid`` (text that is not a number, e.g. ``1,5`` or ``abc``: decimal commas are not
    guessed).
    """
    stripped = text.fillna("").astype(str).str.strip()
    value = pd.to_numeric(stripped, errors="coerce").astype(float)  # plain numbers, in C
    parsed = value.notna()
    # pandas 2's C parser can be off by one unit in the last place for extreme exponents; the
    # values it accepted are re-read with Python's correctly rounded float().
    value.loc[parsed] = stripped[parsed].map(float).astype("float64")  # empty: object
    operator = pd.Series(None, index=text.index, dtype=object)
    empty = stripped == ""
    rest = value.isna() & ~empty
    if rest.any():  # censored results such as <0.2 need the regular expression
        parts = stripped[rest].str.extract(_NUMBER)
        value.loc[rest] = pd.to_numeric(parts["number"], errors="coerce")
        operator.loc[rest] = parts["operator"].astype(object).where(parts["operator"].notna(), None)
    value = value.astype(float)
    value = value.where(np.isfinite(value))  # inf, 1e400: no measurement is infinite
    return pd.DataFrame(
        {
            "value": value,
            "operator": operator.astype(object).where(operator.notna(), None),
            "empty": empty,
            "invalid": ~empty & value.isna(),
        }
    )


def _key(text: str) -> str:
    """How controlled values are compared: case, surrounding spaces, spaces and hyphens ignored."""
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


@functools.cache
def _lookup(allowed: tuple[str, ...], aliases: tuple[tuple[str, str], ...]) -> dict[str, str]:
    lookup = {_key(item): item for item in allowed}
    for alias, item in aliases:
        lookup.setdefault(_key(alias), item)
    return lookup


def controlled(
    text: pd.Series, allowed: tuple[str, ...], aliases: dict[str, str] | None = None
) -> pd.DataFrame:
    """Map text to a controlled vocabulary (case, spaces and hyphens ignored; aliases applied).

    Returns ``value`` (the controlled value or None), ``empty`` and ``invalid``. Each distinct
    text is looked up once.

    Examples
    --------
    >>> controlled(pd.Series(["High flow nasal cannula", "HFNC", "tent"]),
    ...            ("none", "high_flow_nasal_cannula"),
    ...            {"hfnc": "high_flow_nasal_cannula"})["value"].tolist()
    ['high_flow_nasal_cannula', 'high_flow_nasal_cannula', None]
    """
    lookup = _lookup(tuple(allowed), tuple(sorted((aliases or {}).items())))
    codes, distinct = pd.factorize(text.fillna("").astype(str), use_na_sentinel=False)
    keys = [_key(str(item)) for item in distinct]
    mapped = np.array([lookup.get(key) for key in keys], dtype=object)
    empty = np.array([key == "" for key in keys], dtype=bool)
    value = mapped[codes] if len(codes) else np.array([], dtype=object)
    found = np.array([m is not None for m in mapped], dtype=bool)[codes]
    is_empty = empty[codes]
    return pd.DataFrame(
        {
            "value": pd.Series(value, index=text.index, dtype="object"),
            "empty": is_empty,
            "invalid": ~is_empty & ~found,
        },
        index=text.index,
    )


def factorize_pairs(
    first: pd.Series, second: pd.Series
) -> tuple[np.ndarray, list[tuple[Any, Any]]]:
    """Codes of the distinct (first, second) pairs and the pairs themselves (each column is
    factorized alone, which is much faster than hashing pairs of strings)."""
    first_codes, first_values = pd.factorize(first, use_na_sentinel=False)
    second_codes, second_values = pd.factorize(second, use_na_sentinel=False)
    combined = first_codes.astype(np.int64) * max(len(second_values), 1) + second_codes
    codes, distinct = pd.factorize(combined)
    width = max(len(second_values), 1)
    firsts, seconds = np.asarray(first_values), np.asarray(second_values)
    pairs = [(firsts[c // width], seconds[c % width]) for c in np.asarray(distinct)]
    return codes, pairs


def to_canonical_units(code: pd.Series, value: pd.Series, unit: pd.Series) -> pd.DataFrame:
    """Convert numeric observations to their code's canonical unit (pv_monitor.units table).

    Returns ``value`` (canonical), ``unit`` (stored unit), ``unit_source`` (the unit as given)
    and ``invalid_unit`` (a unit not accepted for the code: rejected, never guessed). An empty
    unit is accepted only for scores (unit ``points``). Each distinct (code, unit) pair is looked
    up once; the arithmetic is vectorised.
    """
    codes, distinct = factorize_pairs(code, unit.fillna("").astype(str))
    scale = np.full(len(distinct) + 1, np.nan)
    offset = np.zeros(len(distinct) + 1)
    stored = np.full(len(distinct) + 1, None, dtype=object)
    for position, (code_name, given_unit) in enumerate(distinct):
        spec = OBSERVATION_CODES[code_name]
        canonical = spec.canonical_unit or ""
        given = unit_spelling(given_unit) or ("points" if canonical == "points" else "")
        if given == canonical:
            scale[position], stored[position] = 1.0, canonical
        elif (code_name, given) in CONVERSIONS:
            scale[position], offset[position] = CONVERSIONS[(code_name, given)]
            # a share, not a count (BCELL %); a grade's scale (CRS_GRADE lee_2014)
            separate = (code_name, given) in SEPARATE_QUANTITY_UNITS
            stored[position] = given if separate else canonical
    numbers = value.to_numpy(dtype=float)
    with np.errstate(over="ignore"):  # a value near 1e308 becomes inf: the range check rejects it
        canonical_values = numbers * scale[codes] + offset[codes]
    return pd.DataFrame(
        {
            "value": canonical_values,
            "unit": stored[codes],
            "unit_source": unit.fillna("").astype(str).str.strip().to_numpy(),
            "invalid_unit": np.isnan(scale[codes]),
        },
        index=code.index,
    )


_FORMULA = re.compile(r"^\s*(?:[=+@]|-(?![\d.]))")
_SQL = re.compile(
    r"(?:;\s*(?:drop|delete|insert|update|alter|create|truncate|exec)\b)"
    r"|(?:\bunion\s+(?:all\s+)?select\b)|(?:'\s*or\s+'?\d+'?\s*=\s*'?\d+)|(?:--\s*$)|(?:/\*.*\*/)",
    re.IGNORECASE,
)


def suspicious_text(text: pd.Series) -> pd.DataFrame:
    """Flag text that looks like a spreadsheet formula or an SQL statement, not data.

    A cell starting with ``=``, ``+``, ``@`` or a ``-`` that does not start a number would run as
    a formula when a reviewer opens an export in a spreadsheet (CSV injection); text with SQL
    statement fragments has no place in clinical fields. Returns ``formula`` and ``sql`` masks.

    Examples
    --------
    >>> cells = pd.Series(["=HYPERLINK(1)", "-3", "x'; DROP TABLE subject; --"])
    >>> suspicious_text(cells).any(axis=1).tolist()
    [True, False, True]
    """
    values = text.fillna("").astype(str)
    return pd.DataFrame(
        {
            "formula": values.str.contains(_FORMULA),
            "sql": values.str.contains(_SQL),
        }
    )
