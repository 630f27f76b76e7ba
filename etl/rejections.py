"""Rejected rows: file, row, field, offending value and the reason in a data manager's words.

Rejections travel as DataFrames (one row per rejection, columns :data:`COLUMNS`), so that a file
in which every row is bad costs a vectorised operation, not a Python object per row.

Examples
--------
>>> import pandas as pd
>>> frame = rejections("vitals.csv", rows=pd.Series([3, 7]), field="value",
...                    values=pd.Series(["abc", ""]), rule="number",
...                    reason="value is not a number")
>>> frame[["row", "field", "value", "reason"]].to_dict("records")[0]
{'row': 3, 'field': 'value', 'value': 'abc', 'reason': 'value is not a number'}
"""

from __future__ import annotations

import pandas as pd

COLUMNS = ("file", "row", "field", "value", "rule", "reason")
MAX_VALUE_CHARS = 200
"""Offending values are kept up to this length (a 10 MB field is not copied into the store)."""


def empty() -> pd.DataFrame:
    """A rejection frame with no rows."""
    return pd.DataFrame({column: pd.Series(dtype=object) for column in COLUMNS})


def shorten(values: pd.Series) -> pd.Series:
    """Offending values as text, cut to :data:`MAX_VALUE_CHARS` characters."""
    text = values.astype(object).where(values.notna(), None)
    as_text = text.map(lambda v: None if v is None else str(v))
    too_long = as_text.str.len() > MAX_VALUE_CHARS
    return as_text.where(~too_long, as_text.str.slice(0, MAX_VALUE_CHARS) + "…")


def rejections(
    file: str,
    *,
    rows: pd.Series,
    field: str | None,
    values: pd.Series | None,
    rule: str,
    reason: str | pd.Series,
) -> pd.DataFrame:
    """Rejections for ``rows`` of ``file`` that broke ``rule`` on ``field``."""
    n = len(rows)
    return pd.DataFrame(
        {
            "file": [file] * n,
            "row": rows.to_numpy(),
            "field": [field] * n,
            "value": (shorten(values) if values is not None else pd.Series([None] * n)).to_numpy(),
            "rule": [rule] * n,
            "reason": reason.to_numpy() if isinstance(reason, pd.Series) else [reason] * n,
        }
    )


def file_rejection(file: str, rule: str, reason: str) -> pd.DataFrame:
    """A rejection of a whole file (no row, no field)."""
    return pd.DataFrame(
        [{"file": file, "row": None, "field": None, "value": None, "rule": rule, "reason": reason}]
    )


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One frame from many (empty frames are skipped)."""
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty()
    return pd.concat(frames, ignore_index=True)
