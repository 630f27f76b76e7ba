"""Writing load batches: the manifest, reference rows, bulk upserts with audit, rejections.

The ETL hands this module store-ready DataFrames; only this module turns them into SQL. Every
write happens in the caller's transaction, so a load is all or nothing.

Rows are upserted on their identity (``subject_id`` and ``source_key`` for event tables; the
natural key for the others, see :data:`IDENTITIES`):

* rows not yet in the store are inserted in bulk (SQLite ``executemany``, PostgreSQL ``COPY``);
* a row whose identity exists from an earlier batch is compared column by column in SQL: when a
  value changed, the row is updated and each change is written to the audit trail with its old
  and new value; when nothing changed, the row keeps the batch that wrote it;
* a row whose identity was already written or met unchanged by this batch is a duplicate within
  the load and is reported back (the caller rejects it), whatever the store held before: the
  stored rows this batch met unchanged are kept in a temporary table of their ids (:attr:`seen
  <BatchWriter._seen>`), since they keep the batch id of the batch that wrote them.

Loads never delete rows because a later file lacks them: a row missing from a later file stays
in the store. The one deletion is FDA's: :meth:`BatchWriter.delete_cases` removes every version of
the spontaneous-report cases a quarterly DELETE list names, each row deleted written to the audit
trail with the values it held.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import (
    Column,
    MetaData,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    not_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import pv_monitor.store.models  # noqa: F401  (registers every table)
from pv_monitor import __version__
from pv_monitor.reference import find_product
from pv_monitor.store.audit import (
    Change,
    audited_insert,
    json_ready,
    record_change,
    record_changes,
)
from pv_monitor.store.base import Base
from pv_monitor.store.models import LoadBatch, LoadRejection, Product, Site, Study
from pv_monitor.store.seed import approved_product_values

try:
    import fcntl
except ImportError:  # Windows: SQLite's own write lock (and its busy timeout) serialise loads
    fcntl = None  # type: ignore[assignment]

IDENTITIES: dict[str, tuple[str, ...]] = {
    "subject": ("study_id", "subject_key"),
    "infusion": ("subject_id", "infusion_number"),
    "death": ("subject_id",),
    "follow_up": ("subject_id",),
    "measurement": ("subject_id", "source_key"),
    "observation": ("subject_id", "source_key"),
    "drug_exposure": ("subject_id", "source_key"),
    "adverse_event": ("subject_id", "source_key"),
    "disease_assessment": ("subject_id", "source_key"),
    "icsr_case": ("source", "report_key"),
    "icsr_drug": ("icsr_case_id", "drug_seq"),
    "icsr_reaction": ("icsr_case_id", "preferred_term"),
}
"""What identifies a row of each loaded table across loads."""
_NAMED_BY: dict[str, tuple[str, str, str]] = {
    "subject_id": ("subject", "subject_key", "subject"),
    "study_id": ("study", "study_key", "study"),
    "icsr_case_id": ("icsr_case", "report_key", "report"),
}
"""Surrogate identity columns and how a duplicate's reason names them: (table, key, word)."""
PROVENANCE = ("load_batch_id", "source_row")
"""Columns that record where a row came from; a change in them alone is not a change."""
DERIVED: dict[str, tuple[str, ...]] = {"icsr_case": ("is_latest",)}
"""Columns the store derives over everything loaded (:meth:`BatchWriter.refresh_latest_versions`
marks the latest version of each case): a load's own value of them is not a correction."""


@dataclass
class WriteOutcome:
    """What writing one frame did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicate_rows: list[int] = field(default_factory=list)
    changed_rows: list[int] = field(default_factory=list)
    """``source_row`` of the rows added or corrected, when asked for (``track_rows``)."""
    duplicate_reasons: list[str] = field(default_factory=list)
    """For each of ``duplicate_rows``: the earlier row and the identity compared, in words."""

    def add(self, other: WriteOutcome) -> None:
        """Accumulate ``other`` into this outcome."""
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.duplicate_rows += other.duplicate_rows
        self.changed_rows += other.changed_rows
        self.duplicate_reasons += other.duplicate_reasons


@dataclass
class DeleteOutcome:
    """What :meth:`BatchWriter.delete_cases` removed."""

    case_keys: set[str] = field(default_factory=set)
    """The case keys asked for that were in the store."""
    versions: int = 0
    drugs: int = 0
    reactions: int = 0


LOAD_LOCK_KEY = 0x70766D6C
"""PostgreSQL advisory lock key of "a load is writing to this store" (``pvml``)."""


class LoadLock:
    """Serialises the loads of one store: one load writes at a time, the next waits for it.

    Two loads at once would otherwise race to create the same study, site or subject (on
    PostgreSQL a ``UniqueViolation``), and the second could not see that the first has just
    loaded the same files. The lock covers a whole load, from the identity check to the commit:

    * PostgreSQL: a session-level advisory lock (:data:`LOAD_LOCK_KEY`) held on a connection of
      its own, released when the load ends or its connection dies (a killed load leaves no lock);
    * SQLite: an exclusive ``flock`` on ``<database>-load.lock`` beside the database file,
      released when the load ends or its process dies (SQLite itself allows one writer at a
      time, but only waits 30 s for it; an in-memory database needs no lock).

    :attr:`waited` is how long the load waited for another one, in seconds.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.waited = 0.0
        self._connection: Connection | None = None
        self._file: IO[bytes] | None = None

    def __enter__(self) -> LoadLock:
        started = time.monotonic()
        if self.engine.dialect.name == "postgresql":
            self._connection = self.engine.connect()
            key = {"key": LOAD_LOCK_KEY}
            if not self._connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), key):
                self._connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
            self._connection.commit()  # the lock outlives the transaction; no idle transaction
        else:
            path = _sqlite_lock_path(self.engine)
            if path is not None and fcntl is not None:
                self._file = path.open("ab")
                try:
                    fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    fcntl.flock(self._file, fcntl.LOCK_EX)
        self.waited = time.monotonic() - started
        return self

    def __exit__(self, *_: object) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": LOAD_LOCK_KEY}
                )
                self._connection.commit()
            finally:
                self._connection.close()  # closing the connection releases the lock anyway
                self._connection = None
        if self._file is not None:
            self._file.close()  # releases the flock
            self._file = None


def _sqlite_lock_path(engine: Engine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).with_name(Path(database).name + "-load.lock")


def begin_batch(
    session: Session,
    *,
    source_path: str,
    source_sha256: str,
    source_format: str,
    files: list[dict[str, object]],
    loaded_by: str,
    policy: str,
    status: str = "running",
) -> LoadBatch:
    """Create the batch row (the load manifest) in the caller's transaction."""
    batch = LoadBatch(
        source_path=source_path,
        source_sha256=source_sha256,
        source_format=source_format,
        files=files,
        loaded_by=loaded_by,
        started_at=datetime.now(UTC),
        status=status,
        policy=policy,
        rows_read=0,
        rows_loaded=0,
        rows_rejected=0,
        etl_version=__version__,
    )
    session.add(batch)
    session.flush()
    return batch


def finish_batch(
    session: Session,
    batch: LoadBatch,
    *,
    status: str,
    rows_read: int,
    rows_loaded: int,
    rows_rejected: int,
    message: str,
    actor: str,
    summary: dict[str, Any],
) -> None:
    """Close the batch and write its audit entry (bulk loads are audited per batch)."""
    batch.status = status
    batch.rows_read = rows_read
    batch.rows_loaded = rows_loaded
    batch.rows_rejected = rows_rejected
    batch.message = message
    batch.finished_at = datetime.now(UTC)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="load",
        table="load_batch",
        key=str(batch.load_batch_id),
        new={"status": status, "files": batch.files, "format": batch.source_format, **summary},
        reason=message,
    )


def write_rejections(session: Session, batch: LoadBatch, frame: pd.DataFrame) -> None:
    """Store the rejections of a batch (``etl.rejections`` layout)."""
    if not len(frame):
        return
    rows = frame.astype(object).where(frame.notna(), None)
    session.execute(
        insert(LoadRejection),
        [
            {
                "load_batch_id": batch.load_batch_id,
                "file_name": str(row["file"]),
                "row_number": None if row["row"] is None else int(row["row"]),
                "field": row["field"],
                "value": row["value"],
                "rule": str(row["rule"]),
                "reason": str(row["reason"]),
            }
            for row in rows.to_dict("records")
        ],
    )


class BatchWriter:
    """Writes one batch: reference rows on demand, and bulk upserts of loaded tables."""

    def __init__(self, session: Session, batch: LoadBatch, *, actor: str) -> None:
        self.session = session
        self.batch = batch
        self.actor = actor
        self._studies: dict[str, int] = {}
        self._sites: dict[tuple[int, str], int] = {}
        self._products: dict[str, int] = {}
        self._stages: dict[str, Table] = {}
        self._seen: dict[str, Table] = {}
        """Per table: ids of stored rows this batch met unchanged, with the row that met them."""
        self._merge_only: set[str] = set()
        self.dialect = session.get_bind().dialect.name

    # ---- reference rows -------------------------------------------------------------------

    def _created(self, obj: Study | Site | Product) -> None:
        audited_insert(
            self.session,
            obj,
            actor=self.actor,
            reason=f"first seen in load batch {self.batch.load_batch_id}",
        )

    def study_id(self, key: str) -> int:
        """The study with ``key`` (created, and audited, the first time it is seen)."""
        if key not in self._studies:
            study = self.session.scalars(select(Study).where(Study.study_key == key)).first()
            if study is None:
                study = Study(study_key=key)
                self._created(study)
            self._studies[key] = study.study_id
        return self._studies[key]

    def site_id(self, study_id: int, key: str) -> int:
        """The site ``key`` of a study (created the first time it is seen)."""
        if (study_id, key) not in self._sites:
            query = select(Site).where(Site.study_id == study_id, Site.site_key == key)
            site = self.session.scalars(query).first()
            if site is None:
                site = Site(study_id=study_id, site_key=key)
                self._created(site)
            self._sites[(study_id, key)] = site.site_id
        return self._sites[(study_id, key)]

    def product_id(self, name: str, *, target_antigen: str | None = None) -> int:
        """An approved product by any of its names, or an investigational product by name."""
        if name not in self._products:
            approved = find_product(name)
            generic = approved.generic_name if approved else name
            query = select(Product).where(Product.generic_name == generic)
            product = self.session.scalars(query).first()
            if product is None and approved is not None:
                product = Product(**approved_product_values(approved))
                self._created(product)
            elif product is None:
                product = Product(
                    generic_name=generic,
                    is_approved=False,
                    target_antigen=target_antigen,
                    source="investigational product named by a load",
                )
                self._created(product)
            self._products[name] = product.product_id
        return self._products[name]

    # ---- subjects ---------------------------------------------------------------------------

    def subject_ids(self, study_id: int, keys: Iterable[str]) -> dict[str, int]:
        """Surrogate ids of the subjects ``keys`` of a study that are in the store."""
        return self._ids("subject", "study_id", study_id, "subject_key", keys)

    def _ids(
        self, table_name: str, scope: str, scope_value: object, key: str, keys: Iterable[str]
    ) -> dict[str, int]:
        """Surrogate ids by key of the rows of ``table_name`` whose ``scope`` column is
        ``scope_value`` (looked up 5,000 keys at a time)."""
        table = Base.metadata.tables[table_name]
        primary = next(iter(table.primary_key.columns))
        wanted = sorted(set(keys))
        found: dict[str, int] = {}
        for start in range(0, len(wanted), 5000):
            query = select(table.c[key], primary).where(
                table.c[scope] == scope_value, table.c[key].in_(wanted[start : start + 5000])
            )
            found.update({str(k): int(v) for k, v in self.session.execute(query)})
        return found

    def subjects_by_key(self, keys: Iterable[str]) -> pd.DataFrame:
        """Subjects of any study with these keys: subject_key, subject_id, infusion and death."""
        subject = Base.metadata.tables["subject"]
        infusion = Base.metadata.tables["infusion"]
        death = Base.metadata.tables["death"]
        wanted = sorted(set(keys))
        frames = []
        for start in range(0, len(wanted), 5000):
            part = wanted[start : start + 5000]
            query = (
                select(
                    subject.c.subject_key,
                    subject.c.subject_id,
                    infusion.c.infusion_date,
                    death.c.death_date,
                )
                .join(
                    infusion,
                    and_(
                        infusion.c.subject_id == subject.c.subject_id,
                        infusion.c.infusion_number == 1,
                    ),
                    isouter=True,
                )
                .join(death, death.c.subject_id == subject.c.subject_id, isouter=True)
                .where(subject.c.subject_key.in_(part))
            )
            frames.append(
                pd.DataFrame(
                    self.session.execute(query).all(),
                    columns=["subject_key", "subject_id", "infusion_date", "death_date"],
                )
            )
        if not frames:
            return pd.DataFrame(
                columns=["subject_key", "subject_id", "infusion_date", "death_date"]
            )
        return pd.concat(frames, ignore_index=True)

    # ---- bulk upsert --------------------------------------------------------------------------

    def encode(self, table_name: str, frame: pd.DataFrame) -> Encoded:
        """``frame`` (store column names) as this batch's rows for the driver. Pure: it touches no
        session, so it may run on another thread than :meth:`write`."""
        table = Base.metadata.tables[table_name]
        unknown = set(frame.columns) - set(table.c.keys())
        if unknown:
            raise ValueError(f"{table_name} has no column(s) {sorted(unknown)}")
        frame = frame.assign(load_batch_id=self.batch.load_batch_id)
        return encode_rows(table, frame, self.dialect)

    def write(
        self, table_name: str, rows: pd.DataFrame | Encoded, *, track_rows: bool = False
    ) -> WriteOutcome:
        """Upsert ``rows`` (a frame with store column names, or :meth:`encode`'s result) into
        ``table_name`` for this batch; with ``track_rows``, the outcome lists the
        ``source_row`` of every row added or corrected."""
        encoded = rows if isinstance(rows, Encoded) else self.encode(table_name, rows)
        if not len(encoded.frame):
            return WriteOutcome()
        table = Base.metadata.tables[table_name]
        if table_name not in self._merge_only:
            savepoint = self.session.begin_nested()
            try:
                _bulk_insert(self.session, table, encoded)
                savepoint.commit()
                added = encoded.frame["source_row"].tolist() if track_rows else []
                return WriteOutcome(inserted=len(encoded.frame), changed_rows=added)
            except (IntegrityError, _driver_integrity_error(self.session)):
                savepoint.rollback()
                self._merge_only.add(table_name)  # the table already holds rows of this source
        return self._merge(table, encoded.frame, track_rows=track_rows)

    def _stage(self, table: Table, columns: Sequence[str]) -> Table:
        stage = self._stages.get(table.name)
        if stage is None:
            stage = Table(
                f"pvm_stage_{self.batch.load_batch_id}_{table.name}",
                MetaData(),
                *(Column(c.name, c.type) for c in table.columns if c.name in columns),
                prefixes=["TEMPORARY"],
                postgresql_on_commit="DROP",
            )
            stage.create(self.session.connection())
            self._stages[table.name] = stage
        else:
            self.session.execute(stage.delete())
        return stage

    def _seen_table(self, table: Table) -> Table:
        """The temporary table of ids of ``table``'s stored rows this batch met unchanged."""
        seen = self._seen.get(table.name)
        if seen is None:
            pk = next(iter(table.primary_key.columns))
            seen = Table(
                f"pvm_seen_{self.batch.load_batch_id}_{table.name}",
                MetaData(),
                Column("row_id", pk.type, primary_key=True),
                Column("source_row", table.c.source_row.type),
                prefixes=["TEMPORARY"],
                postgresql_on_commit="DROP",
            )
            seen.create(self.session.connection())
            self._seen[table.name] = seen
        return seen

    def _merge(self, table: Table, frame: pd.DataFrame, *, track_rows: bool) -> WriteOutcome:
        identity = IDENTITIES[table.name]
        stage = self._stage(table, list(frame.columns))
        _bulk_insert(self.session, stage, encode_rows(stage, frame, self.dialect))
        same = and_(*(table.c[c] == stage.c[c] for c in identity))
        batch_id = self.batch.load_batch_id
        outcome = WriteOutcome()
        pk = next(iter(table.primary_key.columns))
        seen = self._seen_table(table)
        met = exists().where(seen.c.row_id == pk)
        # identities this batch already wrote or met: duplicates within the load
        outcome.duplicate_rows, outcome.duplicate_reasons = self._duplicates(
            table, stage, same, seen
        )
        # values that changed since an earlier batch: update and audit
        ignored = (*identity, *PROVENANCE, *DERIVED.get(table.name, ()))
        compared = [c for c in frame.columns if c not in ignored]
        differs = or_(*(table.c[c].is_distinct_from(stage.c[c]) for c in compared))
        earlier = and_(table.c.load_batch_id != batch_id, not_(met))
        # stored rows met unchanged: remembered, so that a later repeat is a duplicate
        self.session.execute(
            insert(seen).from_select(
                ["row_id", "source_row"],
                select(pk, stage.c.source_row).join(table, same).where(earlier, not_(differs)),
            )
        )
        changed_query = (
            select(
                pk,
                *(table.c[c] for c in compared),
                *(stage.c[c].label(f"new_{c}") for c in compared),
                stage.c.source_row.label("new_source_row"),
            )
            .join(table, same)
            .where(earlier, differs)
        )
        changed = self.session.execute(changed_query).mappings().all()
        if changed:
            self._apply_changes(table, pk.name, compared, changed)
        outcome.updated = len(changed)
        new = not_(exists().where(same))
        if track_rows:
            outcome.changed_rows = [int(r["new_source_row"]) for r in changed]
            outcome.changed_rows += [
                int(r) for r in self.session.scalars(select(stage.c.source_row).where(new))
            ]
        # new identities: insert in SQL from the stage
        inserted = self.session.execute(
            insert(table).from_select(
                list(frame.columns),
                select(*(stage.c[c] for c in frame.columns)).where(new),
            ),
            execution_options={"preserve_rowcount": True},  # else -1 on some drivers
        )
        outcome.inserted = int(cast(CursorResult[Any], inserted).rowcount)
        if outcome.inserted < 0:
            raise RuntimeError(f"the database did not say how many rows it added to {table.name}")
        outcome.unchanged = (
            len(frame) - outcome.inserted - outcome.updated - len(outcome.duplicate_rows)
        )
        return outcome

    def _duplicates(
        self, table: Table, stage: Table, same: Any, seen: Table
    ) -> tuple[list[int], list[str]]:
        """Rows of the stage whose identity this batch already wrote or met unchanged (``seen``),
        and for each the reason: the earlier row and the identity compared (subjects and reports
        named by their key)."""
        identity = IDENTITIES[table.name]
        shown = []
        joins = []
        for column in identity:
            named = _NAMED_BY.get(column)
            if named is None:
                shown.append((column, stage.c[column]))
                continue
            other = Base.metadata.tables[named[0]].alias(f"dup_{named[0]}")
            joins.append((other, other.c[column] == stage.c[column]))
            shown.append((named[2], other.c[named[1]]))
        pk = next(iter(table.primary_key.columns))
        first_row = func.coalesce(seen.c.source_row, table.c.source_row).label("first_row")
        query = select(stage.c.source_row, first_row, *(c for _, c in shown)).select_from(
            stage.join(table, same).join(seen, seen.c.row_id == pk, isouter=True)
        )
        for other, condition in joins:
            query = query.join(other, condition, isouter=True)
        this_batch = or_(
            table.c.load_batch_id == self.batch.load_batch_id, seen.c.row_id.is_not(None)
        )
        rows = self.session.execute(query.where(this_batch))
        found: list[int] = []
        reasons: list[str] = []
        for row in rows:
            if row[0] is None:
                continue
            values = " and ".join(
                f"{name} '{value}'" for (name, _), value in zip(shown, row[2:], strict=True)
            )
            found.append(int(row[0]))
            reasons.append(
                f"duplicate of row {row[1]} (loaded earlier in this batch, from another part of "
                f"the file or another file): same {values}"
            )
        return found, reasons

    def _apply_changes(
        self, table: Table, pk: str, compared: list[str], changed: Sequence[Any]
    ) -> None:
        changes: list[Change] = []
        updates: list[dict[str, Any]] = []
        reason = f"corrected by load batch {self.batch.load_batch_id}"
        for row in changed:
            fields = [c for c in compared if not _same(row[c], row[f"new_{c}"])]
            changes.append(
                Change(
                    action="update",
                    table=table.name,
                    key=str(row[pk]),
                    reason=reason,
                    old={c: _plain(row[c]) for c in fields},
                    new={c: _plain(row[f"new_{c}"]) for c in fields},
                )
            )
            updates.append(
                {
                    "_pk": row[pk],
                    "load_batch_id": self.batch.load_batch_id,
                    "source_row": row["new_source_row"],
                    **{c: row[f"new_{c}"] for c in compared},
                }
            )
        statement = (
            update(table)
            .where(table.c[pk] == bindparam("_pk"))
            .values({c: bindparam(c) for c in (*compared, "load_batch_id", "source_row")})
        )
        self.session.execute(statement, updates)
        record_changes(self.session, changes, actor=self.actor)

    def close(self) -> None:
        """Drop the staging tables (PostgreSQL drops them at commit anyway)."""
        if self.session.connection().dialect.name == "sqlite":
            for stage in (*self._stages.values(), *self._seen.values()):
                stage.drop(self.session.connection(), checkfirst=True)
        self._stages.clear()
        self._seen.clear()

    def case_ids(self, source: str, report_keys: Iterable[str]) -> dict[str, int]:
        """Surrogate ids of spontaneous report versions by report key."""
        return self._ids("icsr_case", "source", source, "report_key", report_keys)

    def delete_cases(self, source: str, case_keys: Iterable[str], *, reason: str) -> DeleteOutcome:
        """Delete every version of the cases ``case_keys`` of ``source``, with their drugs and
        reactions, in the batch's transaction.

        Each deleted row gets an audit entry (action ``delete``, its values as the old value,
        ``reason``), so that what FDA's DELETE list removed can be read back from the trail.
        """
        case = Base.metadata.tables["icsr_case"]
        children = (Base.metadata.tables["icsr_drug"], Base.metadata.tables["icsr_reaction"])
        outcome = DeleteOutcome()
        keys = sorted(set(case_keys))
        for start in range(0, len(keys), 5000):
            part = keys[start : start + 5000]
            query = select(case).where(case.c.source == source, case.c.case_key.in_(part))
            rows = self.session.execute(query).mappings().all()
            if not rows:
                continue
            ids = [row["icsr_case_id"] for row in rows]
            changes: list[Change] = []
            for table in children:
                pk = next(iter(table.primary_key.columns)).name
                found = self.session.execute(
                    select(table).where(table.c.icsr_case_id.in_(ids)).order_by(table.c[pk])
                )
                deleted = found.mappings().all()
                changes += [
                    Change(
                        "delete", table.name, str(row[pk]), old=json_ready(dict(row)), reason=reason
                    )
                    for row in deleted
                ]
                self.session.execute(delete(table).where(table.c.icsr_case_id.in_(ids)))
                if table.name == "icsr_drug":
                    outcome.drugs += len(deleted)
                else:
                    outcome.reactions += len(deleted)
            changes += [
                Change(
                    "delete",
                    "icsr_case",
                    str(row["icsr_case_id"]),
                    old=json_ready(dict(row)),
                    reason=reason,
                )
                for row in rows
            ]
            self.session.execute(delete(case).where(case.c.icsr_case_id.in_(ids)))
            record_changes(self.session, changes, actor=self.actor)
            outcome.versions += len(rows)
            outcome.case_keys.update(str(row["case_key"]) for row in rows)
        return outcome

    def refresh_latest_versions(self, source: str, case_keys: Iterable[str]) -> None:
        """Mark, for each case, its latest version in the whole store (FAERS: highest
        caseversion; legacy AERS: highest report key, as numbers)."""
        table = Base.metadata.tables["icsr_case"]
        keys = sorted(set(case_keys))
        for start in range(0, len(keys), 5000):
            part = keys[start : start + 5000]
            rows = self.session.execute(
                select(
                    table.c.icsr_case_id, table.c.case_key, table.c.case_version, table.c.report_key
                ).where(table.c.source == source, table.c.case_key.in_(part))
            ).all()
            frame = pd.DataFrame(rows, columns=["id", "case", "version", "report"])
            frame["order_key"] = pd.to_numeric(frame["version"], errors="coerce").fillna(
                -1
            ) * 1e12 + pd.to_numeric(frame["report"], errors="coerce").fillna(0)
            latest = frame.loc[frame.groupby("case")["order_key"].idxmax(), "id"]
            self.session.execute(
                update(table)
                .where(table.c.source == source, table.c.case_key.in_(part))
                .values(is_latest=table.c.icsr_case_id.in_(latest.tolist()))
            )


def _driver_integrity_error(session: Session) -> type[Exception]:
    """The DB-API driver's IntegrityError (bulk inserts bypass SQLAlchemy's wrapping)."""
    error: type[Exception] = session.get_bind().dialect.dbapi.IntegrityError  # type: ignore[union-attr]
    return error


def _same(old: Any, new: Any) -> bool:
    if old is None or new is None:
        return old is None and new is None
    if isinstance(old, float) and isinstance(new, float):
        return bool(np.isclose(old, new, rtol=0, atol=0))
    return bool(old == new)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


# ---- bulk insert ------------------------------------------------------------------------------


def _arrow_table(table: Table, frame: pd.DataFrame) -> pa.Table:
    """The frame as an Arrow table typed like the store columns."""
    arrays = {}
    for name in frame.columns:
        column = table.c[name]
        values = frame[name]
        python_type = _python_type(column)
        if python_type is datetime:
            arrays[name] = pa.array(pd.to_datetime(values), type=pa.timestamp("us"))
        elif python_type.__name__ == "date":
            arrays[name] = pa.array(pd.to_datetime(values).dt.date, type=pa.date32())
        elif python_type is bool:
            arrays[name] = pa.array(
                values.astype(object).where(values.notna(), None), type=pa.bool_()
            )
        elif python_type is int:
            arrays[name] = pa.array(pd.to_numeric(values).astype("Int64"), type=pa.int64())
        elif python_type is float:
            arrays[name] = pa.array(pd.to_numeric(values), type=pa.float64(), from_pandas=True)
        elif python_type is str:
            arrays[name] = pa.array(
                values.astype(object).where(values.notna(), None), type=pa.string()
            )
        else:  # JSON: text as given, anything else serialised
            arrays[name] = pa.array(
                [None if v is None else v if isinstance(v, str) else json.dumps(v) for v in values],
                type=pa.string(),
            )
    return pa.table(arrays)


def _python_type(column: Column[Any]) -> type:
    kind = getattr(column.type, "impl_instance", column.type)  # a TypeDecorator's own type
    try:
        found: type = kind.python_type
    except NotImplementedError:
        return dict
    return dict if found is object else found


@dataclass(frozen=True)
class Encoded:
    """Rows of a frame as the driver takes them: CSV for PostgreSQL's COPY, tuples for SQLite.

    Columns that hold one number in every row (the batch id, a flag) are written as SQL literals
    and columns that are empty in every row are left out: fewer values to bind per row.
    """

    frame: pd.DataFrame
    columns: list[str]
    constants: dict[str, int | float]
    payload: bytes | list[tuple[Any, ...]]


def encode_rows(table: Table, frame: pd.DataFrame, dialect: str) -> Encoded:
    """Encode ``frame`` for a bulk insert into ``table`` on ``dialect``."""
    data = _arrow_table(table, frame)
    columns: list[str] = []
    constants: dict[str, int | float] = {}
    for name in frame.columns:
        values = data.column(name)
        no_default = table.c[name].default is None and table.c[name].server_default is None
        if no_default and values.null_count == len(values) and len(values):
            continue  # NULL in every row: the column's default
        kind = values.type
        numeric = pa.types.is_integer(kind) or pa.types.is_boolean(kind)
        if dialect == "sqlite" and numeric and len(values) and values.null_count == 0:
            first = values[0].as_py()
            if pc.all(pc.equal(values, values[0])).as_py():
                constants[name] = int(first)
                continue
        columns.append(name)
    if dialect == "postgresql":
        for name in columns:  # timestamptz: say it is UTC, not the session's time zone
            if getattr(table.c[name].type, "timezone", False):
                index = data.schema.get_field_index(name)
                utc = pd.to_datetime(frame[name], utc=True)
                data = data.set_column(
                    index, name, pa.array(utc, type=pa.timestamp("us", tz="UTC"))
                )
        buffer = io.BytesIO()
        pacsv.write_csv(
            data.select(columns), buffer, write_options=pacsv.WriteOptions(include_header=False)
        )
        return Encoded(frame, columns, constants, buffer.getvalue())
    rows = list(zip(*(_sqlite_values(data.column(c)) for c in columns), strict=True))
    return Encoded(frame, columns, constants, rows)


def _bulk_insert(session: Session, table: Table, encoded: Encoded) -> None:
    """Insert every encoded row (PostgreSQL: COPY; SQLite: executemany)."""
    connection = session.connection()
    raw = connection.connection.driver_connection
    assert raw is not None
    names = ", ".join(f'"{c}"' for c in encoded.columns)
    if isinstance(encoded.payload, bytes):
        with (
            raw.cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT csv)') as copy,
        ):
            copy.write(encoded.payload)
        return
    literal_names = "".join(f', "{c}"' for c in encoded.constants)
    literals = "".join(f", {value!r}" for value in encoded.constants.values())
    placeholders = ", ".join("?" for _ in encoded.columns)
    raw.cursor().executemany(
        f'INSERT INTO "{table.name}" ({names}{literal_names}) VALUES ({placeholders}{literals})',
        encoded.payload,
    )


def insert_frame(session: Session, table_name: str, frame: pd.DataFrame) -> int:
    """Bulk-insert the rows of ``frame`` (columns named as in the table); returns the count.

    UTC time stamps are written as naive UTC values.
    """
    if frame.empty:
        return 0
    table = Base.metadata.tables[table_name]
    dialect = session.connection().dialect.name
    _bulk_insert(session, table, encode_rows(table, frame, dialect))
    return len(frame)


def _sqlite_values(values: pa.ChunkedArray) -> list[Any]:
    """Python values as SQLAlchemy's SQLite types store them (datetimes and dates as text)."""
    kind = values.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        values = values.cast(pa.string())  # "2024-05-01 08:00:00.000000", "2024-05-01"
    elif pa.types.is_boolean(kind):
        values = values.cast(pa.int8())
    result: list[Any] = values.to_pylist()
    return result


def count_rows(session: Session, table_name: str) -> int:
    """Rows in a table (for summaries and tests)."""
    return int(
        session.scalar(select(func.count()).select_from(Base.metadata.tables[table_name])) or 0
    )
