"""The committed DDL in sql/ is current, and it builds the same schema as the migrations."""

from __future__ import annotations

import shutil
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import pv_monitor.store.models  # noqa: F401
from pv_monitor.store.base import Base
from pv_monitor.store.ddl import ddl_path, render_ddl, stale_ddl_files
from pv_monitor.store.engine import create_store_engine

SQL_DIR = Path(__file__).resolve().parents[3] / "sql"


def test_committed_ddl_matches_the_models() -> None:
    assert stale_ddl_files(SQL_DIR) == [], (
        "sql/ is stale: run `pv-monitor db ddl --write sql` and commit the result"
    )


def test_a_changed_or_missing_ddl_file_is_reported_stale(tmp_path: Path) -> None:
    shutil.copytree(SQL_DIR, tmp_path / "sql")
    sqlite_file = ddl_path(tmp_path / "sql", "sqlite")
    sqlite_file.write_text(sqlite_file.read_text().replace("sex VARCHAR(32)", "sex VARCHAR(16)"))
    ddl_path(tmp_path / "sql", "postgresql").unlink()
    assert stale_ddl_files(tmp_path / "sql") == [
        sqlite_file,
        ddl_path(tmp_path / "sql", "postgresql"),
    ]


def test_generated_ddl_builds_the_models_schema(store_url: str) -> None:
    dialect = "sqlite" if store_url.startswith("sqlite") else "postgresql"
    engine = create_store_engine(store_url)
    try:
        with engine.begin() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            if dialect == "sqlite":
                raw.executescript(render_ddl(dialect))
            else:
                raw.execute(render_ddl(dialect))  # no parameters: sent to the server as written
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert list(compare_metadata(context, Base.metadata)) == []
    finally:
        engine.dispose()
