"""Load batches and their rejections, as the data managers' page lists them."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from pv_monitor.store.models import LoadBatch, LoadRejection
from pv_monitor.store.pipeline_io import read_frame

REJECTION_COLUMNS = ("file_name", "row_number", "field", "value", "rule", "reason")
"""What a rejection says: file, data row (header excluded), field, value, rule and reason."""


def load_batches(session: Session, limit: int = 200) -> pd.DataFrame:
    """The newest ``limit`` load batches with their counts and status, newest first."""
    return read_frame(
        session,
        select(
            LoadBatch.load_batch_id,
            LoadBatch.source_path,
            LoadBatch.source_format,
            LoadBatch.loaded_by,
            LoadBatch.started_at,
            LoadBatch.finished_at,
            LoadBatch.status,
            LoadBatch.policy,
            LoadBatch.rows_read,
            LoadBatch.rows_loaded,
            LoadBatch.rows_rejected,
            LoadBatch.message,
        )
        .order_by(LoadBatch.load_batch_id.desc())
        .limit(limit),
    )


def load_rejections(session: Session, load_batch_id: int) -> pd.DataFrame:
    """Every rejection of one batch, in file and row order (columns
    :data:`REJECTION_COLUMNS`)."""
    table = LoadRejection.__table__
    return read_frame(
        session,
        select(*(table.c[name] for name in REJECTION_COLUMNS))
        .where(table.c.load_batch_id == load_batch_id)
        .order_by(table.c.file_name, table.c.row_number, table.c.load_rejection_id),
    )
