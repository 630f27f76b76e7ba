"""Schema migrations: Alembic is the only way the schema changes.

``pv-monitor db upgrade`` calls :func:`upgrade`. The migration scripts live in
``pv_monitor/store/migrations`` and are shipped inside the package, so an installed
``pv-monitor`` can migrate a database without a source checkout.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the store at ``url`` (no ``alembic.ini`` needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` (default: the newest)."""
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest migration shipped with this version of pv-monitor."""
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database at ``engine`` is at; None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class StoreNotReady(RuntimeError):
    """The store is not at the schema revision this version writes (run ``db upgrade``)."""


def require_current_schema(engine: Engine) -> None:
    """Raise :class:`StoreNotReady` unless the store is at the newest revision."""
    revision = current_revision(engine)
    if revision != head_revision():
        raise StoreNotReady(
            f"the store is at schema revision {revision or 'none (empty)'}, not "
            f"{head_revision()}: run `pv-monitor db upgrade` first"
        )
