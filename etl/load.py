"""Load one export as one batch: validate, normalise, write, record — all of it or none of it.

:func:`load_source` runs a reader (tidy, SDTM or mapped site export) through the contracts and
the normalisation into the store, in one database transaction:

* policy ``all_or_nothing`` (default): if any row is rejected, nothing of the batch is written;
  the batch is recorded as ``rejected`` with its rejections (file, row, field, value, reason);
* policy ``accept_partial``: the good rows are written, the batch is ``partial``;
* every load compares its rows with the store as it is now: a row whose identity is new is
  added, a row whose values differ from the stored ones is corrected (each change audited),
  whatever earlier batch or file it came from; a batch in which every row read is already
  stored with the same values writes nothing and is recorded as ``unchanged``;
* a file that changes while it is loaded (what was read is not the file the manifest describes,
  or its size, time or inode moved before the commit) rejects the batch whatever the policy;
* an interruption or a database error rolls the transaction back: the store is exactly as it
  was, and the batch is recorded as ``failed`` with the error.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import hashlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from etl import rejections
from etl.contracts import Kind, validate
from etl.normalise import impute, parse_dates
from etl.prepare import PREPARERS, Prepared, prepare_subjects, subject_context
from etl.sources import USED, Chunk, FileUse, Source
from etl.sources.faers import FaersExport, open_faers, read_quarters
from etl.sources.files import SourceFile
from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.loading import (
    BatchWriter,
    LoadLock,
    WriteOutcome,
    begin_batch,
    finish_batch,
    write_rejections,
)
from pv_monitor.store.migrate import require_current_schema

ALL_OR_NOTHING = "all_or_nothing"
ACCEPT_PARTIAL = "accept_partial"
FILE_CHANGED = "file_changed"
"""The rejection rule of a file that changed while it was loaded (rejects the batch)."""
MAX_STORED_REJECTIONS = 100_000
"""Rejections stored per batch; the summary still counts every one."""

_T = TypeVar("_T")

Progress = Callable[[str, int], None]
"""Called with a file name and the rows of it processed so far."""


@dataclass
class FileReport:
    """What happened to the rows of one file."""

    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    joined: int = 0
    """FAERS OUTC/RPSR/THER/INDI rows joined into a stored case or drug."""
    withheld: int = 0
    """FAERS rows not loaded because FDA's DELETE list of their quarter names their case."""
    deleted: int = 0
    """FAERS DELETE list: case versions it removed from the store."""


@dataclass
class LoadReport:
    """The outcome of a load, as the command line prints it."""

    batch_id: int | None
    status: str
    files: dict[str, FileReport]
    rejections: pd.DataFrame
    rejected_total: int
    notes: list[str] = field(default_factory=list)
    message: str = ""
    uses: list[FileUse] = field(default_factory=list)
    """What became of every file given (used, ignored, not recognised, unreadable)."""

    @property
    def exit_code(self) -> int:
        """0 when nothing was rejected, 1 otherwise (architecture.md: exit codes)."""
        return 1 if self.rejected_total or self.status in ("rejected", "failed") else 0


class _RejectedBatch(Exception):
    """Raised inside the transaction to roll back an all-or-nothing batch with rejections."""


def files_digest(source_format: str, files: list[SourceFile]) -> str:
    """SHA-256 of the format and the sorted (name, digest) pairs of the files."""
    digest = hashlib.sha256(source_format.encode())
    for file in sorted(files, key=lambda f: f.name):
        digest.update(f"{file.name}\x1f{file.sha256}\n".encode())
    return digest.hexdigest()


class _StoreThread:
    """Runs every store call of a load, in order, on one thread of its own.

    The reader, the contracts and the normalisation of the next chunk then run while the
    database writes the previous one (SQLite and PostgreSQL release the GIL while they work).
    Only this thread touches the session between the start and the end of the batch.
    """

    MAX_PENDING = 1
    """Chunks written ahead at most (bounds the memory a slow database can make us hold)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pv-monitor-store")

    def call(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run ``function`` on the store thread after every earlier call, and wait for it."""
        return self._pool.submit(function, *args).result()

    def submit(self, function: Callable[..., _T], *args: Any) -> Future[_T]:
        """Queue ``function`` on the store thread."""
        return self._pool.submit(function, *args)

    def close(self) -> None:
        """Wait for the call in progress and drop the queued ones (after an error)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class _Run:
    """State of one load while its transaction is open."""

    def __init__(self, writer: BatchWriter, *, policy: str, progress: Progress | None) -> None:
        self.writer = writer
        self.store = _StoreThread()
        self.pending: deque[tuple[str, FileReport, Future[WriteOutcome]]] = deque()
        self.policy = policy
        self.progress = progress
        self.files: dict[str, FileReport] = {}
        self.rejected: list[pd.DataFrame] = []
        self.rejected_count = 0
        """Rejections found (several may concern one row)."""
        self.rules: set[str] = set()
        """Every rule the rejections of the batch named."""
        self.subject_rows: list[pd.DataFrame] = []
        """Prepared subjects of every subjects chunk, with the file they came from (``_file``)."""
        self.subjects_written = False
        self.context = pd.DataFrame(columns=["subject_id", "infusion_date", "death_date"])
        self.rejected_subjects: dict[str, int] = {}
        self.file_savepoint: tuple[str, Any] | None = None
        """Under accept-partial: the file being written and its SAVEPOINT."""

    @property
    def writing(self) -> bool:
        """All-or-nothing stops writing at the first rejection (and keeps validating)."""
        return self.policy == ACCEPT_PARTIAL or self.rejected_count == 0

    def reject(self, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        self.rejected_count += len(frame)
        self.rules.update(str(rule) for rule in frame["rule"].unique())
        stored = sum(len(f) for f in self.rejected)
        if stored < MAX_STORED_REJECTIONS:
            self.rejected.append(frame.head(MAX_STORED_REJECTIONS - stored))
        for name, rows in frame.groupby("file")["row"]:
            self.report(str(name)).rejected += int(
                rows.dropna().nunique() or (rows.isna().sum() > 0)
            )

    def report(self, file: str) -> FileReport:
        return self.files.setdefault(file, FileReport())

    @property
    def rejected_rows(self) -> int:
        """Rows rejected (a row with several rejections, or a whole file, counts once)."""
        return sum(report.rejected for report in self.files.values())

    # ---- files: all of a file or none of it (accept-partial) --------------------------------

    def begin_file(self, chunk: Chunk) -> None:
        """Under accept-partial, open a SAVEPOINT for the child file ``chunk`` starts, so that a
        file the reader rejects partway leaves nothing of itself (docs/decisions.md 79)."""
        if self.policy != ACCEPT_PARTIAL or chunk.kind == Kind.SUBJECTS:
            return
        self.write_subjects()  # subjects belong to their own file, not to this one
        self.collect()
        savepoint = self.store.call(self.writer.session.begin_nested)
        self.file_savepoint = (chunk.file, savepoint)

    def end_file(self, rejected_files: set[str]) -> None:
        """Close the open file's SAVEPOINT: rolled back when the reader rejected the file
        (its counts then say nothing was added), else released."""
        if self.file_savepoint is None:
            return
        file, savepoint = self.file_savepoint
        self.file_savepoint = None
        self.collect()
        if file not in rejected_files:
            self.store.call(savepoint.commit)
            return
        self.store.call(savepoint.rollback)
        self.store.call(self.writer.forget_rolled_back)
        report = self.report(file)
        report.inserted = report.updated = report.unchanged = 0

    # ---- chunks ---------------------------------------------------------------------------

    def take(self, chunk: Chunk) -> None:
        report = self.report(chunk.file)
        report.rows_read += len(chunk.frame)
        passed, failed = validate(chunk.frame, chunk.kind, chunk.file)
        self.reject(failed)
        rows = chunk.frame[passed]
        if chunk.kind == Kind.SUBJECTS:
            prepared = prepare_subjects(rows, chunk.file)
            self.reject(prepared.rejected)
            self._remember_rejected_subjects(chunk.frame, prepared.rejected, failed)
            self.subject_rows.append(prepared.tables["subject"].assign(_file=chunk.file))
        else:
            self.write_subjects()
            context = self._context_for(rows)
            prepared = PREPARERS[chunk.kind](rows, chunk.file, context)
            self.reject(self._explain_rejected_subjects(prepared.rejected))
            self._write_children(chunk.file, prepared, report)
        if self.progress is not None:
            self.progress(chunk.file, report.rows_read)

    def _remember_rejected_subjects(
        self, frame: pd.DataFrame, prepared: pd.DataFrame, failed: pd.DataFrame
    ) -> None:
        rows = {int(row) for row in (*prepared["row"].dropna(), *failed["row"].dropna())}
        if rows:
            bad = frame[frame["_row"].isin(rows)]
            self.rejected_subjects.update(dict(zip(bad["subject_id"], bad["_row"], strict=True)))

    def _explain_rejected_subjects(self, found: pd.DataFrame) -> pd.DataFrame:
        if not self.rejected_subjects or not len(found):
            return found
        unknown = (found["rule"] == "unknown_subject") & found["value"].isin(self.rejected_subjects)
        found.loc[unknown, "reason"] = (
            "subject "
            + found.loc[unknown, "value"]
            + " was rejected in subjects.csv (row "
            + found.loc[unknown, "value"].map(self.rejected_subjects).astype(str)
            + ")"
        )
        return found

    def _context_for(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Subjects the rows refer to: this batch's, then the store's (unique keys only)."""
        keys = pd.Index(rows["subject_id"].unique()).difference(self.context.index)
        if len(keys):
            found = self.store.call(self.writer.subjects_by_key, keys)
            found = found.drop_duplicates("subject_key", keep=False)  # a key in two studies
            found["infusion_date"] = pd.to_datetime(found["infusion_date"])
            found["death_date"] = pd.to_datetime(found["death_date"])
            found = found.set_index("subject_key")
            if self.context.empty:  # concat with an empty frame would guess dtypes (FutureWarning)
                self.context = found
            elif len(found):
                self.context = pd.concat([self.context, found])
        return self.context

    # ---- writing ----------------------------------------------------------------------------

    def write_subjects(self) -> None:
        """Write the subjects (and their infusion, death, follow-up) once, before child rows."""
        if self.subjects_written:
            return
        self.subjects_written = True
        if not self.subject_rows:
            return
        subjects = self._reject_repeated_subjects(pd.concat(self.subject_rows, ignore_index=True))
        context = subject_context(subjects)
        context["subject_id"] = pd.NA
        if self.writing:
            ids = self.store.call(self._write_subject_tables, subjects)
            context["subject_id"] = subjects["subject_key"].map(ids).to_numpy()
        self.context = context

    def _reject_repeated_subjects(self, subjects: pd.DataFrame) -> pd.DataFrame:
        """Reject a subject_id given again later in the batch (in another chunk or file of the
        same study, or in another study): child files name a subject by subject_id alone."""
        repeated = subjects["subject_key"].duplicated(keep="first")
        if not repeated.any():
            return subjects
        first = subjects[~repeated].set_index("subject_key")
        later = subjects[repeated]
        earlier = first.loc[later["subject_key"]]
        where = (
            earlier["_file"].astype(str) + " row " + earlier["source_row"].astype(str)
        ).to_numpy()
        same_study = earlier["study_key"].to_numpy() == later["study_key"].to_numpy()
        reason = np.where(
            same_study,
            "duplicate subject (same study and subject_id) of " + where,
            "subject_id "
            + later["subject_key"].to_numpy()
            + " is also in study "
            + earlier["study_key"].to_numpy()
            + " ("
            + where
            + "): child files name a subject by subject_id alone, so it must be unique in a load",
        )
        later = later.assign(_reason=reason)
        for file, rows in later.groupby("_file", sort=False):
            self.reject(
                rejections.rejections(
                    str(file),
                    rows=rows["source_row"],
                    field="subject_id",
                    values=rows["subject_key"],
                    rule="duplicate",
                    reason=rows["_reason"],
                )
            )
        return subjects[~repeated].reset_index(drop=True)

    def _write_subject_tables(self, subjects: pd.DataFrame) -> dict[str, int]:
        writer = self.writer
        subjects = subjects.assign(
            study_id=[writer.study_id(k) for k in subjects["study_key"]],
        )
        subjects["site_id"] = [
            writer.site_id(s, k)
            for s, k in zip(subjects["study_id"], subjects["site_key"], strict=True)
        ]
        columns = [
            "study_id",
            "site_id",
            "subject_key",
            "sex",
            "age_years",
            "diagnosis",
            "weight_kg",
            "source_key",
            "source_row",
        ]
        written = {
            str(file): writer.write("subject", rows[columns], track_rows=True)
            for file, rows in subjects.groupby("_file", sort=False)
        }
        ids: dict[str, int] = {}
        for study_id in subjects["study_id"].unique():
            keys = subjects.loc[subjects["study_id"] == study_id, "subject_key"]
            ids.update(writer.subject_ids(int(study_id), keys))
        subjects["subject_id"] = subjects["subject_key"].map(ids)
        subjects["product_id"] = [
            writer.product_id(name, target_antigen=target)
            for name, target in zip(
                subjects["product_name"], subjects["product_target"], strict=True
            )
        ]
        derived = [
            subjects.assign(infusion_number=1, source_key="infusion|1")[
                [
                    "subject_id",
                    "infusion_number",
                    "product_id",
                    "infusion_date",
                    "dose_cells",
                    "lymphodepletion",
                    "day_zero_anchored",
                    "source_key",
                    "source_row",
                ]
            ]
        ]
        died = subjects[subjects["death_date"].notna() | subjects["death_cause"].notna()]
        derived.append(
            died.assign(source_key="death", cause=died["death_cause"])[
                [
                    "subject_id",
                    "death_date",
                    "death_date_source_value",
                    "death_date_imputation",
                    "cause",
                    "source_key",
                    "source_row",
                ]
            ]
        )
        seen = subjects[subjects["last_contact_date"].notna()]
        derived.append(
            seen.assign(source_key="follow_up")[
                ["subject_id", "last_contact_date", "source_key", "source_row"]
            ]
        )
        for table, frame in zip(("infusion", "death", "follow_up"), derived, strict=True):
            files = subjects.loc[frame.index, "_file"]
            for file in files.unique():
                outcome = writer.write(table, frame[files == file], track_rows=True)
                written[str(file)].changed_rows += outcome.changed_rows
        for file, outcome in written.items():
            self.count_subjects(self.report(file), outcome)
        return ids

    @staticmethod
    def count_subjects(report: FileReport, outcome: WriteOutcome) -> None:
        """Count a subjects file: a subject row is corrected when its subject, infusion, death
        or follow-up row was (``outcome.changed_rows`` lists the rows of all four)."""
        changed = len(set(outcome.changed_rows) - set(outcome.duplicate_rows))
        corrected = changed - outcome.inserted
        report.inserted += outcome.inserted
        report.updated += corrected
        report.unchanged += outcome.unchanged - (corrected - outcome.updated)

    def _write_children(self, file: str, prepared: Prepared, report: FileReport) -> None:
        if not self.writing:
            return
        for table, frame in prepared.tables.items():
            if not len(frame):
                continue
            ready = frame.assign(subject_id=self._subject_ids(frame["subject_key"]))
            encoded = self.writer.encode(table, ready.drop(columns=["subject_key"]))  # this thread
            written = self.store.submit(self.writer.write, table, encoded)
            self.pending.append((file, report, written))
            self.collect(_StoreThread.MAX_PENDING)

    def _subject_ids(self, keys: pd.Series) -> np.ndarray:
        """Store ids of the subjects ``keys`` (looked up once per distinct subject)."""
        codes, distinct = pd.factorize(keys, use_na_sentinel=False)
        ids: np.ndarray = self.context["subject_id"].reindex(distinct).to_numpy()[codes]
        return ids

    def collect(self, keep: int = 0) -> None:
        """Count the writes that are done; wait until at most ``keep`` are still running."""
        while self.pending and (len(self.pending) > keep or self.pending[0][2].done()):
            file, report, written = self.pending.popleft()
            outcome = written.result()  # re-raises a database error here
            self.count_outcome(report, outcome)
            self.reject(_duplicates(file, outcome))

    @staticmethod
    def count_outcome(report: FileReport, outcome: WriteOutcome) -> None:
        report.inserted += outcome.inserted
        report.updated += outcome.updated
        report.unchanged += outcome.unchanged


def load_source(
    source: Source,
    *,
    database_url: str,
    actor: str,
    policy: str = ALL_OR_NOTHING,
    progress: Progress | None = None,
) -> LoadReport:
    """Load a tidy, SDTM or mapped export as one batch (see the module docstring)."""

    def write(run: _Run) -> None:
        current: str | None = None
        for chunk in source.chunks():
            if chunk.file != current:
                run.end_file(_rejected_files(source.log.problems))
                run.begin_file(chunk)
                current = chunk.file
            run.take(chunk)
        run.end_file(_rejected_files(source.log.problems))
        run.write_subjects()
        for problem in source.log.problems:
            run.reject(problem)

    return run_batch(
        source.format,
        source.display_path,
        source.files,
        write,
        notes=source.log.notes,
        uses=source.log.uses,
        database_url=database_url,
        actor=actor,
        policy=policy,
        progress=progress,
    )


def load_faers(
    paths: Sequence[Path],
    *,
    database_url: str,
    actor: str,
    policy: str = ALL_OR_NOTHING,
    progress: Progress | None = None,
) -> LoadReport:
    """Load FAERS / legacy AERS quarterly files into the spontaneous-report tables.

    The quarters are read and written one after another, oldest first (each quarter's frames
    are released before the next is read), in one batch. A quarter's DELETE list is applied
    to the store before its own cases are written (see :func:`write_faers`).
    """
    plan = open_faers(paths)
    notes = list(plan.log.notes)

    def write(run: _Run) -> None:
        run.reject(rejections.combine(plan.log.problems))
        for export in read_quarters(plan):
            notes.extend(export.notes)
            notes.extend(run.store.call(write_faers, export, run))
            if progress is not None:
                for name, rows in export.rows_read.items():
                    progress(name, rows)
            del export  # the next quarter is read without this one in memory
            _return_freed_memory()

    return run_batch(
        "faers",
        ", ".join(str(p) for p in paths),
        plan.files,
        write,
        notes=notes,
        uses=plan.log.uses,
        database_url=database_url,
        actor=actor,
        policy=policy,
        progress=progress,
    )


def _rejected_files(problems: list[pd.DataFrame]) -> set[str]:
    """The files a reader rejected as a whole (its file problems)."""
    return {str(name) for problem in problems for name in problem["file"].unique()}


def _return_freed_memory() -> None:
    """Give the memory freed by a quarter back to the system (glibc keeps it otherwise, and
    the resident size of a long load then grows with every quarter); a no-op elsewhere."""
    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def run_batch(
    source_format: str,
    display_path: str,
    files: list[SourceFile],
    write: Callable[[_Run], None],
    *,
    notes: list[str],
    uses: dict[str, FileUse] | None = None,
    database_url: str,
    actor: str,
    policy: str,
    progress: Progress | None,
) -> LoadReport:
    """Run ``write`` inside one batch transaction, with the policy, rejection and recording
    rules of the module docstring.

    ``uses`` is the reader's account of every file, filled while ``write`` reads them. A load
    in which no file was used (none recognised, or all unreadable) is rejected whatever the
    policy: each file not used becomes a file-level rejection saying what it was taken for.
    """
    uses = {} if uses is None else uses
    if policy not in (ALL_OR_NOTHING, ACCEPT_PARTIAL):
        raise ValueError(f"policy must be {ALL_OR_NOTHING} or {ACCEPT_PARTIAL}")
    digest = files_digest(source_format, files)
    manifest: dict[str, Any] = {
        "source_path": display_path,
        "source_sha256": digest,
        "source_format": source_format,
        "files": [f.manifest() for f in files],
        "loaded_by": actor,
        "policy": policy,
    }
    engine = create_store_engine(database_url)
    make_session = session_factory(engine)
    held = ExitStack()
    try:
        require_current_schema(engine)
        # one load at a time; ``notes`` is the reader's list, which it may extend while it reads
        notes.extend(_waited(held.enter_context(LoadLock(engine))))
        with make_session() as session:
            try:
                with session.begin():
                    batch = begin_batch(session, **manifest)
                    writer = BatchWriter(session, batch, actor=actor)
                    run = _Run(writer, policy=policy, progress=progress)
                    try:
                        write(run)
                        run.collect()
                    finally:
                        run.store.close()  # the session is this thread's again
                    if uses and not any(use.use == USED for use in uses.values()):
                        _reject_unused(run, uses, source_format)
                        raise _RejectedBatch
                    _reject_changed_files(run, files)
                    if FILE_CHANGED in run.rules:
                        raise _RejectedBatch  # what was written may be of either version
                    if run.rejected_count and policy == ALL_OR_NOTHING:
                        raise _RejectedBatch
                    writer.close()
                    status = _status(run)
                    _finish(session, batch, run, status, actor, notes, uses)
                    return _report(batch.load_batch_id, status, run, notes, uses)
            except _RejectedBatch:
                for report in run.files.values():  # rolled back: nothing of it was written
                    report.inserted = report.updated = report.unchanged = 0
                    report.joined = report.deleted = 0
                with session.begin():
                    batch = begin_batch(session, **manifest, status="rejected")
                    _finish(session, batch, run, "rejected", actor, notes, uses)
                return _report(batch.load_batch_id, "rejected", run, notes, uses)
            except Exception as error:
                with session.begin():
                    batch = begin_batch(session, **manifest, status="failed")
                    batch.message = f"{type(error).__name__}: {error}"[:2000]
                raise
    finally:
        held.close()
        engine.dispose()


def _waited(lock: LoadLock) -> list[str]:
    """A note when the load waited for another load of the store to finish."""
    if lock.waited < 1:
        return []
    return [f"waited {lock.waited:.0f} s for another load of this store to finish"]


# ---- FAERS ------------------------------------------------------------------------------------


def write_faers(export: FaersExport, run: _Run) -> list[str]:
    """Write one quarter of a FAERS export (or a whole one), file by file; notes to add.

    In order: the quarter's rejections and row counts are recorded; its DELETE lists delete
    every version of the cases they name from the store (rows of earlier quarters of this
    batch included), audited; then its cases, drugs and reactions are written, and the rows
    of OUTC, RPSR, THER and INDI are counted as joined into the stored cases and drugs (or
    rejected with their case).
    """
    for source in export.files:  # the report lists the files in reading order
        run.report(source.name)
    run.reject(export.rejections)
    for name, rows in export.rows_read.items():
        run.report(name).rows_read += rows
    for name, rows in export.withheld.items():
        run.report(name).withheld += rows
    notes = _apply_deletions(export, run)
    if not run.writing:
        return notes
    cases = export.cases
    event, _ = impute(parse_dates(cases["event_date_source_value"].fillna("")), "first")
    received, _ = impute(parse_dates(cases["fda_received_date_source_value"].fillna("")), "first")
    case_rows = cases.drop(columns=["_file", "_row", "_key", "fda_received_date_source_value"])
    case_rows = case_rows.assign(
        event_date=event.dt.date.where(event.notna(), None),
        fda_received_date=received.dt.date.where(received.notna(), None),
        source_key=cases["_key"],
        source_row=cases["_row"],
    )
    _write_per_file(run, "icsr_case", case_rows, cases["_file"])
    del case_rows, event, received
    ids: dict[str, int] = {}
    for source_name in cases["source"].unique():
        keys = cases.loc[cases["source"] == source_name, "report_key"]
        run.writer.refresh_latest_versions(str(source_name), cases.loc[keys.index, "case_key"])
        ids.update(run.writer.case_ids(str(source_name), keys))
    _write_faers_children(run, export.drugs, ids, "icsr_drug")
    _write_faers_children(run, export.reactions, ids, "icsr_reaction")
    _count_folded(run, export.folded, ids)
    return notes


def _apply_deletions(export: FaersExport, run: _Run) -> list[str]:
    """Apply the quarter's DELETE lists to the store; a note per list."""
    notes = []
    for deletion in export.deletions:
        listed = len(deletion.case_keys)
        kept_out = f"{len(deletion.in_export)} in {deletion.quarter}'s own files (not loaded)"
        if not run.writing:
            notes.append(
                f"{deletion.file} lists {listed} caseid(s): {kept_out}; not applied to the store, "
                "because rows were rejected and nothing is written (all-or-nothing)"
            )
            continue
        outcome = run.writer.delete_cases(
            "faers",
            deletion.case_keys,
            reason=f"FDA deleted the case ({deletion.file}); applied by load batch "
            f"{run.writer.batch.load_batch_id}",
        )
        run.report(deletion.file).deleted += outcome.versions
        neither = set(deletion.case_keys) - outcome.case_keys - set(deletion.in_export)
        notes.append(
            f"{deletion.file} lists {listed} caseid(s): {len(outcome.case_keys)} in the store "
            f"({outcome.versions} version(s), with {outcome.drugs} drug(s) and "
            f"{outcome.reactions} reaction(s), deleted by this batch and audited), {kept_out}, "
            f"{len(neither)} in neither"
        )
    return notes


def _count_folded(run: _Run, folded: pd.DataFrame, ids: dict[str, int]) -> None:
    """Count the OUTC/RPSR/THER/INDI rows joined into stored rows; reject the others."""
    stored = folded["report_key"].isin(ids.keys())
    for name, rows in folded.loc[stored, "_file"].value_counts(sort=False).items():
        run.report(str(name)).joined += int(rows)
    orphans = folded[~stored]
    found = rejections.rejections(
        "",
        rows=orphans["_row"],
        field="report_key",
        values=orphans["report_key"],
        rule="case_rejected",
        reason="its report was rejected in DEMO, so it cannot be loaded",
    )
    run.reject(found.assign(file=orphans["_file"].to_numpy()))


def _write_faers_children(run: _Run, frame: pd.DataFrame, ids: dict[str, int], table: str) -> None:
    case_id = frame["report_key"].map(ids)
    orphan = case_id.isna()
    found = rejections.rejections(
        "",
        rows=frame.loc[orphan, "_row"],
        field="report_key",
        values=frame.loc[orphan, "report_key"],
        rule="case_rejected",
        reason="its report was rejected in DEMO, so it cannot be loaded",
    )
    run.reject(found.assign(file=frame.loc[orphan, "_file"].to_numpy()))
    if not run.writing:
        return
    kept = np.flatnonzero(~orphan.to_numpy())
    # shaped and written a slice at a time: no full-size copy of a 2-million-row DRUG file
    for start in range(0, len(kept), FAERS_WRITE_ROWS):
        part = kept[start : start + FAERS_WRITE_ROWS]
        rows = frame.iloc[part].assign(icsr_case_id=case_id.iloc[part].astype(int).to_numpy())
        for name, of_file in rows.groupby("_file", sort=False):
            _write_part(run, table, str(name), _child_rows(run, of_file, table))


def _child_rows(run: _Run, rows: pd.DataFrame, table: str) -> pd.DataFrame:
    """DRUG or REAC rows of the reader as store rows of ``table``."""
    if table == "icsr_drug":
        start, _ = impute(parse_dates(rows["start_date_source_value"].fillna("")), "first")
        end, _ = impute(parse_dates(rows["end_date_source_value"].fillna("")), "last")
        rows = rows.assign(
            start_date=start.dt.date.where(start.notna(), None),
            end_date=end.dt.date.where(end.notna(), None),
            product_id=pd.array(
                [None if p is None else run.writer.product_id(p) for p in rows["product"]],
                dtype="Int64",
            ),
        ).drop(columns=["product", "start_date_source_value", "end_date_source_value"])
    return rows.drop(columns=["report_key", "quarter", "_file", "_key", "_row"]).assign(
        source_key=rows["_key"], source_row=rows["_row"]
    )


FAERS_WRITE_ROWS = 100_000
"""Rows written per call when a FAERS file is written (bounds the encoded rows in memory)."""


def _write_per_file(run: _Run, table: str, rows: pd.DataFrame, files: pd.Series) -> None:
    for name in files.unique():
        of_file = rows[files == name]
        for start in range(0, len(of_file), FAERS_WRITE_ROWS):
            _write_part(run, table, str(name), of_file.iloc[start : start + FAERS_WRITE_ROWS])


def _write_part(run: _Run, table: str, name: str, rows: pd.DataFrame) -> None:
    outcome = run.writer.write(table, rows)
    _Run.count_outcome(run.report(name), outcome)
    run.reject(_duplicates(name, outcome))


def _duplicates(file: str, outcome: WriteOutcome) -> pd.DataFrame:
    """Rejections of the rows of ``file`` that the store found repeating an earlier row."""
    return rejections.rejections(
        file,
        rows=pd.Series(outcome.duplicate_rows, dtype="int64"),
        field=None,
        values=None,
        rule="duplicate",
        reason=pd.Series(outcome.duplicate_reasons, dtype=object),
    )


def _reject_unused(run: _Run, uses: dict[str, FileUse], source_format: str) -> None:
    """File-level rejections for a load that used none of its files."""
    already = set(rejections.combine(run.rejected)["file"])
    for use in uses.values():
        if use.name not in already:
            reason = f"no {source_format} file was recognised: this file is {use.use}"
            run.reject(
                rejections.file_rejection(
                    use.name, "not_recognised", f"{reason} ({use.why})" if use.why else reason
                )
            )


def _finish(
    session: Any,
    batch: Any,
    run: _Run,
    status: str,
    actor: str,
    notes: list[str],
    uses: dict[str, FileUse],
) -> None:
    found = rejections.combine(run.rejected)
    write_rejections(session, batch, found)
    loaded = sum(r.inserted + r.updated + r.unchanged for r in run.files.values())
    message = _message(status, run)
    finish_batch(
        session,
        batch,
        status=status,
        rows_read=sum(r.rows_read for r in run.files.values()),
        rows_loaded=loaded if status != "rejected" else 0,
        rows_rejected=run.rejected_rows,
        message=message,
        actor=actor,
        summary={
            "notes": notes,
            "files": {n: vars(r) for n, r in run.files.items()},
            "uses": [vars(use) for use in uses.values()],
        },
    )


def _status(run: _Run) -> str:
    """``partial`` with rejections; ``unchanged`` when no row was added, corrected or deleted
    (every row read is in the store with the same values); else ``committed``.

    A later kind of change a load makes to the store must be counted here too.
    """
    if run.rejected_count:
        return "partial"
    changes = (r.inserted or r.updated or r.deleted for r in run.files.values())
    if any(changes):
        return "committed"
    return "unchanged"


def _reject_changed_files(run: _Run, files: list[SourceFile]) -> None:
    """A ``file_changed`` rejection for each file that is not, just before the commit, the file
    described when the load started (a reader's own check may have found it already)."""
    already = {
        str(name)
        for found in run.rejected
        for name in found.loc[found["rule"] == FILE_CHANGED, "file"]
    }
    for file in files:
        reason = file.changed()
        if reason is not None and file.name not in already:
            run.reject(rejections.file_rejection(file.name, FILE_CHANGED, reason))


def _message(status: str, run: _Run) -> str:
    if FILE_CHANGED in run.rules:
        return (
            "a file changed while it was being loaded; nothing was loaded. Load it again when "
            "it is complete."
        )
    if status == "rejected":
        return (
            f"{run.rejected_rows} row(s) rejected; nothing was loaded (all-or-nothing). "
            "Fix the rows, or load with --accept-partial to write the good rows."
        )
    inserted = sum(r.inserted for r in run.files.values())
    updated = sum(r.updated for r in run.files.values())
    unchanged = sum(r.unchanged for r in run.files.values())
    if status == "unchanged":
        if not unchanged:
            return "nothing changed: no row was read"
        return f"nothing changed: the {unchanged} row(s) read are in the store with these values"
    text = f"{inserted} row(s) added, {updated} corrected, {unchanged} unchanged"
    if run.rejected_count:
        text += f"; {run.rejected_rows} rejected and not loaded"
    return text


def _report(
    batch_id: int, status: str, run: _Run, notes: list[str], uses: dict[str, FileUse]
) -> LoadReport:
    found = rejections.combine(run.rejected)
    return LoadReport(
        batch_id,
        status,
        run.files,
        found,
        run.rejected_rows,
        notes,
        _message(status, run),
        list(uses.values()),
    )
