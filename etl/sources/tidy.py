"""Reader of tidy format v1 exports (architecture.md contract 1), CSV or Parquet.

A folder holds ``subjects``, ``observations``, ``medications`` and ``adverse_events`` as
``.csv`` or ``.parquet``; any of them may be absent (child files then refer to subjects already
in the store). Single files may also be given; their kind comes from the file name. Other files
in a folder (such as a synthetic export's manifest) are ignored and noted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from etl import rejections
from etl.contracts import CONTRACTS, Kind, MissingColumns, check_columns
from etl.sources import NOT_RECOGNISED, UNREADABLE, USED, Chunk, ExportError, ReadLog
from etl.sources.files import (
    AUTO,
    CHUNK_ROWS,
    MISSING_VALUE_LITERALS,
    ROW,
    FileProblem,
    SourceFile,
    read_csv_chunks,
)

SUFFIXES = (".csv", ".parquet")


def _kind_of(path: Path) -> Kind | None:
    for kind in Kind:
        if path.stem.lower() == kind.value and path.suffix.lower() in SUFFIXES:
            return kind
    return None


class TidySource:
    """Tidy format v1 files from folders and/or single files."""

    format = "tidy"

    def __init__(self, paths: Sequence[Path]) -> None:
        self.log = ReadLog()
        self.display_path = ", ".join(str(p) for p in paths)
        found: list[tuple[Kind, Path, Path | None]] = []
        several = len(paths) > 1  # name files by folder too, so that names stay unique
        for path in paths:
            if path.is_dir():
                root = path.parent if several else path
                children = sorted(path.iterdir())
                if not children:
                    self.log.account(str(path), NOT_RECOGNISED, "the folder holds no file")
                for child in children:
                    kind = _kind_of(child) if child.is_file() else None
                    if kind is None:
                        self.log.notes.append(f"{child.name}: not a tidy format v1 file, ignored")
                        self.log.account(
                            str(child.relative_to(root)),
                            NOT_RECOGNISED,
                            "a folder: folders inside the one given are not read"
                            if child.is_dir()
                            else "not a tidy format v1 file (subjects, observations, "
                            "medications or adverse_events, as .csv or .parquet)",
                        )
                    else:
                        found.append((kind, child, root))
            else:
                kind = _kind_of(path)
                if kind is None:
                    raise ExportError(
                        f"{path.name} is not a tidy format v1 file name "
                        f"({', '.join(k.value for k in Kind)}, as .csv or .parquet)"
                    )
                found.append((kind, path, None))
        order = list(Kind)
        found.sort(key=lambda item: (order.index(item[0]), str(item[1])))
        self._files = [(kind, SourceFile.of(path, root=root)) for kind, path, root in found]
        self.files = [file for _, file in self._files]

    def chunks(self) -> Iterator[Chunk]:
        """Chunks in file order: subjects, observations, medications, adverse events."""
        for kind, file in self._files:
            try:
                for number, frame in enumerate(_read(file, self.log)):
                    if number == 0:
                        check_columns(frame, kind)
                        self._note_unread_columns(file.name, frame, kind)
                    yield Chunk(kind, file.name, frame)
            except FileProblem as problem:
                self.log.problems.append(
                    rejections.file_rejection(file.name, problem.rule, problem.reason)
                )
                self.log.account(file.name, UNREADABLE, problem.reason)
            except MissingColumns as problem:
                self.log.problems.append(
                    rejections.file_rejection(file.name, "columns", str(problem))
                )
                self.log.account(file.name, UNREADABLE, str(problem))
            else:
                self.log.account(file.name, USED)

    def _note_unread_columns(self, name: str, frame: pd.DataFrame, kind: Kind) -> None:
        """Say which columns of a file tidy format v1 does not read: their values are not loaded,
        and a data manager should know (an extra comment column, a header cell left empty)."""
        unread = unread_columns(list(frame.columns), kind)
        if unread:
            self.log.notes.append(
                f"{name}: column(s) {', '.join(unread)} are not part of tidy format v1 "
                f"{kind.value} and were not loaded"
            )


def unread_columns(names: list[str], kind: Kind) -> list[str]:
    """The columns of a ``kind`` file that tidy format v1 does not read, as a data manager would
    name them (a header cell left empty by its position).

    Examples
    --------
    >>> unread_columns(["subject_id", "term", "", "comment"], Kind.ADVERSE_EVENTS)
    ['column 3 (no header)', "'comment'"]
    """
    contract = CONTRACTS[kind]
    known = {*contract.required, *contract.optional, ROW}
    return [
        f"column {number} (no header)" if not str(column).strip() else repr(str(column))
        for number, column in enumerate(names, start=1)
        if column not in known
    ]


def _read(file: SourceFile, log: ReadLog) -> Iterator[pd.DataFrame]:
    path = file.path
    if path.suffix.lower() == ".csv":
        yield from read_csv_chunks(
            file,
            encoding=AUTO,
            missing_values=MISSING_VALUE_LITERALS["tidy"],
            notes=log.notes,
            name=file.name,
        )
        return
    if path.stat().st_size == 0:
        raise FileProblem("empty_file", "the file is empty (0 bytes)")
    with file.snapshot() as data:  # parse the very bytes the manifest describes
        yield from _parquet_frames(data)


def _parquet_frames(data: IO[bytes]) -> Iterator[pd.DataFrame]:
    try:
        parquet = pq.ParquetFile(data)
    except (pa.ArrowException, OSError) as error:
        raise FileProblem(
            "unreadable_file", f"the file is not a readable Parquet file ({error})"
        ) from error
    for column in parquet.schema_arrow:
        if pa.types.is_nested(column.type):
            raise FileProblem(
                "unreadable_file",
                f"column {column.name} holds lists or records ({column.type}); tidy format v1 "
                "columns hold one plain value per cell",
            )
    next_row = 1
    batches = parquet.iter_batches(batch_size=CHUNK_ROWS)
    while True:
        try:
            batch = next(batches, None)
            if batch is None:
                break
            text = pa.table({n: _as_text(batch.column(n), n) for n in batch.schema.names})
        except (pa.ArrowException, OSError) as error:
            raise FileProblem(
                "unreadable_file", f"the Parquet file is corrupt or truncated ({error})"
            ) from error
        frame = text.to_pandas().fillna("")
        frame[ROW] = range(next_row, next_row + len(frame))
        next_row += len(frame)
        yield frame
    if next_row == 1:
        yield _header_only(parquet.schema_arrow.names)


def _as_text(column: pa.Array, name: str) -> pa.Array:
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise FileProblem(
            "unreadable_file",
            f"column {name} ({column.type}) cannot be read as text ({error})",
        ) from error


def _header_only(names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype=object) for name in names})
    frame[ROW] = pd.Series(dtype="int64")
    return frame
