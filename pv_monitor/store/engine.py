"""Engines and sessions for SQLite (default) and PostgreSQL.

SQLite connections are configured for safety data (pharmacovigilance.md §6): write-ahead log,
``synchronous=FULL``, foreign keys enforced on every connection (checked, not assumed), a busy
timeout, and transactions opened explicitly so that DDL and savepoints are transactional. A
database on a network file system is refused, because WAL does not work there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb", "smbfs", "smb3", "sshfs", "9p"})


class StoreConfigurationError(RuntimeError):
    """The database cannot be used safely as configured."""


SQLITE_CACHE_KIB = 64 * 1024
"""Page cache per connection (64 MiB instead of SQLite's 2 MiB): bulk loads keep the indexes
they update in memory."""


def _mount_type(path: Path, mounts: str) -> str | None:
    """File-system type of the mount point holding ``path`` in a ``/proc/mounts`` listing."""
    best, best_type = "", None
    resolved = str(path.resolve())
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point, fs_type = fields[1], fields[2]
        inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) > len(best):
            best, best_type = mount_point, fs_type
    return best_type


def check_not_network_path(path: Path, *, mounts_file: Path = Path("/proc/mounts")) -> None:
    """Refuse an SQLite file on a network file system (WAL needs one host, local disk)."""
    if not mounts_file.exists():
        return
    fs_type = _mount_type(path.parent, mounts_file.read_text())
    if fs_type in NETWORK_FILESYSTEMS:
        raise StoreConfigurationError(
            f"{path} is on a network file system ({fs_type}); SQLite's write-ahead log needs a "
            "local disk. Move the database or use PostgreSQL (PV_MONITOR_DATABASE_URL)."
        )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see "begin" below)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        enforced = cursor.execute("PRAGMA foreign_keys").fetchone()[0]
        cursor.close()
        if enforced != 1:
            raise StoreConfigurationError("this SQLite build does not enforce foreign keys")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")


_BUSY = ("database is locked", "database table is locked", "lock timeout", "deadlock detected")
_UNREACHABLE = (
    "connection refused",
    "could not connect",
    "connection failed",
    "could not translate host name",
    "timeout expired",
    "server closed the connection",
    "connection is closed",
    "terminating connection",
    "no route to host",
    "name or service not known",
)


def explain_database_error(error: BaseException, shown_url: str) -> str | None:
    """What a database error means to the person who ran a command, and what to do about it,
    without the driver's traceback; None when ``error`` is not a database error.

    ``shown_url`` is the store's URL with the password hidden (it is part of the message).

    Examples
    --------
    >>> from sqlalchemy.exc import OperationalError
    >>> error = OperationalError("INSERT ...", {}, Exception("database is locked"))
    >>> explain_database_error(error, "sqlite:///pv.db").split(":")[0]
    'the database is busy'
    """
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    if not isinstance(error, SQLAlchemyError):
        return None
    original = error.orig if isinstance(error, DBAPIError) else error
    said = str(original).strip().splitlines()[0] if str(original).strip() else type(error).__name__
    lowered = said.lower()
    if any(phrase in lowered for phrase in _BUSY):
        return (
            f"the database is busy: another program has been writing to {shown_url} for longer "
            f"than the {SQLITE_BUSY_TIMEOUT_MS // 1000} s a command waits (a dashboard, a script "
            "or an open database tool). Try again when it has finished."
        )
    if "password authentication failed" in lowered or (
        "role" in lowered and "not exist" in lowered
    ):
        return (
            f"the database at {shown_url} refused the user name or password ({said}); check "
            "PV_MONITOR_DATABASE_URL or --database-url."
        )
    if any(phrase in lowered for phrase in _UNREACHABLE) or (
        "database" in lowered and "does not exist" in lowered
    ):
        return (
            f"cannot reach the database at {shown_url} ({said}); check that the server is "
            "running and that PV_MONITOR_DATABASE_URL or --database-url names it."
        )
    if "unable to open database file" in lowered or "readonly database" in lowered:
        return (
            f"cannot write to the SQLite database {shown_url} ({said}); check that its folder "
            "exists and that you may write to the file and its folder."
        )
    if "disk is full" in lowered or "no space left" in lowered:
        return f"the disk holding {shown_url} is full ({said}); free some space and load again."
    return (
        f"the database refused the load ({said}). The batch is recorded as failed; if loading "
        "again does not help, report this message to whoever maintains pv-monitor."
    )


def create_store_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine for the store.

    Parameters
    ----------
    url : str or URL
        ``sqlite:///path/to/file.db`` or ``postgresql+psycopg://user@host/db``. The parent folder
        of an SQLite file is created when missing.
    **kwargs
        Passed to :func:`sqlalchemy.create_engine`.

    Returns
    -------
    Engine

    Examples
    --------
    >>> from sqlalchemy import text
    >>> engine = create_store_engine("sqlite://")
    >>> with engine.connect() as conn:
    ...     conn.execute(text("PRAGMA foreign_keys")).scalar_one()
    1
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database)
            path.parent.mkdir(parents=True, exist_ok=True)
            check_not_network_path(path)
        engine = create_engine(parsed, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine`` (sessions do not expire objects on commit)."""
    return sessionmaker(engine, expire_on_commit=False)


def conditional_update(session: Session, statement: Any) -> int:
    """Rows a conditional UPDATE changed (0: the row was no longer in the state it was seen in).

    SQLite refuses the write of a transaction whose snapshot another writer has overtaken
    ("database is locked"): that is the same conflict, so it also counts as 0.
    """
    try:
        result = session.execute(statement, execution_options={"preserve_rowcount": True})
    except OperationalError as error:
        if "database is locked" in str(error):
            return 0
        raise
    return int(getattr(result, "rowcount", 0))
