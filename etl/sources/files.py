"""Source files: their manifest entry (name, size, SHA-256) and streaming CSV reading.

Every reader goes through :func:`read_csv_chunks`, which yields text columns with the 1-based data
row number of each row (``_row``, the header excluded) and turns unreadable files into a
:class:`FileProblem` with a reason a data manager can act on.

Before the first row is yielded, one streaming pass over the file's bytes (decompressed for
``.gz``) checks what cannot be seen once rows are flowing (docs/data_formats.md, "Truncation and
corruption checks", "Encodings"): a truncated gzip stream, a quoted field left open at the end of
the file, a last row with fewer or more fields than the header, and which text encoding the file
is in. A file that fails is refused whole, so no row of it is ever loaded.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import os
import re
import shutil
import tempfile
import threading
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from etl.contracts import ROW

__all__ = [
    "AUTO",
    "CHUNK_ROWS",
    "MAX_FIELD_BYTES",
    "MISSING_VALUE_LITERALS",
    "ROW",
    "FileProblem",
    "HashingReader",
    "SourceFile",
    "read_csv_chunks",
    "text_encoding",
]

CHUNK_ROWS = 100_000
MAX_FIELD_BYTES = 1024 * 1024
"""Largest field the reader is sure to accept; it is also the read block size, which bounds the
reader's memory (16 MB blocks cost 750 MiB of resident memory, 1 MB blocks 190 MiB, for the
same speed). Every text field of the contracts is at most 255 characters anyway."""

MISSING_VALUE_LITERALS: dict[str, tuple[str, ...]] = {
    "sdtm": ("", "NA", ".", "NULL", "N/A"),
    "tidy": ("", "NA", ".", "NULL", "N/A"),
}
"""Unquoted cell texts read as missing, per format (docs/data_formats.md, "Missing-value
literals"): R writes a missing value as ``NA``, SAS a missing numeric as ``.``, databases
``NULL``, spreadsheets ``N/A``. A quoted ``"NA"`` stays a value (LBTESTCD ``NA`` is sodium).
Mapping files choose their own (the ``missing_values`` key)."""

AUTO = "auto"
"""``encoding`` value of :func:`read_csv_chunks`: UTF-8 (a byte-order mark is dropped), else
Windows-1252, noted (docs/data_formats.md, "Encodings")."""
WINDOWS_1252 = "cp1252"
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
"""The five bytes Windows-1252 leaves undefined: a file holding one is not Windows-1252 text."""
_SCAN_BLOCK = 1 << 22
_QUOTE = ord('"')
_NEWLINE = ord("\n")
_RETURN = ord("\r")


SNAPSHOT_IN_MEMORY = 64 * 1024 * 1024
"""Bytes of a :meth:`SourceFile.snapshot` held in memory; a larger file is copied to disk."""


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

    def snapshot(self) -> IO[bytes]:
        """A private, seekable copy of the file's bytes, read once through :meth:`open` and
        verified: for readers that need random access (Parquet, SAS transport), which then
        parse exactly the bytes the manifest describes. Held in memory up to
        :data:`SNAPSHOT_IN_MEMORY` bytes, in a temporary file beyond; close it (``with``).

        Raises
        ------
        FileProblem
            ``file_changed`` when the bytes are not those described (see :meth:`changed`).
        """
        copy = tempfile.SpooledTemporaryFile(max_size=SNAPSHOT_IN_MEMORY)  # noqa: SIM115 (returned open)
        try:
            with self.open() as stream:
                shutil.copyfileobj(stream, copy, 1 << 22)
                stream.verify()
        except BaseException:
            copy.close()
            raise
        copy.seek(0)
        return copy

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
    missing_values: Collection[str] = (),
    notes: list[str] | None = None,
    name: str | None = None,
    quoting: bool = True,
) -> Iterator[pd.DataFrame]:
    """Stream a delimited text file (``.gz``: gzip-compressed) as chunks of text columns plus
    ``_row``.

    Parameters
    ----------
    path
        The file; a :class:`SourceFile` is parsed through :meth:`SourceFile.open`, and
        ``file_changed`` is raised before the last chunk when the bytes parsed are not the
        file described.
    delimiter, chunk_rows
        Field delimiter; rows per chunk.
    encoding
        The text encoding, or :data:`AUTO`: UTF-8, else Windows-1252 (then a note says so).
    missing_values
        Unquoted cell texts read as missing (e.g. :data:`MISSING_VALUE_LITERALS` ``["sdtm"]``);
        a quoted one stays a value.
    notes, name
        Where the Windows-1252 fallback is noted, and the file's name in the note.
    quoting
        Whether ``"`` quotes a field (CSV); ``False`` for a format without quoting (FAERS
        ASCII), where a ``"`` is an ordinary character of a value.

    Every value is text; missing values are empty strings. Raises :class:`FileProblem` (before
    the first chunk) for an empty, truncated or malformed file or one that is not text in
    ``encoding``.
    """
    stream = path.open() if isinstance(path, SourceFile) else None
    path = path.path if isinstance(path, SourceFile) else path
    if path.stat().st_size == 0:
        raise FileProblem("empty_file", "the file is empty (0 bytes)")
    chosen, scan = _check_text(path, delimiter=delimiter, encoding=encoding, quoting=quoting)
    fallback = f"{name or path.name}: not UTF-8 text; read as Windows-1252 (cp1252), the fallback"
    if chosen == WINDOWS_1252 and encoding == AUTO and notes is not None and fallback not in notes:
        notes.append(fallback)
    if scan.whole and not re.search(rb"[\r\n]", scan.tail):  # a header line, no line end
        names = next(csv.reader([scan.tail.decode(chosen, errors="replace")], delimiter=delimiter))
        frame = pd.DataFrame({_without_bom(n): pd.Series(dtype=object) for n in names})
        frame[ROW] = pd.Series(dtype="int64")
        yield frame
        return
    read = pacsv.ReadOptions(block_size=MAX_FIELD_BYTES, encoding=chosen)
    parse = pacsv.ParseOptions(
        delimiter=delimiter,
        newlines_in_values=quoting,
        quote_char='"' if quoting else False,
    )
    header: list[str] = []
    try:
        header = _header(path, read, delimiter, quoting)
        _check_last_row(
            path, scan, delimiter=delimiter, encoding=chosen, width=len(header), quoting=quoting
        )
        reader = pacsv.open_csv(
            path if stream is None else _decompressed(stream, path),
            read_options=read,
            parse_options=parse,
            convert_options=_all_text(header, missing_values),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as error:
        raise _problem(error, path, delimiter, chosen, len(header), quoting) from error
    clean = [_without_bom(column) for column in header]
    next_row = 1
    pending: list[pd.DataFrame] = []
    pending_rows = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowInvalid, UnicodeDecodeError, OSError) as error:
            raise _problem(error, path, delimiter, chosen, len(header), quoting) from error
        if missing_values:
            batch = pa.record_batch(
                [pc.fill_null(column, "") for column in batch.columns], names=batch.schema.names
            )
        for start in range(0, batch.num_rows, chunk_rows):
            frame = batch.slice(start, chunk_rows).to_pandas()
            frame.columns = pd.Index(clean)
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
        frame = pd.DataFrame({name: pd.Series(dtype=object) for name in clean})
        frame[ROW] = pd.Series(dtype="int64")
        yield frame


def _decompressed(stream: HashingReader, path: Path) -> pa.NativeFile:
    """``stream`` decompressed as the file name says (``.gz``, ``.bz2``...), as pyarrow does for a
    path."""
    compression = _COMPRESSIONS.get(path.suffix.lower())
    return pa.input_stream(stream, compression=compression)


_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".lz4": "lz4", ".zst": "zstd"}
"""The suffixes pyarrow decompresses when it opens a path itself."""


def _header(path: Path, read: pacsv.ReadOptions, delimiter: str, quoting: bool = True) -> list[str]:
    """The header's names (rows of the first block that do not fit it are checked later)."""
    parse = pacsv.ParseOptions(
        delimiter=delimiter,
        newlines_in_values=quoting,
        quote_char='"' if quoting else False,
        invalid_row_handler=lambda _: "skip",
    )
    names: list[str] = pacsv.open_csv(path, read_options=read, parse_options=parse).schema.names
    return names


def _all_text(header: list[str], missing_values: Collection[str]) -> pacsv.ConvertOptions:
    """Read every column as text (types are decided by the contracts, not guessed)."""
    return pacsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()),
        null_values=list(missing_values),
        strings_can_be_null=bool(missing_values),
        quoted_strings_can_be_null=False,
    )


def _without_bom(name: str) -> str:
    """A header name without a byte-order mark (also as Windows-1252 decoded it)."""
    return name.removeprefix("\ufeff").removeprefix("\u00ef\u00bb\u00bf")


# ---- the checks made before the first row -------------------------------------------------


def _open_bytes(path: Path) -> BinaryIO | gzip.GzipFile:
    if path.suffix.lower() == ".gz":
        return gzip.GzipFile(path, "rb")
    return path.open("rb")


def _blocks(path: Path) -> Iterator[bytes]:
    """The file's bytes (decompressed for ``.gz``) in blocks; a broken gzip stream is a
    :class:`FileProblem`."""
    try:
        with _open_bytes(path) as handle:
            yield from iter(lambda: handle.read(_SCAN_BLOCK), b"")
    except EOFError as error:
        raise FileProblem(
            "unreadable_file",
            "the gzip file is truncated (it ends before the end of its compressed stream)",
        ) from error
    except (gzip.BadGzipFile, zlib.error) as error:
        raise FileProblem(
            "unreadable_file", f"the file is not a readable gzip file ({error})"
        ) from error


def _structural_quotes(arr: np.ndarray, before: int, after: int, delimiter: int) -> np.ndarray:
    """Positions in ``arr`` of the quotes that open, close or double a quote (a quote next to
    a delimiter, a line end, another quote or the file's edge); a quote inside an unquoted
    field (``5" tall``) is text and does not count."""
    positions = np.flatnonzero(arr == _QUOTE)
    if not len(positions):
        return positions
    edge = np.zeros(256, dtype=bool)
    edge[[delimiter, _NEWLINE, _RETURN, _QUOTE]] = True
    previous = arr[positions - 1]  # the first quote's -1 wraps round; set just below
    following = arr[np.minimum(positions + 1, len(arr) - 1)]
    if positions[0] == 0:
        previous[0] = before
    if positions[-1] == len(arr) - 1:
        following[-1] = after
    structural: np.ndarray = positions[edge[previous] | edge[following]]
    return structural


@dataclass
class _Scan:
    """What one pass over a text file's bytes found."""

    utf8: bool
    windows_1252: bool
    tail: bytes
    """The last one or two blocks, line ends at the very end stripped."""
    quotes_before: int
    """Structural quotes before :attr:`tail`."""
    before: int
    """The byte before :attr:`tail` (a line end at the file's start)."""
    whole: bool
    """Whether :attr:`tail` is the whole file."""


def _scan(path: Path, separator: int) -> _Scan:
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = windows = True
    quotes = 0
    before = _NEWLINE
    tail: list[bytes] = []
    whole = True
    for block in _blocks(path):
        if utf8 and not (block.isascii() and not decoder.getstate()[0]):
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                utf8 = False
        if windows and not block.isascii() and _CP1252_UNDEFINED.search(block):
            windows = False
        tail.append(block)
        if len(tail) > 2:
            first = tail.pop(0)
            quotes += _count_quotes(first, before, tail[0][0], separator)
            before, whole = first[-1], False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return _Scan(utf8, windows, b"".join(tail).rstrip(b"\r\n"), quotes, before, whole)


def _check_text(
    path: Path, *, delimiter: str, encoding: str, quoting: bool = True
) -> tuple[str, _Scan]:
    """One pass over the bytes: the encoding to read with, and no quote left open at the end."""
    scan = _scan(path, _separator(delimiter))
    quotes = scan.quotes_before + _count_quotes(
        scan.tail, scan.before, _NEWLINE, _separator(delimiter)
    )
    if quoting and quotes % 2:
        raise FileProblem(
            "unreadable_file",
            "the file ends inside a quoted field (a quote is opened and never closed): it is "
            "truncated, or a quote in it is not closed",
        )
    if encoding != AUTO:
        return encoding, scan
    if scan.utf8:
        return "utf8", scan
    if scan.windows_1252:
        return WINDOWS_1252, scan
    raise FileProblem(
        "encoding",
        "the file is neither UTF-8 nor Windows-1252 text; save it as UTF-8 (CSV UTF-8 in Excel) "
        "and load it again",
    )


def text_encoding(path: Path, *, delimiter: str, encoding: str) -> str:
    """The encoding :func:`read_csv_chunks` reads ``path`` with: ``encoding`` as given, or for
    :data:`AUTO` UTF-8 else Windows-1252 (raises :class:`FileProblem` when it is neither)."""
    return _check_text(path, delimiter=delimiter, encoding=encoding)[0]


def _separator(delimiter: str) -> int:
    return ord(delimiter) if len(delimiter) == 1 else _NEWLINE


def _count_quotes(block: bytes, before: int, after: int, separator: int) -> int:
    if b'"' not in block:
        return 0
    arr = np.frombuffer(block, dtype=np.uint8)
    return len(_structural_quotes(arr, before, after, separator))


def _check_last_row(
    path: Path, scan: _Scan, *, delimiter: str, encoding: str, width: int, quoting: bool = True
) -> None:
    """Refuse a file whose last row has another number of fields than the header (a file cut
    short in its last line); a last line without its line end is fine when it is complete."""
    separator = _separator(delimiter)
    if not scan.tail:
        return
    arr = np.frombuffer(scan.tail, dtype=np.uint8)
    quoted = np.zeros(len(arr), dtype=np.int64)
    quoted[_structural_quotes(arr, scan.before, _NEWLINE, separator)] = 1
    inside = (np.cumsum(quoted) + scan.quotes_before) % 2 == 1
    if not quoting:
        inside[:] = False
    boundaries = np.flatnonzero((arr == _NEWLINE) & ~inside)
    if not len(boundaries):
        return  # only a header, or a last row longer than the kept tail: nothing to compare
    record = scan.tail[boundaries[-1] + 1 :].decode(encoding, errors="replace")
    try:
        fields = next(
            csv.reader(
                io.StringIO(record, newline=""), delimiter=delimiter, **_csv_quoting(quoting)
            ),
            [],
        )
    except csv.Error:  # e.g. a field over the csv module's limit: pyarrow judges it
        return
    if len(fields) == width:
        return
    row = _count_rows(path, separator, quoting)
    cut = "it looks cut short" if len(fields) < width else "a field may hold an unquoted delimiter"
    raise FileProblem(
        "unreadable_file",
        f"its last row (row {row:,}) has {len(fields)} field(s) where the header has {width}: "
        f"{cut}",
    )


def _count_rows(path: Path, separator: int, quoting: bool = True) -> int:
    """Data rows of the file: line ends outside quotes, less the header's and trailing ones."""
    ends = trailing = 0
    quotes = 0
    before = _NEWLINE
    previous: bytes | None = None

    def count(block: bytes, after: int) -> None:
        nonlocal ends, quotes
        if not quoting or (b'"' not in block and quotes % 2 == 0):
            ends += block.count(b"\n")
            return
        arr = np.frombuffer(block, dtype=np.uint8)
        quoted = np.zeros(len(arr), dtype=np.int64)
        quoted[_structural_quotes(arr, before, after, separator)] = 1
        inside = (np.cumsum(quoted) + quotes) % 2 == 1
        ends += int(np.count_nonzero((arr == _NEWLINE) & ~inside))
        quotes += int(quoted.sum())

    for block in _blocks(path):
        if previous is not None:
            count(previous, block[0])
            before = previous[-1]
        previous = block
    if previous is not None:
        count(previous, _NEWLINE)
        stripped = previous.rstrip(b"\r\n")
        trailing = previous[len(stripped) :].count(b"\n")
    return ends - trailing


def _problem(
    error: Exception, path: Path, delimiter: str, encoding: str, width: int, quoting: bool = True
) -> FileProblem:
    """A read error as a file problem; a row with another number of fields than the header is
    named by its number, never quoted (it may hold a name)."""
    text = str(error)
    if "Expected" in text and "columns" in text:
        found = _row_of_other_width(path, delimiter, encoding, width, quoting)
        if found is not None:
            row, fields = found
            return FileProblem(
                "unreadable_file",
                f"row {row:,} has {fields} field(s) where the header has {width} (a delimiter "
                "inside an unquoted value, or a row cut short)",
            )
        return FileProblem(
            "unreadable_file", "rows have different numbers of columns than the header"
        )
    return FileProblem("unreadable_file", _explain(error))


def _row_of_other_width(
    path: Path, delimiter: str, encoding: str, width: int, quoting: bool = True
) -> tuple[int, int] | None:
    """The first data row (blank lines skipped, as the reader does) whose number of fields is
    not ``width``, and that number; read again only when a file is refused."""
    python_encoding = "utf-8-sig" if encoding.lower().replace("-", "") == "utf8" else encoding
    try:
        with io.TextIOWrapper(_open_bytes(path), encoding=python_encoding, newline="") as handle:
            rows = (
                fields
                for fields in csv.reader(handle, delimiter=delimiter, **_csv_quoting(quoting))
                if fields
            )
            next(rows, None)
            for number, fields in enumerate(rows, start=1):
                if len(fields) != width:
                    return number, len(fields)
    except (csv.Error, UnicodeDecodeError, LookupError, OSError, EOFError, zlib.error):
        return None
    return None


def _csv_quoting(quoting: bool) -> dict[str, Any]:
    """Options of :func:`csv.reader` for a format with or without quoting."""
    return {} if quoting else {"quoting": csv.QUOTE_NONE}


def _explain(error: Exception) -> str:
    text = str(error)
    if "Truncated compressed stream" in text or "gzip" in text.lower():
        return "the gzip file is truncated or corrupt (it cannot be decompressed to its end)"
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
