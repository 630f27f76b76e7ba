"""Column access shared by the graders: required columns, typed values, per-distinct texts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]

_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


COURSE_GRADE_COLUMNS = (
    "infusion_id",
    "subject_id",
    "study_day",
    "syndrome",
    "criteria_version",
    "grade",
    "reason",
    "provisional",
)
"""Columns of a grade made for a whole course (ICAHT, CTCAE), filed under one of its days."""


class FrameError(ValueError):
    """An assessment frame lacks a column or holds a value the grader cannot read."""


def require(frame: pd.DataFrame, columns: Iterable[str], grader: str) -> None:
    """Raise :class:`FrameError` naming every column of ``columns`` missing from ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FrameError(f"{grader}: the frame lacks column(s) {', '.join(missing)}")


def _distinct(series: pd.Series) -> tuple[npt.NDArray[np.intp], pd.Series]:
    """Codes of each row (-1 where missing) and the distinct values as text, stripped."""
    codes, uniques = pd.factorize(series)
    return codes, pd.Series(uniques).astype("string").str.strip()


def _rows_with(codes: npt.NDArray[np.intp], bad_codes: npt.NDArray[np.bool_]) -> pd.Series:
    extended = np.append(bad_codes, False)  # code -1 (missing) is never bad
    return pd.Series(extended[codes])


def numbers(series: pd.Series) -> FloatArray:
    """Floats, NaN where missing; text that is not a number is an error."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    codes, text = _distinct(series)
    values = pd.to_numeric(text, errors="coerce")
    bad = (values.isna() & (text != "")).to_numpy(dtype=bool)
    if bad.any():
        raise FrameError(_bad_values(series, _rows_with(codes, bad), "a number"))
    lookup = np.append(values.to_numpy(dtype=np.float64, na_value=np.nan), np.nan)
    return lookup[codes]


def flags(series: pd.Series) -> tuple[BoolArray, BoolArray]:
    """``(value, known)``: booleans written as bool, 0/1 or true/false/yes/no text."""
    if series.dtype == bool:
        values = series.to_numpy()
        return values, np.ones(values.size, dtype=bool)
    if series.dtype == "boolean":
        return series.fillna(False).to_numpy(dtype=bool), series.notna().to_numpy()
    codes, text = _distinct(series)
    text = text.str.lower()
    true, false = text.isin(_TRUE).to_numpy(), text.isin(_FALSE).to_numpy()
    bad = ~(true | false) & (text != "").to_numpy(dtype=bool)
    if bad.any():
        raise FrameError(_bad_values(series, _rows_with(codes, bad), "true or false"))
    return np.append(true, False)[codes], np.append(true | false, False)[codes]


def categories(series: pd.Series, allowed: Iterable[str], column: str) -> ObjectArray:
    """Lower-case controlled values, None where missing; values outside ``allowed`` are an error."""
    codes, text = _distinct(series)
    text = text.str.lower()
    text = text.mask(text == "")
    bad = (text.notna() & ~text.isin(list(allowed))).to_numpy(dtype=bool)
    if bad.any():
        raise FrameError(
            _bad_values(series, _rows_with(codes, bad), f"one of {', '.join(allowed)}", column)
        )
    lookup: ObjectArray = np.array([*text.astype(object).where(text.notna(), None), None])
    return lookup[codes]


def lookup_grades(values: ObjectArray, grades: Mapping[str, float]) -> FloatArray:
    """Grade of each controlled value by ``grades``; NaN for None."""
    codes, uniques = pd.factorize(values)
    table = np.array([grades[v] for v in uniques] + [np.nan], dtype=float)
    return table[codes]


def _bad_values(series: pd.Series, bad: pd.Series, wanted: str, column: str | None = None) -> str:
    rows = np.flatnonzero(bad.to_numpy())
    shown = ", ".join(f"row {int(r) + 1}: {series.iloc[r]!r}" for r in rows[:5])
    more = f" and {rows.size - 5} more" if rows.size > 5 else ""
    return f"column {column or series.name}: expected {wanted}; {shown}{more}"


def covered(values: FloatArray, grades: FloatArray, series: pd.Series, what: str) -> None:
    """Refuse recorded values that no criteria interval covers (an ICE of 11, a negative flow)."""
    bad = ~np.isnan(values) & np.isnan(grades)
    if bad.any():
        raise FrameError(_bad_values(series, pd.Series(bad), what))


def per_distinct(build: Callable[..., str], *columns: npt.ArrayLike) -> ObjectArray:
    """``build(*values)`` for each row, computed once per distinct combination of values.

    Reasons depend on a handful of discrete inputs, so this turns a million string
    constructions into a few thousand.

    >>> per_distinct(lambda a, b: f"{a}-{b}", [2.0, np.nan, 2.0, np.nan], ["x", "y", "x", None])
    array(['2.0-x', 'None-y', '2.0-x', 'None-None'], dtype=object)
    """
    frame = pd.DataFrame({str(i): np.asarray(c) for i, c in enumerate(columns)}, copy=False)
    if frame.empty:
        return np.empty(0, dtype=object)
    codes = np.zeros(len(frame), dtype=np.int64)
    for name in frame.columns:  # combine column codes pairwise into one code per combination
        column_codes, uniques = pd.factorize(frame[name], use_na_sentinel=False)
        codes, _ = pd.factorize(codes * (len(uniques) + 1) + column_codes)
    _, first_rows = np.unique(codes, return_index=True)  # first row of code 0, 1, 2, ...
    firsts = frame.iloc[first_rows]
    texts = [build(*(_plain(v) for v in row)) for row in firsts.itertuples(index=False)]
    return np.array(texts, dtype=object)[codes]


def _plain(value: Any) -> Any:
    """NaN and pandas NA as None, numpy scalars as Python ones."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return value.item() if isinstance(value, np.generic) else value


def nullable_grades(grades: FloatArray) -> pd.api.extensions.ExtensionArray:
    """Grades as nullable ``Int64`` values: NaN (not gradable) becomes ``<NA>``, never 0.

    >>> nullable_grades(np.array([2.0, np.nan])).tolist()
    [2, <NA>]
    """
    values: pd.api.extensions.ExtensionArray = (
        pd.Series(grades, dtype="Float64").astype("Int64").array
    )
    return values


def number_text(value: float) -> str:
    """A measured value as a clinician writes it: ``6``, ``6.5``, ``38.4``.

    >>> number_text(6.0), number_text(38.44)
    ('6', '38.4')
    """
    return f"{value:.1f}".removesuffix(".0")
