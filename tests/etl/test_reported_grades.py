"""Daily reported CRS and ICANS grades (observations CRS_GRADE, ICANS_GRADE) through every reader,
and duplicate rejections that name the identity they compared (issue 13, finding 8).

No public export holds daily clinician-reported grades (real_data.md §6-7), so the site files
here are written by the tests, laid out like the flowsheet export the finding came from: one row
per patient and day, an ICANS and a CRS grade, half grades where two raters disagreed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from etl import load
from etl.load import ALL_OR_NOTHING, load_source
from etl.sources.sdtm import SdtmSource
from pv_monitor.pipeline import daily_reconciliation
from tests.etl.conftest import assert_same_store, count, query, snapshot

PATIENTS = "Patient,Infusion date\nP1,2024-03-01\nP2,2024-03-05\nP3,2024-04-02\n"
FLOWSHEET = (
    "Patient,Date,ICANS grade,CRS grade\n"
    "P1,2024-03-01,0,0\n"
    "P1,2024-03-02,0,1\n"
    "P1,2024-03-03,1.5,2\n"
    "P1,2024-03-04,2,1\n"
    "P1,2024-03-05,0.5,0\n"
    "P2,2024-03-05,0,0\n"
    "P2,2024-03-06,0,1\n"
    "P2,2024-03-07,0,0\n"
    "P3,2024-04-02,0,1\n"
    "P3,2024-04-03,3,2\n"
    "P3,2024-04-04,,1\n"
)
"""P1's ICANS peaks at 2 on day 3 after a half grade; P2 never has ICANS; P3's grade 3 comes on
the day after a 0 and its last ICANS cell is empty (not a 0)."""

MAPPING_HEAD = """
mapping_version: 1
files:
  patients: {path: patients.csv, subject_id: Patient}
  flowsheet: {path: flowsheet.csv, subject_id: Patient}
subjects:
  file: patients
  study_id: SITE-02
  site_id: "001"
  product: tisagenlecleucel
  diagnosis: LBCL
  infusion_date: {date: Infusion date}
"""
AS_OBSERVATIONS = """
observations:
  - {code: ICANS_GRADE, file: flowsheet, value: ICANS grade, unit: ASTCT 2019, at: {date: Date}}
  - {code: CRS_GRADE, file: flowsheet, value: CRS grade, unit: Lee 2014, at: {date: Date}}
"""
AS_ADVERSE_EVENTS = """
adverse_events:
  - term: ICANS
    file: flowsheet
    grade: ICANS grade
    grading_scale: astct_2019
    onset: {date: Date}
"""


def _site(folder: Path, entries: str, flowsheet: str = FLOWSHEET) -> Path:
    folder.mkdir()
    (folder / "patients.csv").write_text(PATIENTS, encoding="utf-8")
    (folder / "flowsheet.csv").write_text(flowsheet, encoding="utf-8")
    mapping = folder / "site.yaml"
    mapping.write_text(MAPPING_HEAD + entries, encoding="utf-8")
    return mapping


def test_mapped_daily_icans_grades_load_every_day_and_keep_the_peak(
    tmp_path: Path, store: str
) -> None:
    """The regression: mapped daily grades were collapsed to one "adverse event" per patient
    (the first day's, often 0). As observations every day's grade is stored as given and each
    patient's reported peak is the maximum of the days."""
    mapping = _site(tmp_path / "site", AS_OBSERVATIONS)
    report = load([tmp_path / "site"], f"mapping:{mapping}", database_url=store, actor="test")
    assert report.status == "committed", report.rejections.to_dict("records")
    stored = query(
        store,
        "SELECT s.subject_key, m.code, m.measured_at, m.value, m.unit, m.unit_source_value "
        "FROM measurement m JOIN subject s ON s.subject_id = m.subject_id "
        "ORDER BY s.subject_key, m.code, m.measured_at",
    )
    icans = stored[stored["code"] == "ICANS_GRADE"]
    assert icans.groupby("subject_key").size().to_dict() == {"P1": 5, "P2": 3, "P3": 2}
    assert icans["value"].tolist() == [0, 0, 1.5, 2, 0.5, 0, 0, 0, 0, 3]
    assert set(icans["unit"]) == {"astct_2019"} and set(icans["unit_source_value"]) == {
        "ASTCT 2019"
    }
    crs = stored[stored["code"] == "CRS_GRADE"]
    assert len(crs) == 11 and set(crs["unit"]) == {"lee_2014"}
    assert count(store, "adverse_event") == 0  # a daily grade is not an adverse event
    days, peaks = daily_reconciliation(store)
    icans_peak = peaks[peaks["syndrome"] == "icans"].set_index("subject")
    crs_peak = peaks[peaks["syndrome"] == "crs"].set_index("subject")
    assert icans_peak["reported_peak"].to_dict() == {"P1": 2.0, "P2": 0.0, "P3": 3.0}
    assert icans_peak["reported_peak_day"].to_dict() == {"P1": 3, "P2": 0, "P3": 1}
    assert crs_peak["reported_peak"].to_dict() == {"P1": 2.0, "P2": 1.0, "P3": 2.0}
    assert set(peaks["scale"]) == {"astct_2019", "lee_2014"}
    # no pipeline run yet: every day is on the table, none can be compared
    assert len(days) == 21 and set(days["status"]) == {"not gradable"}


def test_daily_grades_mapped_as_adverse_events_name_the_key_that_was_compared(
    tmp_path: Path, store: str
) -> None:
    """Mapping daily grades as adverse events keys every row of a patient ``ICANS|astct_2019``.
    The rejection used to say "same subject, term, onset and scale" although the onsets differ;
    it names the key compared, says that the onsets differ, and how to map daily grades."""
    whole = FLOWSHEET.replace(",1.5,", ",1,").replace(",0.5,", ",1,")  # AE grades are whole
    mapping = _site(tmp_path / "site", AS_ADVERSE_EVENTS, whole)
    before = snapshot(store)
    report = load([tmp_path / "site"], f"mapping:{mapping}", database_url=store, actor="test")
    assert report.status == "rejected"
    after = snapshot(store)
    before.pop("audit_log"), after.pop("audit_log")  # the rejected batch itself is audited
    assert_same_store(before, after)
    duplicates = report.rejections[report.rejections["rule"] == "duplicate"]
    assert duplicates["row"].tolist() == [2, 3, 4, 5, 7, 8, 10]
    first = duplicates.iloc[0]
    assert first["file"] == "flowsheet.csv" and first["value"] == "P1 | ICANS|astct_2019"
    assert first["reason"] == (
        "duplicate adverse event of row 1: same subject and source key 'ICANS|astct_2019' "
        "(its onset 2024-03-02 differs from row 1's 2024-03-01: this key does not include the "
        "onset; a grade recorded every day is an observation with code CRS_GRADE or "
        "ICANS_GRADE, see docs/data_formats.md)"
    )
    assert not duplicates["reason"].str.contains("term, onset and scale").any()


def test_natural_keys_are_named_with_their_values(tmp_path: Path, store: str) -> None:
    """Without a reader's key, the reason names the fields and values of the natural key."""
    folder = tmp_path / "tidy"
    folder.mkdir()
    (folder / "subjects.csv").write_text(
        "subject_id,study_id,site_id,sex,age_years,diagnosis,product,infusion_date\n"
        "S1,ST,1,F,50,LBCL,axicabtagene ciloleucel,2024-01-01\n",
        encoding="utf-8",
    )
    (folder / "observations.csv").write_text(
        "subject_id,observed_at,code,value,unit\n"
        "S1,2024-01-03,ICANS_GRADE,1,astct_2019\n"
        "S1,2024-01-03T00:00,ICANS_GRADE,2,astct_2019\n",
        encoding="utf-8",
    )
    (folder / "adverse_events.csv").write_text(
        "subject_id,term,onset_date,resolved_date,grade,grading_scale,serious,outcome\n"
        "S1,CRS,2024-01-02,,2,ASTCT,N,recovered\n"
        "S1,crs,2024-01-02,2024-01-05,3,astct_2019,N,recovered\n",
        encoding="utf-8",
    )
    report = load([folder], "tidy", database_url=store, actor="test")
    reasons = report.rejections.set_index(["file", "row"])["reason"]
    assert reasons[("observations.csv", 2)] == (
        "duplicate observation of row 1: same subject, code ICANS_GRADE and observed_at "
        "2024-01-03T00:00"
    )
    assert reasons[("adverse_events.csv", 2)] == (
        "duplicate adverse event of row 1: same subject, term 'crs', onset 2024-01-02 and "
        "grading_scale astct_2019"
    )


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        ("S1,2024-01-03,ICANS_GRADE,1.25,astct_2019", "value",
         "ICANS_GRADE is a grade from 0 to 5 in steps of 0.5 (a half grade is kept as given)"),
        ("S1,2024-01-03,CRS_GRADE,6,astct_2019", "value",
         "CRS_GRADE is a grade from 0 to 5 in steps of 0.5 (a half grade is kept as given)"),
        ("S1,2024-01-03,ICANS_GRADE,1,", "unit",
         "the unit of ICANS_GRADE is its grading scale: none given (accepted: astct_2019, "
         "cartox, ctcae_v4_03, ctcae_v5_0)"),
        ("S1,2024-01-03,ICANS_GRADE,1,lee_2014", "unit",
         "the unit of ICANS_GRADE is its grading scale: 'lee_2014' is not a scale accepted for "
         "it (accepted: astct_2019, cartox, ctcae_v4_03, ctcae_v5_0)"),
        ("S1,2024-01-03,CRS_GRADE,two,astct_2019", "value", "value is not a number"),
    ],
)  # fmt: skip
def test_reported_grades_outside_the_rules_are_rejected_and_nothing_is_stored(
    tmp_path: Path, sqlite_url: str, line: str, field: str, reason: str
) -> None:
    from pv_monitor.cli import upgrade_store

    upgrade_store(sqlite_url, actor="test")
    folder = tmp_path / "tidy"
    folder.mkdir()
    (folder / "subjects.csv").write_text(
        "subject_id,study_id,site_id,sex,age_years,diagnosis,product,infusion_date\n"
        "S1,ST,1,F,50,LBCL,axicabtagene ciloleucel,2024-01-01\n",
        encoding="utf-8",
    )
    (folder / "observations.csv").write_text(
        f"subject_id,observed_at,code,value,unit\nS1,2024-01-02,ICANS_GRADE,0.5,CRES\n{line}\n",
        encoding="utf-8",
    )
    report = load([folder], "tidy", database_url=sqlite_url, actor="test", policy=ALL_OR_NOTHING)
    assert report.status == "rejected"
    assert report.rejections[["file", "row", "field", "reason"]].to_dict("records") == [
        {"file": "observations.csv", "row": 2, "field": field, "reason": reason}
    ]
    assert count(sqlite_url, "measurement") == 0 and count(sqlite_url, "subject") == 0


def test_sdtm_rs_clinical_classification_records_are_daily_grades(
    tmp_path: Path, store: str, shared_data: Path
) -> None:
    """SDTM home: RS records CRSGR/ICANSGR, the scale in RSCAT, beside the real pilot DM/EX."""
    pilot = shared_data / "sdtm_cdiscpilot01" / "sdtm"
    ex = pd.read_sas(pilot / "ex.xpt", format="xport", encoding="utf-8")
    subject = str(ex["USUBJID"].iloc[0])
    start = pd.Timestamp(str(ex.loc[ex["USUBJID"] == subject, "EXSTDTC"].min())[:10])
    day = [(start + pd.Timedelta(days=n)).strftime("%Y-%m-%d") for n in (1, 2, 3)]
    rs = tmp_path / "rs.csv"
    rs.write_text(
        "STUDYID,DOMAIN,USUBJID,RSSEQ,RSTESTCD,RSTEST,RSCAT,RSORRES,RSSTRESC,RSSTRESN,RSSTAT,RSDTC\n"
        f"CDISCPILOT01,RS,{subject},1,ICANSGR,ICANS Grade,ASTCT 2019,1.5,1.5,1.5,,{day[0]}\n"
        f"CDISCPILOT01,RS,{subject},2,ICANSGR,ICANS Grade,ASTCT 2019,3,3,3,,{day[1]}\n"
        f"CDISCPILOT01,RS,{subject},3,CRSGR,CRS Grade,CTCAE v5.0,2,2,2,,{day[1]}\n"
        f"CDISCPILOT01,RS,{subject},4,ICANSGR,ICANS Grade,ASTCT 2019,,,,NOT DONE,{day[2]}\n",
        encoding="utf-8",
    )
    source = SdtmSource([pilot / "dm.xpt", pilot / "ex.xpt", rs])
    report = load_source(source, database_url=store, actor="test")
    assert report.status == "committed", report.rejections.head().to_dict("records")
    assert any("1 daily grade(s) not done" in note for note in report.notes)
    stored = query(
        store,
        "SELECT m.code, m.value, m.unit FROM measurement m JOIN subject s "
        "ON s.subject_id = m.subject_id WHERE s.subject_key = :key ORDER BY m.source_key",
        key=subject,
    )
    assert stored.to_dict("list") == {
        "code": ["ICANS_GRADE", "ICANS_GRADE", "CRS_GRADE"],
        "value": [1.5, 3.0, 2.0],
        "unit": ["astct_2019", "astct_2019", "ctcae_v5_0"],
    }


def test_a_duplicate_across_files_names_the_earlier_row_and_the_identity(
    tmp_path: Path, store: str, shared_data: Path
) -> None:
    """The same VS records delivered twice (real pilot records, written here to two files) are
    written in two parts; the store finds the repeats and the reason names the earlier row, the
    subject and the key, not just "a row loaded earlier"."""
    update2 = shared_data / "sdtm_cdiscpilot01" / "sdtm_update2"
    vs = pd.read_sas(update2 / "vs.xpt", format="xport", encoding="utf-8")
    head = vs[vs["VSTESTCD"].isin(["TEMP", "SYSBP"])].head(4)
    head.to_csv(tmp_path / "vs.csv", index=False)
    head.to_csv(tmp_path / "vs_copy.csv", index=False)
    files = [update2 / "dm.xpt", update2 / "ex.xpt", tmp_path / "vs.csv", tmp_path / "vs_copy.csv"]
    source = SdtmSource(files)
    report = load_source(source, database_url=store, actor="test")
    found = report.rejections[report.rejections["file"] == "vs_copy.csv"]
    assert len(found) == 4 and set(found["rule"]) == {"duplicate"}
    first = head.iloc[0]
    sequence = int(first["VSSEQ"])
    reason = found.sort_values("row")["reason"].iloc[0]
    assert reason.startswith("duplicate of row ")
    assert reason.endswith(f"same subject '{first['USUBJID']}' and source_key 'VS|{sequence}'")
    assert "loaded earlier in this batch" in reason
