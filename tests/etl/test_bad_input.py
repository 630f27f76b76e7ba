"""Bad input: each kind gets a clear rejection, and nothing is lost or half-written.

Each case loads the hand-written export with one defect into a store that already holds the good
export (so a half-written batch or a lost row would show), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl import load
from etl.sources.files import MAX_FIELD_BYTES
from pv_monitor.cli import upgrade_store
from tests.etl.conftest import (
    ADVERSE_EVENTS,
    FILES,
    MEDICATIONS,
    OBSERVATIONS,
    SUBJECTS,
    assert_same_store,
    count,
    query,
    snapshot,
    write_export,
)


@dataclass(frozen=True)
class Defect:
    """One defect: the file text that carries it and the rejection it must produce."""

    file: str
    content: str | bytes
    row: int | None
    field: str | None
    rule: str
    reason: str


def _append(text: str, line: str) -> str:
    return text + line + "\n"


DEFECTS = {
    "wrong delimiter": Defect(
        "observations.csv",
        OBSERVATIONS.replace(",", ";"),
        None,
        None,
        "columns",
        "separated by semicolons",
    ),
    "missing required column": Defect(
        "medications.csv",
        "\n".join(",".join(line.split(",")[:3]) for line in MEDICATIONS.splitlines()) + "\n",
        None,
        None,
        "columns",
        "missing required column(s): ended_at",
    ),
    "text where a number belongs": Defect(
        "subjects.csv",
        SUBJECTS.replace("S-003,STUDY-A,SITE-2,M,67", "S-003,STUDY-A,SITE-2,M,sixty"),
        3,
        "age_years",
        "number",
        "age_years is not a number",
    ),
    "not a date": Defect(
        "observations.csv",
        _append(OBSERVATIONS, "S-001,16/03/2024,TEMP,38.0,C,"),
        16,
        "observed_at",
        "date",
        "not an ISO 8601 date-time",
    ),
    "temperature of 80 C": Defect(
        "observations.csv",
        _append(OBSERVATIONS, "S-001,2024-03-19T08:00,TEMP,80,C,"),
        16,
        "value",
        "range",
        "TEMP 80.0 C is impossible",
    ),
    "negative count": Defect(
        "observations.csv",
        _append(OBSERVATIONS, "S-003,2024-04-04,ANC,-0.2,10^9/L,"),
        16,
        "value",
        "range",
        "ANC -0.2 10^9/L is impossible",
    ),
    "ICE of 14": Defect(
        "observations.csv",
        _append(OBSERVATIONS, "S-001,2024-03-19T09:00,ICE,14,,"),
        16,
        "value",
        "range",
        "ICE 14.0 points is impossible (possible range 0",
    ),
    "unknown unit": Defect(
        "observations.csv",
        _append(OBSERVATIONS, "S-001,2024-03-19,CRP,3,mmol/L,"),
        16,
        "unit",
        "unit",
        "unit 'mmol/L' is not accepted for CRP",
    ),
    "duplicate row": Defect(
        "medications.csv",
        _append(MEDICATIONS, "S-001,Tocilizumab,2024-03-16T15:00,,8,mg/kg,IV"),
        4,
        None,
        "duplicate",
        "duplicate administration of row 1: same subject, drug tocilizumab and started_at "
        "2024-03-16T15:00",
    ),
    "unknown subject in a child file": Defect(
        "adverse_events.csv",
        _append(ADVERSE_EVENTS, "S-999,CRS,2024-03-18,,1,ASTCT,N,recovered"),
        4,
        "subject_id",
        "unknown_subject",
        "subject S-999 is not in subjects.csv or already in the store",
    ),
    "neither UTF-8 nor Windows-1252 bytes": Defect(  # Latin-1 "Fièvre" is read as cp1252
        "adverse_events.csv",
        _append(ADVERSE_EVENTS, "S-001,Fi\x81vre,2024-03-18,,1,CTCAE v5,N,recovered").encode(
            "latin-1"
        ),
        None,
        None,
        "encoding",
        "neither UTF-8 nor Windows-1252",
    ),
    "0-byte file": Defect("medications.csv", b"", None, None, "empty_file", "0 bytes"),
    "long field": Defect(
        "adverse_events.csv",
        _append(ADVERSE_EVENTS, f"S-001,{'x' * 300},2024-03-18,,1,CTCAE v5,N,recovered"),
        4,
        "term",
        "max_length",
        "term is longer than 255 characters",
    ),
    "huge field": Defect(
        "adverse_events.csv",
        _append(
            ADVERSE_EVENTS,
            f'S-001,"{"x" * (2 * MAX_FIELD_BYTES + 1)}",2024-03-18,,1,CTCAE v5,N,recovered',
        ),
        None,
        None,
        "unreadable_file",
        "a field is longer than 1 MB",
    ),
    "SQL injection": Defect(
        "adverse_events.csv",
        _append(ADVERSE_EVENTS, "S-001,x'; DROP TABLE subject; --,2024-03-18,,1,ASTCT,N,recovered"),
        4,
        "term",
        "sql",
        "looks like an SQL statement",
    ),
    "formula injection": Defect(
        "medications.csv",
        _append(MEDICATIONS, 'S-001,"=HYPERLINK(""http://x"",""y"")",2024-03-18,,,,'),
        4,
        "drug",
        "formula",
        "starts like a spreadsheet formula",
    ),
}


def _write(folder: Path, defect: Defect) -> None:
    write_export(folder)
    path = folder / defect.file
    if isinstance(defect.content, bytes):
        path.write_bytes(defect.content)
    else:
        path.write_text(defect.content, encoding="utf-8")


@pytest.mark.parametrize("name", list(DEFECTS))
def test_a_defect_is_rejected_clearly_and_nothing_is_written(
    store: str, tmp_path: Path, name: str
) -> None:
    defect = DEFECTS[name]
    load([write_export(tmp_path / "good")], "tidy", database_url=store, actor="test")
    _write(tmp_path / "bad", defect)
    before = snapshot(store)

    report = load([tmp_path / "bad"], "tidy", database_url=store, actor="test")

    assert (report.status, report.exit_code) == ("rejected", 1)
    after = snapshot(store)
    audit_before, audit_after = before.pop("audit_log"), after.pop("audit_log")
    assert_same_store(before, after)
    assert audit_after.iloc[len(audit_before) :]["action"].tolist() == ["load"]
    stored = query(
        store,
        "SELECT r.* FROM load_rejection r JOIN load_batch b ON b.load_batch_id = r.load_batch_id "
        "WHERE b.status = 'rejected'",
    )
    assert len(stored) == report.rejected_total == 1, stored.to_dict("records")
    rejection = stored.iloc[0]
    found = (rejection["file_name"], rejection["row_number"], rejection["field"], rejection["rule"])
    expected_row = float(defect.row) if defect.row is not None else None
    assert found[0] == defect.file
    assert (None if found[1] is None or found[1] != found[1] else float(found[1])) == expected_row
    assert (found[2], found[3]) == (defect.field, defect.rule)
    assert defect.reason in rejection["reason"]


def test_accept_partial_keeps_the_good_rows_of_a_file_with_a_bad_one(
    store: str, tmp_path: Path
) -> None:
    _write(tmp_path / "bad", DEFECTS["unknown subject in a child file"])

    report = load(
        [tmp_path / "bad"], "tidy", database_url=store, actor="test", policy="accept_partial"
    )

    assert (report.status, report.exit_code) == ("partial", 1)
    assert count(store, "adverse_event") == 3
    assert count(store, "subject") == 3


def test_a_rejected_subject_explains_its_child_rows(store: str, tmp_path: Path) -> None:
    subjects = SUBJECTS.replace("S-003,STUDY-A,SITE-2,M,67", "S-003,STUDY-A,SITE-2,X,67")
    write_export(tmp_path / "bad", subjects=subjects)

    report = load([tmp_path / "bad"], "tidy", database_url=store, actor="test")

    reasons = report.rejections.set_index(["file", "row"])["reason"]
    assert reasons[("subjects.csv", 3)] == "sex must be F, M or U"
    assert reasons[("observations.csv", 15)] == "subject S-003 was rejected in subjects.csv (row 3)"


# ---- generated defects -------------------------------------------------------------------------

_FILE_AND_ROW = st.sampled_from(
    [(name, row) for name, text in FILES.items() for row in range(1, text.count("\n"))]
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    where=_FILE_AND_ROW,
    column=st.integers(min_value=0, max_value=13),
    value=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40),
)
def test_any_cell_value_gives_a_whole_batch_or_nothing(
    where: tuple[str, int], column: int, value: str
) -> None:
    """Whatever text lands in one cell, the batch is either loaded whole (every row stored) or
    rejected with reasons (nothing stored); it never fails with an error or half-writes."""
    name, row = where
    lines = FILES[name].splitlines()
    cells = lines[row].split(",")
    cells[column % len(cells)] = '"' + value.replace('"', '""') + '"'
    lines[row] = ",".join(cells)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_export(root / "export", **{name.removesuffix(".csv"): "\n".join(lines) + "\n"})
        url = f"sqlite:///{root / 'store.db'}"
        upgrade_store(url, actor="test")

        report = load([root / "export"], "tidy", database_url=url, actor="test")

        stored = sum(
            count(url, table)
            for table in (
                "subject",
                "measurement",
                "observation",
                "disease_assessment",
                "drug_exposure",
                "adverse_event",
            )
        )
        if report.status == "committed":
            assert report.rejected_total == 0
            assert stored == sum(r.rows_read for r in report.files.values())
        else:
            assert report.status == "rejected"
            assert stored == 0
            assert len(report.rejections) >= 1
            assert report.rejections["reason"].str.len().min() > 10
