"""The store agrees with the files it says it loaded (issue 13, finding 6).

* Identity is decided by content against the store as it is now, never by a file digest: loading
  v1, then v2, then v1 again restores v1's values (an audited correction), and a batch whose
  every row is already stored with the same values is ``unchanged``, whatever its bytes.
* What was read is what the manifest describes: a file edited while it is being loaded rejects
  the batch (``file_changed``), whatever the policy, and the store is left as it was.

Every store test runs on SQLite and, when PV_MONITOR_TEST_POSTGRES_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from etl import load
from etl.load import ACCEPT_PARTIAL, ALL_OR_NOTHING
from etl.sources.files import FileProblem, SourceFile, read_csv_chunks
from tests.etl.conftest import (
    FILES,
    OBSERVATIONS,
    SUBJECTS,
    assert_same_store,
    query,
    snapshot,
    write_export,
)
from tests.etl.sources.test_faers import demo_row, drug_row, quarter

ROWS = 24
"""Rows of the hand-written export (tests/etl/conftest.py)."""


def _temperature(url: str) -> list[float]:
    """S-001's temperature at 2024-03-16 14:00 (the row the versions below disagree on)."""
    found = query(
        url,
        "SELECT m.value FROM measurement m JOIN subject s ON s.subject_id = m.subject_id "
        "WHERE s.subject_key = 'S-001' AND m.source_key = 'TEMP|2024-03-16T14:00'",
    )
    return [float(v) for v in found["value"]]


def _version(folder: Path, temperature: str) -> Path:
    observations = OBSERVATIONS.replace("TEMP,39.1,C", f"TEMP,{temperature},C")
    assert observations != OBSERVATIONS
    return write_export(folder, observations=observations)


def _statuses(url: str) -> list[str]:
    return query(url, "SELECT status FROM load_batch ORDER BY load_batch_id")["status"].tolist()


def _updates(url: str, table: str) -> pd.DataFrame:
    return query(
        url,
        "SELECT old_value, new_value, reason FROM audit_log WHERE action = 'update' "
        "AND table_name = :table ORDER BY audit_log_id",
        table=table,
    )


# ---- identity against the store as it is now -------------------------------------------------


def test_loading_an_earlier_version_again_restores_its_values(store: str, tmp_path: Path) -> None:
    v1, v2 = _version(tmp_path / "v1", "37.1"), _version(tmp_path / "v2", "39.6")
    load([v1], "tidy", database_url=store, actor="test")
    load([v2], "tidy", database_url=store, actor="test")
    assert _temperature(store) == [39.6]

    third = load([v1], "tidy", database_url=store, actor="dm.jones")

    assert (third.status, third.exit_code) == ("committed", 0)
    assert third.message == f"0 row(s) added, 1 corrected, {ROWS - 1} unchanged"
    observations = third.files["observations.csv"]
    assert (observations.inserted, observations.updated, observations.unchanged) == (0, 1, 14)
    assert _temperature(store) == [37.1]
    assert _statuses(store) == ["committed", "committed", "committed"]
    changes = _updates(store, "measurement")
    assert [
        (json.loads(o)["value"], json.loads(n)["value"]) for o, n in changes.iloc[:, :2].values
    ] == [
        (37.1, 39.6),
        (39.6, 37.1),
    ]
    assert changes["reason"].iloc[-1] == f"corrected by load batch {third.batch_id}"
    stored = query(
        store, "SELECT load_batch_id FROM measurement WHERE source_key = 'TEMP|2024-03-16T14:00'"
    )
    assert stored["load_batch_id"].tolist() == [third.batch_id]


def test_a_batch_whose_rows_are_all_stored_is_unchanged_whatever_its_bytes(
    store: str, tmp_path: Path
) -> None:
    export = write_export(tmp_path / "export")
    load([export], "tidy", database_url=store, actor="test")
    before = snapshot(store)
    # A re-export of the same rows with other bytes (Windows line ends): compared row by row.
    for name in FILES:
        path = export / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))

    again = load([export], "tidy", database_url=store, actor="test")

    assert (again.status, again.exit_code) == ("unchanged", 0)
    assert (
        again.message
        == f"nothing changed: the {ROWS} row(s) read are in the store with these values"
    )
    assert sum(r.unchanged for r in again.files.values()) == ROWS
    assert sum(r.inserted + r.updated for r in again.files.values()) == 0
    after = snapshot(store)
    audit_before, audit_after = before.pop("audit_log"), after.pop("audit_log")
    assert_same_store(before, after)
    added = audit_after.iloc[len(audit_before) :]
    assert added[["action", "table_name"]].values.tolist() == [["load", "load_batch"]]
    batch = query(
        store, "SELECT status, rows_read, rows_loaded, message FROM load_batch ORDER BY 1"
    ).iloc[-1]
    assert (batch["status"], batch["rows_read"], batch["rows_loaded"]) == ("unchanged", ROWS, ROWS)
    assert batch["message"] == again.message


def test_a_corrected_death_counts_as_a_corrected_subject(store: str, tmp_path: Path) -> None:
    v1 = write_export(tmp_path / "v1")
    later_death = SUBJECTS.replace("2024-05,progression", "2024-06-10,progression")
    v2 = write_export(tmp_path / "v2", subjects=later_death)
    load([v1], "tidy", database_url=store, actor="test")

    second = load([v2], "tidy", database_url=store, actor="test")
    third = load([v1], "tidy", database_url=store, actor="test")

    for report in (second, third):  # the subject row is unchanged, its death row is not
        subjects = report.files["subjects.csv"]
        assert (subjects.inserted, subjects.updated, subjects.unchanged) == (0, 1, 2)
        assert report.status == "committed"
    death = query(store, "SELECT death_date, death_date_source_value FROM death").iloc[0]
    assert (str(death["death_date"]), death["death_date_source_value"]) == ("2024-05-01", "2024-05")
    changes = _updates(store, "death")
    assert [json.loads(n)["death_date_source_value"] for n in changes["new_value"]] == [
        "2024-06-10",
        "2024-05",
    ]


def test_an_older_faers_quarter_loaded_again_is_unchanged(store: str, tmp_path: Path) -> None:
    first = quarter(
        tmp_path / "q2",
        demo=(demo_row("1001", "100", "1"),),
        drug=(drug_row("1001", "1", "KYMRIAH"),),
        reac=("1001$100$Cytokine release syndrome$",),
    )
    later = quarter(
        tmp_path / "q3",
        demo=(demo_row("1002", "100", "2"),),
        drug=(drug_row("1002", "1", "KYMRIAH"),),
        reac=("1002$100$Cytokine release syndrome$",),
        suffix="17Q3",
    )
    load([first], "faers", database_url=store, actor="test")
    load([later], "faers", database_url=store, actor="test")

    again = load([first], "faers", database_url=store, actor="test")

    # is_latest is the store's, decided over every quarter: version 1's "latest in its own
    # quarter" is not a correction of it.
    assert again.status == "unchanged"
    latest = query(store, "SELECT report_key, is_latest FROM icsr_case ORDER BY report_key")
    assert latest["is_latest"].astype(bool).tolist() == [False, True]
    assert _updates(store, "icsr_case").empty


# ---- what was read is what the manifest describes ----------------------------------------------


def test_the_hashing_stream_reads_csv_and_gzip_and_sees_an_edit(tmp_path: Path) -> None:
    plain = tmp_path / "observations.csv"
    plain.write_text(OBSERVATIONS, encoding="utf-8")
    packed = tmp_path / "observations.csv.gz"
    packed.write_bytes(gzip.compress(OBSERVATIONS.encode()))
    for path in (plain, packed):
        described = SourceFile.of(path)
        rows = pd.concat(read_csv_chunks(described))
        assert rows.equals(pd.concat(read_csv_chunks(path)))
        assert len(rows) == 15

    described = SourceFile.of(plain)
    plain.write_text(OBSERVATIONS.replace("39.1", "39.4"), encoding="utf-8")  # same size

    with pytest.raises(FileProblem) as raised:
        list(read_csv_chunks(described))
    assert raised.value.rule == "file_changed"
    assert "is not the file described when the load started" in raised.value.reason
    with pytest.raises(FileProblem, match="is not the file described"):
        described.read_bytes()


def test_a_file_replaced_or_grown_after_it_was_read_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "subjects.csv"
    path.write_text(SUBJECTS, encoding="utf-8")
    described = SourceFile.of(path)
    assert described.read_bytes() == SUBJECTS.encode() and described.changed() is None

    with path.open("a", encoding="utf-8") as handle:
        handle.write("S-004,STUDY-A,SITE-1,F,60,LBCL,axi-cel,2024-05-01,70,,flu/cy,,,\n")
    assert "its size went from" in str(described.changed())
    replacement = tmp_path / "new.csv"
    replacement.write_text(SUBJECTS, encoding="utf-8")
    replacement.replace(path)  # same bytes, another file (a copy tool's rename)
    assert "replaced by another file" in str(described.changed())


def _edit_when(file_read: str, edit: Path, new: bytes) -> Callable[[str, int], None]:
    """A progress callback that overwrites ``edit`` once ``file_read`` has been read (chunk)."""
    done: list[bool] = []

    def progress(file: str, _rows: int) -> None:
        if file == file_read and not done:
            edit.write_bytes(new)
            done.append(True)

    return progress


def _parquet(folder: Path, name: str) -> None:
    """Replace ``name``.csv of the export by the same rows as Parquet."""
    csv = folder / f"{name}.csv"
    table = pacsv.read_csv(csv, convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
    pq.write_table(
        table.cast(pa.schema([(f, pa.string()) for f in table.schema.names])),
        folder / f"{name}.parquet",
    )
    csv.unlink()


@pytest.mark.parametrize("policy", [ALL_OR_NOTHING, ACCEPT_PARTIAL])
@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_file_edited_while_it_is_loaded_rejects_the_batch(
    store: str, tmp_path: Path, suffix: str, policy: str
) -> None:
    export = write_export(tmp_path / "export")
    if suffix == "parquet":
        _parquet(export, "observations")
    target = export / f"observations.{suffix}"
    original = target.read_bytes()
    if suffix == "csv":
        edited = original.replace(b"TEMP,39.1,C", b"TEMP,39.4,C")
    else:
        _version(tmp_path / "edited", "39.4")
        _parquet(tmp_path / "edited", "observations")
        edited = (tmp_path / "edited" / "observations.parquet").read_bytes()
    assert edited != original
    before = snapshot(store)

    # subjects.csv is read (and reported) before observations are opened
    progress = _edit_when("subjects.csv", target, edited)
    report = load(
        [export], "tidy", database_url=store, actor="test", policy=policy, progress=progress
    )

    assert (report.status, report.exit_code) == ("rejected", 1)
    assert report.message.startswith("a file changed while it was being loaded; nothing was loaded")
    found = report.rejections[report.rejections["rule"] == "file_changed"]
    assert found["file"].tolist() == [target.name]
    assert "is not the file described when the load started" in found["reason"].iloc[0]
    after = snapshot(store)
    before.pop("audit_log"), after.pop("audit_log")
    assert_same_store(before, after)
    batch = query(store, "SELECT status, files FROM load_batch").iloc[0]
    files = batch["files"] if isinstance(batch["files"], list) else json.loads(batch["files"])
    described = {f["name"]: f["sha256"] for f in files}
    assert described[target.name] == hashlib.sha256(original).hexdigest()  # as described
    stored = query(
        store, "SELECT file_name, rule, reason FROM load_rejection WHERE rule = 'file_changed'"
    )
    assert stored["file_name"].tolist() == [target.name]


def test_a_file_written_after_it_was_read_rejects_the_batch(store: str, tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    subjects = export / "subjects.csv"
    before = snapshot(store)

    # subjects.csv is fully read (and verified) when its chunk is reported; then it is rewritten
    progress = _edit_when("subjects.csv", subjects, subjects.read_bytes() + b"\n")
    report = load([export], "tidy", database_url=store, actor="test", progress=progress)

    assert report.status == "rejected"
    found = report.rejections[report.rejections["rule"] == "file_changed"]
    assert found["file"].tolist() == ["subjects.csv"]
    assert "its size went from" in found["reason"].iloc[0]
    after = snapshot(store)
    before.pop("audit_log"), after.pop("audit_log")
    assert_same_store(before, after)
    assert _statuses(store) == ["rejected"]


def test_an_sdtm_file_edited_while_it_is_loaded_rejects_the_batch(
    store: str, tmp_path: Path, shared_data: Path
) -> None:
    pilot = shared_data / "sdtm_cdiscpilot01" / "sdtm"
    export = tmp_path / "sdtm"
    export.mkdir()
    for name in ("dm.xpt", "ex.xpt", "ae.xpt"):
        shutil.copyfile(pilot / name, export / name)
    ae = export / "ae.xpt"
    before = snapshot(store)

    # AE is read after the subjects: a term is corrected in place meanwhile (same size)
    edited = ae.read_bytes().replace(b"ERYTHEMA", b"ERYTHEMX", 1)
    progress = _edit_when("dm.xpt", ae, edited)
    report = load([export], "sdtm", database_url=store, actor="test", progress=progress)

    assert report.status == "rejected"
    found = report.rejections[report.rejections["rule"] == "file_changed"]
    assert found["file"].tolist() == ["ae.xpt"]
    assert "is not the file described when the load started" in found["reason"].iloc[0]
    after = snapshot(store)
    before.pop("audit_log"), after.pop("audit_log")
    assert_same_store(before, after)
