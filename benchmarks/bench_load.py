"""Benchmark: loading a tidy export (validate, normalise, write, provenance) against raw inserts.

Target (issue 3): the full load reaches at least half the raw insert rate of the same rows into a
bare table, measured in the same run (SQLite ``executemany``, PostgreSQL ``COPY``); peak memory
stays under 1 GB for a 5 GB export. Printed for each store:

* **bare table**: the observation rows as read (six text columns), inserted into a table without
  keys, indexes or constraints. Only the insert is timed (rows already in memory).
* **store tables**: the same rows, already prepared by the ETL, encoded and inserted into the
  store's own tables (``measurement`` etc., with their primary keys, unique identity, indexes
  and foreign keys). This is the floor of any loader that writes this schema.
* **full load**: ``etl.load`` end to end on a fresh store: read, validate (pandera), normalise,
  write, provenance, commit.
* **re-load, nothing changed**: the same export loaded again into that store. Every row is read
  and compared with the store (there is no file-digest shortcut, docs/decisions.md 68); the batch
  ends ``unchanged``.

    python benchmarks/bench_load.py                   # 1,000,000 rows; SQLite, and PostgreSQL
                                                       # when PV_MONITOR_TEST_POSTGRES_URL is set
    python benchmarks/bench_load.py --rows 200000
    python benchmarks/bench_load.py --memory-gb 5     # also: peak memory loading a 5 GB export
"""

from __future__ import annotations

import argparse
import io
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from etl import load
from etl.contracts import Kind, validate
from etl.prepare import prepare_observations
from etl.sources.files import read_csv_chunks
from pv_monitor.cli import upgrade_store
from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.loading import BatchWriter, begin_batch
from pv_monitor.synthetic import generate_cohort

POSTGRES_ENV = "PV_MONITOR_TEST_POSTGRES_URL"
ROWS_PER_SUBJECT = 1000  # about 1,046 observation rows per synthetic subject (seed 7)
BYTES_PER_ROW = 58  # observations.csv bytes per row of the synthetic export
COLUMNS = ("subject_id", "observed_at", "code", "value", "unit", "other_cause")
MIB = 1024  # ru_maxrss is in KiB on Linux


def make_export(folder: Path, rows: int, seed: int = 7) -> Path:
    """A tidy export of ``subjects.csv`` and exactly ``rows`` observation rows."""
    cohort = folder / "cohort"
    generate_cohort(math.ceil(rows / ROWS_PER_SUBJECT), seed=seed, out_dir=cohort, workers=2)
    export = folder / "export"
    export.mkdir()
    (cohort / "subjects.csv").rename(export / "subjects.csv")
    reader = pacsv.open_csv(cohort / "observations.csv", convert_options=_text_columns())
    written = 0
    with pacsv.CSVWriter(export / "observations.csv", reader.schema) as writer:
        for batch in reader:  # streamed: a 5 GB export is never in memory
            batch = batch.slice(0, rows - written)
            writer.write_batch(batch)
            written += batch.num_rows
            if written == rows:
                break
    if written < rows:
        raise SystemExit(f"the cohort has {written:,} observation rows, fewer than {rows:,}")
    shutil.rmtree(cohort)
    return export


def _text_columns() -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types=dict.fromkeys(COLUMNS, pa.string()), strings_can_be_null=False
    )


@contextmanager
def fresh_store(kind: str, folder: Path, postgres: str | None) -> Iterator[str]:
    """URL of a new, migrated store (a PostgreSQL database is dropped afterwards)."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}"
        upgrade_store(url, actor="bench")
        yield url
        return
    assert postgres is not None
    admin_url = make_url(postgres)
    name = f"pvm_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_store(url, actor="bench")
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bare_rate(kind: str, url: str, export: Path) -> float:
    """Rows/s inserting the observation rows as read into a table with no keys or indexes."""
    table = pacsv.read_csv(export / "observations.csv", convert_options=_text_columns())
    create = "CREATE TABLE bare (" + ", ".join(f"{c} TEXT" for c in COLUMNS) + ")"
    if kind == "sqlite":
        rows = list(zip(*(table.column(c).to_pylist() for c in COLUMNS), strict=True))
        database = make_url(url).database
        assert database is not None
        connection = sqlite3.connect(database, isolation_level=None)
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute(create)
        start = time.perf_counter()
        connection.execute("BEGIN")
        connection.executemany(f"INSERT INTO bare VALUES ({', '.join('?' * len(COLUMNS))})", rows)
        connection.execute("COMMIT")
        seconds = time.perf_counter() - start
        connection.close()
        return len(rows) / seconds
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(include_header=False))
    payload = buffer.getvalue()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(create))
    raw = engine.raw_connection()
    driver = raw.driver_connection  # psycopg's connection, for COPY
    assert driver is not None
    try:
        start = time.perf_counter()
        with driver.cursor() as cursor, cursor.copy("COPY bare FROM STDIN (FORMAT csv)") as copy:
            copy.write(payload)
        driver.commit()
        seconds = time.perf_counter() - start
    finally:
        raw.close()
        engine.dispose()
    rate: float = table.num_rows / seconds
    return rate


def store_table_rate(url: str, export: Path) -> float:
    """Rows/s encoding and inserting already-prepared rows into the store's own tables."""
    subjects_only = export.parent / "subjects-only"
    subjects_only.mkdir(exist_ok=True)
    (subjects_only / "subjects.csv").write_bytes((export / "subjects.csv").read_bytes())
    load([subjects_only], "tidy", database_url=url, actor="bench")
    engine = create_store_engine(url)
    context = pd.read_sql_query(
        text(
            "SELECT s.subject_key, s.subject_id, i.infusion_date, NULL AS death_date "
            "FROM subject s JOIN infusion i ON i.subject_id = s.subject_id"
        ),
        engine,
    ).set_index("subject_key")
    context["infusion_date"] = pd.to_datetime(context["infusion_date"])
    context["death_date"] = pd.to_datetime(context["death_date"])
    prepared = []
    for chunk in read_csv_chunks(export / "observations.csv"):
        passed, _ = validate(chunk, Kind.OBSERVATIONS, "observations.csv")
        tables = prepare_observations(chunk[passed], "observations.csv", context).tables
        for name, frame in tables.items():
            ids = frame["subject_key"].map(context["subject_id"])
            prepared.append((name, frame.drop(columns=["subject_key"]).assign(subject_id=ids)))
    rows = sum(len(frame) for _, frame in prepared)
    with session_factory(engine)() as session, session.begin():
        batch = begin_batch(
            session,
            source_path="bench",
            source_sha256="0" * 64,
            source_format="tidy",
            files=[],
            loaded_by="bench",
            policy="all_or_nothing",
        )
        writer = BatchWriter(session, batch, actor="bench")
        start = time.perf_counter()
        for name, frame in prepared:
            writer.write(name, frame)
    seconds = time.perf_counter() - start  # includes the commit
    engine.dispose()
    return rows / seconds


def full_load(url: str, export: Path) -> tuple[float, int]:
    """Seconds and rows of ``etl.load`` of the export into a fresh store."""
    start = time.perf_counter()
    report = load([export], "tidy", database_url=url, actor="bench")
    seconds = time.perf_counter() - start
    if report.status != "committed":
        raise SystemExit(f"the benchmark export did not load: {report.message}")
    return seconds, sum(f.rows_read for f in report.files.values())


def reload(url: str, export: Path) -> float:
    """Seconds of loading ``export`` again into a store that holds it: compared, ``unchanged``."""
    start = time.perf_counter()
    report = load([export], "tidy", database_url=url, actor="bench")
    seconds = time.perf_counter() - start
    if report.status != "unchanged":
        raise SystemExit(f"the re-load changed the store: {report.status}, {report.message}")
    return seconds


def peak_memory_of_load(url: str, export: Path) -> tuple[float, float]:
    """Seconds and peak resident memory (MiB) of a load run in a process of its own."""
    code = (
        "import sys; from pathlib import Path; from etl import load; "
        "r = load([Path(sys.argv[1])], 'tidy', database_url=sys.argv[2], actor='bench'); "
        "print(r.status, r.message, r.rejections.head(5).to_dict('records')); "
        "sys.exit(0 if r.status == 'committed' else 1)"
    )
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, str(export), url])
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"the load of {export} failed (status {status})")
    return seconds, usage.ru_maxrss / MIB


def run(rows: int, postgres: str | None, folder: Path) -> None:
    """Measure and print, for SQLite and (when configured) PostgreSQL."""
    export = make_export(folder, rows)
    size = sum(p.stat().st_size for p in export.iterdir()) / 1e6
    print(f"export: {rows:,} observation rows ({size:,.0f} MB) + subjects")
    stores = ["sqlite"] + (["postgresql"] if postgres else [])
    for kind in stores:
        with fresh_store(kind, folder, postgres) as url:
            bare = bare_rate(kind, url, export)
        with fresh_store(kind, folder, postgres) as url:
            floor = store_table_rate(url, export)
        with fresh_store(kind, folder, postgres) as url:
            seconds, loaded = full_load(url, export)
            again = reload(url, export)
        full = loaded / seconds
        method = "executemany" if kind == "sqlite" else "COPY"
        lines = {
            f"raw insert into a bare table ({method})": bare,
            "prepared rows into the store's tables": floor,
            f"full load (etl.load, {seconds:.1f} s)": full,
            f"re-load, nothing changed ({again:.1f} s)": loaded / again,
        }
        print(f"{kind}:")
        for label, rate in lines.items():
            print(f"  {label:<42}{rate:>12,.0f} rows/s")
        print(f"  ratio full load / bare table:   {full / bare:.2f}  (target >= 0.5)")
        print(f"  ratio full load / store tables: {full / floor:.2f}")


def run_memory(gigabytes: float, folder: Path) -> None:
    """Peak memory of loading an export of about ``gigabytes`` GB into SQLite."""
    rows = int(gigabytes * 1e9 / BYTES_PER_ROW)
    export = make_export(folder / "big", rows)
    size = sum(p.stat().st_size for p in export.iterdir()) / 1e9
    with fresh_store("sqlite", folder, None) as url:
        seconds, peak = peak_memory_of_load(url, export)
    print(
        f"memory: {size:.2f} GB export ({rows:,} rows) loaded into SQLite in {seconds:,.0f} s "
        f"({rows / seconds:,.0f} rows/s); peak resident memory {peak:,.0f} MiB (target < 1024)"
    )


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres-url", default=os.environ.get(POSTGRES_ENV))
    parser.add_argument("--memory-gb", type=float, default=0.0)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pvm-bench-load-") as folder:
        run(arguments.rows, arguments.postgres_url, Path(folder))
        if arguments.memory_gb:
            run_memory(arguments.memory_gb, Path(folder))


if __name__ == "__main__":
    main()
