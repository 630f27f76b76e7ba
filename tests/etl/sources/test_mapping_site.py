"""Mapping files a new site can write (issue 13, finding 9): missing-value literals, conditions
on subjects and on empty cells, columns versus constants, study/site/product constants, a unit
per cohort, paths kept inside the folders loaded, and every file accounted for.

The daily flowsheet of ``examples/mappings/flowsheet_daily.yaml`` (the second worked example of
docs/mapping_guide.md) is built here, in a temporary folder, by :func:`flowsheet_export`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from etl.dry_run import dry_run
from etl.load import ACCEPT_PARTIAL, LoadReport, load_source
from etl.sources import IGNORED, UNREADABLE, USED
from etl.sources.mapping import MappingError, MappingSource
from pv_monitor.store.engine import create_store_engine
from pv_monitor.store.migrate import upgrade
from pv_monitor.store.models import Infusion, Measurement, Product, Subject

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "mappings"
FLOWSHEET_MAPPING = EXAMPLES / "flowsheet_daily.yaml"
CD22_MAPPING = EXAMPLES / "cd22_trial.yaml"


def load(source: MappingSource, url: str) -> LoadReport:
    upgrade(url)
    return load_source(source, database_url=url, actor="test")


def stored(url: str, statement: Any) -> list[tuple[Any, ...]]:
    engine = create_store_engine(url)
    try:
        with Session(engine) as session:
            return [tuple(row) for row in session.execute(statement)]
    finally:
        engine.dispose()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def measured(url: str, code: str) -> list[tuple[Any, ...]]:
    return stored(
        url,
        select(Subject.subject_key, Measurement.measured_at, Measurement.value, Measurement.unit)
        .join(Subject, Subject.subject_id == Measurement.subject_id)
        .where(Measurement.code == code)
        .order_by(Subject.subject_key, Measurement.measured_at),
    )


def site(folder: Path, mapping: str, **files: str) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        write(folder / name.replace("_csv", ".csv"), text)
    return write(folder / "site.yaml", mapping)


SMALL = """
mapping_version: 1
{missing}
files:
  labs: {{path: labs.csv, subject_id: subject{file_missing}}}
subjects:
  file: labs
  study_id: S
  site_id: A
  product: X CAR T
  infusion_date: relative
observations:
  - {{code: CRP, value: crp, unit: mg/L, at: {{day: day}}}}
"""
LABS = (
    "subject,day,crp\nP1,1,12.5\nP2,1,NA\nP3,1,.\nP4,1,NULL\nP5,1,N/A\nP6,1,\nP7,1, n/a \n"
    "P8,1,-99\n"
)


# ------------------------------------------------------------------------------------------
# missing values


def test_default_missing_values_are_read_as_missing_not_as_bad_numbers(
    tmp_path: Path, store_url: str
) -> None:
    mapping = site(tmp_path, SMALL.format(missing="", file_missing=""), labs_csv=LABS)
    report = load(MappingSource(mapping, [tmp_path]), store_url)
    # NA, ., NULL, N/A (any case, any spaces) and empty are missing: no CRP row, no rejection;
    # -99 is not on the default list, so it is a value and the range check rejects it.
    assert report.rejections[["row", "value", "rule"]].to_dict("records") == [
        {"row": 8, "value": "-99", "rule": "range"}
    ]
    assert (
        "labs.csv: 5 cell(s) read as missing ('NA' ×1, '.' ×1, 'NULL' ×1, 'N/A' ×1, ' n/a ' ×1)"
        in report.notes
    )
    assert "labs.csv: 6 empty values skipped" in report.notes  # the 5, and one empty cell


def test_missing_values_accept_empty_and_a_file_list_replaces_the_top_level_one(
    tmp_path: Path, store_url: str
) -> None:
    # Before: `missing_values: [""]` was refused ("expected a text value").
    text = SMALL.format(missing='missing_values: [""]', file_missing=", missing_values: [-99, NA]")
    mapping = site(tmp_path, text, labs_csv=LABS)
    source = MappingSource(mapping, [tmp_path])
    report = load(source, store_url)
    # The file's own list applies to labs.csv: -99 and NA are missing there; ".", "NULL" and
    # "N/A" are not on it, so they reach the pipeline and are rejected as not numbers.
    found = report.rejections.sort_values("row")[["row", "value", "rule"]]
    assert found.to_dict("records") == [
        {"row": 3, "value": ".", "rule": "number"},
        {"row": 4, "value": "NULL", "rule": "number"},
        {"row": 5, "value": "N/A", "rule": "number"},
        {"row": 7, "value": "n/a", "rule": "number"},
    ]
    assert "labs.csv: 2 cell(s) read as missing ('NA' ×1, '-99' ×1)" in report.notes


def test_only_empty_is_missing_with_an_empty_list(tmp_path: Path) -> None:
    text = SMALL.format(missing='missing_values: [""]', file_missing="")
    source = MappingSource(site(tmp_path, text, labs_csv=LABS), [tmp_path])
    values = next(c.frame for c in source.chunks() if c.kind.value == "observations")
    assert values["value"].tolist() == ["12.5", "NA", ".", "NULL", "N/A", "n/a", "-99"]


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ("missing_values: [no]", "quote yes, no"),
        ("missing_values: NA", "expected a list of cell texts"),
        ("missing_values: [[NA]]", "expected a cell text"),
    ],
)
def test_invalid_missing_values_are_refused(tmp_path: Path, missing: str, expected: str) -> None:
    mapping = site(tmp_path, SMALL.format(missing=missing, file_missing=""), labs_csv=LABS)
    with pytest.raises(MappingError, match="missing_values") as error:
        MappingSource(mapping, [tmp_path])
    assert expected in str(error.value)


# ------------------------------------------------------------------------------------------
# conditions


CONDITIONS = """
mapping_version: 1
files:
  patients: {path: patients.csv, subject_id: Patient}
  labs: {path: labs.csv, subject_id: Patient}
subjects:
  file: patients
  when: {column: Infused, equals: "Y"}
  study_id: S
  site_id: A
  product: X CAR T
  infusion_date: {date: Infusion, format: "%Y-%m-%d"}
observations:
  - name: first draws
    code: CRP
    file: labs
    when: {column: Repeat, equals: ""}
    value: CRP
    unit: mg/L
    at: {date: Drawn}
"""


def test_subjects_when_and_a_condition_that_selects_empty_cells(
    tmp_path: Path, store_url: str
) -> None:
    mapping = site(
        tmp_path,
        CONDITIONS,
        patients_csv="Patient,Infused,Infusion\nP1,Y,2024-03-01\nP2,N,\nP3,Y,2024-03-05\n",
        labs_csv="Patient,Drawn,CRP,Repeat\n"
        "P1,2024-03-02,10,\nP1,2024-03-02,11,repeat\nP3,2024-03-06,20,\nP3,2024-03-07,21,NA\n",
    )
    report = load(MappingSource(mapping, [tmp_path]), store_url)
    assert report.status == "committed", report.rejections.to_dict("records")
    # P2 (never infused) is not a subject; the repeat draw is not read. "NA" is missing, so it
    # is empty too and P3's second row is read.
    assert stored(store_url, select(Subject.subject_key).order_by(Subject.subject_key)) == [
        ("P1",),
        ("P3",),
    ]
    assert "patients.csv: 1 row(s) are not subjects: Infused is not 'Y'" in report.notes
    assert (
        "labs.csv: 1 row(s) not read by observations[0] (first draws): Repeat is not empty"
        in report.notes
    )
    assert measured(store_url, "CRP") == [
        ("P1", dt.datetime(2024, 3, 2), 10.0, "mg/L"),
        ("P3", dt.datetime(2024, 3, 6), 20.0, "mg/L"),
        ("P3", dt.datetime(2024, 3, 7), 21.0, "mg/L"),
    ]


def test_condition_on_empty_cells_reads_only_them(tmp_path: Path, store_url: str) -> None:
    mapping = site(
        tmp_path,
        CONDITIONS,
        patients_csv="Patient,Infused,Infusion\nP1,Y,2024-03-01\n",
        labs_csv="Patient,Drawn,CRP,Repeat\nP1,2024-03-02,10,\nP1,2024-03-03,11,repeat\n",
    )
    report = load(MappingSource(mapping, [tmp_path]), store_url)
    assert report.status == "committed", report.rejections.to_dict("records")
    assert measured(store_url, "CRP") == [("P1", dt.datetime(2024, 3, 2), 10.0, "mg/L")]


# ------------------------------------------------------------------------------------------
# a column or a constant


AMBIGUOUS = """
mapping_version: 1
files:
  patients: {{path: patients.csv, subject_id: Patient}}
subjects:
  file: patients
  study_id: S
  site_id: A
  product: X CAR T
  infusion_date: relative
  {field}
"""
PATIENTS = "Patient,Age,Sex,Weight\nP1,34,F,61.5\nP2,71,M,80\n"


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (
            "age_years: Age",
            "subjects.age_years: 'Age' is text, but age_years is a number. To read each "
            "subject's value from a column write age_years: {column: Age}; for the same value "
            "for every subject write a number (e.g. age_years: 40)",
        ),
        (  # not a column name either: still not a number
            "weight_kg: body weight",
            "weight_kg: {column: body weight}",
        ),
        (
            "sex: Sex",
            "subjects.sex: 'Sex' is also a column of patients.csv, so it is not clear which is "
            "meant. To read the column write sex: {column: Sex}; for the text itself, the same "
            "on every row, write sex: {constant: Sex}",
        ),
    ],
)
def test_bare_text_that_could_be_a_column_is_refused_saying_how_to_write_each(
    tmp_path: Path, field: str, expected: str
) -> None:
    mapping = site(tmp_path, AMBIGUOUS.format(field=field), patients_csv=PATIENTS)
    with pytest.raises(MappingError) as error:
        MappingSource(mapping, [tmp_path])
    assert expected in str(error.value)


def test_columns_and_constants_written_explicitly_load(tmp_path: Path, store_url: str) -> None:
    fields = "age_years: {column: Age}\n  sex: {constant: F}\n  weight_kg: 70"
    mapping = site(tmp_path, AMBIGUOUS.format(field=fields), patients_csv=PATIENTS)
    report = load(MappingSource(mapping, [tmp_path]), store_url)
    assert report.status == "committed", report.rejections.to_dict("records")
    rows = stored(
        store_url,
        select(Subject.subject_key, Subject.age_years, Subject.sex, Subject.weight_kg).order_by(
            Subject.subject_key
        ),
    )
    assert rows == [("P1", 34.0, "F", 70.0), ("P2", 71.0, "F", 70.0)]


def test_a_code_may_name_its_own_value_column(tmp_path: Path) -> None:
    # code: CRP with value: CRP is the wide-file idiom: a column cannot be both, so CRP is the
    # code; but a unit that names a column is ambiguous.
    text = SMALL.format(missing="", file_missing="").replace(
        "value: crp, unit: mg/L", "value: CRP, unit: mg/L"
    )
    labs = "subject,day,CRP\nP1,1,12.5\n"
    source = MappingSource(
        site(tmp_path, text.replace("code: CRP", "code: crp"), labs_csv=labs), [tmp_path]
    )
    assert [
        c.frame["code"].tolist() for c in source.chunks() if c.kind.value == "observations"
    ] == [["crp"]]
    unit_clash = text.replace("unit: mg/L", "unit: day")
    with pytest.raises(
        MappingError, match=r"observations\[0\] \(CRP\)\.unit: 'day' is also a column"
    ):
        MappingSource(site(tmp_path, unit_clash, labs_csv=labs), [tmp_path])


# ------------------------------------------------------------------------------------------
# study, site and product


def test_product_study_and_site_constants_are_noted_with_where_they_came_from(
    tmp_path: Path, store_url: str
) -> None:
    text = SMALL.format(missing="", file_missing="").replace(
        "product: X CAR T", "product: {column: Product}"
    )
    labs = "subject,day,crp,Product\nP1,1,12.5,Kymriah\nP2,1,3,Yescarta\n"
    report = load(MappingSource(site(tmp_path, text, labs_csv=labs), [tmp_path]), store_url)
    assert report.status == "committed", report.rejections.to_dict("records")
    assert (
        "labs.csv: subjects' study_id 'S' from the mapping (every subject); site_id 'A' from the "
        "mapping (every subject); product from column 'Product'"
    ) in report.notes
    products = stored(
        store_url,
        select(Subject.subject_key, Product.generic_name)
        .join(Infusion, Infusion.subject_id == Subject.subject_id)
        .join(Product, Product.product_id == Infusion.product_id)
        .order_by(Subject.subject_key),
    )
    assert products == [("P1", "tisagenlecleucel"), ("P2", "axicabtagene ciloleucel")]


# ------------------------------------------------------------------------------------------
# the daily flowsheet example: a unit per cohort


def flowsheet_export(folder: Path) -> Path:
    """The export examples/mappings/flowsheet_daily.yaml describes: 3 patients per cohort, days
    0-2, cohort A in C, mg/L and ug/L, cohort B in F, mg/dL and ng/mL, daily CRS and ICANS
    grades (ASTCT 2019, half grades included); P07 never infused."""
    folder.mkdir()
    write(
        folder / "patients.csv",
        "Patient,Cohort,Infused,Product,Infusion date,Age,Sex,Diagnosis\n"
        "P01,A,Y,Yescarta,04/03/2024,61,M,DLBCL\n"
        "P02,A,Y,Yescarta,11/03/2024,55,F,DLBCL\n"
        "P03,A,Y,Kymriah,18/03/2024,47,F,DLBCL\n"
        "P04,B,Y,Kymriah,05/03/2024,9,M,ALL\n"
        "P05,B,Y,Kymriah,12/03/2024,14,F,ALL\n"
        "P06,B,Y,Kymriah,19/03/2024,17,M,ALL\n"
        "P07,B,N,Kymriah,,12,F,ALL\n",
    )
    rows = ["Patient,Cohort,Day,Tmax,CRP,Ferritin,IL-6,CRS grade,ICANS grade"]
    grades = {  # the clinician's daily CRS and ICANS grades (1.5: the mean of two raters)
        "P01": (("0", "1", "2"), ("0", "0", "1.5")),
        "P02": (("0", "0", "0"), ("0", "0", "0")),
        "P03": (("0", "1", "1"), ("0", "NA", "")),
        "P04": (("0", "2", "3"), ("0", "1", "2")),
        "P05": (("0", "0", "0"), ("0", "0", "0")),
        "P06": (("0", "1", "1"), ("0", "0", "0.5")),
    }
    for patient, cohort, temps, crp, ferritin, il6 in (
        (
            "P01",
            "A",
            ("37.2", "38.9", "39.4"),
            ("8", "45", "112"),
            ("410", "980", "2100"),
            ("12", "150", "NA"),
        ),
        (
            "P02",
            "A",
            ("36.8", "37.0", "37.1"),
            ("3", "5", "4"),
            ("250", "", "260"),
            ("4", "6", "not done"),
        ),
        (
            "P03",
            "A",
            ("37.5", "38.2", "NA"),
            ("15", "60", "90"),
            ("600", "700", "N/A"),
            ("20", "", "88"),
        ),
        (
            "P04",
            "B",
            ("98.6", "102.2", "103.1"),
            ("0.9", "6.5", "14.2"),
            ("350", "1200", "5400"),
            ("9", "310", "1250"),
        ),
        (
            "P05",
            "B",
            ("98.2", "98.9", "99.1"),
            ("0.3", "0.4", ""),
            ("150", "160", "170"),
            ("3", "NA", "5"),
        ),
        (
            "P06",
            "B",
            ("99.5", "101.3", "100.4"),
            ("1.2", "3.3", "2.8"),
            ("500", "650", "700"),
            ("15", "40", "35"),
        ),
    ):
        for day in range(3):
            crs, icans = (scale[day] for scale in grades[patient])
            rows.append(
                f"{patient},{cohort},{day},{temps[day]},{crp[day]},{ferritin[day]},{il6[day]},"
                f"{crs},{icans}"
            )
    write(folder / "flowsheet.csv", "\n".join(rows) + "\n")
    write(folder / "README.txt", "exported from the flowsheet system\n")
    return folder


def test_flowsheet_example_loads_with_a_unit_per_cohort(tmp_path: Path, store_url: str) -> None:
    folder = flowsheet_export(tmp_path / "export")
    report = load(MappingSource(FLOWSHEET_MAPPING, [folder]), store_url)
    assert report.status == "committed", report.rejections.to_dict("records")
    assert report.rejected_total == 0
    # Each cohort's value in its own unit, stored in the canonical unit: cohort B's 102.2 F is
    # 39 C, its CRP 6.5 mg/dL is 65 mg/L; ferritin ng/mL and ug/L are the same number.
    temps = {(s, t.date()): round(v, 2) for s, t, v, _ in measured(store_url, "TEMP")}
    assert temps[("P01", dt.date(2024, 3, 5))] == 38.9
    assert temps[("P04", dt.date(2024, 3, 6))] == 39.0
    assert len(temps) == 17  # 18 patient-days, P03's day-2 Tmax "NA"
    crp = {(s, t.date()): (v, u) for s, t, v, u in measured(store_url, "CRP")}
    assert crp[("P01", dt.date(2024, 3, 6))] == (112.0, "mg/L")
    assert crp[("P04", dt.date(2024, 3, 6))] == (65.0, "mg/L")
    assert len(crp) == 17  # P05's day-2 CRP is empty
    ferritin = measured(store_url, "FERRITIN")
    assert len(ferritin) == 16  # P02's empty day 1 and P03's "N/A"
    assert {u for *_, u in ferritin} == {"ng/mL"}
    assert len(measured(store_url, "IL6")) == 18 - 4  # NA, not done, empty, NA
    # daily grades as given, on their scale: P01's day-2 ICANS 1.5 (two raters) is not rounded
    assert len(measured(store_url, "CRS_GRADE")) == 18
    icans = {(s, t.date()): (v, u) for s, t, v, u in measured(store_url, "ICANS_GRADE")}
    assert len(icans) == 16  # P03's "NA" and empty day 2
    assert icans[("P01", dt.date(2024, 3, 6))] == (1.5, "astct_2019")
    assert icans[("P06", dt.date(2024, 3, 21))] == (0.5, "astct_2019")
    # P07 was never infused: not a subject, and the notes say so.
    subjects = stored(store_url, select(Subject.subject_key).order_by(Subject.subject_key))
    assert [s for (s,) in subjects] == ["P01", "P02", "P03", "P04", "P05", "P06"]
    assert "patients.csv: 1 row(s) are not subjects: Infused is not 'Y'" in report.notes
    # the branches of a code read every row between them: no note about the other cohort's
    assert not [note for note in report.notes if "not read by" in note or "none of" in note]
    assert "flowsheet.csv: 6 cell(s) read as missing ('NA' ×4, 'N/A' ×1, 'not done' ×1)" in (
        report.notes
    )
    uses = {use.name: (use.use, use.why) for use in report.uses}
    assert uses["README.txt"] == (IGNORED, "not used by the mapping")
    assert uses["flowsheet.csv"][0] == uses["patients.csv"][0] == USED


def test_branches_that_overlap_are_refused(tmp_path: Path) -> None:
    folder = flowsheet_export(tmp_path / "export")
    text = FLOWSHEET_MAPPING.read_text(encoding="utf-8")
    for cohort in ("A", "B"):  # fixed days give every row of a branch the same key
        text = text.replace(
            f"when: {{column: Cohort, equals: {cohort}}}\n    value: CRP",
            f"when: {{column: Cohort, equals: {cohort}}}\n    value: CRP\n    key: CRP|daily",
        )
    exclusive = write(tmp_path / "exclusive.yaml", text)
    MappingSource(exclusive, [folder])  # disjoint conditions: the same key is allowed
    overlapping = write(
        tmp_path / "overlap.yaml",
        text.replace(
            "when: {column: Cohort, equals: B}\n    value: CRP",
            "when: {column: Cohort, equals: [A, B]}\n    value: CRP",
        ),
    )
    with pytest.raises(MappingError, match="as do those of observations\\[2\\]"):
        MappingSource(overlapping, [folder])


# ------------------------------------------------------------------------------------------
# paths stay inside the folders loaded


@pytest.mark.parametrize(
    "path", ["../../../../../../../../etc/passwd", "../outside.csv", "sub/../../outside.csv"]
)
def test_paths_outside_the_folder_are_refused_without_reading_them(
    tmp_path: Path, path: str
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "sub").mkdir()
    write(tmp_path / "outside.csv", "subject,secret\nP1,do not show me\n")
    text = SMALL.format(missing="", file_missing="").replace("path: labs.csv", f"path: {path}")
    mapping = write(tmp_path / "site.yaml", text)
    with pytest.raises(MappingError) as error:
        MappingSource(mapping, [folder])
    message = str(error.value)
    assert "is outside the folder given to the load" in message
    assert "root:" not in message and "secret" not in message and "do not show" not in message


def test_symbolic_links_out_of_the_folder_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    write(tmp_path / "outside.csv", "subject,day,crp\nP1,1,secret\n")
    (folder / "labs.csv").symlink_to(tmp_path / "outside.csv")
    mapping = write(tmp_path / "site.yaml", SMALL.format(missing="", file_missing=""))
    with pytest.raises(MappingError, match=r"files\.labs\.path: 'labs\.csv' is outside the folder"):
        MappingSource(mapping, [folder])
    text = SMALL.format(missing="", file_missing="").replace("path: labs.csv", "path: /etc/passwd")
    with pytest.raises(MappingError, match="not an absolute path"):
        MappingSource(write(tmp_path / "absolute.yaml", text), [folder])


# ------------------------------------------------------------------------------------------
# every file accounted for


def test_every_file_of_the_cd22_folder_is_accounted_for(shared_data: Path) -> None:
    folder = shared_data / "cart_cd22_hlh"
    source = MappingSource(CD22_MAPPING, [folder])
    uses = {use.name: (use.use, use.why) for use in source.log.uses.values()}
    given = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert set(uses) == given | {"cd22_trial.yaml"}
    assert uses["cd22_trial.yaml"] == (USED, "the mapping file")
    assert uses["SOURCE.md"] == (IGNORED, "not used by the mapping")
    assert uses["day_relative_to_CRS_export.csv"] == (IGNORED, "not used by the mapping")
    assert uses["clinical_data_05-12-20_v1.xlsx"] == (USED, "")


def test_links_that_lead_nowhere_and_subfolders_are_accounted_for(tmp_path: Path) -> None:
    mapping = site(tmp_path, SMALL.format(missing="", file_missing=""), labs_csv=LABS)
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    (tmp_path / "old").mkdir()
    write(tmp_path / "old" / "labs.csv", "subject,day,crp\n")
    source = MappingSource(mapping, [tmp_path])
    uses = {use.name: (use.use, use.why) for use in source.log.uses.values()}
    assert uses == {
        "labs.csv": (USED, ""),
        "site.yaml": (USED, "the mapping file"),
        "loop1": (IGNORED, "a symbolic link that leads nowhere"),
        "loop2": (IGNORED, "a symbolic link that leads nowhere"),
        "old/labs.csv": (IGNORED, "not used by the mapping"),
    }


def test_a_file_that_cannot_be_read_is_accounted_as_unreadable(
    tmp_path: Path, store_url: str
) -> None:
    mapping = site(tmp_path, SMALL.format(missing="", file_missing=""), labs_csv="")
    report = load(MappingSource(mapping, [tmp_path]), store_url)
    assert report.status == "rejected"
    uses = {use.name: (use.use, use.why) for use in report.uses}
    assert uses["labs.csv"] == (UNREADABLE, "the file is empty (0 bytes)")
    assert uses["site.yaml"] == (USED, "the mapping file")


# ------------------------------------------------------------------------------------------
# the dry run behind `pv-monitor mapping check`


def test_dry_run_counts_what_a_load_stores(tmp_path: Path, store_url: str) -> None:
    folder = flowsheet_export(tmp_path / "export")
    checked = dry_run(MappingSource(FLOWSHEET_MAPPING, [folder]))
    assert checked.exit_code == 0 and checked.rejected_total == 0
    report = load(MappingSource(FLOWSHEET_MAPPING, [folder]), store_url)
    assert report.status == "committed"
    inserted = sum(file.inserted for file in report.files.values())
    assert sum(checked.stored.values()) == inserted == 6 + 17 + 17 + 16 + 14 + 18 + 16
    assert checked.stored["subject"] == 6
    assert checked.tables["measurement"]["subject_key"].tolist()[:1] == ["P01"]


def test_dry_run_rejects_what_a_load_rejects(tmp_path: Path, store_url: str) -> None:
    folder = flowsheet_export(tmp_path / "export")
    # a second file repeating P01's day-1 CRP (a duplicate only the whole batch can see), a row
    # of a subject not in the export, and cohort B's ferritin in a unit ferritin does not have
    write(folder / "extra.csv", "Patient,Day,CRP\nP01,1,45\nP99,1,3\nP02,2,4.5\n")
    text = FLOWSHEET_MAPPING.read_text(encoding="utf-8").replace("unit: ng/mL", "unit: mmol/L")
    text += (
        "  - {name: extra CRP, code: CRP, file: extra, value: CRP, unit: mg/L, at: {day: Day}}\n"
    )
    text = text.replace(
        "\nfiles:\n", "\nfiles:\n  extra:\n    path: extra.csv\n    subject_id: Patient\n"
    )
    mapping = write(tmp_path / "flowsheet.yaml", text)
    checked = dry_run(MappingSource(mapping, [folder]))
    # accept_partial: an all-or-nothing load stops writing at the first rejection, so the
    # store no longer sees later duplicates; the dry run always looks for them
    upgrade(store_url)
    report = load_source(
        MappingSource(mapping, [folder]),
        database_url=store_url,
        actor="test",
        policy=ACCEPT_PARTIAL,
    )
    assert report.status == "partial"

    def keyed(frame: Any) -> list[tuple[Any, ...]]:
        columns = ["file", "row", "field", "rule"]
        return sorted(tuple(r) for r in frame[columns].astype(str).itertuples(index=False))

    assert keyed(checked.rejections) == keyed(report.rejections)
    assert sorted(checked.rejections["rule"].unique()) == ["duplicate", "unit", "unknown_subject"]
    assert checked.exit_code == 1
    unknown = checked.rejections[checked.rejections["rule"] == "unknown_subject"]
    assert unknown["reason"].tolist() == [
        "subject P99 is not a subject of this export (a load would accept the row only if the "
        "store already has the subject)"
    ]
    # the duplicates' reasons are the store's: the earlier row and the identity compared
    repeats = checked.rejections[checked.rejections["rule"] == "duplicate"]
    assert sorted(repeats["reason"]) == sorted(
        report.rejections.loc[report.rejections["rule"] == "duplicate", "reason"]
    )
    assert sorted(repeats["reason"])[0] == (
        "duplicate of row 1 (loaded earlier in this batch, from another part of the file or "
        "another file): same subject 'P01' and source_key 'CRP|day 1'"
    )


def test_rows_of_a_cohort_no_branch_reads_are_counted(tmp_path: Path, store_url: str) -> None:
    folder = flowsheet_export(tmp_path / "export")
    with (folder / "flowsheet.csv").open("a", encoding="utf-8") as handle:
        handle.write("P01,C,3,37.0,2,300,5,,\nP02,,3,37.1,3,310,6,,\n")
    report = load(MappingSource(FLOWSHEET_MAPPING, [folder]), store_url)
    assert report.status == "committed", report.rejections.to_dict("records")
    # IL-6 has one entry for both cohorts: it is read; TEMP, CRP and ferritin are not, and the
    # notes say which rows and why
    assert (
        "flowsheet.csv: 2 row(s) read by none of the entries of TEMP (observations[0] "
        "(temperature, cohort A), observations[1] (temperature, cohort B)): Cohort is "
        "'C' ×1, '(empty)' ×1"
    ) in report.notes
    assert len(measured(store_url, "IL6")) == 14 + 2
    assert len(measured(store_url, "TEMP")) == 17


def test_a_conflicting_repeat_of_a_stored_row_within_one_load_is_a_duplicate(
    tmp_path: Path, store_url: str
) -> None:
    # P01's day-1 CRP is stored by a first load. A second load repeats it unchanged in extra.csv
    # and gives it another value in flowsheet.csv: the row identical to the store keeps the
    # batch that first wrote it, yet the second occurrence is still a repeat within this load.
    folder = flowsheet_export(tmp_path / "export")
    text = FLOWSHEET_MAPPING.read_text(encoding="utf-8")
    text += (
        "  - {name: extra CRP, code: CRP, file: extra, value: CRP, unit: mg/L, at: {day: Day}}\n"
    )
    text = text.replace(
        "\nfiles:\n", "\nfiles:\n  extra:\n    path: extra.csv\n    subject_id: Patient\n"
    )
    mapping = write(tmp_path / "flowsheet.yaml", text)
    write(folder / "extra.csv", "Patient,Day,CRP\nP02,5,7\n")
    upgrade(store_url)
    first = load_source(MappingSource(mapping, [folder]), database_url=store_url, actor="test")
    assert first.status == "committed", first.rejections.to_dict("records")
    flowsheet = folder / "flowsheet.csv"
    lines = flowsheet.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    at = next(i for i, line in enumerate(lines) if line.startswith("P01,A,1,"))
    cells = lines[at].split(",")
    crp = cells[header.index("CRP")]
    before = measured(store_url, "CRP")
    cells[header.index("CRP")] = str(float(crp) + 5)
    lines[at] = ",".join(cells)
    flowsheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
    write(folder / "extra.csv", f"Patient,Day,CRP\nP01,1,{crp}\n")
    report = load_source(
        MappingSource(mapping, [folder]),
        database_url=store_url,
        actor="test",
        policy=ACCEPT_PARTIAL,
    )
    assert report.status == "partial"
    repeats = report.rejections[report.rejections["rule"] == "duplicate"]
    assert len(repeats) == 1, report.rejections.to_dict("records")
    assert (
        repeats["reason"]
        .iloc[0]
        .endswith(
            "(loaded earlier in this batch, from another part of the file or another file): same "
            "subject 'P01' and source_key 'CRP|day 1'"
        )
    )
    assert sum(file.updated for file in report.files.values()) == 0
    assert measured(store_url, "CRP") == before
