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

import re

import pandas as pd

COLUMNS = ("file", "row", "field", "value", "rule", "reason")

RULES: dict[str, str] = {
    # whole files
    "empty_file": "the file is empty (0 bytes)",
    "unreadable_file": "truncated/corrupt XPT, CSV, gzip, Parquet or Excel, or a field over 1 MB",
    "encoding": "an SDTM or tidy text file that is neither UTF-8 nor Windows-1252 text",
    "columns": "required columns are missing (with a hint when the delimiter looks wrong)",
    "missing_columns": "a FAERS file lacks the columns of both the AERS and the FAERS layout",
    "missing_file": "a FAERS path that is neither a file nor a folder, or a folder without files",
    "missing_demo": "a FAERS quarter without its DEMO file (its other files are not read)",
    "unknown_quarter": "a FAERS file name without a recognisable quarter (e.g. DRUG17Q2.txt)",
    "unknown_table": "a FAERS file that is none of DEMO, DRUG, REAC, OUTC, RPSR, THER, INDI",
    "not_recognised": "a load in which no file was recognised as a file of its format",
    "file_changed": "a file that changed while it was being loaded (what was read is not the file"
    " described, or its size, time or inode changed): the batch is rejected whatever the policy",
    # contracts (pandera)
    "required": "a required value is empty",
    "max_length": "a value is longer than its field allows (64 for identifiers, else 255)",
    "formula": "text starting like a spreadsheet formula (=, +, - or @): CSV injection",
    "sql": "text containing an SQL statement fragment",
    "control_character": "a control character (NUL, a bell, an escape...) in a value; tab and line "
    "breaks are allowed in free text only",
    # values
    "number": "not a number (decimal commas are not guessed), or a negative dose",
    "range": "a number impossible for its code (grade not 0-5, FAERS age over 150 years)",
    "unit": "a unit that is not accepted for the code (units are never guessed)",
    "unknown_code": "an observation code (or FAERS outcome/source code) not in the vocabulary",
    "vocabulary": "a categorical value not in its controlled vocabulary (after aliases)",
    "date": "not ISO 8601 (FAERS: YYYYMMDD), not in the calendar, or not precise enough",
    "order": "an end or resolution date before its start or onset",
    # identity and references
    "duplicate": "a row whose identity repeats an earlier row of the same batch",
    "unknown_subject": "a child row whose subject is neither in the batch nor in the store",
    "case_rejected": "a FAERS DRUG/REAC/OUTC/RPSR/THER/INDI row whose report was rejected",
    "not_in_demo": "a FAERS row whose report is not in the quarter's DEMO file",
    "missing_value": "a FAERS key field (primaryid, caseid, drug_seq, pt) is empty",
    "not_a_number": "a FAERS age or weight that is not a number",
    "not_an_integer": "a FAERS caseversion, drug_seq or DELETE caseid that is not a whole number",
    "drug_rejected": "a FAERS THER or INDI row of a drug that was rejected",
    "no_such_drug": "a FAERS THER or INDI row naming a drug the report does not have",
}
"""Every rule a rejection can name, with its meaning (docs/data_formats.md lists them)."""


class UnknownRule(ValueError):
    """A rejection with a rule that is not in :data:`RULES` (a programming error)."""


def _known(rule: str) -> str:
    if rule not in RULES:
        raise UnknownRule(f"rejection rule {rule!r} is not in etl.rejections.RULES")
    return rule


MAX_VALUE_CHARS = 200
"""Offending values are kept up to this length (a 10 MB field is not copied into the store)."""

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""C0 and C1 control characters and DEL, except tab, line feed and carriage return."""
LINE_CONTROLS = re.compile(r"[\t\n\r]")
"""Tab and line breaks: text layout in free text, never part of an identifier."""


def escape_controls(text: str) -> str:
    r"""``text`` with every control character written as its escape (``\x00``, ``\t``, ``\n``),
    so that a value can be shown and stored (PostgreSQL text cannot hold NUL).

    Examples
    --------
    >>> escape_controls("CR\x00S\tgrade 2")
    'CR\\x00S\\tgrade 2'
    """
    return _ANY_CONTROL.sub(_escape, text)


_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    character = match.group(0)
    return _NAMED.get(character, f"\\x{ord(character):02x}")


def empty() -> pd.DataFrame:
    """A rejection frame with no rows."""
    return pd.DataFrame({column: pd.Series(dtype=object) for column in COLUMNS})


def shorten(values: pd.Series) -> pd.Series:
    """Offending values as text, control characters escaped (:func:`escape_controls`), cut to
    :data:`MAX_VALUE_CHARS` characters."""
    text = values.astype(object).where(values.notna(), None)
    as_text = text.map(lambda v: None if v is None else escape_controls(str(v)))
    too_long = as_text.str.len() > MAX_VALUE_CHARS
    return as_text.where(~too_long, as_text.str.slice(0, MAX_VALUE_CHARS) + "…")


def rejections(
    file: str,
    *,
    rows: pd.Series,
    field: str | pd.Series | None,
    values: pd.Series | None,
    rule: str | pd.Series,
    reason: str | pd.Series,
) -> pd.DataFrame:
    """Rejections for ``rows`` of ``file`` that broke ``rule`` on ``field`` (one for all rows, or
    one per row)."""
    for name in [rule] if isinstance(rule, str) else rule.unique():
        _known(str(name))
    n = len(rows)
    return pd.DataFrame(
        {
            "file": [file] * n,
            "row": rows.to_numpy(),
            "field": field.to_numpy() if isinstance(field, pd.Series) else [field] * n,
            "value": (shorten(values) if values is not None else pd.Series([None] * n)).to_numpy(),
            "rule": rule.to_numpy() if isinstance(rule, pd.Series) else [rule] * n,
            "reason": (
                reason.astype(str).map(escape_controls).to_numpy()
                if isinstance(reason, pd.Series)
                else [escape_controls(reason)] * n
            ),
        }
    )


def file_rejection(file: str, rule: str, reason: str) -> pd.DataFrame:
    """A rejection of a whole file (no row, no field)."""
    _known(rule)
    return pd.DataFrame(
        [
            {
                "file": file,
                "row": None,
                "field": None,
                "value": None,
                "rule": rule,
                "reason": escape_controls(reason),
            }
        ]
    )


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One frame from many (empty frames are skipped)."""
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty()
    return pd.concat(frames, ignore_index=True)
