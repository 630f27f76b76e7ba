"""Loading a tidy export as one batch: what is stored, re-loads, corrections, policies, failures.

Every test runs on SQLite and, when PV_MONITOR_TEST_POSTGRES_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from etl import load
from etl.load import ACCEPT_PARTIAL
from tests.etl.conftest import (
    FILES,
    OBSERVATION_TABLES,
    OBSERVATIONS,
    assert_same_store,
    count,
    query,
    snapshot,
    write_export,
)

ROWS = 24
"""Rows of the hand-written export: 3 subjects, 15 observations, 3 medications, 3 AEs."""


def _measured(url: str, subject: str, code: str) -> pd.DataFrame:
    return query(
        url,
        "SELECT m.* FROM measurement m JOIN subject s ON s.subject_id = m.subject_id "
        "WHERE s.subject_key = :subject AND m.code = :code ORDER BY m.measured_at",
        subject=subject,
        code=code,
    )


# ---- a first load ------------------------------------------------------------------------------


def test_a_tidy_export_is_stored_row_by_row(store: str, tidy_export: Path) -> None:
    report = load([tidy_export], "tidy", database_url=store, actor="dm.smith")

    assert (report.status, report.exit_code, report.rejected_total) == ("committed", 0, 0)
    assert {name: r.inserted for name, r in report.files.items()} == {
        "subjects.csv": 3,
        "observations.csv": 15,
        "medications.csv": 3,
        "adverse_events.csv": 3,
    }
    assert count(store, "subject") == count(store, "infusion") == 3
    for table, rows in OBSERVATION_TABLES.items():
        assert count(store, table) == rows, table
    assert count(store, "drug_exposure") == count(store, "adverse_event") == 3
    assert (count(store, "death"), count(store, "follow_up")) == (1, 2)


def test_units_are_converted_and_the_source_value_kept(store: str, tidy_export: Path) -> None:
    load([tidy_export], "tidy", database_url=store, actor="test")

    fever = _measured(store, "S-001", "TEMP").iloc[0]
    assert fever["value"] == pytest.approx((101.3 - 32) * 5 / 9)  # 38.5 C
    assert (fever["unit"], fever["value_source_value"], fever["unit_source_value"]) == (
        "C",
        "101.3",
        "F",
    )
    conversions = {
        "CRP": (125.0, "mg/L"),  # 12.5 mg/dL
        "CREAT": (97 / 88.42, "mg/dL"),  # 97 umol/L
        "PLT": (45.0, "10^9/L"),  # 45,000 /uL
    }
    for code, (value, unit) in conversions.items():
        row = _measured(store, "S-001", code).iloc[0]
        assert (row["value"], row["unit"]) == (pytest.approx(value, rel=1e-4), unit), code
    censored = _measured(store, "S-001", "IL6").iloc[0]
    assert (censored["value"], censored["operator"]) == (5.0, "<")


def test_codes_dates_and_flags_are_normalised(store: str, tidy_export: Path) -> None:
    load([tidy_export], "tidy", database_url=store, actor="test")

    device = query(store, "SELECT value FROM observation WHERE code = 'O2_DEVICE'")
    assert device["value"].tolist() == ["high_flow_nasal_cannula"]  # HFNC, an alias
    events = query(
        store,
        "SELECT term, syndrome, onset_date, onset_date_source_value, resolved_date, "
        "date_imputation, reported_grade, grading_scale FROM adverse_event ORDER BY term",
    )
    lee = events[events["term"] == "CRS"].iloc[0]
    # Onset "2024-03" is the month of the infusion (20 March): imputed to the infusion day.
    assert str(lee["onset_date"]) == "2024-03-20"
    assert (lee["onset_date_source_value"], lee["date_imputation"]) == ("2024-03", "onset:day")
    assert (lee["syndrome"], lee["reported_grade"], lee["grading_scale"]) == ("crs", 3, "lee_2014")
    icans = events[events["term"] == "ICANS"].iloc[0]
    assert str(icans["resolved_date"]) == "2024-03-31"  # "2024-03": last day of the month
    assert icans["date_imputation"] == "resolution:day"
    death = query(store, "SELECT death_date, death_date_imputation FROM death").iloc[0]
    assert (str(death["death_date"]), death["death_date_imputation"]) == ("2024-05-01", "day")


def test_the_batch_records_its_provenance(store: str, tidy_export: Path) -> None:
    report = load([tidy_export], "tidy", database_url=store, actor="dm.smith")

    batch = query(store, "SELECT * FROM load_batch").iloc[0]
    assert batch["load_batch_id"] == report.batch_id
    assert (batch["status"], batch["source_format"], batch["loaded_by"]) == (
        "committed",
        "tidy",
        "dm.smith",
    )
    assert (batch["rows_read"], batch["rows_loaded"], batch["rows_rejected"]) == (ROWS, ROWS, 0)
    files = batch["files"] if isinstance(batch["files"], list) else json.loads(batch["files"])
    assert sorted(f["name"] for f in files) == sorted(FILES)
    assert all(len(f["sha256"]) == 64 for f in files)
    provenance = query(
        store,
        "SELECT load_batch_id, source_key, source_row FROM measurement WHERE code = 'SBP'",
    ).iloc[0]
    assert provenance.to_dict() == {
        "load_batch_id": report.batch_id,
        "source_key": "SBP|2024-03-16T14:00",
        "source_row": 3,
    }


# ---- re-loads and corrections -----------------------------------------------------------------


def test_loading_the_same_files_again_changes_nothing(store: str, tidy_export: Path) -> None:
    first = load([tidy_export], "tidy", database_url=store, actor="test")
    before = snapshot(store)

    again = load([tidy_export], "tidy", database_url=store, actor="test")

    assert again.status == "unchanged"
    assert again.exit_code == 0
    assert (
        again.message
        == f"nothing changed: the {ROWS} row(s) read are in the store with these values"
    )
    assert (first.batch_id, again.batch_id) == (1, 2)
    after = snapshot(store)
    audit_before, audit_after = before.pop("audit_log"), after.pop("audit_log")
    assert_same_store(before, after)
    added = audit_after.iloc[len(audit_before) :]
    assert added[["action", "table_name"]].values.tolist() == [["load", "load_batch"]]


def test_same_rows_in_a_new_file_are_recognised_as_unchanged(store: str, tidy_export: Path) -> None:
    load([tidy_export], "tidy", database_url=store, actor="test")
    before = snapshot(store)
    # Same rows, other bytes (a re-export with Windows line ends): compared row by row.
    for name in FILES:
        path = tidy_export / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))

    report = load([tidy_export], "tidy", database_url=store, actor="test")

    assert report.status == "unchanged"
    assert sum(r.inserted + r.updated for r in report.files.values()) == 0
    assert sum(r.unchanged for r in report.files.values()) == ROWS
    after = snapshot(store)
    before.pop("audit_log"), after.pop("audit_log")
    assert_same_store(before, after)


def test_a_corrected_file_updates_rows_and_audits_each_change(store: str, tmp_path: Path) -> None:
    write_export(tmp_path / "v1")
    first = load([tmp_path / "v1"], "tidy", database_url=store, actor="test")
    corrected_observations = OBSERVATIONS.replace(
        "S-001,2024-03-16T14:00,TEMP,39.1,C,", "S-001,2024-03-16T14:00,TEMP,39.4,C,"
    )
    corrected_events = FILES["adverse_events.csv"].replace(
        "2024-03-16,2024-03-20,2,ASTCT", "2024-03-16,2024-03-20,3,ASTCT"
    )
    write_export(
        tmp_path / "v2", observations=corrected_observations, adverse_events=corrected_events
    )

    report = load([tmp_path / "v2"], "tidy", database_url=store, actor="dm.jones")

    assert report.status == "committed"
    assert report.files["observations.csv"].updated == 1
    assert report.files["observations.csv"].unchanged == 14
    assert report.files["adverse_events.csv"].updated == 1
    temperatures = _measured(store, "S-001", "TEMP")
    assert temperatures["value"].tolist() == [pytest.approx(38.5), 39.4]
    assert temperatures["load_batch_id"].tolist() == [first.batch_id, report.batch_id]
    changes = query(
        store,
        "SELECT table_name, old_value, new_value, actor, reason FROM audit_log "
        "WHERE action = 'update' ORDER BY audit_log_id",
    )
    by_table = {row.table_name: row for row in changes.itertuples()}
    assert set(by_table) == {"measurement", "adverse_event"}
    measurement = by_table["measurement"]
    assert json.loads(str(measurement.old_value))["value"] == 39.1
    assert json.loads(str(measurement.new_value))["value"] == 39.4
    grade = by_table["adverse_event"]
    assert (
        json.loads(str(grade.old_value))["reported_grade"],
        json.loads(str(grade.new_value)),
    ) == (
        2,
        {"reported_grade": 3},
    )
    assert measurement.actor == "dm.jones"
    assert measurement.reason == f"corrected by load batch {report.batch_id}"


# ---- policies ----------------------------------------------------------------------------------

IMPOSSIBLE_FEVER = OBSERVATIONS + "S-002,2024-03-21T12:00,TEMP,80,C,\n"


def test_all_or_nothing_writes_nothing_when_a_row_is_rejected(store: str, tmp_path: Path) -> None:
    write_export(tmp_path / "export", observations=IMPOSSIBLE_FEVER)
    before = snapshot(store)

    report = load([tmp_path / "export"], "tidy", database_url=store, actor="test")

    assert (report.status, report.exit_code) == ("rejected", 1)
    assert all(r.inserted == 0 for r in report.files.values())
    after = snapshot(store)
    before.pop("audit_log"), after.pop("audit_log")
    assert_same_store(before, after)
    stored = query(store, "SELECT * FROM load_rejection")
    assert stored[["file_name", "row_number", "field", "value", "rule"]].values.tolist() == [
        ["observations.csv", 16, "value", "80", "range"]
    ]
    assert "TEMP 80.0 C is impossible" in stored["reason"].iloc[0]
    assert query(store, "SELECT status FROM load_batch")["status"].tolist() == ["rejected"]


def test_accept_partial_writes_the_good_rows(store: str, tmp_path: Path) -> None:
    write_export(tmp_path / "export", observations=IMPOSSIBLE_FEVER)

    report = load(
        [tmp_path / "export"], "tidy", database_url=store, actor="test", policy=ACCEPT_PARTIAL
    )

    assert (report.status, report.exit_code, report.rejected_total) == ("partial", 1, 1)
    assert report.files["observations.csv"].inserted == 15
    assert report.files["observations.csv"].rejected == 1
    assert sum(OBSERVATION_TABLES.values()) == sum(
        count(store, table) for table in OBSERVATION_TABLES
    )
    assert count(store, "load_rejection") == 1


# ---- interruptions -----------------------------------------------------------------------------


def _fail_inserts_into_adverse_event(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER fail_ae BEFORE INSERT ON adverse_event "
                    "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION fail_ae() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER fail_ae BEFORE INSERT ON adverse_event "
                    "FOR EACH ROW EXECUTE FUNCTION fail_ae()"
                )
            )
    engine.dispose()


def test_a_database_error_mid_load_leaves_the_store_as_it_was(store: str, tmp_path: Path) -> None:
    write_export(tmp_path / "v1", adverse_events="")
    load([tmp_path / "v1"], "tidy", database_url=store, actor="test")
    corrected = OBSERVATIONS.replace("TEMP,39.1,C", "TEMP,39.4,C")
    write_export(tmp_path / "v2", observations=corrected)  # a correction, then new AEs
    _fail_inserts_into_adverse_event(store)
    before = snapshot(store)

    with pytest.raises(Exception, match="disk full"):
        load([tmp_path / "v2"], "tidy", database_url=store, actor="test")

    assert_same_store(before, snapshot(store))
    batches = query(store, "SELECT status, message FROM load_batch ORDER BY load_batch_id")
    assert batches["status"].tolist() == ["committed", "failed"]
    assert "disk full" in batches["message"].iloc[1]


KILL_DURING_LOAD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from etl import load

    def progress(file, rows):
        if file == sys.argv[3]:
            os.kill(os.getpid(), signal.SIGKILL)

    load([Path(sys.argv[1])], "tidy", database_url=sys.argv[2], actor="test", progress=progress)
    """
)


@pytest.mark.parametrize("killed_after", ["subjects.csv", "observations.csv", "medications.csv"])
def test_a_killed_load_leaves_the_store_as_it_was(
    store: str, tmp_path: Path, killed_after: str
) -> None:
    write_export(tmp_path / "v1", medications="", adverse_events="")
    load([tmp_path / "v1"], "tidy", database_url=store, actor="test")
    write_export(tmp_path / "v2", observations=OBSERVATIONS.replace("39.1,C", "39.4,C"))
    before = snapshot(store)

    killed = subprocess.run(
        [sys.executable, "-c", KILL_DURING_LOAD, str(tmp_path / "v2"), store, killed_after],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        check=False,
    )

    assert killed.returncode == -9, killed.stderr.decode()
    assert_same_store(before, snapshot(store))
    assert query(store, "SELECT status FROM load_batch")["status"].tolist() == ["committed"]
    # The store is usable: the same load now runs to the end.
    report = load([tmp_path / "v2"], "tidy", database_url=store, actor="test")
    assert report.status == "committed"
    assert report.files["observations.csv"].updated == 1


def test_a_file_rejected_partway_leaves_nothing_of_itself_under_accept_partial(
    store: str, tmp_path: Path
) -> None:
    # 160,000 more observations, a row with one field too many past the first chunk (100,000
    # rows): the reader has handed over the first chunk when it finds the bad row
    times = pd.date_range("2024-04-01", periods=160_000, freq="min").strftime("%Y-%m-%dT%H:%M")
    extra = [f"S-001,{at},TEMP,37.{i % 10},C," for i, at in enumerate(times)]
    extra.insert(150_000, "S-001,2024-03-16T08:00,TEMP,37.0,C,,one field too many")
    folder = write_export(tmp_path / "export", observations=OBSERVATIONS + "\n".join(extra) + "\n")
    report = load([folder], "tidy", database_url=store, actor="test", policy=ACCEPT_PARTIAL)
    assert report.status == "partial"
    rejected = report.rejections[report.rejections["file"] == "observations.csv"]
    assert rejected["rule"].tolist() == ["unreadable_file"]
    observations = report.files["observations.csv"]
    assert (observations.inserted, observations.updated, observations.unchanged) == (0, 0, 0)
    for table in OBSERVATION_TABLES:
        assert count(store, table) == 0, table
    # the other files are stored
    assert count(store, "subject") == 3
    assert count(store, "drug_exposure") == count(store, "adverse_event") == 3
    assert report.files["medications.csv"].inserted == 3
