"""Reader of a site's own spreadsheet or CSV export, described by a mapping file (YAML).

``pv-monitor load PATH... --format mapping:FILE.yaml`` reads the files a mapping names (looked
up in the folders or files given as ``PATH``) and turns them into tidy format v1 rows
(docs/data_formats.md), so that a new site needs a mapping, not code. The reader only moves and
recodes values; interpreting them (numbers, units, dates, vocabularies, ranges) stays with the
contracts and :mod:`etl.prepare`, which reject what they cannot accept with file, row and value.

The mapping format (version 1)
------------------------------

Top-level keys (``files`` and at least one of the other sections are required)::

    mapping_version: 1            # required
    description: free text        # optional, ignored
    missing_values: [NA, "---"]   # cell texts read as missing (default: "", NA, ., NULL, N/A)
    files: {...}                  # the data files, by a name of your choice
    value_maps: {...}             # named recodings of cell values
    subjects: {...}               # one row per subject
    observations: [...]           # entries producing observations (labs, vitals, cytokines)
    adverse_events: [...]         # entries producing adverse events
    medications: [...]            # entries producing medications

``files``: ``NAME: {path, format, sheet, header_rows, delimiter, encoding, subject_id,
missing_values}``. ``path`` is a file name (or a path relative to a given folder) looked up in
every ``PATH``; it must stay inside the folder (an absolute path, or one that leaves the folder,
also through a symbolic link, is refused without opening the file); ``format`` is ``csv`` or
``excel`` (default: ``excel`` for .xlsx/.xlsm, else ``csv``); ``sheet`` (excel; default the
first sheet); ``header_rows`` (default 1); ``delimiter`` (csv, default ``,``) and ``encoding``
(csv; when not given, UTF-8 (a byte-order mark dropped), else Windows-1252, noted, as for
SDTM and tidy CSV; a given encoding is used as given); ``subject_id``: the column holding the
subject's identifier (required); ``missing_values``: see below.

Missing values: in every column the mapping uses, a cell whose text is one of the missing
values (compared ignoring case and surrounding spaces, numbers by value) is read as empty, and
counted in the notes. The list that applies to a file is its own ``missing_values``, else the
top-level one, else :data:`DEFAULT_MISSING_VALUES` (``""``, ``NA``, ``.``, ``NULL``, ``N/A``);
a list replaces the one above it (write the defaults again to keep them), and an empty cell is
always missing, so ``missing_values: [""]`` turns every other literal off. An unquoted YAML
``NULL`` or ``~`` stands for the text NULL; quote ``yes``/``no``/``on``/``off``.

Columns are referenced by their header text. When ``header_rows`` is more than 1 a column's
name is its *header path*: the texts of its header cells from top to bottom joined by ``/``,
e.g. ``"Inflammatory Markers / Day 7 (5-9) Timepoint / CRP (mg/L)"`` (or as a YAML list of the
parts). A blank upper header cell belongs to the label on its left (merged cells), within the
same parent label. Matching ignores case, Unicode width variants and surrounding or repeated
spaces (``' Ferritin (ug/L) '`` matches ``Ferritin (ug/L)``). A reference that matches no
column, or several, is an error naming the entry and the closest existing headers.

Fields of entries take one of three forms:

* *constant*: ``{constant: VALUE}``, or a plain YAML value, e.g. ``unit: mg/L`` (``code``,
  ``unit``, ``term``, ``grading_scale``, ``drug``, ``dose_unit``, ``route``, ``serious``,
  ``outcome``, ``other_cause``, ``specimen`` and the subject fields);
* *column*: ``{column: HEADER, map: VALUE_MAP}`` (``map`` optional) for any of those;
* fields that always come from a column (``value``, ``grade``, ``given``, ``dose``,
  ``verbatim``, a file's ``subject_id``) also accept the header text alone.

A plain text that is also a column's header (its whole header path or its last part) is
refused as ambiguous, with a message showing both ``{column: ...}`` and ``{constant: ...}``;
except the ``code``, ``term`` or ``drug`` of an entry naming the very column its ``value``,
``grade`` or ``given`` is read from (``code: CRP, value: CRP``: a column cannot be both). The
numeric subject fields ``age_years``, ``weight_kg`` and ``dose_cells`` take a number or a
column: plain text there (``age_years: Age``) is always refused.

Times (``at``, ``onset``, ``resolved``, ``started``, ``ended``, ``death_date``,
``last_contact_date``) are ``{day: COLUMN}``: days after the infusion, fractions giving the
time of day (rounded to the minute); ``{nominal_day: N}``: a fixed day, used alone or as the
fallback when the ``day`` (or ``date``) cell is empty (date only); or ``{date: COLUMN,
format: FORMAT}``: a calendar date or date-time, ``format`` in ``strftime`` codes (default:
ISO 8601 as written; Excel date cells need no format). A whole number of days gives
``YYYY-MM-DD``, a fraction ``YYYY-MM-DDTHH:MM``. A day or date that cannot be read is passed on
as written, so that the pipeline rejects it with its row.

``subjects``: ``file`` (required); ``when`` (only rows meeting it are subjects; the others
are counted in the notes); ``study_id``, ``site_id``, ``product`` (required; constants when
the export does not name them, and the notes say which came from the mapping and which from a
column);
``target_antigen`` (of an investigational product, e.g. ``CD22``); ``diagnosis``, ``sex``,
``age_years``, ``weight_kg``, ``dose_cells``, ``lymphodepletion``, ``death_cause``;
``infusion_date`` (required): ``relative`` when the export has no calendar dates, only days
after the infusion (every subject's day 0 is then :data:`ANCHOR_DATE` and the infusion is
flagged ``day_zero_anchored``), or a time ``{date: COLUMN, format: ...}``; ``death_date``,
``last_contact_date``. A mapping with ``infusion_date: relative`` cannot map calendar dates.

``observations`` entries: ``code`` and ``value`` (required), ``unit``, ``at`` (required),
``other_cause``, ``specimen``. A constant ``code`` reads a *wide* column (one value column per
code and timepoint); ``code: {column: ..., map: ...}`` reads a *long* file (one row per
analyte). Rows with an empty value are skipped and counted.

``adverse_events`` entries: ``term`` (required), ``grade``, ``grading_scale``, ``onset``,
``resolved``, ``serious``, ``outcome``, ``verbatim``. With ``grade``, a row is produced for
every non-empty grade, 0 included (a reported 0 is information); without, for every row.

``medications`` entries: ``drug`` (required) and ``given`` and/or ``started``; ``ended``,
``dose``, ``dose_unit``, ``route``. ``given`` is a yes/no column (1/0, yes/no, true/false,
after its value map): a row is produced when it says yes, with ``started_at`` from ``started``
or, when the start is unknown, empty and marked as such. Without ``given``, a row is produced
for every non-empty start.

Every entry also takes ``file`` (the ``files`` name; default: the only file), ``name`` (used in
messages and notes), ``when: {column: COLUMN, equals: VALUE or [VALUES]}`` (only rows whose cell
equals one of the values, compared like value-map keys, after missing values; ``""`` or null
selects empty cells) and ``key``: the row's stable identity per subject. Default keys:
``CODE|day N`` with a nominal day, else ``CODE|`` plus the day or date as read; ``TERM|SCALE``
(plus the onset when the term comes from a column); ``DRUG`` with ``given``, else ``DRUG|``
plus the start as read. Keys must be unique within a section, except between *branches*:
entries of the same file whose ``when`` conditions are on the same column with no value in
common read different rows, so they may repeat a code (term, drug) and its key with another
``unit`` (or any other field), e.g. one entry per cohort when two cohorts record in different
units. Rows that none of the branches of a code reads (a third cohort, an empty or misspelt
cohort) are counted in the notes with their values.

``value_maps``: ``NAME: {SOURCE TEXT: VALUE, ...}``. Keys match ignoring case and spaces, and
numbers by value (``1`` matches ``1.0``); a ``null`` value means missing. A value not in the map
is passed on unchanged, so that the contracts and the normalisation accept or reject it. Quote
``yes``, ``no``, ``on`` and ``off`` (YAML reads them as booleans).

A short example (a site CSV with one row per patient)::

    mapping_version: 1
    missing_values: ["N/A"]
    files:
      patients: {path: patients.csv, subject_id: Patient}
    value_maps:
      sex: {"1": M, "2": F}
    subjects:
      file: patients
      study_id: SITE-ALL-01
      site_id: "001"
      product: tisagenlecleucel
      diagnosis: B-ALL
      sex: {column: Sex, map: sex}
      infusion_date: {date: Infusion, format: "%d/%m/%Y"}
    observations:
      - {code: CRP, value: CRP day 7, unit: mg/L, at: {nominal_day: 7}}
    adverse_events:
      - term: Cytokine release syndrome
        grade: CRS grade
        grading_scale: astct_2019
        onset: {date: CRS onset, format: "%d/%m/%Y"}
    medications:
      - {drug: tocilizumab, given: Tocilizumab (Y/N)}

Output: chunks whose frames hold every tidy format v1 column of their kind as text ("" when
missing), ``_row`` (the 1-based data row in the source file: header rows excluded, so an
Excel row number is ``_row`` plus ``header_rows``; the tidy rows of one wide source row share
it), ``_key``, and the internal columns ``_day_zero_anchored`` and ``_target_antigen``
(subjects), ``_specimen`` (observations), ``_started_unknown`` (medications) and ``_verbatim``
(adverse events). Entirely blank rows, empty values and rows outside a ``when`` are skipped and
counted in the load's notes. Every file given (every file under a given folder) is accounted
for in :attr:`ReadLog.uses`: the mapping file and the files it names are used, every other file
is ignored ("not used by the mapping"), and a named file that cannot be read is unreadable and a
file-level rejection. A mapping that is not valid, names a file, sheet or column that does not
exist, or a path outside the folders given, raises :class:`MappingError` before anything is
loaded. ``pv-monitor mapping check MAPPING FOLDER`` (:mod:`etl.dry_run`) shows what a load would
store and reject, without a store.

Examples
--------
>>> days_to_iso(pd.Series(["7.2458333333343035", "10", "-0.718055555553", "", "soon"])).tolist()
['2000-01-08T05:54', '2000-01-11', '1999-12-31T06:46', '', 'soon']
"""

from __future__ import annotations

import csv
import difflib
import math
import re
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from etl import rejections
from etl.contracts import CONTRACTS, Kind
from etl.sources import IGNORED, UNREADABLE, USED, Chunk, ExportError, ReadLog
from etl.sources.files import (
    AUTO,
    CHUNK_ROWS,
    ROW,
    FileProblem,
    SourceFile,
    read_csv_chunks,
    text_encoding,
)
from pv_monitor.vocabulary import VALUE_ALIASES

ANCHOR_DATE = date(2000, 1, 1)
"""Day 0 of every subject when an export gives only days after the infusion."""
MAPPING_VERSION = 1
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
MAX_DAYS = 100_000
"""Days after infusion beyond this are not a time (passed on as written, then rejected)."""
KEY = "_key"

_ANCHOR = pd.Timestamp(ANCHOR_DATE)
_TIME_CODES = ("%H", "%I", "%M", "%S", "%p", "%X", "%c", "%T", "%R")
_BOOLEAN = {"true": "true", "false": "false"} | {
    k.replace("_", " "): v for k, v in VALUE_ALIASES["BOOLEAN"].items()
}


class MappingError(ExportError):
    """The mapping file is not valid, or names a file, sheet or column that does not exist."""


# ------------------------------------------------------------------------------------------
# text helpers


def _clean(text: str) -> str:
    """Header or cell text with width variants folded and spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).replace("\ufeff", "").replace("\u200b", "")
    return re.sub(r"\s+", " ", text).strip()


def _norm_header(text: str) -> str:
    """A header (path) as matched: cleaned, case-folded, no spaces around ``/``."""
    return re.sub(r"\s*/\s*", "/", _clean(text).casefold())


def _number_text(value: float) -> str:
    """``7.0`` -> ``7``; other numbers in their shortest exact form."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _canonical(text: str) -> str:
    """A value as compared with value-map keys, missing values and conditions."""
    folded = _clean(text).casefold()
    try:
        number = float(folded)
    except ValueError:
        return folded
    return _number_text(number) if math.isfinite(number) else folded


def _per_distinct(values: pd.Series, function: Callable[[str], Any]) -> pd.Series:
    """Apply ``function`` once per distinct value (exports repeat values heavily)."""
    codes, distinct = pd.factorize(values.astype(object), use_na_sentinel=False)
    results = np.array([function(str(v)) for v in distinct], dtype=object)
    return pd.Series(results[codes] if len(codes) else [], index=values.index, dtype=object)


def _cell_text(value: object) -> str:
    """An Excel cell as text: whole numbers without ``.0``, dates in ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "" if math.isnan(value) else _number_text(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%dT%H:%M:%S" if value.second else "%Y-%m-%dT%H:%M")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _number_text(value.total_seconds() / 86400)
    return str(value).strip()


def _yaml_text(value: object) -> str | None:
    """A constant written in the mapping, as text (None for null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_text(float(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value.strip()
    raise TypeError(type(value).__name__)


def _described(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def days_to_iso(days: pd.Series, base: pd.Series | None = None) -> pd.Series:
    """Days after the infusion (text) as ISO 8601 text, counted from ``base`` (default:
    :data:`ANCHOR_DATE` for every row).

    Whole days give a date, fractions a date-time rounded to the minute; empty stays empty and
    text that is not a number is returned as written (for the pipeline to reject).
    """
    text = days.fillna("").astype(str).str.strip()
    number = pd.to_numeric(text.where(text != "", None), errors="coerce").astype(float)
    number = number.where(number.abs() <= MAX_DAYS)
    start = pd.Series(_ANCHOR, index=text.index) if base is None else base
    minutes = (number * 1440).round()
    stamp = start + pd.to_timedelta(minutes, unit="min")
    whole = number == np.floor(number)
    iso = stamp.dt.strftime("%Y-%m-%dT%H:%M").where(~whole, stamp.dt.strftime("%Y-%m-%d"))
    out = text.astype(object).copy()
    readable = stamp.notna()
    out[readable] = iso[readable]
    return out


def _dates_to_iso(text: pd.Series, date_format: str | None) -> pd.Series:
    """Calendar dates as ISO 8601 text; unreadable text is returned as written."""
    text = text.fillna("").astype(str).str.strip()
    if date_format is None:
        return text.astype(object)
    parsed = pd.to_datetime(text.where(text != "", None), format=date_format, errors="coerce")
    with_time = any(code in date_format for code in _TIME_CODES)
    pattern = "%Y-%m-%dT%H:%M" if with_time else "%Y-%m-%d"
    if with_time and "%S" in date_format:
        pattern += ":%S"
    out = text.astype(object).copy()
    readable = parsed.notna()
    out[readable] = parsed[readable].dt.strftime(pattern)
    return out


# ------------------------------------------------------------------------------------------
# the mapping, validated


@dataclass(frozen=True)
class ColumnRef:
    """A column named in the mapping: its header text or header path parts."""

    text: str
    parts: tuple[str, ...] | None
    where: str

    def matches(self, header: tuple[str, ...]) -> bool:
        """Whether ``header`` (a column's header path) is the one named."""
        if self.parts is not None:
            return tuple(_norm_header(p) for p in header) == self.parts
        return _norm_header("/".join(header)) == _norm_header(self.text)

    def same(self, other: ColumnRef) -> bool:
        """Whether ``other`` names the same column as this reference (as written)."""
        if self.parts is not None or other.parts is not None:
            mine = self.parts or tuple(_norm_header(self.text).split("/"))
            theirs = other.parts or tuple(_norm_header(other.text).split("/"))
            return mine == theirs
        return _norm_header(self.text) == _norm_header(other.text)


@dataclass(frozen=True)
class FieldSpec:
    """A constant, or a column with an optional value map."""

    constant: str | None = None
    column: ColumnRef | None = None
    value_map: str | None = None
    bare: bool = False
    """A constant written as plain text (not ``{constant: ...}``): refused when it names a
    column of the file (see :meth:`MappingSource._check_bare_constants`)."""


@dataclass(frozen=True)
class TimeSpec:
    """Days after infusion (``day``, ``nominal_day``) or a calendar date (``date``)."""

    where: str
    day: ColumnRef | None = None
    nominal_day: float | None = None
    date: ColumnRef | None = None
    date_format: str | None = None


@dataclass(frozen=True)
class Condition:
    """Rows whose cell equals one of the values (compared canonically)."""

    column: ColumnRef
    equals: tuple[str, ...]
    written: tuple[str, ...] = ()
    """The values as the mapping writes them (for messages)."""

    def shown(self) -> str:
        """The values as a message shows them (an empty cell as ``empty``)."""
        return " or ".join(repr(v) if v else "empty" for v in self.written or self.equals)


@dataclass(frozen=True)
class FileSpec:
    """One data file of the mapping."""

    name: str
    path: str
    format: Literal["csv", "excel"]
    sheet: str | None
    header_rows: int
    delimiter: str
    encoding: str
    subject_id: ColumnRef
    missing_values: frozenset[str] | None = None
    """The file's own missing-value texts (canonical), replacing the top-level list."""


@dataclass(frozen=True)
class SubjectsSpec:
    """Where subjects come from."""

    file: str
    fields: dict[str, FieldSpec]
    relative: bool
    infusion: TimeSpec | None
    times: dict[str, TimeSpec]
    when: Condition | None = None


@dataclass(frozen=True)
class EntrySpec:
    """One entry of observations, adverse_events or medications."""

    kind: Kind
    where: str
    name: str
    file: str
    fields: dict[str, FieldSpec]
    times: dict[str, TimeSpec]
    given: FieldSpec | None
    when: Condition | None
    key: str | None


@dataclass(frozen=True)
class Mapping:
    """A validated mapping file."""

    files: dict[str, FileSpec]
    missing_values: frozenset[str]
    value_maps: dict[str, dict[str, str | None]]
    subjects: SubjectsSpec | None
    entries: tuple[EntrySpec, ...]


_TOP_KEYS = (
    "mapping_version",
    "description",
    "missing_values",
    "files",
    "value_maps",
    "subjects",
    "observations",
    "adverse_events",
    "medications",
)
_FILE_KEYS = (
    "path",
    "format",
    "sheet",
    "header_rows",
    "delimiter",
    "encoding",
    "subject_id",
    "missing_values",
)
DEFAULT_MISSING_VALUES = ("", "NA", ".", "NULL", "N/A")
"""Cell texts read as missing in the columns a mapping uses, unless the mapping lists its own
(compared ignoring case and surrounding spaces): R's ``NA``, SAS's ``.``, database ``NULL`` and
``N/A``. An empty cell is always missing."""
_NUMERIC_SUBJECT_FIELDS = ("age_years", "weight_kg", "dose_cells")
_SUBJECT_TEXT = {
    "study_id": True,
    "site_id": True,
    "product": True,
    "target_antigen": False,
    "diagnosis": False,
    "sex": False,
    "age_years": False,
    "weight_kg": False,
    "dose_cells": False,
    "lymphodepletion": False,
    "death_cause": False,
}
_SUBJECT_TIMES = ("death_date", "last_contact_date")
_ENTRY_COMMON = ("name", "file", "when", "key")

# section -> (kind, {yaml key: (output column, form, required)}); forms: text (constant or
# column), column (always a column), time.
_Form = Literal["text", "column", "time"]
_SECTIONS: dict[str, tuple[Kind, dict[str, tuple[str, _Form, bool]]]] = {
    "observations": (
        Kind.OBSERVATIONS,
        {
            "code": ("code", "text", True),
            "value": ("value", "column", True),
            "unit": ("unit", "text", False),
            "at": ("observed_at", "time", True),
            "other_cause": ("other_cause", "text", False),
            "specimen": ("_specimen", "text", False),
        },
    ),
    "adverse_events": (
        Kind.ADVERSE_EVENTS,
        {
            "term": ("term", "text", True),
            "grade": ("grade", "column", False),
            "grading_scale": ("grading_scale", "text", False),
            "onset": ("onset_date", "time", False),
            "resolved": ("resolved_date", "time", False),
            "serious": ("serious", "text", False),
            "outcome": ("outcome", "text", False),
            "verbatim": ("_verbatim", "column", False),
        },
    ),
    "medications": (
        Kind.MEDICATIONS,
        {
            "drug": ("drug", "text", True),
            "given": ("given", "column", False),
            "started": ("started_at", "time", False),
            "ended": ("ended_at", "time", False),
            "dose": ("dose", "column", False),
            "dose_unit": ("dose_unit", "text", False),
            "route": ("route", "text", False),
        },
    ),
}
_INTERNAL = {
    Kind.SUBJECTS: ("_day_zero_anchored", "_target_antigen"),
    Kind.OBSERVATIONS: ("_specimen",),
    Kind.MEDICATIONS: ("_started_unknown",),
    Kind.ADVERSE_EVENTS: ("_verbatim",),
}


class _Parser:
    """Validates the YAML of a mapping file, with messages that say where the problem is."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, where: str, message: str) -> MappingError:
        return MappingError(f"mapping {self.source}: {where}: {message}")

    def mapping(self, value: object, where: str, allowed: Sequence[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(where, f"expected a mapping of keys, got {_described(value)}")
        for key in value:
            if not isinstance(key, str) or key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error(
                    where,
                    f"unknown key {key!r}{hint}; allowed: {', '.join(allowed)}",
                )
        return value

    def text(self, value: object, where: str) -> str:
        try:
            text = _yaml_text(value)
        except TypeError:
            text = None
        if text is None or text == "":
            raise self.error(where, f"expected a text value, got {_described(value)}")
        return text

    def column(self, value: object, where: str) -> ColumnRef:
        if isinstance(value, list) and value and all(isinstance(p, str) for p in value):
            parts = tuple(_norm_header(p) for p in value)
            return ColumnRef(" / ".join(value), parts, where)
        if isinstance(value, str) and value.strip():
            return ColumnRef(value.strip(), None, where)
        raise self.error(
            where, f"expected a column header (text, or a list of header parts), got "
            f"{_described(value)}"
        )  # fmt: skip

    def field(self, value: object, where: str, form: _Form, maps: dict[str, Any]) -> FieldSpec:
        if isinstance(value, dict):
            spec = self.mapping(value, where, ("column", "map", "constant"))
            if ("column" in spec) == ("constant" in spec):
                raise self.error(where, "give either column (with an optional map) or constant")
            if "constant" in spec:
                if form == "column":
                    raise self.error(where, "this field is always read from a column")
                return FieldSpec(constant=self.text(spec["constant"], where + ".constant"))
            value_map = None
            if "map" in spec:
                value_map = self.text(spec["map"], where + ".map")
                if value_map not in maps:
                    raise self.error(
                        where + ".map",
                        f"no value map {value_map!r}; value_maps has: "
                        f"{', '.join(maps) or 'nothing'}",
                    )
            return FieldSpec(
                column=self.column(spec["column"], where + ".column"), value_map=value_map
            )
        if form == "column":
            return FieldSpec(column=self.column(value, where))
        return FieldSpec(constant=self.text(value, where), bare=isinstance(value, str))

    def time(self, value: object, where: str, relative: bool | None) -> TimeSpec:
        spec = self.mapping(value, where, ("day", "nominal_day", "date", "format"))
        day = self.column(spec["day"], where + ".day") if "day" in spec else None
        when = self.column(spec["date"], where + ".date") if "date" in spec else None
        nominal = spec.get("nominal_day")
        if nominal is not None and (
            isinstance(nominal, bool) or not isinstance(nominal, int | float)
        ):
            raise self.error(
                where + ".nominal_day", f"expected a number, got {_described(nominal)}"
            )
        date_format = self.text(spec["format"], where + ".format") if "format" in spec else None
        if day is None and when is None and nominal is None:
            raise self.error(
                where, "give day (a column), nominal_day (a number) or date (a column)"
            )
        if when is not None and day is not None:
            raise self.error(where, "give day or date, not both")
        if date_format is not None and when is None:
            raise self.error(where + ".format", "format applies to date columns only")
        if when is not None and relative:
            raise self.error(
                where + ".date",
                "subjects.infusion_date is relative (days after infusion only), so calendar "
                "dates cannot be mapped; use day",
            )
        if (day is not None or nominal is not None) and relative is None:
            raise self.error(
                where, "days after infusion need the subjects section (its infusion_date)"
            )
        nominal_day = None if nominal is None else float(nominal)
        return TimeSpec(where, day=day, nominal_day=nominal_day, date=when, date_format=date_format)

    def parse(self, document: object) -> Mapping:
        top = self.mapping(document, "top level", _TOP_KEYS)
        if top.get("mapping_version") != MAPPING_VERSION:
            raise self.error(
                "mapping_version",
                f"must be {MAPPING_VERSION}, got {_described(top.get('mapping_version'))}",
            )
        missing_values = self.missing_values(top.get("missing_values"), "missing_values")
        if missing_values is None:
            missing_values = frozenset(_canonical(v) for v in DEFAULT_MISSING_VALUES)
        maps = self.value_maps(top.get("value_maps", {}))
        files = self.files(top.get("files"))
        subjects = None
        if "subjects" in top:
            subjects = self.subjects(top["subjects"], files, maps)
        relative = None if subjects is None else subjects.relative
        entries: list[EntrySpec] = []
        for section, (kind, keys) in _SECTIONS.items():
            items = top.get(section, [])
            if not isinstance(items, list):
                raise self.error(section, f"expected a list of entries, got {_described(items)}")
            for number, item in enumerate(items):
                entries.append(
                    self.entry(item, f"{section}[{number}]", kind, keys, files, maps, relative)
                )
        if subjects is None and not entries:
            raise self.error("top level", "map subjects and/or at least one entry")
        self.unique_keys(entries)
        return Mapping(files, missing_values, maps, subjects, tuple(entries))

    def missing_values(self, value: object, where: str) -> frozenset[str] | None:
        """A ``missing_values`` list (canonical texts; empty always included), None if absent.

        YAML reads an unquoted ``NULL`` or ``~`` as null: it stands for the text NULL.
        """
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.error(where, f"expected a list of cell texts, got {_described(value)}")
        texts = {""}
        for number, item in enumerate(value):
            if isinstance(item, bool):
                raise self.error(
                    f"{where}[{number}]",
                    "quote yes, no, on, off, true and false: YAML reads them unquoted as booleans",
                )
            if item is None:
                texts.add("null")
                continue
            if isinstance(item, list | dict):
                raise self.error(
                    f"{where}[{number}]", f"expected a cell text, got {_described(item)}"
                )
            texts.add(_canonical(_yaml_text(item) or ""))
        return frozenset(texts)

    def value_maps(self, value: object) -> dict[str, dict[str, str | None]]:
        if not isinstance(value, dict):
            raise self.error("value_maps", f"expected a mapping, got {_described(value)}")
        maps: dict[str, dict[str, str | None]] = {}
        for name, table in value.items():
            where = f"value_maps.{name}"
            if not isinstance(table, dict) or not table:
                raise self.error(
                    where, f"expected source text: value pairs, got {_described(table)}"
                )
            recode: dict[str, str | None] = {}
            for key, target in table.items():
                for item in (key, target):
                    if isinstance(item, bool):
                        raise self.error(
                            where,
                            "quote yes, no, on, off, true and false: YAML reads them unquoted "
                            "as booleans",
                        )
                if isinstance(key, list | dict) or isinstance(target, list | dict):
                    raise self.error(where, f"{key!r}: keys and values must be plain values")
                source = "" if key is None else _yaml_text(key)
                recode[_canonical(source or "")] = _yaml_text(target) or None
            maps[str(name)] = recode
        return maps

    def files(self, value: object) -> dict[str, FileSpec]:
        if not isinstance(value, dict) or not value:
            raise self.error("files", f"expected at least one named file, got {_described(value)}")
        files: dict[str, FileSpec] = {}
        for name, item in value.items():
            where = f"files.{name}"
            spec = self.mapping(item, where, _FILE_KEYS)
            if "path" not in spec:
                raise self.error(where, "path is required")
            path = self.text(spec["path"], where + ".path")
            if any(ord(c) < 32 for c in path):
                raise self.error(where + ".path", "a file name cannot hold control characters")
            if Path(path).is_absolute():
                raise self.error(
                    where + ".path",
                    "give the file name (or a path relative to the folder given to the load), "
                    "not an absolute path",
                )
            default = "excel" if Path(path).suffix.lower() in EXCEL_SUFFIXES else "csv"
            file_format = self.text(spec.get("format", default), where + ".format")
            if file_format not in ("csv", "excel"):
                raise self.error(where + ".format", f"must be csv or excel, got {file_format!r}")
            header_rows = spec.get("header_rows", 1)
            if isinstance(header_rows, bool) or not isinstance(header_rows, int) or header_rows < 1:
                raise self.error(where + ".header_rows", "must be a whole number of at least 1")
            sheet = self.text(spec["sheet"], where + ".sheet") if "sheet" in spec else None
            delimiter = str(spec.get("delimiter", ","))
            encoding = self.text(spec.get("encoding", AUTO), where + ".encoding")
            if file_format == "excel" and ("delimiter" in spec or "encoding" in spec):
                raise self.error(where, "delimiter and encoding apply to csv files only")
            if file_format == "csv" and sheet is not None:
                raise self.error(where + ".sheet", "sheet applies to excel files only")
            if len(delimiter) != 1:
                raise self.error(where + ".delimiter", f"must be one character, got {delimiter!r}")
            if "subject_id" not in spec:
                raise self.error(
                    where, "subject_id (the column of subject identifiers) is required"
                )
            files[str(name)] = FileSpec(
                name=str(name),
                path=path,
                format="excel" if file_format == "excel" else "csv",
                sheet=sheet,
                header_rows=header_rows,
                delimiter=delimiter,
                encoding=encoding,
                subject_id=self.column(spec["subject_id"], where + ".subject_id"),
                missing_values=self.missing_values(
                    spec.get("missing_values"), where + ".missing_values"
                ),
            )
        return files

    def file_of(self, spec: dict[str, Any], where: str, files: dict[str, FileSpec]) -> str:
        if "file" not in spec:
            if len(files) == 1:
                return next(iter(files))
            raise self.error(where, f"file is required (one of: {', '.join(files)})")
        name = self.text(spec["file"], where + ".file")
        if name not in files:
            raise self.error(where + ".file", f"no file {name!r} in files ({', '.join(files)})")
        return name

    def subjects(
        self, value: object, files: dict[str, FileSpec], maps: dict[str, Any]
    ) -> SubjectsSpec:
        allowed = ("file", "when", "infusion_date", *_SUBJECT_TEXT, *_SUBJECT_TIMES)
        spec = self.mapping(value, "subjects", allowed)
        file = self.file_of(spec, "subjects", files)
        fields: dict[str, FieldSpec] = {}
        for name, required in _SUBJECT_TEXT.items():
            if name in spec:
                fields[name] = self.field(spec[name], f"subjects.{name}", "text", maps)
                if name in _NUMERIC_SUBJECT_FIELDS:
                    self.numeric_constant(spec[name], fields[name], f"subjects.{name}")
            elif required:
                raise self.error("subjects", f"{name} is required")
        when = self.condition(spec["when"], "subjects.when") if "when" in spec else None
        if "infusion_date" not in spec:
            raise self.error("subjects", "infusion_date is required (relative, or {date: ...})")
        infusion = spec["infusion_date"]
        relative = isinstance(infusion, str) and infusion.strip().lower() == "relative"
        infusion_time = None
        if not relative:
            if not isinstance(infusion, dict) or "date" not in infusion:
                raise self.error(
                    "subjects.infusion_date",
                    "must be relative (only days after infusion are known) or "
                    "{date: COLUMN, format: ...}",
                )
            self.mapping(infusion, "subjects.infusion_date", ("date", "format"))
            infusion_time = self.time(infusion, "subjects.infusion_date", relative=False)
        times = {
            name: self.time(spec[name], f"subjects.{name}", relative)
            for name in _SUBJECT_TIMES
            if name in spec
        }
        return SubjectsSpec(file, fields, relative, infusion_time, times, when)

    def numeric_constant(self, value: object, spec: FieldSpec, where: str) -> None:
        """Refuse text where a number is meant: ``age_years: Age`` is a column, not an age."""
        if not spec.bare or not isinstance(value, str):
            return
        try:
            float(value.strip().replace(",", "."))
        except ValueError:
            name = where.rsplit(".", 1)[-1]
            raise self.error(
                where,
                f"{value.strip()!r} is text, but {name} is a number. To read each subject's "
                f"value from a column write {name}: {{column: {value.strip()}}}; for the same "
                f"value for every subject write a number (e.g. {name}: 40) or "
                f"{name}: {{constant: ...}}",
            ) from None

    def entry(
        self,
        value: object,
        where: str,
        kind: Kind,
        keys: dict[str, tuple[str, _Form, bool]],
        files: dict[str, FileSpec],
        maps: dict[str, Any],
        relative: bool | None,
    ) -> EntrySpec:
        spec = self.mapping(value, where, (*keys, *_ENTRY_COMMON))
        name = self.text(spec["name"], where + ".name") if "name" in spec else None
        first = next(k for k, (_, _, required) in keys.items() if required)
        if first in spec and not isinstance(spec[first], dict):
            where = f"{where} ({name or self.text(spec[first], where + '.' + first)})"
        elif name:
            where = f"{where} ({name})"
        file = self.file_of(spec, where, files)
        fields: dict[str, FieldSpec] = {}
        times: dict[str, TimeSpec] = {}
        for key, (column, form, required) in keys.items():
            if key not in spec:
                if required:
                    raise self.error(where, f"{key} is required")
                continue
            if form == "time":
                times[column] = self.time(spec[key], f"{where}.{key}", relative)
            else:
                fields[column] = self.field(spec[key], f"{where}.{key}", form, maps)
        given = fields.pop("given", None)
        if kind == Kind.MEDICATIONS and given is None and "started_at" not in times:
            raise self.error(where, "give given (a yes/no column) and/or started")
        when = self.condition(spec["when"], where + ".when") if "when" in spec else None
        row_key = self.text(spec["key"], where + ".key") if "key" in spec else None
        if row_key is not None and kind == Kind.OBSERVATIONS and fields["code"].column is not None:
            raise self.error(
                where + ".key", "a long entry (code from a column) keys its rows by code and time"
            )
        return EntrySpec(kind, where, name or "", file, fields, times, given, when, row_key)

    def condition(self, value: object, where: str) -> Condition:
        """``{column: COLUMN, equals: VALUE or [VALUES]}``; ``""`` (or null) selects empty cells."""
        condition = self.mapping(value, where, ("column", "equals"))
        if "column" not in condition or "equals" not in condition:
            raise self.error(where, "give column and equals")
        wanted = condition["equals"]
        wanted = wanted if isinstance(wanted, list) else [wanted]
        if not wanted:
            raise self.error(where + ".equals", "give at least one value")
        values: list[str] = []
        for item in wanted:
            if isinstance(item, bool):
                raise self.error(
                    where + ".equals",
                    "quote yes, no, on, off, true and false: YAML reads them unquoted as booleans",
                )
            if isinstance(item, list | dict):
                raise self.error(where + ".equals", f"expected a value, got {_described(item)}")
            values.append(_yaml_text(item) or "")
        return Condition(
            self.column(condition["column"], where + ".column"),
            tuple(_canonical(v) for v in values),
            tuple(values),
        )

    def unique_keys(self, entries: list[EntrySpec]) -> None:
        """Refuse two entries whose rows get the same key, unless their ``when`` conditions
        exclude each other (branches of one file, e.g. a unit per cohort)."""
        seen: dict[tuple[Kind, str], list[EntrySpec]] = {}
        for entry in entries:
            key = _static_key(entry)
            if key is None:
                continue
            for earlier in seen.get((entry.kind, key), []):
                if not _exclusive(earlier, entry):
                    raise self.error(
                        entry.where,
                        f"its rows have the key {key!r}, as do those of {earlier.where}; "
                        "give one of them another key, or conditions (when) on the same column "
                        "with different values",
                    )
            seen.setdefault((entry.kind, key), []).append(entry)


def _exclusive(first: EntrySpec, second: EntrySpec) -> bool:
    """Whether no source row can be read by both entries: same file, ``when`` on the same
    column, no value in common."""
    a, b = first.when, second.when
    return (
        first.file == second.file
        and a is not None
        and b is not None
        and a.column.same(b.column)
        and not set(a.equals) & set(b.equals)
    )


def _static_key(entry: EntrySpec) -> str | None:
    """The key every row of ``entry`` gets, when it does not depend on the row."""
    if entry.key is not None:
        return entry.key
    first = {"observations": "code", "adverse_events": "term", "medications": "drug"}[
        entry.kind.value
    ]
    ident = entry.fields[first].constant
    if ident is None:
        return None
    if entry.kind == Kind.OBSERVATIONS:
        nominal = entry.times["observed_at"].nominal_day
        return None if nominal is None else f"{ident}|day {_number_text(nominal)}"
    if entry.kind == Kind.ADVERSE_EVENTS:
        scale = entry.fields.get("grading_scale", FieldSpec())
        if scale.column is not None:
            return None
        return "|".join(p for p in (ident, scale.constant) if p)
    return ident if entry.given is not None else None


def read_mapping(path: Path) -> Mapping:
    """Read and validate a mapping file (raises :class:`MappingError`)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise MappingError(f"mapping file {path} does not exist") from error
    except (OSError, UnicodeDecodeError) as error:
        raise MappingError(f"mapping file {path} cannot be read: {error}") from error
    except yaml.YAMLError as error:
        raise MappingError(f"mapping {path.name} is not valid YAML: {error}") from error
    return _Parser(path.name).parse(document)


# ------------------------------------------------------------------------------------------
# data files


class _SheetMissing(Exception):
    def __init__(self, sheets: list[str]) -> None:
        super().__init__(", ".join(sheets))
        self.sheets = sheets


def _header_paths(rows: list[list[str]]) -> list[tuple[str, ...]]:
    """Each column's header path, top to bottom. A blank upper cell takes the label on its left
    unless a higher level starts a new label in this column (how merged header cells read)."""
    width = max((len(r) for r in rows), default=0)
    grid = [[_clean(r[c]) if c < len(r) else "" for c in range(width)] for r in rows]
    filled = [list(row) for row in grid]
    for col in range(1, width):
        for level in range(len(rows) - 1):
            if grid[level][col]:
                break
            filled[level][col] = filled[level][col - 1]
    levels = range(len(rows))
    return [tuple(filled[lv][c] for lv in levels if filled[lv][c]) for c in range(width)]


def _python_encoding(encoding: str) -> str:
    return "utf-8-sig" if encoding.lower().replace("-", "") == "utf8" else encoding


def _open_workbook(path: Path) -> Any:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    if path.stat().st_size == 0:
        raise FileProblem("empty_file", "the file is empty (0 bytes)")
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileProblem(
            "unreadable_file",
            f"the file is not a readable Excel workbook (.xlsx or .xlsm): {error}",
        ) from error


def _sheet_rows(sheet: Any, **bounds: Any) -> Iterator[tuple[Any, ...]]:
    """The sheet's rows (``iter_rows(values_only=True)``); a sheet whose compressed XML is
    truncated or corrupt is a :class:`FileProblem`, not a crash."""
    try:
        yield from sheet.iter_rows(**bounds)
    except (zipfile.BadZipFile, zlib.error, EOFError, SyntaxError, OSError, KeyError) as error:
        raise FileProblem(
            "unreadable_file",
            f"the workbook is truncated or corrupt: its sheet cannot be read ({error})",
        ) from error


def _worksheet(workbook: Any, wanted: str | None) -> Any:
    names = list(workbook.sheetnames)
    if wanted is None:
        return workbook[names[0]]
    for name in names:
        if name == wanted:
            return workbook[name]
    for name in names:
        if _norm_header(name) == _norm_header(wanted):
            return workbook[name]
    raise _SheetMissing(names)


def _read_headers(spec: FileSpec, path: Path) -> list[list[str]]:
    """The header rows of a data file (raises FileProblem or _SheetMissing)."""
    if spec.format == "excel":
        workbook = _open_workbook(path)
        try:
            sheet = _worksheet(workbook, spec.sheet)
            rows = []
            for row in _sheet_rows(sheet, max_row=spec.header_rows, values_only=True):
                rows.append([_cell_text(v) for v in row])
        finally:
            workbook.close()
    else:
        if path.stat().st_size == 0:
            raise FileProblem("empty_file", "the file is empty (0 bytes)")
        encoding = text_encoding(path, delimiter=spec.delimiter, encoding=spec.encoding)
        try:
            with path.open(encoding=_python_encoding(encoding), newline="") as handle:
                reader = csv.reader(handle, delimiter=spec.delimiter)
                rows = [next(reader, []) for _ in range(spec.header_rows)]
        except (UnicodeDecodeError, LookupError) as error:
            raise FileProblem(
                "unreadable_file",
                f"the file is not valid {spec.encoding} text; save it as UTF-8 or set the "
                f"encoding in the mapping ({error})",
            ) from error
        except csv.Error as error:
            raise FileProblem("unreadable_file", f"the header cannot be read: {error}") from error
    while len(rows) < spec.header_rows:
        rows.append([])
    return rows


def _read_frames(
    spec: FileSpec, path: Path, width: int, notes: list[str] | None = None
) -> Iterator[pd.DataFrame]:
    """Data rows as text columns named 0..width-1, plus ``_row`` (raises FileProblem); the
    Windows-1252 fallback of an unnamed encoding is noted in ``notes``."""
    if spec.format == "excel":
        yield from _read_excel(spec, path, width)
    elif spec.header_rows == 1:
        for frame in read_csv_chunks(
            path, delimiter=spec.delimiter, encoding=spec.encoding, notes=notes, name=path.name
        ):
            frame.columns = pd.Index([*range(len(frame.columns) - 1), ROW])
            yield _fit(frame, width)
    else:
        encoding = text_encoding(path, delimiter=spec.delimiter, encoding=spec.encoding)
        if encoding != spec.encoding and notes is not None:
            notes.append(
                f"{path.name}: not UTF-8 text; read as Windows-1252 (cp1252), the fallback"
            )
        try:
            frame = pd.read_csv(
                path,
                header=None,
                skiprows=spec.header_rows,
                dtype=str,
                keep_default_na=False,
                sep=spec.delimiter,
                encoding=_python_encoding(encoding),
            )
        except (pd.errors.ParserError, UnicodeDecodeError, LookupError) as error:
            raise FileProblem("unreadable_file", f"the file cannot be read: {error}") from error
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame()
        frame.columns = pd.Index(range(len(frame.columns)))
        frame[ROW] = range(1, len(frame) + 1)
        yield _fit(frame, width)


def _fit(frame: pd.DataFrame, width: int) -> pd.DataFrame:
    """Exactly ``width`` text columns (missing ones empty) and ``_row``."""
    columns = {c: frame.get(c, "") for c in range(width)}
    out = pd.DataFrame(columns, index=frame.index)
    out[ROW] = frame[ROW].astype("int64")
    return out


def _read_excel(spec: FileSpec, path: Path, width: int) -> Iterator[pd.DataFrame]:
    workbook = _open_workbook(path)
    try:
        try:
            sheet = _worksheet(workbook, spec.sheet)
        except _SheetMissing as missing:
            raise FileProblem(
                "unreadable_file",
                f"the workbook has no sheet {spec.sheet!r} (it has: {', '.join(missing.sheets)})",
            ) from missing
        rows: list[list[str]] = []
        first = 1
        for row in _sheet_rows(sheet, min_row=spec.header_rows + 1, values_only=True):
            cells = [_cell_text(v) for v in row[:width]]
            rows.append(cells + [""] * (width - len(cells)))
            if len(rows) >= CHUNK_ROWS:
                yield _excel_frame(rows, first, width)
                first += len(rows)
                rows = []
        if rows or first == 1:
            yield _excel_frame(rows, first, width)
    finally:
        workbook.close()


def _excel_frame(rows: list[list[str]], first: int, width: int) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=range(width), dtype=object)
    frame[ROW] = range(first, first + len(frame))
    return frame


@dataclass
class _Table:
    """A data file as the mapping uses it: where it is and what its columns are."""

    spec: FileSpec
    file: SourceFile
    chunk_name: str
    headers: list[tuple[str, ...]] = field(default_factory=list)
    readable: bool = True
    used: set[int] = field(default_factory=set)

    def describe(self) -> str:
        sheet = f", sheet {self.spec.sheet!r}" if self.spec.sheet else ""
        return f"{self.file.name}{sheet}"

    def resolve(self, ref: ColumnRef, source: str) -> int:
        """The position of the column ``ref`` names (raises MappingError)."""
        found = [i for i, header in enumerate(self.headers) if ref.matches(header)]
        if len(found) == 1:
            self.used.add(found[0])
            return found[0]
        if found:
            raise MappingError(
                f"mapping {source}: {ref.where}: {ref.text!r} matches {len(found)} columns of "
                f"{self.describe()} ({', '.join(self._column_name(i) for i in found)}); name "
                "the column by its full header path"
            )
        raise MappingError(
            f"mapping {source}: {ref.where}: no column {ref.text!r} in {self.describe()}; "
            f"{self._hint(ref)}"
        )

    def _column_name(self, index: int) -> str:
        if self.spec.format == "excel":
            from openpyxl.utils import get_column_letter

            return f"column {get_column_letter(index + 1)}"
        return f"column {index + 1}"

    def _hint(self, ref: ColumnRef) -> str:
        shown = [" / ".join(h) for h in self.headers]
        if len(shown) <= 30:
            return "its columns are: " + "; ".join(repr(s) for s in shown if s)
        wanted = _norm_header(ref.text)
        normalised = [_norm_header(s) for s in shown]
        close = difflib.get_close_matches(wanted, normalised, n=5, cutoff=0.5)
        last = wanted.rsplit("/", 1)[-1]
        same_field = [n for n in normalised if n.rsplit("/", 1)[-1] == last and n not in close]
        picked = [*close, *same_field][:8]
        names = [shown[normalised.index(n)] for n in picked]
        listed = "; ".join(repr(s) for s in names) if names else "none is close"
        paths = (
            " (header paths join the header rows with ' / ')" if self.spec.header_rows > 1 else ""
        )
        return f"it has {len(shown)} columns{paths}; closest: {listed}"


# ------------------------------------------------------------------------------------------
# the reader


class MappingSource:
    """A site export read through a mapping file (see the module docstring)."""

    def __init__(self, mapping_file: Path, paths: Sequence[Path]) -> None:
        self.log = ReadLog()
        self.mapping_file = mapping_file
        self.mapping = read_mapping(mapping_file)
        self.format = f"mapping:{mapping_file.name}"
        source = mapping_file.name
        self._source = source
        self._tables: dict[str, _Table] = {}
        places = {name: self._locate(spec, paths) for name, spec in self.mapping.files.items()}
        uses = Counter(path.resolve() for path, _ in places.values())
        located: dict[Path, SourceFile] = {}
        for name, spec in self.mapping.files.items():
            path, root = places[name]
            if path.resolve() not in located:
                located[path.resolve()] = SourceFile.of(path, root=root)
            file = located[path.resolve()]
            shared = uses[path.resolve()] > 1
            chunk_name = f"{file.name} [{spec.sheet}]" if shared else file.name
            self._tables[name] = _Table(spec, file, chunk_name)
        self.files = [SourceFile.of(mapping_file), *located.values()]
        self.display_path = ", ".join(str(f.path) for f in self.files)
        self._account_all(paths, located)
        for table in self._tables.values():
            self._load_headers(table)
        self._positions: dict[tuple[str, ColumnRef], int] = {}
        self._resolve_all()
        self._check_bare_constants()
        self._note_constants()
        self._counts: dict[str, int] = {}
        self._examples: dict[str, Counter[str]] = {}
        self._infusions: dict[str, pd.Timestamp] = {}
        self._counted: set[str] = set()
        self._branched = {e.where for group in _branches(self.mapping.entries) for e in group}

    # ---- construction ---------------------------------------------------------------------

    def _locate(self, spec: FileSpec, paths: Sequence[Path]) -> tuple[Path, Path | None]:
        """The file ``spec.path`` names: inside one of the folders given (symbolic links
        resolved), or one of the files given; never anywhere else."""
        found: dict[Path, tuple[Path, Path | None]] = {}
        outside: list[Path] = []
        for given in paths:
            if given.is_dir():
                candidate = given / spec.path
                if not _inside(candidate, given):
                    outside.append(given)
                elif candidate.is_file():
                    found.setdefault(candidate.resolve(), (candidate, given))
            elif given.is_file() and given.name == Path(spec.path).name:
                found.setdefault(given.resolve(), (given, None))
        where = f"mapping {self.mapping_file.name}: files.{spec.name}.path: {spec.path!r}"
        if outside and not found:
            # the file is not opened: its contents must not reach a message
            raise MappingError(
                f"{where} is outside the folder given to the load "
                f"({', '.join(str(p) for p in outside)}); a mapping may only name files inside "
                "the folders (or the files) given to the load"
            )
        if len(found) > 1:
            raise MappingError(
                f"{where} is in more than one of the given paths "
                f"({', '.join(str(p) for p in found)})"
            )
        if not found:
            shown = ", ".join(str(p) for p in paths) or "no path given"
            present = sorted(
                {child.name for p in paths if p.is_dir() for child in p.iterdir()}
                | {p.name for p in paths if p.is_file()}
            )
            listed = ", ".join(present[:20]) + (" …" if len(present) > 20 else "")
            raise MappingError(f"{where} not found in {shown}; there: {listed or 'nothing'}")
        return next(iter(found.values()))

    def _account_all(self, paths: Sequence[Path], located: dict[Path, SourceFile]) -> None:
        """Every file given (every file under a given folder) is used or ignored; a used file
        later found unreadable becomes unreadable (:meth:`_file_problem`)."""
        mapping = self.mapping_file.resolve()
        used = {path: file.name for path, file in located.items()}
        for given in paths:
            if given.is_dir():
                children = sorted(p for p in given.rglob("*") if p.is_file() or p.is_symlink())
                names = [(child, str(child.relative_to(given))) for child in children]
            else:
                names = [(given, given.name)]
            for path, name in names:
                resolved = _resolved(path)
                if resolved is None:
                    self.log.account(name, IGNORED, "a symbolic link that leads nowhere")
                elif resolved in used:
                    self.log.account(used.pop(resolved), USED)
                elif resolved == mapping:
                    self.log.account(name, USED, "the mapping file")
                else:
                    self.log.account(name, IGNORED, "not used by the mapping")
        for name in used.values():  # named by a path the folder listing spells otherwise
            self.log.account(name, USED)
        if not any(use.why == "the mapping file" for use in self.log.uses.values()):
            self.log.account(self.mapping_file.name, USED, "the mapping file")

    def _load_headers(self, table: _Table) -> None:
        try:
            table.headers = _header_paths(_read_headers(table.spec, table.file.path))
        except _SheetMissing as missing:
            raise MappingError(
                f"mapping {self._source}: files.{table.spec.name}.sheet: no sheet "
                f"{table.spec.sheet!r} in {table.file.name}; it has: {', '.join(missing.sheets)}"
            ) from missing
        except FileProblem as problem:
            self._file_problem(table, problem)
        except OSError as error:
            self._file_problem(table, FileProblem("unreadable_file", f"cannot open it: {error}"))

    def _columns(self) -> Iterator[tuple[str, ColumnRef]]:
        """Every (file, column) the mapping names."""
        for name, file_spec in self.mapping.files.items():
            yield name, file_spec.subject_id
        subjects = self.mapping.subjects
        if subjects is not None:
            for spec in subjects.fields.values():
                if spec.column is not None:
                    yield subjects.file, spec.column
            if subjects.when is not None:
                yield subjects.file, subjects.when.column
            for timing in [subjects.infusion, *subjects.times.values()]:
                if timing is not None:
                    yield from ((subjects.file, ref) for ref in _time_columns(timing))
        for entry in self.mapping.entries:
            specs = [*entry.fields.values(), *([entry.given] if entry.given else [])]
            for spec in specs:
                if spec.column is not None:
                    yield entry.file, spec.column
            for timing in entry.times.values():
                yield from ((entry.file, ref) for ref in _time_columns(timing))
            if entry.when is not None:
                yield entry.file, entry.when.column

    def _resolve_all(self) -> None:
        for file, ref in self._columns():
            table = self._tables[file]
            if table.readable:
                self._positions[file, ref] = table.resolve(ref, self._source)

    def _bare_constants(self) -> Iterator[tuple[str, str, FieldSpec, ColumnRef | None]]:
        """(file, where, field, the entry's value column) of every constant written as plain
        text."""
        subjects = self.mapping.subjects
        if subjects is not None:
            for name, spec in subjects.fields.items():
                if spec.bare:
                    yield subjects.file, f"subjects.{name}", spec, None
        for entry in self.mapping.entries:
            main = _main_column(entry)
            for column, spec in entry.fields.items():
                if spec.bare:
                    key = _YAML_KEY.get(column, column)
                    identity = column in ("code", "term", "drug")
                    yield entry.file, f"{entry.where}.{key}", spec, main if identity else None

    def _check_bare_constants(self) -> None:
        """Refuse plain text that is also the name of a column of the file: the mapping must
        say whether it means the column or the text (``{column: ...}`` or ``{constant: ...}``).

        The code, term or drug of an entry may name the very column its value, grade or
        ``given`` is read from (``code: CRP, value: CRP``): a column cannot be both, so the
        text is the constant.
        """
        for file, where, spec, main in self._bare_constants():
            table = self._tables[file]
            assert spec.constant is not None
            if not table.readable or (main is not None and _names(main, spec.constant)):
                continue
            wanted = _norm_header(spec.constant)
            named = [
                " / ".join(h)
                for h in table.headers
                if h and wanted in (_norm_header("/".join(h)), _norm_header(h[-1]))
            ]
            if named:
                key = where.rsplit(".", 1)[-1]
                raise MappingError(
                    f"mapping {self._source}: {where}: {spec.constant!r} is also a column of "
                    f"{table.describe()}, so it is not clear which is meant. To read the "
                    f"column write {key}: {{column: {named[0]}}}; for the text itself, the "
                    f"same on every row, write {key}: {{constant: {spec.constant}}}"
                )

    def _note_constants(self) -> None:
        """Say where study, site and product come from (the export often names none)."""
        subjects = self.mapping.subjects
        if subjects is None:
            return
        parts = []
        for name in ("study_id", "site_id", "product"):
            spec = subjects.fields[name]
            if spec.constant is not None:
                parts.append(f"{name} {spec.constant!r} from the mapping (every subject)")
            else:
                assert spec.column is not None
                parts.append(f"{name} from column {spec.column.text!r}")
        table = self._tables[subjects.file]
        self.log.notes.append(f"{table.chunk_name}: subjects' " + "; ".join(parts))

    # ---- reading ----------------------------------------------------------------------------

    def chunks(self) -> Iterator[Chunk]:
        """Subjects chunks first, then each data file's observations, medications and adverse
        events."""
        subjects = self.mapping.subjects
        if subjects is not None:
            table = self._tables[subjects.file]
            for frame in self._frames(subjects.file):
                rows = self._subject_rows(subjects, frame)
                if len(rows):
                    yield Chunk(Kind.SUBJECTS, table.chunk_name, rows)
        entries = self.mapping.entries
        for name, table in self._tables.items():
            mine = [e for e in entries if e.file == name]
            if not mine:
                continue
            for frame in self._frames(name):
                for kind in (Kind.OBSERVATIONS, Kind.MEDICATIONS, Kind.ADVERSE_EVENTS):
                    parts = [self._entry_rows(e, frame) for e in mine if e.kind == kind]
                    parts = [p for p in parts if len(p)]
                    if parts:
                        yield Chunk(kind, table.chunk_name, pd.concat(parts, ignore_index=True))
                self._note_outside_branches(mine, frame)
        self._write_notes()

    def _note_outside_branches(self, entries: list[EntrySpec], frame: pd.DataFrame) -> None:
        """Count rows that no branch of a code (drug, term) reads (a third cohort, a typing
        error): see :func:`_branches`."""
        for group in _branches(entries):
            first = group[0].when
            ident = group[0].fields[_IDENTITY_FIELD[group[0].kind]].constant
            assert first is not None
            cell = frame[self._positions[group[0].file, first.column]]
            wanted = {value for entry in group if entry.when for value in entry.when.equals}
            outside = ~_per_distinct(cell, _canonical).isin(wanted)
            if outside.any():
                self._example(
                    f"{self._tables[group[0].file].chunk_name}: {{n}} row(s) read by none of "
                    f"the entries of {ident} ({', '.join(e.where for e in group)}): "
                    f"{first.column.text} is {{examples}}",
                    cell[outside].where(cell[outside] != "", "(empty)"),
                )

    def _frames(self, name: str) -> Iterator[pd.DataFrame]:
        """Non-blank rows of a data file with missing values emptied; file problems logged.

        A file read twice (subjects, then entries) has its blank and missing cells counted once.
        """
        table = self._tables[name]
        if not table.readable:
            return
        counting = name not in self._counted
        self._counted.add(name)
        try:
            for frame in _read_frames(
                table.spec, table.file.path, len(table.headers), self.log.notes
            ):
                data = frame.drop(columns=[ROW]).fillna("").astype(str)
                blank = (data.apply(lambda s: s.str.strip()) == "").all(axis=1)
                kept = frame[~blank].copy()
                if counting:
                    self._count(f"{table.chunk_name}: {{n}} blank row(s) skipped", int(blank.sum()))
                missing = table.spec.missing_values
                if missing is None:
                    missing = self.mapping.missing_values
                for col in sorted(table.used):
                    text = kept[col].fillna("").astype(str)
                    kept[col] = self._missing(text, missing, table.chunk_name if counting else None)
                yield kept
        except FileProblem as problem:
            self._file_problem(table, problem)
        except OSError as error:
            self._file_problem(table, FileProblem("unreadable_file", f"cannot open it: {error}"))

    def _file_problem(self, table: _Table, problem: FileProblem) -> None:
        table.readable = False
        self.log.account(table.file.name, UNREADABLE, problem.reason)
        self.log.problems.append(
            rejections.file_rejection(table.chunk_name, problem.rule, problem.reason)
        )

    def _missing(self, values: pd.Series, texts: frozenset[str], file: str | None) -> pd.Series:
        if texts <= {""}:
            return values.str.strip()
        canonical = _per_distinct(values, _canonical)
        missing = canonical.isin(texts) & (values.str.strip() != "")
        if missing.any() and file is not None:
            self._example(f"{file}: {{n}} cell(s) read as missing ({{examples}})", values[missing])
        return values.str.strip().where(~missing, "")

    # ---- subjects -------------------------------------------------------------------------

    def _subject_rows(self, spec: SubjectsSpec, frame: pd.DataFrame) -> pd.DataFrame:
        file = spec.file
        if spec.when is not None:
            frame = frame[self._condition(file, spec.when, frame, "are not subjects")]
        subject = frame[self._positions[file, self.mapping.files[file].subject_id]]
        out = _empty_frame(Kind.SUBJECTS, frame.index)
        out["subject_id"] = subject
        for name, field_spec in spec.fields.items():
            values, _ = self._field(file, field_spec, frame)
            out["_target_antigen" if name == "target_antigen" else name] = values
        if spec.relative:
            out["infusion_date"] = ANCHOR_DATE.isoformat()
            base = pd.Series(_ANCHOR, index=frame.index)
        else:
            assert spec.infusion is not None
            out["infusion_date"], _ = self._time(file, spec.infusion, frame, None)
            base = pd.to_datetime(
                out["infusion_date"].where(out["infusion_date"] != "", None),
                errors="coerce",
                format="ISO8601",
            ).dt.normalize()
            self._infusions.update(
                {s: b for s, b in zip(subject, base, strict=True) if s and pd.notna(b)}
            )
        for name, timing in spec.times.items():
            out[name], _ = self._time(file, timing, frame, base)
        out["_day_zero_anchored"] = "true" if spec.relative else "false"
        out[ROW] = frame[ROW]
        out[KEY] = subject
        return out.reset_index(drop=True)

    # ---- entries ----------------------------------------------------------------------------

    def _entry_rows(self, entry: EntrySpec, frame: pd.DataFrame) -> pd.DataFrame:
        file = entry.file
        subject = frame[self._positions[file, self.mapping.files[file].subject_id]]
        keep = pd.Series(True, index=frame.index)
        if entry.when is not None:
            # a branch's rows of the other branches are no news: _note_outside_branches counts
            # the rows no branch reads
            outcome = None if entry.where in self._branched else f"not read by {entry.where}"
            keep = self._condition(file, entry.when, frame, outcome)
        out = _empty_frame(entry.kind, frame.index)
        out["subject_id"] = subject
        mapped_missing = pd.Series(False, index=frame.index)
        for column, spec in entry.fields.items():
            out[column], dropped = self._field(file, spec, frame)
            if column in ("code", "value", "grade", "drug", "term"):
                mapped_missing |= dropped
        base = self._bases(subject)
        for column, timing in entry.times.items():
            out[column], label = self._time(file, timing, frame, base)
            if column in ("observed_at", "onset_date", "started_at"):
                out["_label"] = label
        keep &= self._main(entry, frame, out, keep, mapped_missing)
        out[ROW] = frame[ROW]
        out[KEY] = self._keys(entry, out)
        out = out.drop(columns=["_label"], errors="ignore")
        return out[keep].reset_index(drop=True)

    def _main(
        self,
        entry: EntrySpec,
        frame: pd.DataFrame,
        out: pd.DataFrame,
        keep: pd.Series,
        mapped_missing: pd.Series,
    ) -> pd.Series:
        """Rows that carry something: a value, a grade, a term, a 'given' yes."""
        name = self._tables[entry.file].chunk_name
        main = {
            Kind.OBSERVATIONS: "value",
            Kind.ADVERSE_EVENTS: "grade" if "grade" in entry.fields else "term",
            Kind.MEDICATIONS: "started_at",
        }[entry.kind]
        if entry.kind == Kind.MEDICATIONS and entry.given is not None:
            return self._given(entry, frame, out, keep) & ~mapped_missing
        present = out[main] != ""
        if entry.kind == Kind.MEDICATIONS or entry.fields[main].column is not None:
            what = (
                entry.name
                or {
                    "value": "values",
                    "grade": "grades",
                    "term": "terms",
                    "started_at": "start times",
                }[main]
            )
            skipped = int((keep & ~present & ~mapped_missing).sum())
            self._count(f"{name}: {{n}} empty {what} skipped", skipped)
        return present & ~mapped_missing

    def _condition(
        self, file: str, condition: Condition, frame: pd.DataFrame, outcome: str | None
    ) -> pd.Series:
        """Rows meeting ``condition``; the others are counted in a note saying ``outcome``
        (none when ``outcome`` is None)."""
        cell = frame[self._positions[file, condition.column]]
        keep = _per_distinct(cell, _canonical).isin(condition.equals)
        if outcome is None:
            return keep
        self._count(
            f"{self._tables[file].chunk_name}: {{n}} row(s) {outcome}: "
            f"{condition.column.text} is not {condition.shown()}",
            int((~keep).sum()),
        )
        return keep

    def _given(
        self, entry: EntrySpec, frame: pd.DataFrame, out: pd.DataFrame, keep: pd.Series
    ) -> pd.Series:
        assert entry.given is not None and entry.given.column is not None
        name = self._tables[entry.file].chunk_name
        drug = entry.fields["drug"].constant or "the drug"
        values, dropped = self._field(entry.file, entry.given, frame)
        flag = _per_distinct(values, lambda v: _BOOLEAN.get(_canonical(v).replace("_", " ")))
        yes = flag.eq("true") & keep
        no = flag.eq("false") & keep
        empty = (values == "") & keep & ~dropped
        invalid = keep & (values != "") & flag.isna()
        flag_column = entry.given.column.text
        self._count(
            f"{name}: {{n}} row(s) where '{flag_column}' says no: no {drug} row", int(no.sum())
        )
        self._count(
            f"{name}: {{n}} empty '{flag_column}' value(s): no {drug} row", int(empty.sum())
        )
        if invalid.any():
            self.log.problems.append(
                rejections.rejections(
                    name,
                    rows=frame.loc[invalid, ROW],
                    field=entry.given.column.text,
                    values=values[invalid],
                    rule="vocabulary",
                    reason=f"{entry.where}: '{entry.given.column.text}' must say yes or no "
                    "(1/0, yes/no, y/n, true/false) after its value map",
                )
            )
        unknown = yes & (out["started_at"] == "")
        out.loc[unknown, "_started_unknown"] = "true"
        return yes

    def _keys(self, entry: EntrySpec, out: pd.DataFrame) -> pd.Series:
        static = _static_key(entry)
        if static is not None:
            return pd.Series(static, index=out.index, dtype=object)
        label = out["_label"] if "_label" in out else pd.Series("", index=out.index)
        if entry.kind == Kind.OBSERVATIONS:
            ident = out["code"].astype(str)
        elif entry.kind == Kind.ADVERSE_EVENTS:
            scale = out["grading_scale"].astype(str)
            ident = out["term"].astype(str) + ("|" + scale).where(scale != "", "")
            if entry.fields["term"].column is None:
                label = pd.Series("", index=out.index)
        else:
            ident = out["drug"].astype(str)
        return ident + ("|" + label).where(label != "", "")

    def _field(
        self, file: str, spec: FieldSpec, frame: pd.DataFrame
    ) -> tuple[pd.Series, pd.Series]:
        """A field's values, and which of them a value map turned into missing."""
        if spec.constant is not None:
            return (
                pd.Series(spec.constant, index=frame.index, dtype=object),
                pd.Series(False, index=frame.index),
            )
        assert spec.column is not None
        values = frame[self._positions[file, spec.column]].astype(object)
        none = pd.Series(False, index=frame.index)
        if spec.value_map is None:
            return values, none
        table = self.mapping.value_maps[spec.value_map]
        canonical = _per_distinct(values, _canonical)
        known = canonical.isin(list(table)) & (values != "")
        recoded = canonical.map(table)
        dropped = known & recoded.isna()
        if dropped.any():
            self._example(
                f"{self._tables[file].chunk_name}: {{n}} value(s) read as missing through "
                f"value map '{spec.value_map}' ({{examples}})",
                values[dropped],
            )
        values = values.where(~known, recoded.fillna(""))
        return values, dropped

    def _bases(self, subject: pd.Series) -> pd.Series | None:
        """Each row's day 0 (None when every subject's day 0 is the anchor)."""
        subjects = self.mapping.subjects
        if subjects is None or subjects.relative:
            return None
        return pd.to_datetime(subject.map(self._infusions), errors="coerce")

    def _time(
        self, file: str, timing: TimeSpec, frame: pd.DataFrame, base: pd.Series | None
    ) -> tuple[pd.Series, pd.Series]:
        """ISO 8601 text of a time, and its label for keys (``day 7`` or the date as read)."""
        empty = pd.Series("", index=frame.index, dtype=object)
        iso, label = empty.copy(), empty.copy()
        if timing.date is not None:
            text = frame[self._positions[file, timing.date]]
            iso = _dates_to_iso(text, timing.date_format)
            label = iso.copy()
        if timing.day is not None:
            text = frame[self._positions[file, timing.day]]
            iso = days_to_iso(text, base)
            label = ("day " + _per_distinct(text, _canonical)).where(text != "", "")
        if timing.nominal_day is not None:
            nominal = _number_text(timing.nominal_day)
            fallback = days_to_iso(pd.Series(nominal, index=frame.index), base)
            iso = iso.where(iso != "", fallback)
            label = pd.Series(f"day {nominal}", index=frame.index, dtype=object)
        return iso, label

    # ---- notes ------------------------------------------------------------------------------

    def _count(self, template: str, n: int) -> None:
        if n:
            self._counts[template] = self._counts.get(template, 0) + n

    def _example(self, template: str, values: pd.Series) -> None:
        self._count(template, len(values))
        self._examples.setdefault(template, Counter()).update(values.astype(str).tolist())

    def _write_notes(self) -> None:
        for template, n in self._counts.items():
            examples = self._examples.get(template, Counter())
            shown = ", ".join(f"'{v}' ×{k:,}" for v, k in examples.most_common(5))
            if len(examples) > 5:
                shown += ", …"
            # templates hold header texts, which may contain braces: no str.format
            self.log.notes.append(template.replace("{n}", f"{n:,}").replace("{examples}", shown))
        self._counts.clear()
        self._examples.clear()


_IDENTITY_FIELD = {Kind.OBSERVATIONS: "code", Kind.ADVERSE_EVENTS: "term", Kind.MEDICATIONS: "drug"}


def _branches(entries: Sequence[EntrySpec]) -> list[list[EntrySpec]]:
    """Branches by the code (term, drug) they share: two or more entries of one file with the
    same constant code and ``when`` on the same column (e.g. a unit per cohort)."""
    groups: dict[tuple[str, Kind, str, str], list[EntrySpec]] = {}
    for entry in entries:
        ident = entry.fields[_IDENTITY_FIELD[entry.kind]].constant
        if entry.when is not None and ident is not None:
            column = _norm_header(entry.when.column.text)
            groups.setdefault((entry.file, entry.kind, ident.casefold(), column), []).append(entry)
    return [group for group in groups.values() if len(group) > 1]


_YAML_KEY = {column: key for _, keys in _SECTIONS.values() for key, (column, _, _) in keys.items()}
"""Output column -> the key the mapping writes it under (``observed_at`` -> ``at``)."""


def _main_column(entry: EntrySpec) -> ColumnRef | None:
    """The column an entry's rows carry their value, grade or yes/no in."""
    main = entry.given or entry.fields.get("value") or entry.fields.get("grade")
    return None if main is None else main.column


def _names(ref: ColumnRef, text: str) -> bool:
    """Whether ``text`` is how ``ref`` was written (or its last header part)."""
    wanted = _norm_header(text)
    return wanted in (_norm_header(ref.text), _norm_header(ref.text).rsplit("/", 1)[-1])


def _resolved(path: Path) -> Path | None:
    """``path`` with symbolic links resolved; None when it cannot be (a link loop)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return None


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, symbolic links resolved, is ``folder`` or under it (a path that cannot
    be resolved, e.g. a link loop, is not)."""
    resolved, root = _resolved(path), _resolved(folder)
    return resolved is not None and root is not None and resolved.is_relative_to(root)


def _time_columns(timing: TimeSpec) -> list[ColumnRef]:
    return [ref for ref in (timing.day, timing.date) if ref is not None]


def _empty_frame(kind: Kind, index: pd.Index) -> pd.DataFrame:
    contract = CONTRACTS[kind]
    names = (*contract.required, *contract.optional, *_INTERNAL[kind])
    return pd.DataFrame({name: pd.Series("", index=index, dtype=object) for name in names})
