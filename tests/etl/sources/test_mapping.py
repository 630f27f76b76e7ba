"""The mapping-file reader, on the real CD22 CAR-T export and on small hand-written files.

Counts on the CD22 export were measured on the files in shared/data/cart_cd22_hlh (read in place,
never copied; see its SOURCE.md): the workbook ``clinical_data_05-12-20_v1.xlsx`` has 59 patient
rows and 3 blank rows under a 3-row header, the ID key 59 rows, the long cytokine export 15,686
rows of which 4,649 have an empty level.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from etl.contracts import CONTRACTS, Kind
from etl.load import LoadReport, load_source
from etl.sources import Source
from etl.sources.files import ROW
from etl.sources.mapping import ANCHOR_DATE, MappingError, MappingSource
from pv_monitor.store.engine import create_store_engine
from pv_monitor.store.migrate import upgrade
from pv_monitor.store.models import (
    AdverseEvent,
    DrugExposure,
    Infusion,
    Measurement,
    Product,
    Subject,
)

CD22_MAPPING = Path(__file__).resolve().parents[3] / "examples" / "mappings" / "cd22_trial.yaml"
ID_KEY = "ID Key_15C0029 CD22 CAR CRS Data_4-30-21_export.csv"


def cd22(shared_data: Path) -> Path:
    return shared_data / "cart_cd22_hlh"


def load(source: MappingSource, url: str) -> LoadReport:
    upgrade(url)
    return load_source(source, database_url=url, actor="test")


def query(url: str, work: Callable[[Session], Any]) -> Any:
    engine = create_store_engine(url)
    try:
        with Session(engine) as session:
            return work(session)
    finally:
        engine.dispose()


def grades(session: Session, scale: str) -> dict[str, int | None]:
    rows = session.execute(
        select(Subject.subject_key, AdverseEvent.reported_grade)
        .join(Subject, Subject.subject_id == AdverseEvent.subject_id)
        .where(AdverseEvent.grading_scale == scale)
    )
    return {str(key): grade for key, grade in rows}


def count(session: Session, model: Any, *where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def measurements(session: Session, subject: str, code: str) -> list[tuple[Any, ...]]:
    rows = session.execute(
        select(Measurement.measured_at, Measurement.value, Measurement.unit, Measurement.has_time)
        .join(Subject, Subject.subject_id == Measurement.subject_id)
        .where(Subject.subject_key == subject, Measurement.code == code)
        .order_by(Measurement.measured_at)
    )
    return [tuple(row) for row in rows]


# ------------------------------------------------------------------------------------------
# the real CD22 export


def test_cd22_export_loads_through_the_pipeline(shared_data: Path, store_url: str) -> None:
    report = load(MappingSource(CD22_MAPPING, [cd22(shared_data)]), store_url)

    assert report.status == "committed", report.rejections.head(10).to_dict("records")
    assert report.rejected_total == 0
    assert len(report.rejections) == 0
    # Notes say what was left out on purpose: 4,649 empty levels in the long cytokine export,
    # 3 blank workbook rows, the 3 LDH results written "Hemolyzed", and the 2 "N/A" cells of
    # patient 4029's Toci and Steroids columns.
    assert "day_after_infusion_data_export.csv: 4,649 empty cytokine levels skipped" in (
        report.notes
    )
    assert "clinical_data_05-12-20_v1.xlsx: 3 blank row(s) skipped" in report.notes
    assert (
        "clinical_data_05-12-20_v1.xlsx: 3 value(s) read as missing through value map "
        "'lab_results' ('Hemolyzed' ×3)"
    ) in report.notes
    assert "clinical_data_05-12-20_v1.xlsx: 2 cell(s) read as missing ('N/A' ×2)" in report.notes

    def check(session: Session) -> None:
        # 59 patients: the workbook's non-blank rows, keyed by "Randomized ID".
        assert count(session, Subject) == 59
        infusions = session.scalars(select(Infusion)).all()
        assert len(infusions) == 59
        assert {i.infusion_date for i in infusions} == {ANCHOR_DATE}
        assert all(i.day_zero_anchored for i in infusions)
        product = session.scalars(
            select(Product).where(Product.generic_name == "CD22 CAR T cells (NCI 15-C-0029)")
        ).one()
        infused = session.scalars(select(Infusion.product_id).distinct()).all()
        assert infused == [product.product_id]
        assert product.is_approved is False
        assert product.target_antigen == "CD22"

        # Measurements: CRP 59+59+58+56+51 = 283 non-empty workbook values at the 5 timepoints,
        # ferritin 37+47+47+46+44 = 221, LDH 58+59+57+54+55 = 283 minus 3 "Hemolyzed" = 280;
        # cytokines: 15,686 rows - 4,649 empty levels = 11,037. Total 11,821.
        assert count(session, Measurement, Measurement.code == "CRP") == 283
        assert count(session, Measurement, Measurement.code == "FERRITIN") == 221
        assert count(session, Measurement, Measurement.code == "LDH") == 280
        # IL-6: 1,144 rows in the long export, 323 of them with an empty level.
        assert count(session, Measurement, Measurement.code == "IL6") == 1_144 - 323
        assert count(session, Measurement) == 283 + 221 + 280 + 11_037

        # CRP of patient 277 at anchor + its "true date": day 0.2381944 = 05:42:59.99 rounds to
        # 05:43; day 7.2458333 -> 2000-01-08 05:54; the Day 28 CRP cell is empty.
        assert measurements(session, "277", "CRP") == [
            (dt.datetime(2000, 1, 1, 5, 43), 0.4, "mg/L", True),
            (dt.datetime(2000, 1, 8, 5, 54), 0.3, "mg/L", True),
            (dt.datetime(2000, 1, 15, 6, 3), 6.4, "mg/L", True),
            (dt.datetime(2000, 1, 23, 12, 4), 0.2, "mg/L", True),
        ]
        # A true date before the infusion (patient 4723, Day 0 CRP at day -0.7180556).
        assert measurements(session, "4723", "CRP")[0] == (
            dt.datetime(1999, 12, 31, 6, 46),
            3.9,
            "mg/L",
            True,
        )
        # Cytokines are on whole days: a date without a time (patient 5073, IL-6 day 8).
        il6 = {m[0]: m[1:] for m in measurements(session, "5073", "IL6")}
        assert il6[dt.datetime(2000, 1, 9)] == (1530.0, "pg/mL", False)

        # Adverse events: one CRS row per patient and scale, grade 0 included (59 + 59), and the
        # HLH-like syndrome for the 21 patients with HLH = 1.
        assert count(session, AdverseEvent) == 59 + 59 + 21
        lee, astct = grades(session, "lee_2014"), grades(session, "astct_2019")
        assert len(lee) == len(astct) == 59
        assert (lee["5890"], astct["5890"]) == (2, 3)
        assert (lee["7313"], astct["7313"]) == (3, 2)
        assert (lee["2142"], astct["2142"]) == (0, 0)  # explicit grade 0 rows
        assert sum(1 for key in lee if lee[key] != astct[key]) == 14  # real_data.md §3
        assert sum(1 for grade in lee.values() if grade == 0) == 7
        hlh = session.scalars(select(AdverseEvent).where(AdverseEvent.syndrome == "iec_hs")).all()
        assert len(hlh) == 21
        assert {(a.term, a.reported_grade, a.grading_scale) for a in hlh} == {
            ("HLH-like syndrome (carHLH)", None, None)
        }
        onset = session.execute(
            select(AdverseEvent.onset_date)
            .join(Subject, Subject.subject_id == AdverseEvent.subject_id)
            .where(Subject.subject_key == "5890", AdverseEvent.grading_scale == "lee_2014")
        ).scalar_one()
        assert onset == dt.date(2000, 1, 9)  # "Date CRS" = day 8

        # Medications from the workbook's Tox Tx columns: toci 24 yes, steroids 21, anakinra 9
        # (patient 4029's "N/A" is skipped); all given at an unknown time.
        drugs = session.execute(select(DrugExposure.drug, func.count()).group_by(DrugExposure.drug))
        assert {str(drug): n for drug, n in drugs} == {
            "tocilizumab": 24,
            "corticosteroid": 21,  # "Steroids": the agent is not named
            "anakinra": 9,
        }
        assert count(session, DrugExposure, DrugExposure.started_at.is_not(None)) == 0

    query(store_url, check)

    # The Lee grades (from the workbook's "Max Grade CRS") equal the ID key's Max Grade CRS_Lee
    # for every patient, and the ASTCT grades its Max Grade CRS_ASBMT.
    key = pd.read_csv(cd22(shared_data) / ID_KEY, dtype=str).set_index("Randomized ID")
    lee, astct = query(store_url, lambda s: (grades(s, "lee_2014"), grades(s, "astct_2019")))
    assert {k: str(v) for k, v in lee.items()} == key["Max Grade CRS_Lee"].to_dict()
    assert {k: str(v) for k, v in astct.items()} == key["Max Grade CRS_ASBMT"].to_dict()

    again = load_source(
        MappingSource(CD22_MAPPING, [cd22(shared_data)]), database_url=store_url, actor="test"
    )
    assert again.status == "unchanged"


def test_cd22_chunks_have_the_tidy_columns(shared_data: Path) -> None:
    source: Source = MappingSource(CD22_MAPPING, [cd22(shared_data)])
    assert source.format == "mapping:cd22_trial.yaml"
    assert [f.name for f in source.files] == [
        "cd22_trial.yaml",
        "clinical_data_05-12-20_v1.xlsx",
        ID_KEY,
        "day_after_infusion_data_export.csv",
    ]
    chunks = list(source.chunks())
    kinds = [c.kind for c in chunks]
    assert kinds[0] == Kind.SUBJECTS
    assert Kind.SUBJECTS not in kinds[1:]
    internal = {
        Kind.SUBJECTS: {"_day_zero_anchored", "_target_antigen"},
        Kind.OBSERVATIONS: {"_specimen"},
        Kind.MEDICATIONS: {"_started_unknown"},
        Kind.ADVERSE_EVENTS: {"_verbatim"},
    }
    for chunk in chunks:
        contract = CONTRACTS[chunk.kind]
        expected = {*contract.required, *contract.optional, ROW, "_key", *internal[chunk.kind]}
        assert set(chunk.frame.columns) == expected, chunk.kind
        pairs = chunk.frame["subject_id"] + "\x1f" + chunk.frame["_key"]
        assert not pairs.duplicated().any(), chunk.kind
        text = chunk.frame.drop(columns=[ROW])
        assert text.map(lambda v: isinstance(v, str)).all().all(), chunk.kind
    subjects = chunks[0].frame.set_index("subject_id")
    first = subjects.loc["277"]
    assert (first["infusion_date"], first["_day_zero_anchored"], first["_target_antigen"]) == (
        "2000-01-01",
        "true",
        "CD22",
    )
    assert first[ROW] == 1  # the first data row (Excel row 4, under the header)
    # One workbook row gives several tidy rows sharing its _row: patient 277's markers.
    observations = next(c.frame for c in chunks if c.kind == Kind.OBSERVATIONS)
    of_277 = observations[observations["subject_id"] == "277"]
    assert set(of_277[ROW]) == {1}
    assert "CRP|day 7" in set(of_277["_key"])
    meds = next(c.frame for c in chunks if c.kind == Kind.MEDICATIONS)
    assert set(meds["_started_unknown"]) == {"true"}
    assert set(meds["started_at"]) == {""}


# ------------------------------------------------------------------------------------------
# errors in the mapping


def broken_cd22(tmp_path: Path, old: str, new: str) -> Path:
    text = CD22_MAPPING.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_missing_column_names_the_entry_and_the_columns_that_exist(
    shared_data: Path, tmp_path: Path
) -> None:
    mapping = broken_cd22(tmp_path, "grade: Max Grade CRS_ASBMT", "grade: Max Grade CRS_ASTCT")
    with pytest.raises(MappingError) as error:
        MappingSource(mapping, [cd22(shared_data)])
    message = str(error.value)
    assert "adverse_events[1]" in message
    assert "'Max Grade CRS_ASTCT'" in message
    assert ID_KEY in message
    assert "'Max Grade CRS_ASBMT'" in message  # what exists


def test_missing_column_in_a_multi_row_header_suggests_close_paths(
    shared_data: Path, tmp_path: Path
) -> None:
    mapping = broken_cd22(
        tmp_path,
        "value: Inflammatory Markers / Day 7 (5-9) Timepoint / CRP (mg/L)",
        "value: Inflammatory Markers / Day 7 (5-9) Timepoint / CRP (mg/dL)",
    )
    with pytest.raises(MappingError, match=r"observations\[3\] \(CRP\)\.value") as error:
        MappingSource(mapping, [cd22(shared_data)])
    assert "closest: 'Inflammatory Markers / Day 7 (5-9) Timepoint / CRP (mg/L)'" in str(
        error.value
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "sheet: Sel Data w Dates (ev and odd)",
            "sheet: Data",
            "files.clinical.sheet: no sheet 'Data' in clinical_data_05-12-20_v1.xlsx; it has: "
            "Sel Data w Dates (ev and odd)",
        ),
        (
            "path: day_after_infusion_data_export.csv",
            "path: cytokines.csv",
            "files.cytokines.path: 'cytokines.csv' not found in",
        ),
        (
            "grading_scale: astct_2019",
            "grading_scal: astct_2019",
            "unknown key 'grading_scal' (did you mean 'grading_scale'?)",
        ),
        ("map: lab_results}", "map: lab_result}", "no value map 'lab_result'"),
        ("key: CRS|astct_2019", "key: CRS|lee_2014", "as do those of adverse_events[0]"),
        ("mapping_version: 1", "mapping_version: 2", "mapping_version: must be 1"),
        (
            "grade: Max Grade CRS_ASBMT",
            "grade: Max Grade CRS_ASBMT\n    onset: {date: Toci}",
            "infusion_date is relative",
        ),
        ("    Hemolyzed: null", "    yes: null", "quote yes, no"),
    ],
)
def test_invalid_mappings_fail_with_a_clear_message(
    shared_data: Path, tmp_path: Path, old: str, new: str, expected: str
) -> None:
    with pytest.raises(MappingError, match=r"^mapping broken\.yaml: ") as error:
        MappingSource(broken_cd22(tmp_path, old, new), [cd22(shared_data)])
    assert expected in str(error.value)


# ------------------------------------------------------------------------------------------
# hand-written files


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


ABSOLUTE_MAPPING = """
mapping_version: 1
files:
  patients: {path: patients.csv, header_rows: 2, subject_id: ID / Patient}
  events: {path: events.xlsx, subject_id: Patient}
value_maps:
  sex: {"1": M, "2": F}
subjects:
  file: patients
  study_id: SITE-01
  site_id: "001"
  product: ACME-19 CAR T
  target_antigen: CD19
  diagnosis: B-ALL
  sex: {column: Baseline / Sex, map: sex}
  infusion_date: {date: Baseline / Infusion date, format: "%d/%m/%Y"}
observations:
  - code: CRP
    file: patients
    value: Labs / CRP day 7 (mg/L)
    unit: mg/L
    at: {date: Labs / CRP drawn, format: "%d/%m/%Y %H:%M", nominal_day: 7}
adverse_events:
  - term: Cytokine release syndrome
    file: events
    grade: CRS grade
    grading_scale: ASTCT
    onset: {date: CRS onset}
medications:
  - drug: Actemra
    file: events
    given: Toci given
    started: {day: Toci day}
"""


def absolute_site(folder: Path) -> Path:
    """A site with calendar dates: a CSV with a 2-row header (blank group cells belong to the
    group on their left) and a workbook with a real Excel date cell."""
    folder.mkdir()
    write(
        folder / "patients.csv",
        "ID,Baseline,,Labs,\n"
        "Patient,Infusion date,Sex,CRP day 7 (mg/L),CRP drawn\n"
        "P1,15/03/2024,1,12.5,22/03/2024 14:30\n"
        "P2,01/04/2024,2,3.1,\n",
    )
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Patient", "CRS grade", "CRS onset", "Toci given", "Toci day"])
    sheet.append(["P1", 2, dt.datetime(2024, 3, 17), "Y", 2.25])
    sheet.append(["P2", 0, None, "N", None])
    book.save(folder / "events.xlsx")
    return write(folder / "site.yaml", ABSOLUTE_MAPPING)


def test_calendar_dates_and_days_after_a_real_infusion(tmp_path: Path, store_url: str) -> None:
    folder = tmp_path / "site"
    mapping = absolute_site(folder)
    report = load(MappingSource(mapping, [folder]), store_url)
    assert report.status == "committed", report.rejections.to_dict("records")

    def check(session: Session) -> None:
        rows = session.execute(
            select(Subject.subject_key, Subject.sex, Infusion.infusion_date)
            .join(Infusion, Infusion.subject_id == Subject.subject_id)
            .order_by(Subject.subject_key)
        ).all()
        assert [tuple(r) for r in rows] == [
            ("P1", "M", dt.date(2024, 3, 15)),
            ("P2", "F", dt.date(2024, 4, 1)),
        ]
        assert not any(session.scalars(select(Infusion.day_zero_anchored)))
        # a calendar date-time in a site format; an empty one falls back to nominal day 7
        assert measurements(session, "P1", "CRP") == [
            (dt.datetime(2024, 3, 22, 14, 30), 12.5, "mg/L", True)
        ]
        assert measurements(session, "P2", "CRP") == [(dt.datetime(2024, 4, 8), 3.1, "mg/L", False)]
        events = session.execute(
            select(Subject.subject_key, AdverseEvent.reported_grade, AdverseEvent.onset_date)
            .join(Subject, Subject.subject_id == AdverseEvent.subject_id)
            .order_by(Subject.subject_key)
        ).all()
        assert [tuple(e) for e in events] == [("P1", 2, dt.date(2024, 3, 17)), ("P2", 0, None)]
        # day 2.25 after P1's real infusion; "N" for P2 gives no row; Actemra is tocilizumab
        drugs = session.execute(select(DrugExposure.drug, DrugExposure.started_at)).all()
        assert [tuple(d) for d in drugs] == [("tocilizumab", dt.datetime(2024, 3, 17, 6, 0))]
        product = session.scalars(select(Product).where(Product.generic_name == "ACME-19 CAR T"))
        assert [(p.is_approved, p.target_antigen) for p in product] == [(False, "CD19")]

    query(store_url, check)


def test_data_file_unreadable_at_read_time_is_a_file_rejection(
    tmp_path: Path, store_url: str
) -> None:
    folder = tmp_path / "site"
    source = MappingSource(absolute_site(folder), [folder])
    (folder / "events.xlsx").write_bytes(b"not a workbook")
    (folder / "patients.csv").unlink()
    report = load(source, store_url)
    assert report.status == "rejected"
    found = report.rejections.sort_values(["file", "rule"])[["file", "row", "rule"]]
    assert found.to_dict("records") == [  # both changed after the mapping was read
        {"file": "events.xlsx", "row": None, "rule": "file_changed"},
        {"file": "events.xlsx", "row": None, "rule": "unreadable_file"},
        {"file": "patients.csv", "row": None, "rule": "file_changed"},
        {"file": "patients.csv", "row": None, "rule": "unreadable_file"},
    ]


RELATIVE_MAPPING = """
mapping_version: 1
missing_values: ["N/A"]
files:
  labs: {path: labs.csv, subject_id: subject}
  cytokines: {path: cytokines.csv, subject_id: subject}
value_maps:
  lab_results: {Hemolyzed: null}
  analytes: {IL-6: IL6}
subjects:
  file: labs
  study_id: S
  site_id: A
  product: X CAR T
  infusion_date: relative
observations:
  - code: LDH
    file: labs
    value: {column: ldh, map: lab_results}
    unit: U/L
    at: {day: ldh day, nominal_day: 7}
  - file: cytokines
    code: {column: analyte, map: analytes}
    value: level
    unit: pg/mL
    at: {day: day}
medications:
  - {drug: tocilizumab, file: labs, given: toci}
"""


def relative_site(folder: Path, labs: str, cytokines: str) -> Path:
    folder.mkdir()
    write(folder / "labs.csv", labs)
    write(folder / "cytokines.csv", cytokines)
    return write(folder / "site.yaml", RELATIVE_MAPPING)


def test_values_outside_value_maps_reach_the_pipeline_and_are_rejected(
    tmp_path: Path, store_url: str
) -> None:
    folder = tmp_path / "site"
    mapping = relative_site(
        folder,
        "subject,ldh,ldh day,toci\nA,250,7.5,1\nB,Hemolyzed,7,N/A\nC,clotted,7,maybe\nD,300,,0\n",
        "subject,analyte,day,level\nA,IL-6,3,12.5\nA,IL-99,3,1.0\nB,IL-6,3,\n",
    )
    report = load(MappingSource(mapping, [folder]), store_url)
    assert report.status == "rejected"
    found = report.rejections.sort_values(["file", "row"])
    assert found[["file", "row", "field", "value", "rule"]].to_dict("records") == [
        {
            "file": "cytokines.csv",
            "row": 2,
            "field": "code",
            "value": "IL-99",
            "rule": "unknown_code",
        },
        {"file": "labs.csv", "row": 3, "field": "value", "value": "clotted", "rule": "number"},
        {"file": "labs.csv", "row": 3, "field": "toci", "value": "maybe", "rule": "vocabulary"},
    ]
    assert (
        "labs.csv: 1 value(s) read as missing through value map 'lab_results' ('Hemolyzed' ×1)"
        in (report.notes)
    )
    assert "cytokines.csv: 1 empty values skipped" in report.notes


def test_relative_days_and_nominal_fallback(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    relative_site(
        tmp_path / "site",
        "subject,ldh,ldh day,toci\nA,250,7.5,1\nD,300,,0\n",
        "subject,analyte,day,level\nA,IL-6,3,12.5\n",
    )
    monkeypatch.chdir(tmp_path)  # the command line passes paths as typed: relative ones too
    source = MappingSource(Path("site/site.yaml"), [Path("site")])
    assert [f.name for f in source.files] == ["site.yaml", "labs.csv", "cytokines.csv"]
    report = load(source, store_url)
    assert report.status == "committed", report.rejections.to_dict("records")

    def check(session: Session) -> None:
        # day 7.5 -> anchor + 7 days 12:00; an empty day falls back to nominal day 7 (no time)
        assert measurements(session, "A", "LDH") == [
            (dt.datetime(2000, 1, 8, 12), 250.0, "U/L", True)
        ]
        assert measurements(session, "D", "LDH") == [(dt.datetime(2000, 1, 8), 300.0, "U/L", False)]
        assert measurements(session, "A", "IL6") == [
            (dt.datetime(2000, 1, 4), 12.5, "pg/mL", False)
        ]
        drugs = session.execute(select(DrugExposure.drug, DrugExposure.started_at)).all()
        assert [tuple(d) for d in drugs] == [("tocilizumab", None)]

    query(store_url, check)


# ------------------------------------------------------------------------------------------
# encodings of mapped CSVs


def reencoded_cd22(shared_data: Path, tmp_path: Path, encoding: str) -> Path:
    """A copy of the CD22 export whose two CSVs are re-encoded, the ID key's unmapped first
    header given a non-ASCII character so that the encodings differ."""
    folder = tmp_path / encoding
    folder.mkdir()
    for file in cd22(shared_data).iterdir():
        data = file.read_bytes()
        if file.suffix == ".csv":
            text = data.decode("utf-8").replace("Protocol ID", "Protocol ID (n°)", 1)
            data = text.encode(encoding)
        (folder / file.name).write_bytes(data)
    return folder


def frames_by_kind(source: MappingSource) -> dict[Kind, pd.DataFrame]:
    frames: dict[Kind, list[pd.DataFrame]] = {}
    for chunk in source.chunks():
        frames.setdefault(chunk.kind, []).append(chunk.frame)
    return {kind: pd.concat(parts, ignore_index=True) for kind, parts in frames.items()}


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig"])
def test_mapped_csv_without_a_named_encoding_falls_back_like_tidy_csv(
    shared_data: Path, tmp_path: Path, store_url: str, encoding: str
) -> None:
    expected = frames_by_kind(MappingSource(CD22_MAPPING, [cd22(shared_data)]))
    folder = reencoded_cd22(shared_data, tmp_path, encoding)
    read = frames_by_kind(MappingSource(CD22_MAPPING, [folder]))
    assert read.keys() == expected.keys()
    for kind, frame in expected.items():
        pd.testing.assert_frame_equal(read[kind], frame, obj=str(kind))
    report = load(MappingSource(CD22_MAPPING, [folder]), store_url)
    assert report.status == "committed", report.message
    fallback = [note for note in report.notes if "read as Windows-1252" in note]
    if encoding == "cp1252":
        assert fallback == [
            f"{ID_KEY}: not UTF-8 text; read as Windows-1252 (cp1252), the fallback"
        ]
    else:
        assert fallback == []


def test_mapped_csv_with_a_named_encoding_is_read_as_given(
    shared_data: Path, tmp_path: Path
) -> None:
    folder = reencoded_cd22(shared_data, tmp_path, "cp1252")
    mapping = broken_cd22(
        tmp_path, "subject_id: Randomized ID", "subject_id: Randomized ID\n    encoding: utf8"
    )
    source = MappingSource(mapping, [folder])
    list(source.chunks())
    assert source.log.uses[ID_KEY].use == "unreadable"
