"""Source files: their manifest entry (name, size, SHA-256) and streaming CSV reading.

Every reader goes through :func:`read_csv_chunks`, which yields text columns with the 1-based data
row number of each row (``_row``, the header excluded) and turns unreadable files into a
:class:`FileProblem` with a reason a data manager can act on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from etl.contracts import ROW

__all__ = ["CHUNK_ROWS", "MAX_FIELD_BYTES", "ROW", "FileProblem", "SourceFile", "read_csv_chunks"]

CHUNK_ROWS = 100_000
MAX_FIELD_BYTES = 1024 * 1024
"""Largest field the reader is sure to accept; it is also the read block size, which bounds the
reader's memory (16 MB blocks cost 750 MiB of resident memory, 1 MB blocks 190 MiB, for the
same speed). Every text field of the contracts is at most 255 characters anyway."""


@dataclass(frozen=True)
class SourceFile:
    """One file of a load: what the manifest records about it."""

    path: Path
    name: str
    size: int
    sha256: str

    @classmethod
    def of(cls, path: Path, *, root: Path | None = None) -> SourceFile:
        """Describe ``path`` (named relative to ``root`` when given)."""
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
        name = str(path.relative_to(root)) if root is not None else path.name
        return cls(path=path, name=name, size=path.stat().st_size, sha256=digest.hexdigest())

    def manifest(self) -> dict[str, object]:
        """The file's entry in ``load_batch.files``."""
        return {"name": self.name, "size": self.size, "sha256": self.sha256}


class FileProblem(Exception):
    """A file that cannot be read at all; becomes a file-level rejection."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


def read_csv_chunks(
    path: Path,
    *,
    delimiter: str = ",",
    chunk_rows: int = CHUNK_ROWS,
    encoding: str = "utf8",
) -> Iterator[pd.DataFrame]:
    """Stream a delimited text file as chunks of text columns plus ``_row``.

    Every value is text; missing values are empty strings. Raises :class:`FileProblem` for an
    empty file, a file that is not valid text in ``encoding``, or a malformed file.
    """
    if path.stat().st_size == 0:
        raise FileProblem("empty_file", "the file is empty (0 bytes)")
    read = pacsv.ReadOptions(block_size=MAX_FIELD_BYTES, encoding=encoding)
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    try:
        reader = pacsv.open_csv(
            path,
            read_options=read,
            parse_options=parse,
            convert_options=_all_text(path, read, parse),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise FileProblem("unreadable_file", _explain(error)) from error
    next_row = 1
    pending: list[pd.DataFrame] = []
    pending_rows = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowInvalid, UnicodeDecodeError) as error:
            raise FileProblem("unreadable_file", _explain(error)) from error
        for start in range(0, batch.num_rows, chunk_rows):
            frame = batch.slice(start, chunk_rows).to_pandas()
            frame[ROW] = range(next_row, next_row + len(frame))
            next_row += len(frame)
            pending.append(frame)
            pending_rows += len(frame)
            if pending_rows >= chunk_rows:
                yield pd.concat(pending, ignore_index=True)
                pending, pending_rows = [], 0
    if pending:
        yield pd.concat(pending, ignore_index=True)
    elif next_row == 1:
        yield _header_only(path, read, parse)


def _all_text(
    path: Path, read: pacsv.ReadOptions, parse: pacsv.ParseOptions
) -> pacsv.ConvertOptions:
    """Read every column as text (types are decided by the contracts, not guessed)."""
    try:
        header = pacsv.open_csv(path, read_options=read, parse_options=parse).schema.names
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:  # a header that is not UTF-8
        raise FileProblem("unreadable_file", _explain(error)) from error
    return pacsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
    )


def _header_only(path: Path, read: pacsv.ReadOptions, parse: pacsv.ParseOptions) -> pd.DataFrame:
    names = pacsv.open_csv(path, read_options=read, parse_options=parse).schema.names
    frame = pd.DataFrame({name: pd.Series(dtype=object) for name in names})
    frame[ROW] = pd.Series(dtype="int64")
    return frame


def _explain(error: Exception) -> str:
    text = str(error)
    if "UTF8" in text or "utf-8" in text.lower() or isinstance(error, UnicodeDecodeError):
        return (
            "the file is not valid UTF-8 text; save it as UTF-8 (CSV UTF-8 in Excel) and "
            "load it again"
        )
    if "straddling" in text or "block" in text:
        return f"a field is longer than {MAX_FIELD_BYTES // (1024 * 1024)} MB"
    if "Expected" in text and "columns" in text:
        return f"rows have different numbers of columns than the header ({text.strip()})"
    return f"the file cannot be read as delimited text ({text.strip()})"
