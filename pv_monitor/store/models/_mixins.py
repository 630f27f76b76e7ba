"""Columns shared by many tables."""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from pv_monitor.store.base import Code, SourceKey


def check_in(column: str, values: tuple[str, ...]) -> str:
    """SQL text of a CHECK that ``column`` takes one of ``values`` (values are code constants)."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Provenance:
    """Where a loaded row came from: its load batch and its key in the source file.

    ``source_key`` names the row in its source (``observations.csv#1234`` for a tidy file,
    ``LB#<USUBJID>#<LBSEQ>`` for SDTM, ``DEMO#<primaryid>`` for FAERS), so that any figure can be
    traced to a file row.
    """

    load_batch_id: Mapped[int] = mapped_column(
        ForeignKey("load_batch.load_batch_id"),
        index=True,
        comment="Load batch that last wrote this row.",
    )
    source_key: Mapped[SourceKey] = mapped_column(
        comment="Identity of the row in its source (e.g. LB|12 for SDTM, TEMP|2024-05-01T08:00).",
    )
    source_row: Mapped[int | None] = mapped_column(
        comment="1-based data row number in the source file the row was last loaded from.",
    )


class DateFlagged:
    """A dated event whose date the loader found implausible (kept, and flagged)."""

    date_flag: Mapped[Code | None] = mapped_column(
        comment="before_day_0 or after_death when the date is implausible; empty otherwise.",
    )


class SubjectScoped:
    """A row about one subject."""

    subject_id: Mapped[int] = mapped_column(
        ForeignKey("subject.subject_id"),
        comment="The subject (pseudonymous) this row is about.",
    )
