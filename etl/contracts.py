"""Input contracts (pandera) for the four files of tidy format v1, and their rejections.

A contract checks what a file must look like before its values are interpreted: required columns,
required values, field lengths, and text that looks like a spreadsheet formula or an SQL statement.
Interpreting values (dates, numbers, units, vocabularies, ranges) is :mod:`etl.prepare`'s job.
Validation is lazy: every failing cell becomes a rejection with file, row, field, value and a
reason a data manager understands.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from etl import rejections
from etl.normalise import suspicious_text
from etl.rejections import CONTROL_CHARACTERS, LINE_CONTROLS, escape_controls

ROW = "_row"
"""Column holding the 1-based data row number of each row in its source file."""


class Kind(StrEnum):
    """The four files of tidy format v1 (architecture.md contract 1)."""

    SUBJECTS = "subjects"
    OBSERVATIONS = "observations"
    MEDICATIONS = "medications"
    ADVERSE_EVENTS = "adverse_events"


@dataclass(frozen=True)
class FileContract:
    """Columns of one tidy file: required, optional, which values may not be empty, limits."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    not_empty: tuple[str, ...]
    free_text: tuple[str, ...]
    max_length: dict[str, int]


KEY_LENGTH = 64
TEXT_LENGTH = 255

CONTRACTS: dict[Kind, FileContract] = {
    Kind.SUBJECTS: FileContract(
        required=(
            "subject_id",
            "study_id",
            "site_id",
            "sex",
            "age_years",
            "diagnosis",
            "product",
            "infusion_date",
        ),
        optional=(
            "weight_kg",
            "dose_cells",
            "lymphodepletion",
            "death_date",
            "death_cause",
            "last_contact_date",
        ),
        not_empty=("subject_id", "study_id", "site_id", "product", "infusion_date"),
        free_text=(
            "subject_id",
            "study_id",
            "site_id",
            "product",
            "lymphodepletion",
            "death_cause",
        ),
        max_length={"subject_id": KEY_LENGTH, "study_id": KEY_LENGTH, "site_id": KEY_LENGTH},
    ),
    Kind.OBSERVATIONS: FileContract(
        required=("subject_id", "observed_at", "code", "value", "unit"),
        optional=("other_cause", "source_id"),
        not_empty=("subject_id", "observed_at", "code", "value"),
        free_text=("subject_id", "value", "source_id"),
        max_length={"subject_id": KEY_LENGTH, "source_id": 200},
    ),
    Kind.MEDICATIONS: FileContract(
        required=("subject_id", "drug", "started_at", "ended_at"),
        optional=("dose", "dose_unit", "route", "source_id"),
        not_empty=("subject_id", "drug"),
        free_text=("subject_id", "drug", "dose_unit", "route", "source_id"),
        max_length={"subject_id": KEY_LENGTH, "dose_unit": 32, "route": 32, "source_id": 200},
    ),
    Kind.ADVERSE_EVENTS: FileContract(
        required=(
            "subject_id",
            "term",
            "onset_date",
            "resolved_date",
            "grade",
            "grading_scale",
            "serious",
            "outcome",
        ),
        optional=("source_id",),
        not_empty=("subject_id", "term"),
        free_text=("subject_id", "term", "source_id"),
        max_length={"subject_id": KEY_LENGTH, "source_id": 200},
    ),
}
"""What each tidy file must contain; the columns are those of architecture.md contract 1 (plus
an optional ``source_id`` in every child file to name rows that have no natural key)."""

FILE_NAMES = {kind: f"{kind.value}.csv" for kind in Kind}


class MissingColumns(Exception):
    """A file lacks required columns (a file-level rejection)."""


def check_columns(frame: pd.DataFrame, kind: Kind) -> None:
    """Raise :class:`MissingColumns` with a reason that points at the likely cause."""
    contract = CONTRACTS[kind]
    present = [c for c in frame.columns if c != ROW]
    repeated = repeated_columns(present)
    if repeated:
        raise MissingColumns(repeated)
    missing = [c for c in contract.required if c not in present]
    if not missing:
        return
    reason = f"missing required column(s): {', '.join(missing)}; the file has: {', '.join(present)}"
    if len(present) == 1:
        for separator, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if separator in present[0]:
                reason += f". The header looks separated by {name}: save the file with commas"
    raise MissingColumns(reason)


def repeated_columns(names: list[str]) -> str:
    """Why a header that names a column twice cannot be read (empty when every name is unique).

    Examples
    --------
    >>> repeated_columns(["subject_id", "term", "grade", "term"])
    "the header names the column 'term' twice (columns 2 and 4): each column needs its own name"
    """
    positions: dict[str, list[int]] = {}
    for number, name in enumerate(names, start=1):
        positions.setdefault(str(name), []).append(number)
    twice = {name: numbers for name, numbers in positions.items() if len(numbers) > 1}
    if not twice:
        return ""
    parts = [
        f"the column {escape_controls(repr(name))} "
        + ("twice" if len(numbers) == 2 else f"{len(numbers)} times")
        + f" (columns {', '.join(map(str, numbers[:-1]))} and {numbers[-1]})"
        for name, numbers in twice.items()
    ]
    return "the header names " + "; ".join(parts) + ": each column needs its own name"


def per_distinct_value(values: pd.Series, test: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply a vectorised ``test`` once per distinct value (exports repeat values heavily)."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    outcome = test(pd.Series(distinct, dtype=object)).to_numpy()
    return pd.Series(outcome[codes], index=values.index)


def _not_empty(values: pd.Series) -> pd.Series:
    not_empty: pd.Series = values.str.strip() != ""  # cheap per value: no need to factorize
    return not_empty


def _no_formula(values: pd.Series) -> pd.Series:
    return per_distinct_value(values, lambda s: ~suspicious_text(s)["formula"])


def _no_sql(values: pd.Series) -> pd.Series:
    return per_distinct_value(values, lambda s: ~suspicious_text(s)["sql"])


def _schema(kind: Kind) -> pa.DataFrameSchema:
    contract = CONTRACTS[kind]
    columns: dict[str, pa.Column] = {}
    for name in (*contract.required, *contract.optional):
        checks = []
        if name in contract.not_empty:
            checks.append(pa.Check(_not_empty, name="required"))
        limit = contract.max_length.get(name, TEXT_LENGTH)
        checks.append(
            pa.Check(lambda s, limit=limit: s.str.len() <= limit, name=f"max_length:{limit}")
        )
        if name in contract.free_text:
            checks.append(pa.Check(_no_formula, name="formula"))
            checks.append(pa.Check(_no_sql, name="sql"))
        columns[name] = pa.Column(str, checks=checks, required=name in contract.required)
    return pa.DataFrameSchema(columns, strict=False, coerce=False)


SCHEMAS = {kind: _schema(kind) for kind in Kind}


def _reason(check: str, field: str) -> str:
    if check == "required":
        return f"{field} is empty; a value is required"
    if check.startswith("max_length:"):
        return f"{field} is longer than {check.split(':')[1]} characters"
    if check == "formula":
        return (
            f"{field} starts like a spreadsheet formula (=, +, - or @); remove it or put the "
            "text in quotes so it cannot run when someone opens the file"
        )
    if check == "sql":
        return f"{field} contains what looks like an SQL statement, not clinical data"
    return f"{field} failed the check {check}"


LAYOUT_FIELDS = frozenset({"term", "death_cause", "lymphodepletion", "_verbatim", "_decoded_term"})
"""Free-text fields that may hold a tab or a line break (a spreadsheet cell typed with Alt+Enter
and saved as a quoted CSV field). Everywhere else, identifiers and coded values included, a tab or
a line break inside a value is rejected: ``S-0<newline>01`` would silently be another subject."""

_CONTROL_NAMES = {
    "\x00": "NUL",
    "\x07": "bell",
    "\x08": "backspace",
    "\t": "tab",
    "\n": "line break",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\r": "carriage return",
    "\x1a": "end of file (Ctrl-Z)",
    "\x1b": "escape",
    "\x7f": "delete",
}


def _control_reason(field: str, value: str, pattern: re.Pattern[str]) -> str:
    found = pattern.search(value)
    character = found.group(0) if found else ""
    escaped = escape_controls(character)
    name = _CONTROL_NAMES.get(character) or (
        "a C1 control, often Windows-1252 text read as Latin-1"
        if "\x80" <= character <= "\x9f"
        else "a control character"
    )
    if LINE_CONTROLS.fullmatch(character):
        return (
            f"{field} contains a {name} ({escaped}); only free text (term, death_cause, "
            "lymphodepletion) may span lines or hold tabs: put the value on one line"
        )
    return (
        f"{field} contains the control character {escaped} ({name}), which is not text and "
        "cannot be stored; the file may be corrupt or exported from a binary field: remove it"
    )


def control_characters(frame: pd.DataFrame, kind: Kind, file: str) -> pd.DataFrame:
    r"""Rejections for values with a control character, in the columns of the contract of
    ``kind`` and the internal columns a reader added (``_key``, ``_verbatim``...); other
    columns of the file are not loaded, so what they hold does not matter.

    NUL (which PostgreSQL cannot store), the other C0 controls, DEL and the C1 controls are
    rejected in every field; tab, line feed and carriage return only outside
    :data:`LAYOUT_FIELDS`. The value is shown with the character escaped (``CR\x00S``).
    """
    return _control_characters(frame, kind, file)[1]


def _control_characters(
    frame: pd.DataFrame, kind: Kind, file: str
) -> tuple[pd.Index, pd.DataFrame]:
    """The index of the rows with a control character, and their rejections."""
    contract = CONTRACTS[kind]
    loaded = {*contract.required, *contract.optional}
    found: list[pd.DataFrame] = []
    bad_rows = pd.Index([])
    for column in frame.columns:
        values = frame[column]
        text_column = values.dtype == object or pd.api.types.is_string_dtype(values.dtype)
        checked = column in loaded or (str(column).startswith("_") and column != ROW)
        if not checked or not text_column or not len(values):
            continue
        pattern = CONTROL_CHARACTERS if column in LAYOUT_FIELDS else _ANY_CONTROL
        try:
            joined = "".join(values.tolist())
        except TypeError:  # a reader left None or a number among the text
            values = values.where(values.map(lambda v: isinstance(v, str)), "")
            joined = "".join(values.tolist())
        if not pattern.search(joined):  # one scan of the whole column, in C
            continue
        bad = per_distinct_value(values, functools.partial(_contains, pattern=pattern))
        picked = values[bad.astype(bool)]
        bad_rows = bad_rows.union(picked.index)
        found.append(
            rejections.rejections(
                file,
                rows=frame.loc[picked.index, ROW],
                field=str(column),
                values=picked,
                rule="control_character",
                reason=picked.map(lambda v, c=str(column), p=pattern: _control_reason(c, v, p)),
            )
        )
    return bad_rows, rejections.combine(found)


_ANY_CONTROL = re.compile(f"{CONTROL_CHARACTERS.pattern}|{LINE_CONTROLS.pattern}")


def _contains(values: pd.Series, *, pattern: re.Pattern[str]) -> pd.Series:
    found: pd.Series = values.str.contains(pattern)
    return found


def validate(frame: pd.DataFrame, kind: Kind, file: str) -> tuple[pd.Series, pd.DataFrame]:
    """Check ``frame`` (text columns and ``_row``) against the contract of ``kind``, control
    characters included (:func:`control_characters`).

    Returns a mask of the rows that passed and the rejections of the others.
    """
    repeated = repeated_columns([str(c) for c in frame.columns if c != ROW])
    if repeated:  # a reader that does not check its header (the tidy reader does)
        return pd.Series(False, index=frame.index), rejections.file_rejection(
            file, "columns", repeated
        )
    passed, found = _validate_schema(frame, kind, file)
    bad_rows, controls = _control_characters(frame, kind, file)
    if not len(controls):
        return passed, found
    passed &= ~frame.index.isin(bad_rows)
    return passed, rejections.combine([found, controls])


def _validate_schema(frame: pd.DataFrame, kind: Kind, file: str) -> tuple[pd.Series, pd.DataFrame]:
    try:
        SCHEMAS[kind].validate(frame, lazy=True)
    except SchemaErrors as error:
        cases = error.failure_cases
        cases = cases[cases["index"].notna() & cases["column"].notna()]
        index = cases["index"].astype(int)
        found = rejections.rejections(
            file,
            rows=frame.loc[index, ROW].reset_index(drop=True),
            field=cases["column"].astype(str).reset_index(drop=True),
            values=cases["failure_case"].reset_index(drop=True),
            rule=cases["check"].astype(str).str.split(":").str[0].reset_index(drop=True),
            reason=pd.Series(
                [
                    _reason(str(check), str(column))
                    for check, column in zip(cases["check"], cases["column"], strict=True)
                ]
            ),
        )
        good = ~frame.index.isin(index)
        return pd.Series(good, index=frame.index), found
    return pd.Series(True, index=frame.index), rejections.empty()
