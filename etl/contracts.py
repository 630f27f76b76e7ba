"""Input contracts (pandera) for the four files of tidy format v1, and their rejections.

A contract checks what a file must look like before its values are interpreted: required columns,
required values, field lengths, and text that looks like a spreadsheet formula or an SQL statement.
Interpreting values (dates, numbers, units, vocabularies, ranges) is :mod:`etl.prepare`'s job.
Validation is lazy: every failing cell becomes a rejection with file, row, field, value and a
reason a data manager understands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from etl import rejections
from etl.normalise import suspicious_text

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
    missing = [c for c in contract.required if c not in present]
    if not missing:
        return
    reason = f"missing required column(s): {', '.join(missing)}; the file has: {', '.join(present)}"
    if len(present) == 1:
        for separator, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if separator in present[0]:
                reason += f". The header looks separated by {name}: save the file with commas"
    raise MissingColumns(reason)


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


def validate(frame: pd.DataFrame, kind: Kind, file: str) -> tuple[pd.Series, pd.DataFrame]:
    """Check ``frame`` (text columns and ``_row``) against the contract of ``kind``.

    Returns a mask of the rows that passed and the rejections of the others.
    """
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
