"""SQLite is opened safely: WAL, full sync, enforced foreign keys, busy timeout, local disk."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from pv_monitor.store.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    StoreConfigurationError,
    check_not_network_path,
    create_store_engine,
)
from pv_monitor.store.migrate import upgrade


def test_sqlite_connections_use_wal_full_sync_foreign_keys_and_busy_timeout(
    sqlite_url: str,
) -> None:
    engine = create_store_engine(sqlite_url)
    with engine.connect() as connection:
        pragma = {
            name: connection.execute(text(f"PRAGMA {name}")).scalar_one()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    engine.dispose()
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,  # FULL
        "foreign_keys": 1,
        "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
    }


def test_an_orphan_row_is_refused(store_url: str) -> None:
    upgrade(store_url)
    engine = create_store_engine(store_url)
    try:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text("INSERT INTO site (study_id, site_key) VALUES (999, 'S01')"))
    finally:
        engine.dispose()


def test_sqlite_ddl_is_transactional(sqlite_url: str) -> None:
    """A failed migration step leaves no half-made table behind (explicit BEGIN)."""
    engine = create_store_engine(sqlite_url)
    with pytest.raises(RuntimeError), engine.begin() as connection:
        connection.execute(text("CREATE TABLE half_made (x INTEGER)"))
        raise RuntimeError("stop in the middle")
    with engine.connect() as connection:
        tables = connection.execute(text("SELECT name FROM sqlite_master")).scalars().all()
    engine.dispose()
    assert "half_made" not in tables


def test_utc_timestamps_round_trip_as_aware_utc(store_url: str) -> None:
    from sqlalchemy.orm import Session

    from pv_monitor.store.models import AppUser, Study

    upgrade(store_url)
    engine = create_store_engine(store_url)
    moment = datetime(2025, 6, 1, 12, 30, 15, 123456, tzinfo=UTC)
    with Session(engine) as session:
        session.add(Study(study_key="S"))
        session.add(
            AppUser(
                username="u", role="admin", password_hash="h", is_active=True, created_at=moment
            )
        )
        session.commit()
    with Session(engine) as session:
        stored = session.query(AppUser).one().created_at
    engine.dispose()
    assert stored == moment and stored.tzinfo is not None


def test_network_file_systems_are_refused(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/vda / ext4 rw 0 0\nserver:/export {tmp_path / 'shared'} nfs4 rw 0 0\n")
    (tmp_path / "shared").mkdir()
    (tmp_path / "local").mkdir()
    check_not_network_path(tmp_path / "local" / "pv.db", mounts_file=mounts)
    with pytest.raises(StoreConfigurationError, match="network file system"):
        check_not_network_path(tmp_path / "shared" / "pv.db", mounts_file=mounts)
