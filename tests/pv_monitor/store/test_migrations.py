"""Alembic migrations give exactly the models' schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, inspect

import pv_monitor.store.models  # noqa: F401
from pv_monitor.store.base import Base
from pv_monitor.store.engine import create_store_engine
from pv_monitor.store.migrate import alembic_config, current_revision, head_revision, upgrade
from pv_monitor.store.triggers import APPEND_ONLY_TABLES


def _schema_differences(url: str) -> list[object]:
    engine = create_store_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _check_constraints(url: str) -> dict[str, set[str]]:
    engine = create_store_engine(url)
    try:
        inspector = inspect(engine)
        return {
            table: {str(ck["name"]) for ck in inspector.get_check_constraints(table)}
            for table in Base.metadata.tables
        }
    finally:
        engine.dispose()


def _triggers(url: str) -> set[str]:
    engine = create_store_engine(url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            else:
                query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            return set(connection.exec_driver_sql(query).scalars())
    finally:
        engine.dispose()


def test_upgrade_head_on_empty_database_gives_the_models_schema(store_url: str) -> None:
    upgrade(store_url)
    assert _schema_differences(store_url) == []


def test_sqlite_check_constraints_say_what_the_models_say(sqlite_url: str) -> None:
    """SQLite keeps the CHECK text as written, so a changed state list shows up here."""
    upgrade(sqlite_url)
    engine = create_store_engine(sqlite_url)
    try:
        inspector = inspect(engine)
        stored = {
            (table, str(ck["name"])): " ".join(str(ck["sqltext"]).split())
            for table in Base.metadata.tables
            for ck in inspector.get_check_constraints(table)
        }
    finally:
        engine.dispose()
    expected = {
        (table.name, str(constraint.name)): " ".join(str(constraint.sqltext).split())
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }
    assert stored == expected


def test_upgrade_head_creates_every_check_constraint_of_the_models(store_url: str) -> None:
    upgrade(store_url)
    expected = {
        table.name: {
            str(constraint.name)
            for constraint in table.constraints
            if isinstance(constraint, CheckConstraint)
        }
        for table in Base.metadata.tables.values()
    }
    assert _check_constraints(store_url) == expected


def test_upgrade_head_makes_every_history_table_append_only(store_url: str) -> None:
    upgrade(store_url)
    names = _triggers(store_url)
    for table in APPEND_ONLY_TABLES:
        assert any(re.match(rf"{table}_(no_update|append_only)$", n) for n in names), table
        assert any(re.match(rf"{table}_(no_delete|append_only)$", n) for n in names), table


def test_upgrade_records_the_head_revision_and_is_idempotent(store_url: str) -> None:
    upgrade(store_url)
    upgrade(store_url)
    engine = create_store_engine(store_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_every_table(store_url: str) -> None:
    from alembic import command

    upgrade(store_url)
    command.downgrade(alembic_config(store_url), "base")
    engine = create_store_engine(store_url)
    try:
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
