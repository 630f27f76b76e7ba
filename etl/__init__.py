"""ETL: read trial exports, validate them, normalise codes, units and dates, load one batch.

:func:`load` picks the reader for a format and loads it as one batch. See
``docs/data_formats.md`` for every accepted format, code, unit and rejection reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from etl.load import ALL_OR_NOTHING, LoadReport, Progress, load_faers, load_source
from etl.sources import ExportError, Source
from etl.sources.mapping import MappingSource
from etl.sources.sdtm import SdtmSource
from etl.sources.tidy import TidySource

FORMATS = ("sdtm", "tidy", "faers")
"""Formats ``pv-monitor load --format`` accepts (``mapping:FILE`` names a mapping file)."""


class UnknownFormat(ExportError):
    """A ``--format`` that no reader handles."""


def open_source(paths: Sequence[Path], export_format: str) -> Source:
    """The reader of a trial export format (tidy, sdtm, mapping:FILE) over ``paths``."""
    if export_format == "tidy":
        return TidySource(paths)
    if export_format == "sdtm":
        return SdtmSource(paths)
    if export_format.startswith("mapping:"):
        return MappingSource(Path(export_format.removeprefix("mapping:")), paths)
    raise UnknownFormat(f"unknown format {export_format!r}; choose one of {', '.join(FORMATS)}")


def load(
    paths: Sequence[Path],
    export_format: str,
    *,
    database_url: str,
    actor: str,
    policy: str = ALL_OR_NOTHING,
    progress: Progress | None = None,
) -> LoadReport:
    """Load ``paths`` in ``export_format`` as one batch."""
    if export_format == "faers":
        return load_faers(
            paths, database_url=database_url, actor=actor, policy=policy, progress=progress
        )
    source = open_source(paths, export_format)
    return load_source(
        source, database_url=database_url, actor=actor, policy=policy, progress=progress
    )


__all__ = ["FORMATS", "ExportError", "LoadReport", "UnknownFormat", "load", "open_source"]
