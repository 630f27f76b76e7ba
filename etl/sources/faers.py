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
* Duplicates are judged across the whole export, in order: quarters in ascending order, then
  files by name, then rows. The first row is kept, including when that first row is rejected
  for another reason. Keys are the report (DEMO), the report and drug sequence (DRUG), and the
  report and the preferred term ignoring case (REAC).
* "In DEMO" means that the report appears in a DEMO row of the same quarter. Rejected DEMO rows
  count. So a DEMO row rejected for, say, a non-numeric age removes nothing else. Its DRUG and
  REAC rows stay in ``drugs`` and ``reactions`` without a case row, and a note counts them. Its
  OUTC and RPSR codes have no case row to go to.
* THER and INDI rows join only drugs that were accepted. A row for a drug that was itself
  rejected is rejected too ("drug N of report X was rejected"), so that nothing disappears
  without a trace.
* OUTC and RPSR codes are compared in upper case. Rows whose report is not in DEMO are rejected,
  like DRUG and REAC rows.
* When a drug has several THER rows (one per therapy period), the drug keeps the earliest
  non-empty ``start_dt`` and the latest non-empty ``end_dt``. The comparison is on the raw
  text, so a partial ``2011`` sorts before ``20110305``. A note gives the count.
* ``is_latest`` is decided over the accepted cases of the export, grouped by ``case_key``
  across quarters and layouts. A FAERS version beats a legacy AERS one, then the higher
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
* FDA deletion lists (``DELETE*.txt`` in recent zips) are not applied. A note mentions any
  that are found in a folder.
* ``drugs`` and ``reactions`` carry ``quarter`` as well, because several quarters can come in
  one call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from etl import rejections as rj
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
_TABLE_NAME = re.compile(f"^({'|'.join(TABLES)})", re.IGNORECASE)
_QUARTER = re.compile(f"^(?:{'|'.join(TABLES)})" + r"(\d{4}|\d{2})Q([1-4])", re.IGNORECASE)
_LINE_FINAL = re.compile(r"(v\d+)?")
_WHOLE = r"\d{1,18}"
_LAYOUT_LABEL = {"faers": "FAERS", "aers": "legacy AERS"}
_REPORT = ["quarter", "report_key"]
_DRUG = ["quarter", "report_key", "drug_seq"]
_NUMBER = ("age", "weight", "dose_amount")


@dataclass(frozen=True)
class FaersExport:
    """What one call of :func:`read_faers` read.

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
    """

    files: list[SourceFile]
    cases: pd.DataFrame
    drugs: pd.DataFrame
    reactions: pd.DataFrame
    rejections: pd.DataFrame
    notes: list[str]


def read_faers(paths: Sequence[Path]) -> FaersExport:
    """Read FAERS or legacy AERS quarterly ASCII files into cases, drugs and reactions.

    Parameters
    ----------
    paths : sequence of Path
        Files and/or folders. A folder contributes every file inside it, recursively, whose
        name starts with DEMO, DRUG, REAC, OUTC, RPSR, THER or INDI, in any case. The quarter
        comes from the file name (``DEMO17Q2.txt`` gives ``2017Q2``; two-digit years are
        20xx).

    Returns
    -------
    FaersExport
        The files read, the accepted cases, drugs and reactions (text stripped, empty text as
        None, numbers as float with NaN), the rejections and the notes. See the module
        docstring for the checks and the choices made.

    Examples
    --------
    >>> export = read_faers([])
    >>> len(export.cases), list(export.cases.columns[:3])
    (0, ['source', 'report_key', 'case_key'])
    """
    found, problems, notes = _discover(paths)
    reader = _Reader()
    for quarter in sorted({f.quarter for f in found}):
        reader.read_quarter(quarter, [f for f in found if f.quarter == quarter])
    shaper = _Shaper(reader.columns)
    frames = {table: _concat(reader.frames[table], table) for table in TABLES}
    cases, drugs, reactions = shaper.shape(frames)
    file_level = rj.combine([*problems, *reader.problems])
    row_level = rj.combine(shaper.rejected)
    if len(row_level):
        row_level = row_level.sort_values(["file", "row"], kind="stable", ignore_index=True)
    return FaersExport(
        files=reader.files,
        cases=cases,
        drugs=drugs,
        reactions=reactions,
        rejections=rj.combine([file_level, row_level]),
        notes=[*notes, *reader.notes, *shaper.notes],
    )


# --- finding the files --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    path: Path
    table: str
    quarter: str


def _discover(paths: Sequence[Path]) -> tuple[list[_Found], list[pd.DataFrame], list[str]]:
    """The table files among ``paths``, the file-level problems and the notes."""
    found: list[_Found] = []
    problems: list[pd.DataFrame] = []
    notes: list[str] = []
    seen: set[Path] = set()

    def consider(path: Path) -> None:
        if path.resolve() in seen:
            return
        seen.add(path.resolve())
        table = _TABLE_NAME.match(path.name)
        if table is None:
            problems.append(
                rj.file_rejection(
                    path.name,
                    "unknown_table",
                    f"the file name does not start with one of {', '.join(TABLES)}, so it is not "
                    "a FAERS table",
                )
            )
            return
        quarter = _QUARTER.match(path.name)
        if quarter is None:
            problems.append(
                rj.file_rejection(
                    path.name,
                    "unknown_quarter",
                    "the file name has no quarter after the table name (like DEMO17Q2.txt), so "
                    "the rows cannot be dated to a quarter",
                )
            )
            return
        year = quarter.group(1)
        year = year if len(year) == 4 else f"20{year}"
        found.append(_Found(path, table.group(1).upper(), f"{year}Q{quarter.group(2)}"))

    for given in paths:
        path = Path(given)
        if path.is_dir():
            for inner in sorted(p for p in path.rglob("*") if p.is_file()):
                if _TABLE_NAME.match(inner.name):
                    consider(inner)
                elif inner.name.upper().startswith("DELETE"):
                    notes.append(
                        f"{inner.name}: FDA's list of deleted cases was found but not "
                        "applied; deleted cases are still in this export"
                    )
        elif path.is_file():
            consider(path)
        else:
            problems.append(
                rj.file_rejection(
                    str(path), "missing_file", "the path is neither a file nor a folder"
                )
            )
    return found, problems, notes


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
    return _Header(layout, columns, absent, line_final)


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
        for chunk in read_csv_chunks(source.path, delimiter="$"):
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
    """Reads the files of each quarter, DEMO first."""

    def __init__(self) -> None:
        self.files: list[SourceFile] = []
        self.frames: dict[str, list[pd.DataFrame]] = {table: [] for table in TABLES}
        self.columns: dict[str, dict[str, str]] = {}
        self.problems: list[pd.DataFrame] = []
        self.notes: list[str] = []

    def read_quarter(self, quarter: str, found: list[_Found]) -> None:
        ordered = sorted(found, key=lambda f: (TABLES.index(f.table), f.path.name))
        demos = [f for f in ordered if f.table == "DEMO"]
        others = [f for f in ordered if f.table != "DEMO"]
        unread = ", ".join(f.path.name for f in others) or "no other files"
        if not demos:
            self.problems.append(
                rj.file_rejection(
                    f"DEMO{quarter[2:]}",
                    "missing_demo",
                    f"there is no DEMO file for {quarter}, so its reports are unknown; "
                    f"not read: {unread}",
                )
            )
            return
        if not sum(self._read(f, quarter) for f in demos):
            self.notes.append(f"{quarter}: no usable DEMO file, so these were not read: {unread}")
            return
        for f in others:
            self._read(f, quarter)

    def _read(self, found: _Found, quarter: str) -> bool:
        try:
            source = SourceFile.of(found.path)
        except OSError as error:
            self.problems.append(
                rj.file_rejection(
                    found.path.name, "unreadable_file", f"the file cannot be opened ({error})"
                )
            )
            return False
        self.files.append(source)
        read = _read(source, found.table)
        self.notes += read.notes
        if read.problem is not None:
            self.problems.append(read.problem)
        if read.frame is None or read.header is None:
            return False
        self.columns[source.name] = {
            out: _clean(col) for out, col in read.header.columns.items() if col is not None
        }
        self.frames[found.table].append(read.frame.assign(quarter=quarter))
        return True


def _concat(frames: list[pd.DataFrame], table: str) -> pd.DataFrame:
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
        self, frame: pd.DataFrame, keys: list[str], eligible: pd.Series, out: str, label: pd.Series
    ) -> pd.Series:
        """Reject later rows repeating an earlier eligible row's ``keys``; their mask."""
        rows = frame[eligible]
        later = rows.duplicated(keys, keep="first")
        grouped = rows.groupby(keys, sort=False, dropna=False)
        where = (
            " already appears in row "
            + grouped[ROW].transform("first").astype(str)
            + " of "
            + grouped[FILE].transform("first").astype(str)
        )
        mask = later.reindex(frame.index, fill_value=False).astype(bool)
        self.reject(frame[mask], out, "duplicate", label[mask] + where[later])
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

    def shape(
        self, frames: dict[str, pd.DataFrame]
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        demo = frames["DEMO"]
        reported = demo.loc[demo["report_key"].notna(), _REPORT]
        cases = self.cases(demo)
        drugs, all_drugs = self.drugs(frames["DRUG"], reported)
        drugs = self.therapy(drugs, frames["THER"], all_drugs)
        drugs = self.indications(drugs, frames["INDI"], all_drugs)
        reactions = self.reactions(frames["REAC"], reported)
        for table, label, allowed, out in (
            ("OUTC", "outcome", OUTCOME_CODES, "outcomes"),
            ("RPSR", "report source", REPORT_SOURCE_CODES, "report_sources"),
        ):
            codes = self.codes(frames[table], reported, label, allowed).rename(
                columns={"code": out}
            )
            cases = cases.merge(codes, how="left", on=_REPORT)
        kept_drugs = int((~_isin(drugs, _REPORT, cases)).sum())
        kept_reactions = int((~_isin(reactions, _REPORT, cases)).sum())
        if kept_drugs or kept_reactions:
            self.notes.append(
                f"{kept_drugs} DRUG row(s) and {kept_reactions} REAC row(s) belong to reports "
                "whose DEMO row was rejected; they are kept, but those reports have no case row"
            )
        return (
            _finish(cases, CASE_COLUMNS, "DEMO|" + cases["report_key"].astype(str)),
            _finish(
                drugs,
                DRUG_COLUMNS,
                "DRUG|" + drugs["report_key"].astype(str) + "|" + drugs["drug_seq"].astype(str),
            ),
            _finish(
                reactions,
                REACTION_COLUMNS,
                "REAC|"
                + reactions["report_key"].astype(str)
                + "|"
                + reactions["preferred_term"].astype(str),
            ),
        )

    def cases(self, demo: pd.DataFrame) -> pd.DataFrame:
        """Accepted DEMO rows, with numbers parsed and ``is_latest`` set."""
        key = demo["report_key"]
        bad = self.missing(demo, "report_key", "the row cannot be tied to a report")
        bad |= self.missing(demo, "case_key", "the report cannot be tied to a case")
        bad |= self.duplicates(
            demo, ["report_key"], key.notna(), "report_key", "report " + key.astype(str)
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
        valid, seq = _whole(drug["drug_seq"])
        text = drug.loc[~valid, "drug_seq"]
        reason = ("drug_seq '" + text.astype(str) + "' is not a whole number").where(
            text.notna(), "drug_seq is empty, so the drug cannot be told apart"
        )
        self.reject(drug[~valid], "drug_seq", "not_an_integer", reason)
        drug = drug.assign(drug_seq=seq)
        bad |= ~valid
        keyed = drug["report_key"].notna() & valid
        bad |= self.not_in_demo(drug, keyed, reported)
        label = (
            "drug " + drug["drug_seq"].astype(str) + " of report " + drug["report_key"].astype(str)
        )
        bad |= self.duplicates(drug, ["report_key", "drug_seq"], keyed, "drug_seq", label)
        kept = drug[~bad]
        amount = pd.to_numeric(kept["dose_amount"], errors="coerce").astype("float64")
        odd = kept[kept["dose_amount"].notna() & amount.isna()]
        for name, group in odd.groupby(FILE, sort=False):
            self.notes.append(
                f"{name}: {len(group)} dose_amt value(s) are not numbers (e.g. "
                f"'{group['dose_amount'].iloc[0]}'); their dose_amount is left empty"
            )
        product = _products(kept["drug_name"]).combine_first(_products(kept["active_ingredient"]))
        return kept.assign(dose_amount=amount, product=product), drug[keyed]

    def linked(
        self, rows: pd.DataFrame, drugs: pd.DataFrame, all_drugs: pd.DataFrame, what: str
    ) -> pd.DataFrame:
        """THER/INDI rows that name an accepted drug (the others are rejected)."""
        bad = self.missing(rows, "report_key", f"the {what} cannot be tied to a report")
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
        label = (
            "drug " + rows["drug_seq"].astype(str) + " of report " + rows["report_key"].astype(str)
        )
        gone = known & ~accepted
        self.reject(
            rows[gone],
            "drug_seq",
            "drug_rejected",
            label[gone] + f" was rejected, so this {what} was not used",
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
        rows = self.linked(ther, drugs, all_drugs, "therapy period")
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
            drugs = drugs.merge(edge, how="left", on=_DRUG)
        return drugs

    def indications(
        self, drugs: pd.DataFrame, indi: pd.DataFrame, all_drugs: pd.DataFrame
    ) -> pd.DataFrame:
        """Drugs with their INDI preferred terms, several joined with "; "."""
        bad = self.missing(indi, "indication", "there is no indication to record")
        rows = self.linked(indi[~bad], drugs, all_drugs, "indication")
        rows = rows.drop_duplicates([*_DRUG, "indication"])
        return drugs.merge(_join(rows, _DRUG, "indication", "; "), how="left", on=_DRUG)

    def reactions(self, reac: pd.DataFrame, reported: pd.DataFrame) -> pd.DataFrame:
        """Accepted REAC rows (one per report and preferred term, ignoring case)."""
        bad = self.missing(reac, "report_key", "the reaction cannot be tied to a report")
        bad |= self.missing(reac, "preferred_term", "the reaction is unknown")
        keyed = reac["report_key"].notna() & reac["preferred_term"].notna()
        bad |= self.not_in_demo(reac, keyed, reported)
        folded = reac.assign(_term=reac["preferred_term"].str.lower())
        label = (
            "reaction '"
            + reac["preferred_term"].astype(str)
            + "' of report "
            + reac["report_key"].astype(str)
        )
        bad |= self.duplicates(folded, ["report_key", "_term"], keyed, "preferred_term", label)
        return reac[~bad]

    def codes(
        self, frame: pd.DataFrame, reported: pd.DataFrame, label: str, allowed: tuple[str, ...]
    ) -> pd.DataFrame:
        """Per report, its accepted OUTC/RPSR codes: sorted, unique, joined with ";"."""
        upper = frame["code"].str.upper()
        bad = self.missing(frame, "report_key", f"the {label} cannot be tied to a report")
        bad |= self.not_in_demo(frame, ~bad, reported)
        unknown = ~upper.isin(allowed)
        text = frame.loc[unknown, "code"]
        reason = (
            f"{label} code '" + text.astype(str) + "' is not one of " + ", ".join(allowed)
        ).where(text.notna(), f"the {label} code is empty")
        self.reject(frame[unknown], "code", "unknown_code", reason)
        kept = frame.assign(code=upper)[~bad & ~unknown]
        kept = kept.drop_duplicates([*_REPORT, "code"]).sort_values("code", kind="stable")
        return _join(kept, _REPORT, "code", ";")


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
    """The output frame: its columns in order, text as object with None, clean index."""
    out = frame.assign(_key=key).reindex(columns=list(columns)).reset_index(drop=True)
    for name in columns:
        if name in _NUMBER:
            out[name] = out[name].astype("float64")
        elif name == "drug_seq" or name == ROW:
            out[name] = out[name].astype("int64")
        elif name == "case_version":
            out[name] = out[name].astype("Int64")
        elif name == "is_latest":
            out[name] = out[name].astype(bool)
        else:
            out[name] = _none(out[name])
    return out
