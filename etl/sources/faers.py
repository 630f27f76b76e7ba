"""Read FDA FAERS and legacy AERS quarterly ASCII extracts into cases, drugs and reactions.

This is a pure reader: it opens no database. It reads the ``$``-delimited tables of one or more
quarters (``DEMO``, ``DRUG``, ``REAC``, ``OUTC``, ``RPSR``, ``THER``, ``INDI``), checks them, and
shapes them into three text-valued DataFrames plus rejected rows (:mod:`etl.rejections` layout).
A loader parses the dates and writes the frames to the store.

Layouts
-------
Each file's layout is detected from its header, with names compared in lower case:

* current FAERS (2012Q4 onward) has ``primaryid``, ``caseid`` and ``caseversion``;
* legacy AERS (up to 2012Q3) has ``isr`` and ``case``. Versions follow ``isr``, and there is
  no ``caseversion``.

Legacy lines end in a ``$``. That empty last field shows up as a column with an empty name
(the FDA's own files) or as ``v23``/``v13``/``v3``/``v7`` (files re-written by R's
``data.table``). Such trailing columns are dropped when every value in them is empty. When they
do hold values, a note says so, and the values are ignored.

Columns that differ between eras are matched by name. ``sex`` is read from ``sex`` or from
``gndr_cod`` (early FAERS quarters and legacy AERS). ``initial_or_followup`` is read from
``i_f_code`` or ``i_f_cod``. The THER and INDI drug sequence is read from
``dsg_drug_seq``/``indi_drug_seq`` or from ``drug_seq``. An optional column that is absent is
left empty, with a note. A required column that is absent makes the whole file a file-level
rejection.

Checks and choices
------------------
* Rows are rejected, never repaired. A row can be rejected for more than one reason, and each
  reason is its own rejection.
* Quarters are read one at a time (:func:`read_quarters`), oldest first. Duplicates are judged
  within a quarter, in order: files by name, then rows (across quarters, the store rejects a
  report a batch writes twice). The first row is kept, including when that first row is
  rejected for another reason. Keys are the report (DEMO), the report and drug sequence
  (DRUG), and the report and the preferred term ignoring case (REAC).
* "In DEMO" means that the report appears in a DEMO row of the same quarter. Rejected DEMO rows
  count. So a DEMO row rejected for, say, a non-numeric age removes nothing else. Its DRUG and
  REAC rows stay in ``drugs`` and ``reactions`` without a case row, and a note counts them. Its
  OUTC and RPSR rows are in ``folded`` without a case row: the loader rejects them with it.
* THER and INDI rows join only drugs that were accepted. A row for a drug that was itself
  rejected is rejected too ("drug N of report X was rejected"), so that nothing disappears
  without a trace.
* OUTC and RPSR codes are compared in upper case. Rows whose report is not in DEMO are rejected,
  like DRUG and REAC rows.
* When a drug has several THER rows (one per therapy period), the drug keeps the earliest
  non-empty ``start_dt`` and the latest non-empty ``end_dt``. The comparison is on the raw
  text, so a partial ``2011`` sorts before ``20110305``. A note gives the count.
* ``is_latest`` is decided over the accepted cases of the quarter (:func:`read_faers`: of the
  export; the store recomputes it over everything loaded), grouped by ``case_key`` across
  layouts. A FAERS version beats a legacy AERS one, then the higher
  ``caseversion`` (FAERS) or numeric ``isr`` (AERS) wins. Grouping across layouts assumes
  that cases migrated from AERS kept their legacy case number as ``caseid``. The samples cannot
  confirm this, because they share no case.
* ``product`` comes from :func:`~pv_monitor.reference.products.find_product` on ``drugname``,
  falling back to ``prod_ai``. The lookup runs once per distinct name, not once per row.
* A quarter without a usable DEMO file (missing, unreadable or lacking key columns) is not read
  any further. A missing DEMO file is one file-level rejection (file ``DEMO17Q2``, rule
  ``missing_demo``) that lists the files left unread. An unusable one gets its own file-level
  rejection and a note that lists the files it left unread.
* Non-numeric ``dose_amt`` values and unusual routes are not rejected. The dose becomes NaN, the
  row is kept, and a note gives the count for each file with an example.
* Files are named in ``files``, in ``_file`` and in rejections by their base name, e.g.
  ``DEMO17Q2.txt``. ``files`` lists every FAERS table the reader opened. Files skipped because
  their quarter has no usable DEMO are not listed.
* FDA deletion lists (``Deleted/DELETE26Q2.txt``: one caseid a line; blank lines and a header
  skipped; other lines rejected) remove the cases they name from their quarter's rows
  (``withheld`` counts them per file) and are handed to the loader in ``deletions``, which
  deletes every version of those cases from the store (see docs/data_formats.md).
* Impossible values reject their row: a date that is not ``YYYYMMDD``/``YYYYMM``/``YYYY``, not
  in the calendar or outside 1900-2199 (rule ``date``); a negative age or weight, or one above
  :data:`AGE_LIMITS`/:data:`WEIGHT_LIMITS` in its unit (rule ``range``); text in any field
  starting like a spreadsheet formula (rule ``formula``).
* Every file given is accounted for in ``uses``: tables read are used, files of a quarter
  without a usable DEMO ignored, broken files unreadable, any other file of a folder not
  recognised (not a rejection). Columns outside FDA's layout are named in a note; those of
  :data:`UNSTORED` are read and deliberately not stored.
* ``drugs`` and ``reactions`` carry ``quarter`` as well, because several quarters can come in
  one call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from etl import rejections as rj
from etl.contracts import per_distinct_value
from etl.normalise import MAX_YEAR, MIN_YEAR, parse_dates, suspicious_text
from etl.sources import IGNORED, NOT_RECOGNISED, UNREADABLE, USED, FileUse, ReadLog
from etl.sources.files import ROW, FileProblem, SourceFile, read_csv_chunks
from pv_monitor.reference.products import find_product

TABLES = ("DEMO", "DRUG", "REAC", "OUTC", "RPSR", "THER", "INDI")
"""The quarterly tables this reader knows, in reading order."""
OUTCOME_CODES = ("DE", "LT", "HO", "DS", "CA", "RI", "OT")
"""OUTC ``outc_cod`` values (death, life-threatening, hospitalisation, disability, congenital
anomaly, required intervention, other serious)."""
REPORT_SOURCE_CODES = ("FGN", "SDY", "LIT", "CSM", "HP", "UF", "CR", "DT", "OTH")
"""RPSR ``rpsr_cod`` values."""

CASE_COLUMNS = (
    "source", "report_key", "case_key", "case_version", "quarter", "initial_or_followup",
    "event_date_source_value", "fda_received_date_source_value", "report_type", "age",
    "age_unit", "sex", "weight", "weight_unit", "reporter_country", "occurrence_country",
    "reporter_occupation", "outcomes", "report_sources", "is_latest", "_file", "_row", "_key",
)  # fmt: skip
"""Columns of :attr:`FaersExport.cases`."""
DRUG_COLUMNS = (
    "report_key", "quarter", "drug_seq", "role", "drug_name", "active_ingredient", "route",
    "dose_amount", "dose_unit", "start_date_source_value", "end_date_source_value",
    "indication", "dechallenge", "rechallenge", "product", "_file", "_row", "_key",
)  # fmt: skip
"""Columns of :attr:`FaersExport.drugs`."""
REACTION_COLUMNS = (
    "report_key", "quarter", "preferred_term", "drug_recurrence_action", "_file", "_row", "_key",
)  # fmt: skip
"""Columns of :attr:`FaersExport.reactions`."""

FILE = "_file"
DELETE = "DELETE"
"""The table name given to FDA's quarterly lists of deleted cases (``Deleted/DELETE26Q2.txt``)."""
FOLDED = ("OUTC", "RPSR", "THER", "INDI")
"""Tables whose rows are folded into cases (OUTC, RPSR) or drugs (THER, INDI), not stored alone."""
_TABLE_NAME = re.compile(f"^({'|'.join(TABLES)})", re.IGNORECASE)
_QUARTER = re.compile(
    f"^(?:{'|'.join((*TABLES, DELETE))})" + r"(\d{4}|\d{2})Q([1-4])", re.IGNORECASE
)
_DELETE_NAME = re.compile(r"^DELETE", re.IGNORECASE)
_DATE_TEXT = re.compile(r"\d{4}(?:\d{2}(?:\d{2})?)?")
_LINE_FINAL = re.compile(r"(v\d+)?")
_WHOLE = r"\d{1,18}"
_LAYOUT_LABEL = {"faers": "FAERS", "aers": "legacy AERS"}
_REPORT = ["quarter", "report_key"]
_DRUG = ["quarter", "report_key", "drug_seq"]
_NUMBER = ("age", "weight", "dose_amount")
_DATE_COLUMNS = {
    "event_date_source_value": "event_dt",
    "fda_received_date_source_value": "fda_dt",
    "start_date_source_value": "start_dt",
    "end_date_source_value": "end_dt",
}
AGE_LIMITS = {"DEC": 15, "YR": 150, "MON": 1800, "WK": 7830, "DY": 54800, "HR": 1315000}
"""Largest possible age per FAERS ``age_cod`` (150 years in each unit)."""
WEIGHT_LIMITS = {"KG": 700, "LBS": 1550}
"""Largest possible weight per ``wt_cod`` (above the heaviest person recorded)."""


@dataclass(frozen=True)
class Deletion:
    """One FDA list of deleted cases (``DELETE26Q2.txt``) as read for its quarter.

    Attributes
    ----------
    file : str
        The list's file name.
    quarter : str
        Its quarter (``2026Q2``): the list applies to every version of the cases it names
        loaded up to and including that quarter.
    case_keys : list of str
        The caseids listed (unique, in file order).
    in_export : tuple of str
        Those of them that have a DEMO row in the quarter's own files (those versions are not
        loaded).
    """

    file: str
    quarter: str
    case_keys: list[str]
    in_export: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaersExport:
    """What one call of :func:`read_faers` read (or one quarter of :func:`read_quarters`).

    Attributes
    ----------
    files : list of SourceFile
        Every FAERS table file the reader opened (manifest entries).
    cases : pandas.DataFrame
        One row per accepted DEMO report version (columns :data:`CASE_COLUMNS`).
    drugs : pandas.DataFrame
        One row per accepted DRUG row, with THER dates and INDI indications joined
        (columns :data:`DRUG_COLUMNS`).
    reactions : pandas.DataFrame
        One row per accepted REAC row (columns :data:`REACTION_COLUMNS`).
    rejections : pandas.DataFrame
        Rejected rows and files, in the :mod:`etl.rejections` layout.
    notes : list of str
        Things worth telling the data manager that are not rejections.
    uses : dict of str to FileUse
        What became of every file given (used, ignored, not recognised, unreadable).
    rows_read : dict of str to int
        Data rows read per file (DELETE lists: caseids listed).
    folded : pandas.DataFrame
        The accepted OUTC, RPSR, THER and INDI rows (``_file``, ``_row``, ``report_key``):
        their codes, dates and indications are joined into ``cases`` and ``drugs``.
    withheld : dict of str to int
        Rows per file not loaded because FDA's DELETE list of the quarter names their case.
    deletions : list of Deletion
        The DELETE lists read.
    """

    files: list[SourceFile]
    cases: pd.DataFrame
    drugs: pd.DataFrame
    reactions: pd.DataFrame
    rejections: pd.DataFrame
    notes: list[str]
    uses: dict[str, FileUse] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    folded: pd.DataFrame = field(default_factory=lambda: _no_folded())
    withheld: dict[str, int] = field(default_factory=dict)
    deletions: list[Deletion] = field(default_factory=list)


def _no_folded() -> pd.DataFrame:
    return pd.DataFrame(
        {
            FILE: pd.Series(dtype=object),
            ROW: pd.Series(dtype="int64"),
            "report_key": pd.Series(dtype=object),
        }
    )


@dataclass
class FaersPlan:
    """The files of a FAERS load, found and described before any is read.

    Attributes
    ----------
    quarters : dict of str to list
        Per quarter (``2017Q2``), its table files and DELETE lists.
    files : list of SourceFile
        Every FAERS file found (tables and DELETE lists), hashed for the manifest.
    log : ReadLog
        File-level problems and notes of the discovery, and what became of every file
        (:attr:`ReadLog.uses`, completed while the quarters are read).
    """

    quarters: dict[str, list[_Found]]
    files: list[SourceFile]
    log: ReadLog


def open_faers(paths: Sequence[Path]) -> FaersPlan:
    """Find the FAERS files among ``paths`` and describe them, reading none of their rows.

    Parameters
    ----------
    paths : sequence of Path
        Files and/or folders. A folder contributes every file inside it, recursively: files
        whose name starts with DEMO, DRUG, REAC, OUTC, RPSR, THER or INDI (any case) are
        tables, files named ``DELETE<yy>Q<q>`` are FDA's lists of deleted cases, any other
        file is *not recognised* (listed in the report, not a rejection: FDA's zips carry
        PDF documentation). The quarter comes from the file name (``DEMO17Q2.txt`` gives
        ``2017Q2``; two-digit years are 20xx).

    Returns
    -------
    FaersPlan
        The quarters and their files, and the log of the discovery.

    Examples
    --------
    >>> plan = open_faers([])
    >>> plan.quarters, plan.files
    ({}, [])
    """
    found, log = _discover(paths)
    quarters: dict[str, list[_Found]] = {}
    files: list[SourceFile] = []
    for item in found:
        try:
            files.append(SourceFile.of(item.path))
        except OSError as error:
            log.problems.append(
                rj.file_rejection(
                    item.path.name, "unreadable_file", f"the file cannot be opened ({error})"
                )
            )
            log.account(item.path.name, UNREADABLE, f"the file cannot be opened ({error})")
            continue
        quarters.setdefault(item.quarter, []).append(item)
    return FaersPlan(dict(sorted(quarters.items())), files, log)


def read_quarters(plan: FaersPlan) -> Iterator[FaersExport]:
    """Read the quarters of ``plan`` one after another, oldest first.

    Each quarter is read, checked and shaped on its own; the caller can write it and drop it
    before the next is read, so that memory holds one quarter at a time. Duplicates and
    ``is_latest`` are judged within the quarter (the store judges them across quarters).
    FDA's DELETE list of a quarter removes the cases it names from that quarter's rows
    (counted in ``withheld``); applying it to the store is the loader's job.

    Yields
    ------
    FaersExport
        One per quarter; its ``uses`` is the plan's (shared) account of every file.
    """
    sources = {file.path: file for file in plan.files}
    for quarter, found in plan.quarters.items():
        # no local variable keeps a quarter's frames alive while the next one is read
        yield _read_quarter(quarter, found, sources, plan.log)


def _read_quarter(
    quarter: str, found: list[_Found], sources: dict[Path, SourceFile], log: ReadLog
) -> FaersExport:
    reader = _Reader(sources, log)
    deletions = reader.read_quarter(quarter, found)
    shaper = _Shaper(reader.columns)
    tables = _Tables(reader, quarter, deletions)
    cases, drugs, reactions = shaper.shape(tables)
    withheld, deletions = tables.withheld, tables.deletions
    del tables
    reader.files.sort(key=_reading_order)
    row_level = rj.combine(shaper.rejected)
    if len(row_level):
        row_level = row_level.sort_values(["file", "row"], kind="stable", ignore_index=True)
    return FaersExport(
        files=reader.files,
        cases=cases,
        drugs=drugs,
        reactions=reactions,
        rejections=rj.combine([*reader.problems, row_level]),
        notes=[*reader.notes, *shaper.notes],
        uses=log.uses,
        rows_read=reader.rows_read,
        folded=_folded_frame(shaper.folded),
        withheld=withheld,
        deletions=deletions,
    )


def _reading_order(file: SourceFile) -> int:
    """DELETE lists first, then the tables in the order of :data:`TABLES`."""
    table = _TABLE_NAME.match(file.name)
    return -1 if table is None else TABLES.index(table.group(1).upper())


def _folded_frame(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The folded rows of a quarter as one frame (see :attr:`FaersExport.folded`)."""
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return _no_folded()
    return pd.concat(frames, ignore_index=True)


def read_faers(paths: Sequence[Path]) -> FaersExport:
    """Read FAERS or legacy AERS quarterly ASCII files into cases, drugs and reactions.

    Parameters
    ----------
    paths : sequence of Path
        Files and/or folders (see :func:`open_faers`).

    Returns
    -------
    FaersExport
        The files read, the accepted cases, drugs and reactions (text stripped, empty text as
        None, numbers as float with NaN), the rejections and the notes, of every quarter
        together. ``is_latest`` is decided across the quarters. See the module docstring for
        the checks and the choices made. :func:`read_quarters` reads the same one quarter
        at a time (what a load does).

    Examples
    --------
    >>> export = read_faers([])
    >>> len(export.cases), list(export.cases.columns[:3])
    (0, ['source', 'report_key', 'case_key'])
    """
    plan = open_faers(paths)
    quarters = list(read_quarters(plan))
    cases = _stack([q.cases for q in quarters], CASE_COLUMNS)
    if len(cases):
        cases["is_latest"] = _latest(cases).astype(bool)
    return FaersExport(
        files=[file for q in quarters for file in q.files],
        cases=cases,
        drugs=_stack([q.drugs for q in quarters], DRUG_COLUMNS),
        reactions=_stack([q.reactions for q in quarters], REACTION_COLUMNS),
        rejections=rj.combine([*plan.log.problems, *(q.rejections for q in quarters)]),
        notes=[*plan.log.notes, *(note for q in quarters for note in q.notes)],
        uses=plan.log.uses,
        rows_read={name: n for q in quarters for name, n in q.rows_read.items()},
        folded=_folded_frame([q.folded for q in quarters]),
        withheld={name: n for q in quarters for name, n in q.withheld.items()},
        deletions=[deletion for q in quarters for deletion in q.deletions],
    )


def _stack(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    """The frames of the quarters one after another (the first one's types when all empty)."""
    filled = [frame for frame in frames if len(frame)]
    if len(filled) == 1:
        return filled[0]
    if filled:
        return pd.concat(filled, ignore_index=True)
    if frames:
        return frames[0]
    empty = pd.DataFrame(columns=list(columns))
    return _finish(empty, columns, pd.Series(dtype=object))


# --- finding the files --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    path: Path
    table: str
    quarter: str


_NOT_FAERS = (
    f"not a FAERS table ({', '.join(TABLES)}) nor an FDA list of deleted cases (DELETE), "
    "judged by its name"
)


def _discover(paths: Sequence[Path]) -> tuple[list[_Found], ReadLog]:
    """The table and DELETE files among ``paths``, with the file-level problems and uses."""
    found: list[_Found] = []
    log = ReadLog()
    seen: set[Path] = set()

    def consider(path: Path, *, given: bool) -> None:
        if path.resolve() in seen:
            return
        seen.add(path.resolve())
        table = _TABLE_NAME.match(path.name) or _DELETE_NAME.match(path.name)
        if table is None:
            log.account(path.name, NOT_RECOGNISED, _NOT_FAERS)
            if given:
                log.problems.append(
                    rj.file_rejection(
                        path.name,
                        "unknown_table",
                        f"the file name does not start with one of {', '.join(TABLES)}, so it "
                        "is not a FAERS table",
                    )
                )
            return
        quarter = _QUARTER.match(path.name)
        if quarter is None:
            reason = (
                "the file name has no quarter after the table name (like DEMO17Q2.txt), so "
                "the rows cannot be dated to a quarter"
            )
            log.problems.append(rj.file_rejection(path.name, "unknown_quarter", reason))
            log.account(path.name, NOT_RECOGNISED, reason)
            return
        year = quarter.group(1)
        year = year if len(year) == 4 else f"20{year}"
        found.append(_Found(path, table.group(0).upper(), f"{year}Q{quarter.group(2)}"))

    for given in paths:
        path = Path(given)
        if path.is_dir():
            inner_files = sorted(p for p in path.rglob("*") if p.is_file())
            if not inner_files:
                log.problems.append(
                    rj.file_rejection(str(path), "missing_file", "the folder holds no file")
                )
            for inner in inner_files:
                consider(inner, given=False)
        elif path.is_file():
            consider(path, given=True)
        else:
            log.problems.append(
                rj.file_rejection(
                    str(path), "missing_file", "the path is neither a file nor a folder"
                )
            )
    return found, log


# --- reading one file ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    """An output column: its source column names in FAERS and in legacy AERS files.

    An empty tuple means the layout has no such column (the output stays empty, without a note).
    """

    name: str
    faers: tuple[str, ...]
    aers: tuple[str, ...]
    required: bool = False


_REPORT_FIELD = _Field("report_key", ("primaryid",), ("isr",), required=True)
_FIELDS: dict[str, tuple[_Field, ...]] = {
    "DEMO": (
        _REPORT_FIELD,
        _Field("case_key", ("caseid",), ("case",), required=True),
        _Field("case_version", ("caseversion",), (), required=True),
        _Field("initial_or_followup", ("i_f_code", "i_f_cod"), ("i_f_cod", "i_f_code")),
        _Field("event_date_source_value", ("event_dt",), ("event_dt",)),
        _Field("fda_received_date_source_value", ("fda_dt",), ("fda_dt",)),
        _Field("report_type", ("rept_cod",), ("rept_cod",)),
        _Field("age", ("age",), ("age",)),
        _Field("age_unit", ("age_cod",), ("age_cod",)),
        _Field("sex", ("sex", "gndr_cod"), ("gndr_cod", "sex")),
        _Field("weight", ("wt",), ("wt",)),
        _Field("weight_unit", ("wt_cod",), ("wt_cod",)),
        _Field("reporter_country", ("reporter_country",), ()),
        _Field("occurrence_country", ("occr_country",), ()),
        _Field("reporter_occupation", ("occp_cod",), ("occp_cod",)),
    ),
    "DRUG": (
        _REPORT_FIELD,
        _Field("drug_seq", ("drug_seq",), ("drug_seq",), required=True),
        _Field("role", ("role_cod",), ("role_cod",)),
        _Field("drug_name", ("drugname",), ("drugname",), required=True),
        _Field("active_ingredient", ("prod_ai",), ()),
        _Field("route", ("route",), ("route",)),
        _Field("dose_amount", ("dose_amt",), ()),
        _Field("dose_unit", ("dose_unit",), ()),
        _Field("dechallenge", ("dechal",), ("dechal",)),
        _Field("rechallenge", ("rechal",), ("rechal",)),
    ),
    "REAC": (
        _REPORT_FIELD,
        _Field("preferred_term", ("pt",), ("pt",), required=True),
        _Field("drug_recurrence_action", ("drug_rec_act",), ()),
    ),
    "OUTC": (_REPORT_FIELD, _Field("code", ("outc_cod",), ("outc_cod",), required=True)),
    "RPSR": (_REPORT_FIELD, _Field("code", ("rpsr_cod",), ("rpsr_cod",), required=True)),
    "THER": (
        _REPORT_FIELD,
        _Field("drug_seq", ("dsg_drug_seq", "drug_seq"), ("drug_seq", "dsg_drug_seq"), True),
        _Field("start_date_source_value", ("start_dt",), ("start_dt",)),
        _Field("end_date_source_value", ("end_dt",), ("end_dt",)),
    ),
    "INDI": (
        _REPORT_FIELD,
        _Field("drug_seq", ("indi_drug_seq", "drug_seq"), ("drug_seq", "indi_drug_seq"), True),
        _Field("indication", ("indi_pt",), ("indi_pt",), required=True),
    ),
}


@dataclass(frozen=True)
class _Header:
    layout: str
    columns: dict[str, str | None]
    """Output field -> column of the file (None when absent)."""
    absent: list[str]
    """Optional source columns the file lacks."""
    line_final: list[str]
    """Trailing columns that may be the empty field after a line-final ``$``."""
    unknown: list[str] = field(default_factory=list)
    """Columns that are not in FDA's layout as pv-monitor knows it (new or renamed)."""


UNSTORED: dict[str, tuple[str, ...]] = {
    "DEMO": (
        "mfr_dt", "init_fda_dt", "auth_num", "mfr_num", "mfr_sndr", "lit_ref", "age_grp",
        "e_sub", "rept_dt", "to_mfr", "foll_seq", "image", "death_dt", "confid",
    ),
    "DRUG": (
        "caseid", "val_vbm", "dose_vbm", "cum_dose_chr", "cum_dose_unit", "lot_num", "exp_dt",
        "nda_num", "dose_form", "dose_freq",
    ),
    "REAC": ("caseid",),
    "OUTC": ("caseid",),
    "RPSR": ("caseid",),
    "THER": ("caseid", "dur", "dur_cod"),
    "INDI": ("caseid",),
}  # fmt: skip
"""Columns of FDA's layout (``ASC_NTS``, 2004Q1 to 2026Q2) that are read and deliberately not
stored: record numbers (``mfr_num``, ``auth_num``, ``lot_num``, ``nda_num``) for privacy, the
others because nothing in pv-monitor uses them (docs/data_formats.md). Any other column a file
has that no field maps is named in a note, so that a renamed column is never lost silently."""


def _clean(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()


def _header(table: str, names: list[str]) -> _Header | str:
    """Match a file's header to the table's fields; a reason when required columns are missing."""
    lookup: dict[str, str] = {}
    for name in names:
        lookup.setdefault(_clean(name), name)
    if "primaryid" in lookup:
        layout = "faers"
    elif "isr" in lookup:
        layout = "aers"
    else:
        return (
            f"the {table} file has neither a primaryid column (FAERS) nor an isr column "
            "(legacy AERS), so its rows cannot be tied to reports; its rows were not read"
        )
    columns: dict[str, str | None] = {}
    missing: list[str] = []
    absent: list[str] = []
    for spec in _FIELDS[table]:
        wanted = spec.faers if layout == "faers" else spec.aers
        column = next((lookup[name] for name in wanted if name in lookup), None)
        columns[spec.name] = column
        if column is None and wanted:
            (missing if spec.required else absent).append(" or ".join(wanted))
    if missing:
        return (
            f"the {table} file ({_LAYOUT_LABEL[layout]} layout) lacks the required "
            f"column(s) {', '.join(missing)}; its rows were not read"
        )
    line_final: list[str] = []
    for name in reversed(names):
        if not _LINE_FINAL.fullmatch(_clean(name)) or name in columns.values():
            break
        line_final.append(name)
    known = {name for spec in _FIELDS[table] for name in (*spec.faers, *spec.aers)}
    known |= set(UNSTORED[table])
    unknown = [
        name
        for name in names
        if _clean(name) not in known and name not in line_final and name not in columns.values()
    ]
    return _Header(layout, columns, absent, line_final, unknown)


def _text(values: pd.Series) -> pd.Series:
    """Stripped text, with empty text as None."""
    stripped = values.str.strip()
    return stripped.astype(object).where(stripped.notna() & stripped.ne(""), None)


def _nothing(index: pd.Index) -> pd.Series:
    return pd.Series([None] * len(index), index=index, dtype=object)


@dataclass
class _Read:
    frame: pd.DataFrame | None = None
    header: _Header | None = None
    problem: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def _read(source: SourceFile, table: str) -> _Read:
    """One table file as output fields (text), ``_row``, ``_file`` and ``source``."""
    parts: list[pd.DataFrame] = []
    header: _Header | None = None
    filled: dict[str, int] = {}
    try:
        for chunk in read_csv_chunks(source, delimiter="$", quoting=False):
            if header is None:
                matched = _header(table, [c for c in chunk.columns if c != ROW])
                if isinstance(matched, str):
                    return _Read(problem=rj.file_rejection(source.name, "missing_columns", matched))
                header = matched
                filled = dict.fromkeys(header.line_final, 0)
            for name in filled:
                filled[name] += int(chunk[name].astype(object).str.strip().ne("").sum())
            parts.append(
                pd.DataFrame(
                    {
                        out: _text(chunk[col]) if col is not None else _nothing(chunk.index)
                        for out, col in header.columns.items()
                    }
                    | {ROW: chunk[ROW]},
                    index=chunk.index,
                )
            )
    except FileProblem as problem:
        return _Read(problem=rj.file_rejection(source.name, problem.rule, problem.reason))
    if header is None:  # read_csv_chunks always yields a frame; kept for the type checker
        return _Read(problem=rj.file_rejection(source.name, "empty_file", "the file is empty"))
    notes: list[str] = []
    if header.absent:
        notes.append(f"{source.name}: no column {', '.join(header.absent)}; left empty")
    if header.unknown:
        notes.append(
            f"{source.name}: column(s) {', '.join(header.unknown)} are not in the FAERS layout "
            "pv-monitor knows (new or renamed?); their values were not stored"
        )
    notes += [
        f"{source.name}: the last column '{name}' looks like the empty field after a line-final "
        f"'$' but holds values in {count} row(s); they were ignored"
        for name, count in filled.items()
        if count
    ]
    frame = pd.concat(parts, ignore_index=True)
    frame[FILE] = source.name
    frame["source"] = header.layout
    return _Read(frame=frame, header=header, notes=notes)


class _Reader:
    """Reads the files of one quarter, DEMO first, and its DELETE lists."""

    def __init__(self, sources: dict[Path, SourceFile], log: ReadLog) -> None:
        self.sources = sources
        self.log = log
        self.files: list[SourceFile] = []
        self.frames: dict[str, list[pd.DataFrame]] = {table: [] for table in TABLES}
        self.columns: dict[str, dict[str, str]] = {}
        self.problems: list[pd.DataFrame] = []
        self.notes: list[str] = []
        self.rows_read: dict[str, int] = {}
        self.pending: list[_Found] = []
        """Files of the quarter not read yet (every table but DEMO, read when needed)."""

    def read_quarter(self, quarter: str, found: list[_Found]) -> list[Deletion]:
        """Read the quarter's files; its DELETE lists."""
        deletions = [self._read_deletion(f, quarter) for f in found if f.table == DELETE]
        tables = [f for f in found if f.table != DELETE]
        ordered = sorted(tables, key=lambda f: (TABLES.index(f.table), f.path.name))
        demos = [f for f in ordered if f.table == "DEMO"]
        others = [f for f in ordered if f.table != "DEMO"]
        unread = ", ".join(f.path.name for f in others) or "no other files"
        if not tables:
            return deletions
        if not demos:
            self.problems.append(
                rj.file_rejection(
                    f"DEMO{quarter[2:]}",
                    "missing_demo",
                    f"there is no DEMO file for {quarter}, so its reports are unknown; "
                    f"not read: {unread}",
                )
            )
            self._not_read(others, f"not read: there is no DEMO file for {quarter}")
            return deletions
        if not sum(self._read(f, quarter) for f in demos):
            self.notes.append(f"{quarter}: no usable DEMO file, so these were not read: {unread}")
            self._not_read(others, f"not read: {quarter} has no usable DEMO file")
            return deletions
        self.pending = others  # read one table at a time, when it is shaped (_Tables)
        return deletions

    def _not_read(self, found: list[_Found], why: str) -> None:
        for f in found:
            self.log.account(f.path.name, IGNORED, why)

    def _read(self, found: _Found, quarter: str) -> bool:
        source = self.sources[found.path]
        self.files.append(source)
        read = _read(source, found.table)
        self.notes += read.notes
        if read.problem is not None:
            self.problems.append(read.problem)
            self.log.account(source.name, UNREADABLE, str(read.problem["reason"].iloc[0]))
        if read.frame is None or read.header is None:
            return False
        self.log.account(source.name, USED)
        self.rows_read[source.name] = len(read.frame)
        self.columns[source.name] = {
            out: _clean(col) for out, col in read.header.columns.items() if col is not None
        }
        read.frame["quarter"] = quarter
        self.frames[found.table].append(read.frame)
        return True

    def _read_deletion(self, found: _Found, quarter: str) -> Deletion:
        """An FDA DELETE list: one caseid a line; blank lines and a header line are skipped."""
        source = self.sources[found.path]
        self.files.append(source)
        try:
            text = source.path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            reason = f"the file is not UTF-8 text ({error.reason} at byte {error.start})"
            self.problems.append(rj.file_rejection(source.name, "unreadable_file", reason))
            self.log.account(source.name, UNREADABLE, reason)
            return Deletion(source.name, quarter, [])
        lines = pd.Series([line.strip() for line in text.splitlines()], dtype=object)
        lines.index = pd.RangeIndex(1, len(lines) + 1)  # line numbers
        lines = lines[lines.ne("")]
        if len(lines) and not lines.iloc[0].isdigit() and lines.iloc[0].lower() in _DELETE_HEADERS:
            lines = lines.iloc[1:]
        good = lines.str.fullmatch(_WHOLE).astype(bool)
        bad = lines[~good]
        if len(bad):
            self.problems.append(
                rj.rejections(
                    source.name,
                    rows=pd.Series(bad.index, dtype="int64"),
                    field="caseid",
                    values=bad,
                    rule="not_an_integer",
                    reason="caseid '" + bad + "' is not a whole number, so no case can be deleted",
                )
            )
        self.log.account(source.name, USED)
        self.rows_read[source.name] = len(lines)
        return Deletion(source.name, quarter, list(dict.fromkeys(lines[good])))


_DELETE_HEADERS = ("caseid", "case_id", "case id", "caseids")
"""A first line taken for a header of a DELETE list (in lower case)."""


class _Tables:
    """A quarter's tables, each read when the shaper takes it (and then no longer held here).

    DEMO is read first; the cases FDA's DELETE lists of the quarter name are withheld from it
    and, by report, from every other table as it is read (FAERS layout only).
    """

    def __init__(self, reader: _Reader, quarter: str, deletions: list[Deletion]) -> None:
        self.reader = reader
        self.quarter = quarter
        self.withheld: dict[str, int] = {}
        listed = {key for deletion in deletions for key in deletion.case_keys}
        demo = _concat(reader.frames.pop("DEMO"), "DEMO")
        gone = demo["source"].eq("faers") & demo["case_key"].isin(listed)
        self.gone = set(demo.loc[gone, "report_key"].dropna())
        found = set(demo.loc[gone, "case_key"])
        self.deletions = [
            Deletion(d.file, d.quarter, d.case_keys, tuple(k for k in d.case_keys if k in found))
            for d in deletions
        ]
        self.demo = self._withhold(demo, gone)

    def _withhold(self, frame: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
        if not mask.any():
            return frame
        for name, n in frame.loc[mask, FILE].value_counts(sort=False).items():
            self.withheld[str(name)] = int(n)
        return frame.take(np.flatnonzero(~mask.to_numpy()))  # a frame of its own, not a view

    def pop(self, table: str) -> pd.DataFrame:
        """The table's rows (its files are read now), without the withheld cases."""
        if table == "DEMO":
            demo, self.demo = self.demo, _concat([], "DEMO")
            return demo
        for found in [f for f in self.reader.pending if f.table == table]:
            self.reader._read(found, self.quarter)
        frame = _concat(self.reader.frames.pop(table, []), table)
        if not self.gone:
            return frame
        return self._withhold(
            frame, frame["source"].eq("faers") & frame["report_key"].isin(self.gone)
        )


def _concat(frames: list[pd.DataFrame], table: str) -> pd.DataFrame:
    if len(frames) == 1:
        return frames[0]
    if frames:
        return pd.concat(frames, ignore_index=True)
    columns = [spec.name for spec in _FIELDS[table]] + [ROW, FILE, "source", "quarter"]
    empty = pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    empty[ROW] = empty[ROW].astype("int64")
    return empty


# --- checking and shaping -----------------------------------------------------------------------


def _whole(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Which values are whole numbers (digits only), and those numbers (Int64, NA elsewhere)."""
    valid = values.fillna("").astype(object).str.fullmatch(_WHOLE).fillna(False).astype(bool)
    numbers = values.where(valid, "0").astype("int64").astype("Int64").where(valid)
    return valid, numbers


def _isin(frame: pd.DataFrame, keys: list[str], reference: pd.DataFrame) -> pd.Series:
    """Whether each row's ``keys`` appear in ``reference``."""
    merged = frame[keys].merge(
        reference[keys].drop_duplicates(), how="left", on=keys, indicator=True
    )
    return pd.Series(merged["_merge"].eq("both").to_numpy(), index=frame.index)


def _none(values: pd.Series) -> pd.Series:
    """Text with missing values as None (pandas would otherwise use NaN)."""
    return values.astype(object).where(values.notna(), None)


class _Shaper:
    """Checks the concatenated tables and builds the output frames."""

    def __init__(self, columns: dict[str, dict[str, str]]) -> None:
        self.columns = columns
        self.rejected: list[pd.DataFrame] = []
        self.notes: list[str] = []
        self.folded: list[pd.DataFrame] = []
        """Accepted OUTC/RPSR/THER/INDI rows (file, row, report), for the load's account."""

    def fold(self, rows: pd.DataFrame) -> None:
        """Remember ``rows`` as folded into a case or a drug."""
        if len(rows):
            self.folded.append(rows[[FILE, ROW, "report_key"]])

    def formulas(self, frame: pd.DataFrame) -> pd.Series:
        """Reject rows with a text field that starts like a spreadsheet formula; their mask.

        The rule of the other formats (``etl.contracts``, rule ``formula``), applied to every
        field read, once per distinct value.
        """
        bad = pd.Series(False, index=frame.index)
        for out in frame.columns:
            if out in (FILE, ROW, "source", "quarter") or frame[out].dtype != object:
                continue
            values = frame[out]
            flagged = (
                per_distinct_value(values, lambda s: suspicious_text(s)["formula"]).astype(bool)
                & values.notna()
            )
            if flagged.any():
                self.reject(
                    frame[flagged],
                    out,
                    "formula",
                    "{field} starts like a spreadsheet formula (=, +, - or @), so it could run "
                    "when someone opens the data in a spreadsheet; the row was not loaded",
                )
                bad |= flagged
        return bad

    def dates(self, frame: pd.DataFrame, out: str) -> pd.Series:
        """Reject rows whose FAERS date ``out`` is impossible; their mask.

        FAERS dates are ``YYYYMMDD``, ``YYYYMM`` or ``YYYY``; a date must exist in the calendar
        (no 20170231, no month 13) and its year must lie in ``MIN_YEAR``-``MAX_YEAR``
        (:mod:`etl.normalise`, the same years as every other format).
        """
        text = frame[out]
        codes, distinct = pd.factorize(text, use_na_sentinel=True)
        if not len(distinct):
            return pd.Series(False, index=frame.index)
        values = pd.Series(distinct, dtype=object)
        shaped = values.str.fullmatch(_DATE_TEXT).astype(bool)
        parsed = parse_dates(values.where(shaped, ""))
        year = values.str.slice(0, 4).where(shaped, "0").astype(int)
        impossible = shaped & (parsed["invalid"] | ~year.between(MIN_YEAR, MAX_YEAR))
        column = _DATE_COLUMNS[out]
        why = pd.Series(
            [
                f"{column} '{value}' is not a date of the FAERS form YYYYMMDD, YYYYMM or YYYY"
                if not ok
                else f"{column} '{value}' is not a possible date"
                + ("" if MIN_YEAR <= y <= MAX_YEAR else f" (year outside {MIN_YEAR}-{MAX_YEAR})")
                for value, ok, y in zip(values, shaped, year, strict=True)
            ],
            dtype=object,
        )
        wrong_distinct = (~shaped | impossible).to_numpy()
        known = codes >= 0
        wrong = pd.Series(False, index=frame.index)
        wrong[known] = wrong_distinct[codes[known]]
        if wrong.any():
            reasons = pd.Series(why.to_numpy()[codes[wrong.to_numpy()]], index=frame.index[wrong])
            self.reject(frame[wrong], out, "date", reasons)
        return wrong

    def ages(self, demo: pd.DataFrame, numbers: dict[str, pd.Series]) -> pd.Series:
        """Reject ages and weights that no patient can have; their mask.

        Negative values are impossible; an age above the longest human life in its unit
        (:data:`AGE_LIMITS`) or a weight above :data:`WEIGHT_LIMITS` is absurd. A value without
        a unit is only checked for its sign (units are never guessed).
        """
        bad = pd.Series(False, index=demo.index)
        for out, unit_out, limits, what in (
            ("age", "age_unit", AGE_LIMITS, "age"),
            ("weight", "weight_unit", WEIGHT_LIMITS, "weight"),
        ):
            value = numbers[out]
            unit = demo[unit_out].astype(object).str.upper()
            limit = unit.map(limits).astype("float64")
            negative = value < 0
            absurd = value > limit
            shown = demo[out].astype(str) + unit.map(lambda u: "" if pd.isna(u) else f" {u}")
            reason = (shown + f" is negative, not a possible {what}").where(
                negative,
                shown
                + " is more than "
                + limit.map(lambda x: f"{x:g}")
                + " "
                + unit.fillna("")
                + f", not a possible {what}",
            )
            wrong = negative | absurd
            self.reject(demo[wrong], out, "range", reason[wrong])
            bad |= wrong
        return bad

    def reject(self, rows: pd.DataFrame, out: str, rule: str, reason: str | pd.Series) -> None:
        """Reject ``rows`` for field ``out``; ``{field}`` in a text reason is the file's column."""
        for name, group in rows.groupby(FILE, sort=False):
            column = self.columns.get(str(name), {}).get(out, out)
            self.rejected.append(
                rj.rejections(
                    str(name),
                    rows=group[ROW],
                    field=column,
                    values=group.get(out),
                    rule=rule,
                    reason=reason.loc[group.index]
                    if isinstance(reason, pd.Series)
                    else reason.format(field=column),
                )
            )

    def missing(self, frame: pd.DataFrame, out: str, what: str) -> pd.Series:
        """Reject rows where ``out`` is empty; the mask of those rows."""
        empty = frame[out].isna()
        self.reject(frame[empty], out, "missing_value", "{field} is empty, so " + what)
        return empty

    def duplicates(
        self,
        frame: pd.DataFrame,
        keys: list[str],
        eligible: pd.Series,
        out: str,
        label: Callable[[pd.DataFrame], pd.Series],
    ) -> pd.Series:
        """Reject later rows repeating an earlier eligible row's ``keys``; their mask.

        ``label`` names the rejected rows (it is called on them only: texts are built for the
        few duplicates, not for the million rows of a real DRUG file).
        """
        rows = frame.loc[eligible, [*keys, ROW, FILE]]
        later = rows.duplicated(keys, keep="first")
        mask = later.reindex(frame.index, fill_value=False).astype(bool)
        if not mask.any():
            return mask
        first = rows[~later]
        found = rows.loc[later, keys].merge(first, how="left", on=keys)
        where = " already appears in row " + found[ROW].astype(str) + " of " + found[FILE]
        repeated = frame[mask]
        self.reject(repeated, out, "duplicate", label(repeated) + where.to_numpy())
        return mask

    def not_in_demo(
        self,
        frame: pd.DataFrame,
        eligible: pd.Series,
        reported: pd.DataFrame,
        out: str = "report_key",
    ) -> pd.Series:
        """Reject eligible rows whose report is not in DEMO of their quarter; their mask."""
        absent = eligible & ~_isin(frame, _REPORT, reported)
        reason = "report " + frame.loc[absent, "report_key"].astype(str) + " is not in DEMO"
        self.reject(frame[absent], out, "not_in_demo", reason)
        return absent

    def shape(self, frames: _Tables) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        # Each input frame is taken out of ``frames`` when it is used, and each output is
        # finished at once, so that a quarter's tables are not all in memory together.
        demo = frames.pop("DEMO")
        reported = demo.loc[demo["report_key"].notna(), _REPORT]
        cases = self.cases(demo)
        del demo
        for table, label, allowed, out in (
            ("OUTC", "outcome", OUTCOME_CODES, "outcomes"),
            ("RPSR", "report source", REPORT_SOURCE_CODES, "report_sources"),
        ):
            codes = self.codes(frames.pop(table), reported, label, allowed).rename(
                columns={"code": out}
            )
            cases = cases.merge(codes, how="left", on=_REPORT)
        cases = _finish(cases, CASE_COLUMNS, "DEMO|" + cases["report_key"].astype(str))
        drugs, all_drugs = self.drugs(frames.pop("DRUG"), reported)
        drugs = self.therapy(drugs, frames.pop("THER"), all_drugs)
        drugs = self.indications(drugs, frames.pop("INDI"), all_drugs)
        del all_drugs
        drugs = _finish(
            drugs,
            DRUG_COLUMNS,
            "DRUG|" + drugs["report_key"].astype(str) + "|" + drugs["drug_seq"].astype(str),
        )
        reactions = self.reactions(frames.pop("REAC"), reported)
        reactions = _finish(
            reactions,
            REACTION_COLUMNS,
            "REAC|"
            + reactions["report_key"].astype(str)
            + "|"
            + reactions["preferred_term"].astype(str),
        )
        kept_drugs = int((~_isin(drugs, _REPORT, cases)).sum())
        kept_reactions = int((~_isin(reactions, _REPORT, cases)).sum())
        if kept_drugs or kept_reactions:
            self.notes.append(
                f"{kept_drugs} DRUG row(s) and {kept_reactions} REAC row(s) belong to reports "
                "whose DEMO row was rejected; they are kept, but those reports have no case row"
            )
        return cases, drugs, reactions

    def cases(self, demo: pd.DataFrame) -> pd.DataFrame:
        """Accepted DEMO rows, with numbers parsed and ``is_latest`` set."""
        key = demo["report_key"]
        bad = self.missing(demo, "report_key", "the row cannot be tied to a report")
        bad |= self.missing(demo, "case_key", "the report cannot be tied to a case")
        bad |= self.formulas(demo)
        bad |= self.dates(demo, "event_date_source_value")
        bad |= self.dates(demo, "fda_received_date_source_value")
        bad |= self.duplicates(
            demo, ["report_key"], key.notna(), "report_key", _label("report {report_key}")
        )
        numbers = {}
        for out, what in (("age", "age"), ("weight", "weight")):
            text = demo[out]
            numbers[out] = pd.to_numeric(text, errors="coerce").astype("float64")
            wrong = text.notna() & (numbers[out].isna() | numbers[out].abs().eq(float("inf")))
            self.reject(
                demo[wrong],
                out,
                "not_a_number",
                f"{what} '" + text[wrong].astype(str) + "' is not a number",
            )
            bad |= wrong
        bad |= self.ages(demo, numbers)
        faers = demo["source"].eq("faers")
        valid, version = _whole(demo["case_version"])
        wrong = faers & ~valid
        text = demo.loc[wrong, "case_version"]
        reason = ("caseversion '" + text.astype(str) + "' is not a whole number").where(
            text.notna(), "caseversion is empty, so the report's version is unknown"
        )
        self.reject(demo[wrong], "case_version", "not_an_integer", reason)
        bad |= wrong
        cases = demo.assign(case_version=version.where(faers), **numbers)[~bad]
        return cases.assign(is_latest=_latest(cases))

    def drugs(
        self, drug: pd.DataFrame, reported: pd.DataFrame
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Accepted DRUG rows, and every DRUG row with a report and a whole drug_seq."""
        bad = self.missing(drug, "report_key", "the drug cannot be tied to a report")
        bad |= self.missing(drug, "drug_name", "the drug is unknown")
        bad |= self.formulas(drug)
        valid, seq = _whole(drug["drug_seq"])
        text = drug.loc[~valid, "drug_seq"]
        reason = ("drug_seq '" + text.astype(str) + "' is not a whole number").where(
            text.notna(), "drug_seq is empty, so the drug cannot be told apart"
        )
        self.reject(drug[~valid], "drug_seq", "not_an_integer", reason)
        drug["drug_seq"] = seq  # the reader's own frame: no copy
        bad |= ~valid
        keyed = drug["report_key"].notna() & valid
        bad |= self.not_in_demo(drug, keyed, reported)
        label = _label("drug {drug_seq} of report {report_key}")
        bad |= self.duplicates(drug, ["report_key", "drug_seq"], keyed, "drug_seq", label)
        kept = drug.take(np.flatnonzero(~bad.to_numpy()))
        amount = pd.to_numeric(kept["dose_amount"], errors="coerce").astype("float64")
        odd = kept[kept["dose_amount"].notna() & amount.isna()]
        for name, group in odd.groupby(FILE, sort=False):
            self.notes.append(
                f"{name}: {len(group)} dose_amt value(s) are not numbers (e.g. "
                f"'{group['dose_amount'].iloc[0]}'); their dose_amount is left empty"
            )
        by_name = _products(kept["drug_name"])
        product = by_name.where(by_name.notna(), _products(kept["active_ingredient"]))
        return kept.assign(dose_amount=amount, product=product), drug.loc[keyed, _DRUG]

    def linked(
        self, rows: pd.DataFrame, drugs: pd.DataFrame, all_drugs: pd.DataFrame, what: str
    ) -> pd.DataFrame:
        """THER/INDI rows that name an accepted drug (the others are rejected)."""
        bad = self.missing(rows, "report_key", f"the {what} cannot be tied to a report")
        bad |= self.formulas(rows)
        valid, seq = _whole(rows["drug_seq"])
        wrong = ~bad & ~valid
        text = rows.loc[wrong, "drug_seq"]
        reason = ("drug sequence '" + text.astype(str) + "' is not a whole number").where(
            text.notna(), f"the drug sequence is empty, so the {what} cannot be tied to a drug"
        )
        self.reject(rows[wrong], "drug_seq", "not_an_integer", reason)
        rows = rows.assign(drug_seq=seq)
        keyed = ~bad & valid
        accepted = keyed & _isin(rows, _DRUG, drugs)
        known = keyed & _isin(rows, _DRUG, all_drugs)
        gone = known & ~accepted
        label = _label("drug {drug_seq} of report {report_key}")
        self.reject(
            rows[gone],
            "drug_seq",
            "drug_rejected",
            label(rows[gone]) + f" was rejected, so this {what} was not used",
        )
        absent = keyed & ~known
        self.reject(
            rows[absent],
            "drug_seq",
            "no_such_drug",
            "no drug "
            + rows.loc[absent, "drug_seq"].astype(str)
            + " in report "
            + rows.loc[absent, "report_key"].astype(str),
        )
        return rows[accepted]

    def therapy(
        self, drugs: pd.DataFrame, ther: pd.DataFrame, all_drugs: pd.DataFrame
    ) -> pd.DataFrame:
        """Drugs with the earliest start and latest end date of their THER rows."""
        bad = self.dates(ther, "start_date_source_value")
        bad |= self.dates(ther, "end_date_source_value")
        rows = self.linked(ther[~bad], drugs, all_drugs, "therapy period")
        self.fold(rows)
        size = rows.groupby(_DRUG)[ROW].transform("size")
        for name, group in rows[size > 1].groupby(FILE, sort=False):
            count = len(group.drop_duplicates(_DRUG))
            self.notes.append(
                f"{name}: {len(group)} rows give several therapy periods for {count} drug(s); "
                "kept the earliest start_dt and the latest end_dt of each drug"
            )
        edges: tuple[tuple[str, Literal["first", "last"]], ...] = (
            ("start_date_source_value", "first"),  # earliest start
            ("end_date_source_value", "last"),  # latest end
        )
        for column, keep in edges:
            dated = rows[rows[column].notna()].sort_values(column, kind="stable")
            edge = dated.drop_duplicates(_DRUG, keep=keep)[[*_DRUG, column]]
            joined = drugs[_DRUG].merge(edge, how="left", on=_DRUG)  # keys only: no copy
            drugs[column] = joined[column].to_numpy()
        return drugs

    def indications(
        self, drugs: pd.DataFrame, indi: pd.DataFrame, all_drugs: pd.DataFrame
    ) -> pd.DataFrame:
        """Drugs with their INDI preferred terms, several joined with "; "."""
        bad = self.missing(indi, "indication", "there is no indication to record")
        rows = self.linked(indi[~bad], drugs, all_drugs, "indication")
        self.fold(rows)
        rows = rows.drop_duplicates([*_DRUG, "indication"])
        joined = drugs[_DRUG].merge(_join(rows, _DRUG, "indication", "; "), how="left", on=_DRUG)
        drugs["indication"] = joined["indication"].to_numpy()
        return drugs

    def reactions(self, reac: pd.DataFrame, reported: pd.DataFrame) -> pd.DataFrame:
        """Accepted REAC rows (one per report and preferred term, ignoring case)."""
        bad = self.missing(reac, "report_key", "the reaction cannot be tied to a report")
        bad |= self.missing(reac, "preferred_term", "the reaction is unknown")
        bad |= self.formulas(reac)
        keyed = reac["report_key"].notna() & reac["preferred_term"].notna()
        bad |= self.not_in_demo(reac, keyed, reported)
        folded = reac[["report_key", "preferred_term", ROW, FILE]].assign(
            _term=reac["preferred_term"].str.lower()
        )
        label = _label("reaction '{preferred_term}' of report {report_key}")
        bad |= self.duplicates(folded, ["report_key", "_term"], keyed, "preferred_term", label)
        return reac[~bad]

    def codes(
        self, frame: pd.DataFrame, reported: pd.DataFrame, label: str, allowed: tuple[str, ...]
    ) -> pd.DataFrame:
        """Per report, its accepted OUTC/RPSR codes: sorted, unique, joined with ";"."""
        upper = frame["code"].str.upper()
        bad = self.missing(frame, "report_key", f"the {label} cannot be tied to a report")
        bad |= self.formulas(frame)
        bad |= self.not_in_demo(frame, ~bad, reported)
        unknown = ~upper.isin(allowed)
        text = frame.loc[unknown, "code"]
        reason = (
            f"{label} code '" + text.astype(str) + "' is not one of " + ", ".join(allowed)
        ).where(text.notna(), f"the {label} code is empty")
        self.reject(frame[unknown], "code", "unknown_code", reason)
        kept = frame.assign(code=upper)[~bad & ~unknown]
        self.fold(kept)
        kept = kept.drop_duplicates([*_REPORT, "code"]).sort_values("code", kind="stable")
        return _join(kept, _REPORT, "code", ";")


def _label(template: str) -> Callable[[pd.DataFrame], pd.Series]:
    """A function naming rows by ``template`` (``{column}`` placeholders), e.g. "drug 1 of
    report 11"."""
    parts = re.split(r"\{(\w+)\}", template)

    def label(rows: pd.DataFrame) -> pd.Series:
        text = pd.Series("", index=rows.index, dtype=object)
        for position, part in enumerate(parts):
            text = text + (rows[part].astype(str) if position % 2 else part)
        return text

    return label


def _join(frame: pd.DataFrame, keys: list[str], column: str, sep: str) -> pd.DataFrame:
    """``column`` joined with ``sep`` per ``keys``, in row order.

    One vectorised step per position within a group (the largest group sets the count), so
    that nothing loops over rows or groups.
    """
    position = frame.groupby(keys, sort=False).cumcount()
    joined = frame[position == 0].set_index(keys)[column].astype(object)
    for k in range(1, int(position.max()) + 1 if len(frame) else 1):
        part = frame[position == k].set_index(keys)[column]
        joined.loc[part.index] = joined.loc[part.index] + sep + part
    return joined.reset_index()


def _latest(cases: pd.DataFrame) -> pd.Series:
    """True for the latest version of each case (FAERS over AERS, then version, then isr)."""
    order = pd.DataFrame(
        {
            "case_key": cases["case_key"],
            "faers": cases["source"].eq("faers"),
            "version": cases["case_version"]
            .astype("float64")
            .where(
                cases["source"].eq("faers"), pd.to_numeric(cases["report_key"], errors="coerce")
            ),
            "quarter": cases["quarter"],
            "report_key": cases["report_key"],
        },
        index=cases.index,
    ).sort_values(["faers", "version", "quarter", "report_key"], na_position="first", kind="stable")
    latest = order.drop_duplicates("case_key", keep="last").index
    return pd.Series(cases.index.isin(latest), index=cases.index)


def _products(names: pd.Series) -> pd.Series:
    """The generic name of the CAR-T product each name refers to (one lookup per name)."""
    lookup: dict[str, str] = {}
    for name in names.dropna().unique():
        product = find_product(str(name))
        if product is not None:
            lookup[str(name)] = product.generic_name
    return names.map(lookup).astype(object)


def _finish(frame: pd.DataFrame, columns: tuple[str, ...], key: pd.Series) -> pd.DataFrame:
    """The output frame: its columns in order, text as object with None, clean index.

    Built column by column from ``frame`` (no intermediate copy of the whole frame, which for
    a real quarter's DRUG rows is hundreds of MB); a column ``frame`` lacks is missing (NaN).
    """
    key = key if key.index.equals(frame.index) else key.reindex(frame.index)
    out: dict[str, object] = {}
    for name in columns:
        if name == "_key":
            values = key
        elif name in frame.columns:
            values = frame[name]
        else:
            values = pd.Series(np.nan, index=frame.index)
        if name in _NUMBER:
            values = values.astype("float64")
        elif name == "drug_seq" or name == ROW:
            values = values.astype("int64")
        elif name == "case_version":
            values = values.astype("Int64")
        elif name == "is_latest":
            values = values.astype(bool)
        else:
            values = _none(values)
        out[name] = values.array
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)), copy=False)
