"""Readers: each turns one kind of export into chunks of tidy format v1 rows.

A reader yields :class:`Chunk` objects (subjects first, then child files), collects file-level
problems as rejections, and notes what it deliberately left out (with counts), so that the
loader can say exactly what happened to every row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

from etl.contracts import Kind
from etl.sources.files import SourceFile


class ExportError(ValueError):
    """An export that cannot be read as the format it was given as (e.g. an unknown file name,
    an invalid mapping); raised before anything is loaded."""


@dataclass
class Chunk:
    """Rows of one tidy file kind, from one source file."""

    kind: Kind
    file: str
    frame: pd.DataFrame


USED = "used"
"""A file whose rows the load read."""
IGNORED = "ignored"
"""A file the reader recognised but does not use (e.g. an SDTM domain pv-monitor has no home
for); ``why`` says why, and nothing of it blocks or slows the batch."""
NOT_RECOGNISED = "not recognised"
"""A file that is not a file of the load's format (e.g. an XML file in a FAERS folder)."""
UNREADABLE = "unreadable"
"""A file of the format that could not be read (truncated, corrupt, not text): a file-level
rejection with the same reason."""
FILE_USES = (USED, IGNORED, NOT_RECOGNISED, UNREADABLE)


@dataclass(frozen=True)
class FileUse:
    """What a load did with one file it was given (every file of a folder gets one).

    Examples
    --------
    >>> FileUse("ts.xpt", IGNORED, "domain TS is not used by pv-monitor").use
    'ignored'
    """

    name: str
    use: str
    why: str = ""


@dataclass
class ReadLog:
    """What a reader found wrong with whole files, what it left out on purpose, and what it did
    with every file (:attr:`uses`, in the order the files were met)."""

    problems: list[pd.DataFrame] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    uses: dict[str, FileUse] = field(default_factory=dict)

    def account(self, name: str, use: str, why: str = "") -> None:
        """Record what became of file ``name``; a later, worse outcome replaces an earlier one
        (a file first recognised as used, then found truncated, is unreadable)."""
        if use not in FILE_USES:
            raise ValueError(f"use must be one of {FILE_USES}, not {use!r}")
        earlier = self.uses.get(name)
        if earlier is None or FILE_USES.index(use) >= FILE_USES.index(earlier.use):
            self.uses[name] = FileUse(name, use, why)


class Source(Protocol):
    """An export being loaded."""

    format: str
    display_path: str
    files: list[SourceFile]
    log: ReadLog

    def chunks(self) -> Iterator[Chunk]:
        """Chunks of rows, every subjects chunk before any child chunk."""
        ...  # pragma: no cover
