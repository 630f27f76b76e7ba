"""The alert queue's server-side paging, sorting and filtering (``alert_rows``) on a graded
synthetic store (SQLite and PostgreSQL): pages put together are the whole sorted queue, each
alert once, and the count is the number of matches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from etl import load
from pv_monitor.cli import upgrade_store
from pv_monitor.pipeline import run_pipeline
from pv_monitor.store.alerts import alert_rows
from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.models import Alert, Subject
from pv_monitor.synthetic import generate_cohort

PAGE = 7
SORTS: list[list[dict[str, str]]] = [
    [],
    [{"colId": "study_day", "sort": "asc"}],
    [{"colId": "subject_key", "sort": "desc"}],
    [{"colId": "status", "sort": "asc"}, {"colId": "raised_at", "sort": "desc"}],
]
FILTERS: list[dict[str, Any]] = [
    {},
    {"syndrome": {"filterType": "text", "type": "equals", "filter": "crs"}},
    {"study_day": {"filterType": "number", "type": "lessThan", "filter": 5}},
]


@pytest.fixture
def session(store_url: str, tmp_path: Path) -> Iterator[Session]:
    generate_cohort(30, seed=4, out_dir=tmp_path / "tidy")
    upgrade_store(store_url, actor="test")
    assert load([tmp_path / "tidy"], "tidy", database_url=store_url, actor="test").exit_code == 0
    run_pipeline(store_url, actor="test")
    engine = create_store_engine(store_url)
    with session_factory(engine)() as opened:
        yield opened
    engine.dispose()


def _pages(
    session: Session, scope: frozenset[int] | None, **query: Any
) -> tuple[pd.DataFrame, int]:
    pages, totals, start = [], set(), 0
    while True:
        page, total = alert_rows(session, scope, start=start, end=start + PAGE, **query)
        totals.add(total)
        if page.empty:
            break
        pages.append(page)
        start += PAGE
    assert len(totals) == 1  # every block, and the block past the end, report the same count
    return pd.concat(pages, ignore_index=True) if pages else pd.DataFrame(), totals.pop()


def test_pages_are_the_whole_sorted_queue(session: Session) -> None:
    everyone = session.scalar(select(Alert.alert_id).limit(1))
    assert everyone is not None, "the synthetic store raised no alerts"
    site = session.scalar(select(Subject.site_id).join(Alert).limit(1))
    assert site is not None
    scopes: list[frozenset[int] | None] = [None, frozenset({site})]
    for scope in scopes:
        for sort_model in SORTS:
            for filter_model in FILTERS:
                rows, total = _pages(
                    session, scope, sort_model=sort_model, filter_model=filter_model
                )
                whole, whole_total = alert_rows(
                    session, scope, start=0, end=10**6,
                    sort_model=sort_model, filter_model=filter_model,
                )  # fmt: skip
                assert total == whole_total == len(whole) == len(rows)
                assert rows["alert_id"].is_unique
                assert rows["alert_id"].tolist() == whole["alert_id"].tolist()
                if scope is not None:
                    assert set(rows["site"]) <= set(whole["site"])
                    assert rows["site"].nunique() <= 1
                if filter_model.get("syndrome"):
                    assert set(rows["syndrome"]) <= {"crs"}
                if sort_model[:1] == [{"colId": "study_day", "sort": "asc"}]:
                    days = rows["study_day"].dropna()
                    assert days.is_monotonic_increasing


def test_everything_matches_the_alert_table(session: Session) -> None:
    rows, total = _pages(session, None)
    assert total == session.query(Alert).count()
    assert set(rows["alert_id"]) == set(session.scalars(select(Alert.alert_id)))
