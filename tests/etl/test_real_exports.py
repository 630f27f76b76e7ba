"""Real exports as they arrive (issue 13): R's and SAS's missing values, truncated files, unused
domains and folders with nothing to load, through ``etl.load`` and ``pv-monitor load`` on SQLite
and PostgreSQL. Every rejected load leaves the store exactly as it was.

The files come from ../shared/data (read in place); the R-style exports, truncations and
corruptions are written by the tests into tmp_path.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from etl import load
from etl.load import ACCEPT_PARTIAL
from etl.sources import IGNORED, NOT_RECOGNISED, USED
from etl.sources.mapping import MappingSource
from pv_monitor.cli import app
from tests.etl.conftest import assert_same_store, count, query, snapshot, write_export

PILOT = "sdtm_cdiscpilot01"
runner = CliRunner()


def _r_style(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` as R's ``write.csv`` does: texts quoted, numbers bare, ``NA`` for every
    missing or empty value."""

    def cell(value: object) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
            return "NA"
        if isinstance(value, float):
            return f"{value:g}"
        if isinstance(value, int):
            return str(value)
        return '"' + str(value).replace('"', '""') + '"'

    lines = [",".join(f'"{name}"' for name in frame.columns)]
    lines += [",".join(cell(v) for v in row) for row in frame.itertuples(index=False)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _unchanged(before: dict[str, pd.DataFrame], store: str) -> None:
    """The clinical tables are as they were (the audit log has gained the rejected batch's
    record, as every batch's)."""
    after = snapshot(store)
    after.pop("audit_log")
    assert_same_store({t: f for t, f in before.items() if t != "audit_log"}, after)


def _xpt(path: Path) -> pd.DataFrame:
    return pd.read_sas(path, format="xport", encoding="utf-8")


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_an_r_style_sdtm_export_loads_with_no_na_rejection(
    store: str, shared_data: Path, tmp_path: Path
) -> None:
    # DM and EX of pharmaversesdtm and the pilot's CM (the existing SDTM tests load these: the
    # 254 dosed subjects of the patch study), re-written as R writes them, with the upstream
    # package's own R exports of SUPPDM, SV, TS (Windows-1252) and MH beside them.
    pharmaverse, upstream = (
        shared_data / "pharmaversesdtm",
        shared_data / "pharmaversesdtm_upstream",
    )
    folder = tmp_path / "r_export"
    folder.mkdir()
    dm = _csv(pharmaverse / "dm.csv")
    ex = _csv(pharmaverse / "ex.csv")
    cm = _xpt(shared_data / PILOT / "sdtm" / "cm.xpt")
    _r_style(dm, folder / "dm.csv")
    _r_style(ex, folder / "ex.csv")
    _r_style(cm, folder / "cm.csv")
    open_ended = int((cm["CMENDTC"] == "").sum())  # each an NA in the file: once rejected
    assert open_ended == 6812
    files = [folder / "dm.csv", folder / "ex.csv", folder / "cm.csv"]
    files += [upstream / name for name in ("suppdm.csv", "sv.csv", "ts.csv", "mh.csv")]

    report = load(files, "sdtm", database_url=store, actor="test")

    assert (report.status, report.exit_code, report.rejected_total) == ("committed", 0, 0)
    dosed = ex["USUBJID"].nunique()
    assert count(store, "subject") == dosed == 254
    assert count(store, "drug_exposure") == len(ex) - dosed + len(cm)
    assert count(store, "death") == int((dm["DTHDTC"] != "").sum()) == 3
    stored = query(
        store,
        "SELECT COUNT(*) AS n FROM drug_exposure WHERE source_key LIKE 'CM|%' AND ended_at IS NULL",
    )["n"].iloc[0]
    assert stored == open_ended
    uses = {use.name: (use.use, use.why) for use in report.uses}
    for name, domain in (("sv.csv", "SV"), ("ts.csv", "TS"), ("mh.csv", "MH")):
        assert uses[name] == (IGNORED, f"domain {domain} is not used by pv-monitor")
    assert uses["suppdm.csv"][0] == IGNORED and "COMPLT16" in uses["suppdm.csv"][1]
    assert {name for name, (use, _) in uses.items() if use == USED} == {
        "dm.csv",
        "ex.csv",
        "cm.csv",
    }


def _first_load(store: str, shared_data: Path) -> dict[str, pd.DataFrame]:
    """Load the pilot's DM and EX, and return the store's snapshot."""
    folder = shared_data / PILOT / "sdtm"
    report = load([folder / "dm.xpt", folder / "ex.xpt"], "sdtm", database_url=store, actor="test")
    assert report.status == "committed"
    return snapshot(store)


def _pilot(shared_data: Path, folder: Path, *names: str) -> Path:
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes((shared_data / PILOT / "sdtm" / name).read_bytes())
    return folder


@pytest.mark.parametrize("policy", ["all_or_nothing", ACCEPT_PARTIAL])
def test_a_truncated_xpt_is_rejected_whole_and_the_store_is_unchanged(
    store: str, shared_data: Path, tmp_path: Path, policy: str
) -> None:
    before = _first_load(store, shared_data)
    folder = _pilot(shared_data, tmp_path / "sdtm", "dm.xpt", "ex.xpt", "ae.xpt")
    (folder / "ae.xpt").write_bytes((folder / "ae.xpt").read_bytes()[:700_000])

    report = load([folder], "sdtm", database_url=store, actor="test", policy=policy)

    assert report.exit_code == 1
    found = report.rejections[report.rejections["file"] == "ae.xpt"]
    assert found["rule"].tolist() == ["unreadable_file"]
    assert "last record is incomplete" in found["reason"].iloc[0]
    assert "ae.xpt" not in report.files or report.files["ae.xpt"].rows_read == 0
    if policy == ACCEPT_PARTIAL:  # DM and EX are unchanged; not one of AE's 555 rows is written
        assert report.status == "partial" and count(store, "adverse_event") == 0
    else:
        assert report.status == "rejected"
    _unchanged(before, store)


def test_a_truncated_dm_is_one_rejection_not_thousands_of_unknown_subjects(
    store: str, shared_data: Path, tmp_path: Path
) -> None:
    folder = _pilot(shared_data, tmp_path / "sdtm", "dm.xpt", "ex.xpt", "ae.xpt", "cm.xpt")
    (folder / "dm.xpt").write_bytes((folder / "dm.xpt").read_bytes()[:60_000])
    before = snapshot(store)

    report = load([folder], "sdtm", database_url=store, actor="test")

    assert (report.status, report.exit_code) == ("rejected", 1)
    assert report.rejections[["file", "rule"]].values.tolist() == [["dm.xpt", "unreadable_file"]]
    _unchanged(before, store)


def test_a_truncated_csv_gz_is_a_rejection_not_a_crash(
    store: str, shared_data: Path, tmp_path: Path
) -> None:
    pharmaverse = shared_data / "pharmaversesdtm"
    vs = tmp_path / "vs.csv.gz"
    content = (pharmaverse / "vs.csv.gz").read_bytes()
    vs.write_bytes(content[: len(content) // 2])
    before = snapshot(store)

    report = load(
        [pharmaverse / "dm.csv", pharmaverse / "ex.csv", vs], "sdtm", database_url=store, actor="t"
    )

    assert (report.status, report.exit_code) == ("rejected", 1)
    found = report.rejections
    assert found[["file", "rule"]].values.tolist() == [["vs.csv.gz", "unreadable_file"]]
    assert "the gzip file is truncated" in found["reason"].iloc[0]
    _unchanged(before, store)


def test_sdtm_without_usubjid_is_a_columns_rejection_not_a_crash(
    store: str, shared_data: Path, tmp_path: Path
) -> None:
    pharmaverse = shared_data / "pharmaversesdtm"
    ae = _csv(pharmaverse / "ae.csv").drop(columns=["USUBJID"])
    ae.to_csv(tmp_path / "ae.csv", index=False)
    before = snapshot(store)

    report = load(
        [pharmaverse / "dm.csv", pharmaverse / "ex.csv", tmp_path / "ae.csv"],
        "sdtm",
        database_url=store,
        actor="test",
    )

    assert (report.status, report.exit_code) == ("rejected", 1)
    found = report.rejections
    assert found[["file", "rule"]].values.tolist() == [["ae.csv", "columns"]]
    assert "USUBJID" in found["reason"].iloc[0]
    _unchanged(before, store)


@pytest.mark.parametrize("export_format", ["tidy", "sdtm"])
def test_a_folder_with_no_file_of_the_format_is_rejected_with_exit_1(
    store: str, tmp_path: Path, export_format: str
) -> None:
    load([write_export(tmp_path / "first")], "tidy", database_url=store, actor="test")
    before = snapshot(store)
    folder = tmp_path / "not_an_export"
    folder.mkdir()
    (folder / "README.txt").write_text("E2B files of 2026-12")
    (folder / "case_0001.xml").write_text("<ichicsr/>")

    report = load([folder], export_format, database_url=store, actor="test")

    assert (report.status, report.exit_code) == ("rejected", 1)
    assert {use.use for use in report.uses} == {NOT_RECOGNISED}
    assert sorted(report.rejections["file"]) == ["README.txt", "case_0001.xml"]
    assert set(report.rejections["rule"]) == {"not_recognised"}
    _unchanged(before, store)
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = load([empty], export_format, database_url=store, actor="test")
    assert (nothing.status, nothing.exit_code) == ("rejected", 1)
    _unchanged(before, store)


def test_pv_monitor_load_exits_1_on_a_folder_with_nothing_to_load(
    store: str, tmp_path: Path
) -> None:
    folder = tmp_path / "not_an_export"
    folder.mkdir()
    (folder / "define.xml").write_text("<ODM/>")
    before = snapshot(store)

    result = runner.invoke(app, ["--database-url", store, "load", str(folder), "--format", "sdtm"])

    assert result.exit_code == 1, result.output
    assert "define.xml: not recognised (not an SDTM dataset" in result.output
    _unchanged(before, store)


def test_pv_monitor_load_exits_1_on_a_truncated_xpt(
    store: str, shared_data: Path, tmp_path: Path
) -> None:
    folder = _pilot(shared_data, tmp_path / "sdtm", "dm.xpt", "ex.xpt", "ae.xpt")
    (folder / "ae.xpt").write_bytes((folder / "ae.xpt").read_bytes()[:700_000])
    before = snapshot(store)

    result = runner.invoke(app, ["--database-url", store, "load", str(folder), "--format", "sdtm"])

    assert result.exit_code == 1, result.output
    assert "ae.xpt: unreadable" in result.output
    _unchanged(before, store)


# ---- spreadsheets (mapping files) ----------------------------------------------------------

CD22_MAPPING = Path(__file__).resolve().parents[2] / "examples" / "mappings" / "cd22_trial.yaml"
CD22_WORKBOOK = "clinical_data_05-12-20_v1.xlsx"


def _cd22_copy(shared_data: Path, folder: Path) -> Path:
    folder.mkdir()
    for path in (shared_data / "cart_cd22_hlh").iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_a_truncated_workbook_is_an_unreadable_file(shared_data: Path, tmp_path: Path) -> None:
    folder = _cd22_copy(shared_data, tmp_path / "cd22")
    workbook = folder / CD22_WORKBOOK
    workbook.write_bytes(workbook.read_bytes()[:100_000])  # no longer a zip: its end is gone

    source = MappingSource(CD22_MAPPING, [folder])
    list(source.chunks())

    found = pd.concat(source.log.problems)
    assert found[["file", "rule"]].values.tolist() == [[CD22_WORKBOOK, "unreadable_file"]]
    assert "not a readable Excel workbook" in found["reason"].iloc[0]


def test_a_workbook_with_a_corrupt_sheet_is_an_unreadable_file(
    shared_data: Path, tmp_path: Path
) -> None:
    folder = _cd22_copy(shared_data, tmp_path / "cd22")
    workbook = folder / CD22_WORKBOOK
    with zipfile.ZipFile(workbook) as archive:
        sheet = archive.getinfo("xl/worksheets/sheet1.xml")
    content = bytearray(workbook.read_bytes())
    middle = sheet.header_offset + sheet.compress_size // 2  # the rows, past the 3-row header
    content[middle : middle + 400] = bytes(400)
    workbook.write_bytes(bytes(content))

    source = MappingSource(CD22_MAPPING, [folder])
    list(source.chunks())  # was: xml.etree.ElementTree.ParseError

    found = pd.concat(source.log.problems)
    assert found[["file", "rule"]].values.tolist() == [[CD22_WORKBOOK, "unreadable_file"]]
    assert "the workbook is truncated or corrupt" in found["reason"].iloc[0]
