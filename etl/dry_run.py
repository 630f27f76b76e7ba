"""A load without a store: what an export would become, and what would be rejected.

:func:`dry_run` reads a source (tidy, SDTM or a mapped site export) through the same contracts
and the same preparation as :func:`etl.load.load_source` (:meth:`etl.load._Run.take`), but
writes nothing and opens no database. ``pv-monitor mapping check MAPPING FOLDER`` prints it, so
that a data manager can see the first rows as they would be stored and every rejection before
the first real load.

What it cannot know without a store, it assumes from the export alone, as a load into an empty
store would see it:

* child rows may only name the subjects of the export itself (a real load also accepts
  subjects already in the store): other subjects are ``unknown_subject`` rejections whose reason
  says so;
* a row whose identity repeats one of an earlier chunk of the same export is a ``duplicate``, as
  the store would report it; corrections of rows loaded by earlier batches are not visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from etl import rejections
from etl.contracts import Kind, validate
from etl.prepare import PREPARERS, prepare_subjects, subject_context
from etl.sources import Chunk, FileUse, Source

_IDENTITY = {"subject": ("study_key", "subject_key")}
"""Identity of a prepared row within a batch (default: its subject and source key), as the
store's :data:`pv_monitor.store.loading.IDENTITIES` compares them."""
_CHILD_IDENTITY = ("subject_key", "source_key")
_SHOWN = {"study_key": "study", "subject_key": "subject", "source_key": "source_key"}
"""How a duplicate's reason names each identity column (as the store's reasons do)."""


@dataclass
class FileCheck:
    """Rows of one file: read, and rejected (a row with several rejections counts once)."""

    rows_read: int = 0
    rejected: int = 0


@dataclass
class DryRun:
    """What a load of the source would store and reject (see the module docstring)."""

    tables: dict[str, pd.DataFrame]
    """The first prepared rows of each store table, as they would be stored."""
    stored: dict[str, int]
    """Rows each store table would receive."""
    files: dict[str, FileCheck]
    rejections: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    uses: list[FileUse] = field(default_factory=list)

    @property
    def rejected_total(self) -> int:
        """Rejections found (several may concern one row; a whole file is one)."""
        return len(self.rejections)

    @property
    def exit_code(self) -> int:
        """0 when nothing would be rejected, 1 otherwise."""
        return 1 if self.rejected_total else 0

    def summary(self, examples: int = 3) -> list[RejectionGroup]:
        """Rejections by file and rule: how many, and the first ``examples`` of each."""
        if not len(self.rejections):
            return []
        grouped = self.rejections.groupby(["file", "rule"], sort=True, dropna=False)
        return [
            RejectionGroup(
                str(file),
                str(rule),
                len(group),
                [
                    {str(k): v for k, v in record.items()}
                    for record in group.head(examples).to_dict("records")
                ],
            )
            for (file, rule), group in grouped
        ]


@dataclass(frozen=True)
class RejectionGroup:
    """The rejections of one file under one rule."""

    file: str
    rule: str
    count: int
    examples: list[dict[str, Any]]
    """The first rejections: file, row, field, value, rule, reason."""


class _Check:
    """State of one dry run: the same steps as a load's ``_Run``, with no store."""

    def __init__(self, rows: int) -> None:
        self.keep = rows
        self.files: dict[str, FileCheck] = {}
        self.found: list[pd.DataFrame] = []
        self.subjects: list[pd.DataFrame] = []
        self.context: pd.DataFrame | None = None
        self.rejected_subjects: dict[str, tuple[str, int]] = {}
        self.heads: dict[str, list[pd.DataFrame]] = {}
        self.stored: dict[str, int] = {}
        self.seen: dict[str, dict[tuple[object, ...], object]] = {}
        """Per store table: identities met so far, with the data row that first had each."""

    def report(self, file: str) -> FileCheck:
        return self.files.setdefault(file, FileCheck())

    def reject(self, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        self.found.append(frame)
        for name, rows in frame.groupby("file")["row"]:
            self.report(str(name)).rejected += int(
                rows.dropna().nunique() or (rows.isna().sum() > 0)
            )

    def take(self, chunk: Chunk) -> None:
        self.report(chunk.file).rows_read += len(chunk.frame)
        passed, failed = validate(chunk.frame, chunk.kind, chunk.file)
        self.reject(failed)
        rows = chunk.frame[passed]
        if chunk.kind == Kind.SUBJECTS:
            prepared = prepare_subjects(rows, chunk.file)
            self.reject(prepared.rejected)
            bad = pd.concat([prepared.rejected["row"], failed["row"]]).dropna().astype(int)
            refused = chunk.frame[chunk.frame["_row"].isin(bad)]
            for subject, row in zip(refused["subject_id"], refused["_row"], strict=True):
                self.rejected_subjects[str(subject)] = (chunk.file, int(row))
            self.subjects.append(prepared.tables["subject"])
            self.keep_rows(chunk.file, prepared.tables)
            return
        if self.context is None:
            self.context = self.subject_context()
        prepared = PREPARERS[chunk.kind](rows, chunk.file, self.context)
        self.reject(self.explain_unknown(prepared.rejected))
        self.keep_rows(chunk.file, prepared.tables)

    def subject_context(self) -> pd.DataFrame:
        if not self.subjects:
            return pd.DataFrame(
                {"infusion_date": pd.Series(dtype="datetime64[ns]")}
                | {"death_date": pd.Series(dtype="datetime64[ns]")}
            )
        return subject_context(pd.concat(self.subjects, ignore_index=True))

    def explain_unknown(self, found: pd.DataFrame) -> pd.DataFrame:
        """The dry run's own words for subjects it cannot find (no store to look in)."""
        unknown = found["rule"] == "unknown_subject"
        if not unknown.any():
            return found
        found = found.copy()
        values = found.loc[unknown, "value"].astype(str)
        where = values.map(self.rejected_subjects)
        rejected = where.notna()
        found.loc[unknown, "reason"] = (
            "subject "
            + values
            + " is not a subject of this export (a load would accept the row only if the "
            "store already has the subject)"
        )
        if rejected.any():
            index = where[rejected].index
            found.loc[index, "reason"] = [
                f"subject {value} was rejected in {file} (row {row})"
                for value, (file, row) in zip(values[index], where[index], strict=True)
            ]
        return found

    def keep_rows(self, file: str, tables: dict[str, pd.DataFrame]) -> None:
        """Count the rows each table would receive; reject repeats of earlier chunks' rows."""
        for table, frame in tables.items():
            if not len(frame):
                continue
            identity = list(_IDENTITY.get(table, _CHILD_IDENTITY))
            keys = list(frame[identity].itertuples(index=False, name=None))
            seen = self.seen.setdefault(table, {})
            repeated = pd.Series([key in seen for key in keys], index=frame.index)
            reasons = [
                f"duplicate of row {seen[key]} (loaded earlier in this batch, from another part "
                "of the file or another file): same "
                + " and ".join(f"{_SHOWN[c]} '{v}'" for c, v in zip(identity, key, strict=True))
                for key in keys
                if key in seen
            ]
            for key, row in zip(keys, frame["source_row"], strict=True):
                seen.setdefault(key, row)
            if repeated.any():
                self.reject(
                    rejections.rejections(
                        file,
                        rows=frame.loc[repeated, "source_row"],
                        field=None,
                        values=None,
                        rule="duplicate",
                        reason=pd.Series(reasons),
                    )
                )
            frame = frame[~repeated]
            self.stored[table] = self.stored.get(table, 0) + len(frame)
            shown = self.heads.setdefault(table, [])
            have = sum(len(f) for f in shown)
            if have < self.keep:
                shown.append(frame.head(self.keep - have))


def dry_run(source: Source, *, rows: int = 5) -> DryRun:
    """Read ``source`` through the contracts and the preparation of a load, store nothing.

    Parameters
    ----------
    source
        An opened export (e.g. :class:`etl.sources.mapping.MappingSource`).
    rows
        How many prepared rows of each store table to keep for showing.

    Returns
    -------
    DryRun
        The first rows per store table, row counts, every rejection, the reader's notes and its
        account of every file.
    """
    check = _Check(rows)
    for chunk in source.chunks():
        check.take(chunk)
    for problem in source.log.problems:
        check.reject(problem)
    for name in {f for frame in source.log.problems for f in frame["file"].dropna()}:
        check.report(str(name))
    tables = {table: pd.concat(frames, ignore_index=True) for table, frames in check.heads.items()}
    return DryRun(
        tables=tables,
        stored=check.stored,
        files=check.files,
        rejections=rejections.combine(check.found),
        notes=list(source.log.notes),
        uses=list(source.log.uses.values()),
    )
