"""The audit trail: one function through which every change to clinical or workflow data is written.

:func:`record_change` appends one ``audit_log`` entry with who, when (server clock, UTC), action,
table, record key, old and new value and reason (21 CFR 11.10(e); EMA/INS/GCP/112288/2023;
pharmacovigilance.md §5 and §8). Entries are hash-chained: each ``row_sha256`` is the SHA-256 of
the previous entry's digest and this entry's canonical content, so :func:`verify_audit_chain`
finds the first entry that was altered, inserted or removed behind the application's back. The
database refuses UPDATE and DELETE on ``audit_log`` (``pv_monitor.store.triggers``).

The ``audited_*`` helpers apply an ORM change and record it in the same transaction, so a change
and its audit entry are committed together or not at all. Bulk loads are audited per load batch
(action ``load``), not per row: the batch manifest and each row's ``load_batch_id`` and
``source_key`` carry the row-level provenance.

Examples
--------
>>> from sqlalchemy.orm import Session
>>> from pv_monitor.store.engine import create_store_engine
>>> from pv_monitor.store.base import Base
>>> engine = create_store_engine("sqlite://")
>>> Base.metadata.create_all(engine)
>>> with Session(engine) as session:
...     entry = record_change(session, actor="jdoe", action="update", table="alert", key="7",
...                           old={"status": "open"}, new={"status": "acknowledged"},
...                           reason="reviewed at bedside")
...     session.commit()
...     verify_audit_chain(session).ok
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import pandas as pd
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

import pv_monitor.store.models  # noqa: F401  (every table must be mapped before inspection)
from pv_monitor.store.base import Base
from pv_monitor.store.models import AuditLog

GENESIS_SHA256 = "0" * 64
"""``previous_sha256`` of the first entry of the chain."""
REDACTED = "<redacted>"
"""What an audit entry shows instead of a secret column (``info={"secret": True}``)."""
_POSTGRESQL_CHAIN_LOCK = 0x70766D61  # advisory lock id serialising appends to the chain

Values = Mapping[str, Any]


class AuditError(ValueError):
    """An audit entry cannot be written as asked (missing actor, reason, ...)."""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot write a {type(value).__name__} to the audit trail")


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars made Python and missing values (NaN, NA) made ``None``,
    recursively through dicts, lists and tuples: ready for a JSON column or the audit trail."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces): the form that is stored and hashed.

    Examples
    --------
    >>> canonical_json({"b": 1, "a": date(2024, 5, 1)})
    '{"a":"2024-05-01","b":1}'
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def _timestamp_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def entry_digest(
    previous_sha256: str,
    *,
    occurred_at: datetime,
    actor: str,
    action: str,
    table_name: str,
    record_key: str,
    old_value: str | None,
    new_value: str | None,
    reason: str | None,
) -> str:
    """SHA-256 of an entry's content chained to the previous digest."""
    content = [
        previous_sha256,
        _timestamp_text(occurred_at),
        actor,
        action,
        table_name,
        record_key,
        old_value,
        new_value,
        reason,
    ]
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def _last_digest(session: Session) -> str:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _POSTGRESQL_CHAIN_LOCK}
        )
    last = session.scalar(
        select(AuditLog.row_sha256).order_by(AuditLog.audit_log_id.desc()).limit(1)
    )
    return last or GENESIS_SHA256


def record_change(
    session: Session,
    *,
    actor: str,
    action: str,
    table: str,
    key: str,
    old: Values | None = None,
    new: Values | None = None,
    reason: str | None = None,
) -> AuditLog:
    """Append one entry to the audit trail, in the caller's transaction.

    Parameters
    ----------
    session : Session
        The session whose transaction also holds the change being audited.
    actor : str
        Who made the change: a user name, or the process (``pipeline``, ``etl``).
    action : str
        What was done: ``create``, ``update``, ``delete``, ``load``, ``transition``, ...
    table : str
        Table of the changed record.
    key : str
        Key of the changed record within ``table``.
    old, new : mapping, optional
        Changed fields before and after (JSON-serialisable values, dates allowed).
    reason : str, optional
        Reason for the change.

    Returns
    -------
    AuditLog
        The entry, flushed (it has its id and digest).
    """
    change = Change(action=action, table=table, key=key, old=old, new=new, reason=reason)
    return record_changes(session, [change], actor=actor)[0]


@dataclass(frozen=True)
class Change:
    """One change to record with :func:`record_changes`."""

    action: str
    table: str
    key: str
    old: Values | None = None
    new: Values | None = None
    reason: str | None = None


def record_changes(session: Session, changes: list[Change], *, actor: str) -> list[AuditLog]:
    """Append many entries at once (a corrected file can change thousands of rows).

    The chain is read once and extended in memory, then the entries are flushed together, in
    the caller's transaction. Each entry is what :func:`record_change` would have written.
    """
    if not actor.strip():
        raise AuditError("an audit entry needs the actor who made the change")
    for change in changes:
        if not change.action.strip() or not change.table.strip() or not change.key.strip():
            raise AuditError("an audit entry needs an action, a table and a record key")
    previous = _last_digest(session)
    occurred_at = datetime.now(UTC)
    entries = []
    for change in changes:
        old_value = None if change.old is None else canonical_json(dict(change.old))
        new_value = None if change.new is None else canonical_json(dict(change.new))
        digest = entry_digest(
            previous,
            occurred_at=occurred_at,
            actor=actor,
            action=change.action,
            table_name=change.table,
            record_key=change.key,
            old_value=old_value,
            new_value=new_value,
            reason=change.reason,
        )
        entries.append(
            AuditLog(
                occurred_at=occurred_at,
                actor=actor,
                action=change.action,
                table_name=change.table,
                record_key=change.key,
                old_value=old_value,
                new_value=new_value,
                reason=change.reason,
                previous_sha256=previous,
                row_sha256=digest,
            )
        )
        previous = digest
    session.add_all(entries)
    session.flush()
    return entries


def record_key(obj: Base) -> str:
    """The audit key of a mapped object: its primary key values joined with ``/``."""
    identity = inspect(obj).identity
    if identity is None:
        raise AuditError(f"{type(obj).__name__} has no primary key yet; flush it first")
    return "/".join(str(part) for part in identity)


def snapshot(obj: Base, fields: list[str] | None = None) -> dict[str, Any]:
    """Column values of ``obj`` (all, or ``fields``), with secret columns redacted."""
    mapper = inspect(type(obj))
    values: dict[str, Any] = {}
    for attribute in mapper.column_attrs:
        if fields is not None and attribute.key not in fields:
            continue
        secret = any(column.info.get("secret") for column in attribute.columns)
        values[attribute.key] = REDACTED if secret else getattr(obj, attribute.key)
    return values


def audited_insert(session: Session, obj: Base, *, actor: str, reason: str | None = None) -> None:
    """Insert ``obj`` and record its creation."""
    session.add(obj)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="create",
        table=obj.__tablename__,
        key=record_key(obj),
        new=snapshot(obj),
        reason=reason,
    )


def audited_update(
    session: Session, obj: Base, changes: Values, *, actor: str, reason: str
) -> dict[str, Any]:
    """Apply ``changes`` to ``obj`` and record the fields that really changed.

    A reason is required (pharmacovigilance.md §8: reason for change on every edit of saved
    safety data). Returns the fields that changed, with their new values; nothing is recorded
    when nothing changed.
    """
    if not reason or not reason.strip():
        raise AuditError("a reason is required to change a saved record")
    unknown = set(changes) - {a.key for a in inspect(type(obj)).column_attrs}
    if unknown:
        raise AuditError(f"{type(obj).__name__} has no column(s) {sorted(unknown)}")
    changed = [name for name, value in changes.items() if getattr(obj, name) != value]
    if not changed:
        return {}
    old = snapshot(obj, changed)
    for name in changed:
        setattr(obj, name, changes[name])
    session.flush()
    new = snapshot(obj, changed)
    record_change(
        session,
        actor=actor,
        action="update",
        table=obj.__tablename__,
        key=record_key(obj),
        old=old,
        new=new,
        reason=reason,
    )
    return new


def audited_delete(session: Session, obj: Base, *, actor: str, reason: str) -> None:
    """Delete ``obj`` and record what it held; a reason is required."""
    if not reason or not reason.strip():
        raise AuditError("a reason is required to delete a record")
    key, old = record_key(obj), snapshot(obj)
    session.delete(obj)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="delete",
        table=obj.__tablename__,
        key=key,
        old=old,
        reason=reason,
    )


def audit_history(session: Session, table: str, key: str) -> list[AuditLog]:
    """Every audit entry of one record, oldest first (kept after the record is deleted)."""
    query = (
        select(AuditLog)
        .where(AuditLog.table_name == table, AuditLog.record_key == key)
        .order_by(AuditLog.audit_log_id)
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class ChainVerification:
    """Result of :func:`verify_audit_chain`."""

    ok: bool
    entries_checked: int
    first_broken_id: int | None = None
    problem: str | None = None


def verify_audit_chain(session: Session, *, batch_size: int = 10_000) -> ChainVerification:
    """Recompute the hash chain and report the first entry that does not fit.

    An entry does not fit when its ``previous_sha256`` is not the digest of the entry before it
    (an entry was removed or inserted) or when its content no longer matches its ``row_sha256``
    (it was edited).
    """
    previous = GENESIS_SHA256
    checked = 0
    query = select(AuditLog).order_by(AuditLog.audit_log_id).execution_options(yield_per=batch_size)
    # a server-side cursor on PostgreSQL (yield_per): closed on an early return too
    with session.scalars(query) as entries:
        for entry in entries:
            if entry.previous_sha256 != previous:
                return ChainVerification(
                    False, checked, entry.audit_log_id, "does not follow the entry before it"
                )
            expected = entry_digest(
                previous,
                occurred_at=entry.occurred_at,
                actor=entry.actor,
                action=entry.action,
                table_name=entry.table_name,
                record_key=entry.record_key,
                old_value=entry.old_value,
                new_value=entry.new_value,
                reason=entry.reason,
            )
            if entry.row_sha256 != expected:
                return ChainVerification(
                    False, checked, entry.audit_log_id, "content changed after it was written"
                )
            previous = entry.row_sha256
            checked += 1
    return ChainVerification(True, checked)
