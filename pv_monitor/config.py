"""Where the store lives.

The database URL comes from, in order: an explicit argument (the CLI's ``--database-url``), the
``PV_MONITOR_DATABASE_URL`` environment variable, and otherwise an SQLite file
``pv_monitor.db`` in the working directory.

Examples
--------
>>> from pathlib import Path
>>> database_url(None, environ={}, cwd=Path("/srv/trial"))
'sqlite:////srv/trial/pv_monitor.db'
>>> database_url(None, environ={"PV_MONITOR_DATABASE_URL": "postgresql+psycopg://db/pv"})
'postgresql+psycopg://db/pv'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DATABASE_URL_ENV = "PV_MONITOR_DATABASE_URL"
DEFAULT_SQLITE_FILE = "pv_monitor.db"
DEFAULT_MIN_AUROC = 0.75
"""Cross-validated AUROC a trained model needs before its predictions are stored and may alert
(configurable: ``pv-monitor run --min-auroc``). Published pre-infusion scores reach about
0.7-0.8 (docs/models.md)."""


def sqlite_url(path: Path) -> str:
    """SQLAlchemy URL of an SQLite database file."""
    return f"sqlite:///{path.absolute()}"


def database_url(
    explicit: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Resolve the store's database URL (see the module docstring for the order)."""
    if explicit:
        return explicit
    env = os.environ if environ is None else environ
    if env.get(DATABASE_URL_ENV):
        return env[DATABASE_URL_ENV]
    return sqlite_url((cwd or Path.cwd()) / DEFAULT_SQLITE_FILE)
