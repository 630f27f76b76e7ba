"""Source files: their manifest entry (name, size, SHA-256) and streaming CSV reading.

Every reader goes through :func:`read_csv_chunks`, which yields text columns with the 1-based data
row number of each row (``_row``, the header excluded) and turns unreadable files into a
:class:`FileProblem` with a reason a data manager can act on.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from etl.contracts import ROW

__all__ = [
    "CHUNK_ROWS",
    "MAX_FIELD_BYTES",
    "ROW",
    "FileProblem",
    "HashingReader",
    "SourceFile",
    "read_csv_chunks",
]

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
    modified_ns: int | None = None
    """Modification time when described (ns); ``None``: not known, not checked."""
    inode: int | None = None
    """Device and inode when described, to see a file replaced by another one."""

    @classmethod
    def of(cls, path: Path, *, root: Path | None = None) -> SourceFile:
        """Describe ``path`` (named relative to ``root`` when given).

        The time stamp is taken before the bytes are hashed, so that a file written while it is
        described is seen as changed when it is read (:meth:`changed`).
        """
        stat = path.stat()
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
        name = str(path.relative_to(root)) if root is not None else path.name
        return cls(
            path=path,
            name=name,
            size=stat.st_size,
            sha256=digest.hexdigest(),
            modified_ns=stat.st_mtime_ns,
            inode=_inode(stat),
        )

    def open(self) -> HashingReader:
        """The file as a binary stream that hashes every byte it is read (see
        :class:`HashingReader`); call its ``verify`` once the reader has read what it needs."""
        return HashingReader(self)

    def read_bytes(self) -> bytes:
        """Every byte of the file, read once through :meth:`open` and verified: for readers that
        need random access (Parquet, XLSX, SAS transport), which then parse exactly these bytes.

        Raises
        ------
        FileProblem
            ``file_changed`` when the bytes are not those described (see :meth:`changed`).
        """
        with self.open() as stream:
            data = stream.read()
            stream.verify()
        return data

    def changed(self, sha256: str | None = None, size: int | None = None) -> str | None:
        """Why the file is no longer the one described, or ``None`` when it still is.

        Compares what was read (``sha256`` and ``size``, when given) with the description, then
        the file on disk (size, modification time, inode) with the one described.
        """
        if sha256 is not None and (sha256 != self.sha256 or size != self.size):
            return _changed(
                f"what was read ({size:,} bytes, SHA-256 {sha256[:12]}) is not the file "
                f"described when the load started ({self.size:,} bytes, SHA-256 "
                f"{self.sha256[:12]})"
            )
        try:
            stat = self.path.stat()
        except OSError as error:
            return _changed(f"it can no longer be opened ({error.strerror or error})")
        if stat.st_size != self.size:
            return _changed(f"its size went from {self.size:,} to {stat.st_size:,} bytes")
        if self.inode is not None and _inode(stat) != self.inode:
            return _changed("it was replaced by another file of the same name")
        if self.modified_ns is not None and stat.st_mtime_ns != self.modified_ns:
            return _changed("it was written to (its modification time changed)")
        return None

    def manifest(self) -> dict[str, object]:
        """The file's entry in ``load_batch.files``."""
        return {"name": self.name, "size": self.size, "sha256": self.sha256}


def _inode(stat: os.stat_result) -> int:
    return stat.st_dev * (1 << 64) + stat.st_ino


def _changed(what: str) -> str:
    return (
        f"the file changed while it was being loaded: {what}; nothing was loaded. Load it "
        "again when it is complete (a file still being copied or saved changes like this)"
    )


class HashingReader(io.RawIOBase):
    """A source file opened for reading: every byte read updates a SHA-256, in file order.

    Readers that stream (CSV, ``.csv.gz``) parse through it, so the digest is the digest of the
    bytes they parsed; :meth:`verify` then proves those bytes are the file the manifest
    describes. It does not seek: a reader that needs random access reads
    :meth:`SourceFile.read_bytes` instead.
    """

    def __init__(self, file: SourceFile) -> None:
        super().__init__()
        self.file = file
        try:
            self._handle = file.path.open("rb")
        except OSError as error:
            reason = _changed(f"it can no longer be opened ({error})")
            raise FileProblem("file_changed", reason) from error
        self._digest = hashlib.sha256()
        self._read = 0
        self._lock = threading.Lock()  # pyarrow may read from a thread of its own

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with self._lock:
            count = self._handle.readinto(buffer)
            if count:
                self._digest.update(memoryview(buffer)[:count])
                self._read += count
            return count or 0

    def tell(self) -> int:
        return self._read

    def close(self) -> None:
        self._handle.close()
        super().close()

    def verify(self) -> None:
        """Hash the bytes the reader left unread, then compare with the description.

        Raises
        ------
        FileProblem
            ``file_changed`` when the bytes read are not the file described, or the file on
            disk changed since it was described (size, modification time, inode).
        """
        with self._lock:
            for block in iter(lambda: self._handle.read(1 << 22), b""):
                self._digest.update(block)
                self._read += len(block)
        reason = self.file.changed(self._digest.hexdigest(), self._read)
        if reason is not None:
            raise FileProblem("file_changed", reason)


class FileProblem(Exception):
    """A file that cannot be read at all; becomes a file-level rejection."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


def read_csv_chunks(
    path: Path | SourceFile,
    *,
    delimiter: str = ",",
    chunk_rows: int = CHUNK_ROWS,
    encoding: str = "utf8",
) -> Iterator[pd.DataFrame]:
    """Stream a delimited text file as chunks of text columns plus ``_row``.

    Every value is text; missing values are empty strings. Raises :class:`FileProblem` for an
    empty file, a file that is not valid text in ``encoding``, or a malformed file. Given a
    :class:`SourceFile`, it parses through :meth:`SourceFile.open` and raises ``file_changed``
    before the last chunk when the bytes parsed are not the file described.
    """
    stream = path.open() if isinstance(path, SourceFile) else None
    path = path.path if isinstance(path, SourceFile) else path
    if path.stat().st_size == 0:
        raise FileProblem("empty_file", "the file is empty (0 bytes)")
    read = pacsv.ReadOptions(block_size=MAX_FIELD_BYTES, encoding=encoding)
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    try:
        reader = pacsv.open_csv(
            path if stream is None else _decompressed(stream, path),
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
    if stream is not None:
        stream.verify()
    if pending:
        yield pd.concat(pending, ignore_index=True)
    elif next_row == 1:
        yield _header_only(path, read, parse)


def _decompressed(stream: HashingReader, path: Path) -> pa.NativeFile:
    """``stream`` decompressed as the file name says (``.gz``, ``.bz2``...), as pyarrow does for a
    path."""
    compression = _COMPRESSIONS.get(path.suffix.lower())
    return pa.input_stream(stream, compression=compression)


_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".lz4": "lz4", ".zst": "zstd"}
"""The suffixes pyarrow decompresses when it opens a path itself."""


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
