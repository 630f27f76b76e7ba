"""ETL: read trial exports, validate them, normalise codes, units and dates, load one batch.

:func:`open_source` picks the reader for a format; :func:`etl.load.load_source` loads it. See
``docs/data_formats.md`` for every accepted format, code, unit and rejection reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from etl.sources import Source
from etl.sources.tidy import TidySource

FORMATS = ("tidy",)
"""Formats ``pv-monitor load --format`` accepts (``mapping:FILE`` names a mapping file)."""


class UnknownFormat(ValueError):
    """A ``--format`` that no reader handles."""


def open_source(paths: Sequence[Path], export_format: str) -> Source:
    """The reader for ``export_format`` over ``paths``."""
    if export_format == "tidy":
        return TidySource(paths)
    raise UnknownFormat(f"unknown format {export_format!r}; choose one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "UnknownFormat", "open_source"]
