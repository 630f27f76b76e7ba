"""Reader of tidy format v1 exports (architecture.md contract 1), CSV or Parquet.

A folder holds ``subjects``, ``observations``, ``medications`` and ``adverse_events`` as
``.csv`` or ``.parquet``; any of them may be absent (child files then refer to subjects already
in the store). Single files may also be given; their kind comes from the file name. Other files
in a folder (such as a synthetic export's manifest) are ignored and noted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from etl import rejections
from etl.contracts import Kind, MissingColumns, check_columns
from etl.sources import Chunk, ExportError, ReadLog
from etl.sources.files import CHUNK_ROWS, ROW, FileProblem, SourceFile, read_csv_chunks

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
                for child in sorted(path.iterdir()):
                    kind = _kind_of(child)
                    if kind is None:
                        self.log.notes.append(f"{child.name}: not a tidy format v1 file, ignored")
                    else:
                        found.append((kind, child, path.parent if several else path))
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
                for number, frame in enumerate(_read(file)):
                    if number == 0:
                        check_columns(frame, kind)
                    yield Chunk(kind, file.name, frame)
            except FileProblem as problem:
                self.log.problems.append(
                    rejections.file_rejection(file.name, problem.rule, problem.reason)
                )
            except MissingColumns as problem:
                self.log.problems.append(
                    rejections.file_rejection(file.name, "columns", str(problem))
                )


def _read(file: SourceFile) -> Iterator[pd.DataFrame]:
    path = file.path
    if path.suffix.lower() == ".csv":
        yield from read_csv_chunks(file)
        return
    if path.stat().st_size == 0:
        raise FileProblem("empty_file", "the file is empty (0 bytes)")
    try:
        parquet = pq.ParquetFile(pa.BufferReader(file.read_bytes()))
    except (pa.ArrowInvalid, OSError) as error:
        raise FileProblem(
            "unreadable_file", f"the file is not a readable Parquet file ({error})"
        ) from error
    next_row = 1
    for batch in parquet.iter_batches(batch_size=CHUNK_ROWS):
        text = pa.table({name: batch.column(name).cast(pa.string()) for name in batch.schema.names})
        frame = text.to_pandas().fillna("")
        frame[ROW] = range(next_row, next_row + len(frame))
        next_row += len(frame)
        yield frame
