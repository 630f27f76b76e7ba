"""Columns shared by many tables."""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from pv_monitor.store.base import Key


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
        comment="Load batch that wrote this row.",
    )
    source_key: Mapped[Key] = mapped_column(
        comment="Key of the row in its source file (file#row, or domain#subject#sequence).",
    )


class SubjectScoped:
    """A row about one subject."""

    subject_id: Mapped[int] = mapped_column(
        ForeignKey("subject.subject_id"),
        comment="The subject (pseudonymous) this row is about.",
    )
