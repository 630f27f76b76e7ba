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


@dataclass
class ReadLog:
    """What a reader found wrong with whole files, and what it left out on purpose."""

    problems: list[pd.DataFrame] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Source(Protocol):
    """An export being loaded."""

    format: str
    display_path: str
    files: list[SourceFile]
    log: ReadLog

    def chunks(self) -> Iterator[Chunk]:
        """Chunks of rows, every subjects chunk before any child chunk."""
        ...  # pragma: no cover
