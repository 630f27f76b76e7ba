"""The SDTM reader on real exports (CDISC pilot XPT, pharmaversesdtm CSV) and on the synthetic
SDTM export, which must load to the same store as the synthetic tidy export of the same cohort.

Expected counts are taken from the raw files in the tests themselves (pandas reads the XPT and
CSV files independently of the reader) where that is short; the others were measured once on the
files in ../shared/data and are explained next to the number.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from etl import load
from pv_monitor.cli import upgrade_store
from pv_monitor.synthetic import generate_cohort
from tests.etl.conftest import count, query

PILOT = "sdtm_cdiscpilot01"
MONITORED_VITALS = ("SYSBP", "DIABP", "PULSE", "TEMP")
"""The pilot's VS tests that pv-monitor monitors (WEIGHT and HEIGHT are not observations)."""


def _xpt(path: Path) -> pd.DataFrame:
    return pd.read_sas(path, format="xport", encoding="utf-8")


def test_the_cdisc_pilot_loads_as_two_successive_exports(store: str, shared_data: Path) -> None:
    first, update = shared_data / PILOT / "sdtm", shared_data / PILOT / "sdtm_update2"
    dm, ex = _xpt(first / "dm.xpt"), _xpt(first / "ex.xpt")

    report = load([first], "sdtm", database_url=store, actor="test")

    assert (report.status, report.rejected_total) == ("committed", 0)
    dosed = ex["USUBJID"].nunique()
    assert count(store, "subject") == count(store, "infusion") == dosed == 254
    never_dosed = int((~dm["USUBJID"].isin(ex["USUBJID"])).sum())
    assert f"{never_dosed} subject(s) in DM were never dosed" in " ".join(report.notes)
    # EX: the first administration is the infusion, the others (337) are medications, with CM.
    assert count(store, "drug_exposure") == len(ex) - dosed + len(_xpt(first / "cm.xpt"))
    assert count(store, "adverse_event") == len(_xpt(first / "ae.xpt")) == 1191
    assert count(store, "death") == int((dm["DTHDTC"] != "").sum()) == 3

    second = load([update], "sdtm", database_url=store, actor="test")

    assert (second.status, second.rejected_total) == ("committed", 0)
    vs = _xpt(update / "vs.xpt")
    monitored = vs[vs["VSTESTCD"].isin(MONITORED_VITALS) & (vs["VSORRES"] != "")]
    assert second.files["vs.xpt"].inserted == len(monitored) == 27_331
    # Labs: 7,270 chemistry and 3,597 haematology results of monitored tests (measured).
    assert (second.files["lbch.xpt"].inserted, second.files["lbhe.xpt"].inserted) == (7270, 3597)
    # The update's DM adds each subject's baseline weight (from VS): a correction, audited.
    assert second.files["dm.xpt"].updated == 254
    assert second.files["ae.xpt"].unchanged == len(_xpt(update / "ae.xpt"))
    temperature = query(
        store,
        "SELECT m.value, m.unit, m.value_source_value, m.unit_source_value FROM measurement m "
        "JOIN subject s ON s.subject_id = m.subject_id "
        "WHERE s.subject_key = '01-701-1015' AND m.source_key = 'VS|128'",
    ).iloc[0]
    assert temperature["value"] == pytest.approx((96.9 - 32) * 5 / 9)  # 36.0556 C
    assert (temperature["unit"], temperature["value_source_value"]) == ("C", "96.9")
    assert temperature["unit_source_value"] == "F"
    weight = query(
        store,
        "SELECT a.old_value, a.new_value FROM audit_log a JOIN subject s "
        "ON a.table_name = 'subject' AND a.record_key = CAST(s.subject_id AS VARCHAR(32)) "
        "WHERE s.subject_key = '01-701-1015' AND a.action = 'update'",
    ).iloc[0]
    assert json.loads(weight["old_value"]) == {"weight_kg": None}
    assert json.loads(weight["new_value"]) == {"weight_kg": 54.43}


PHARMAVERSE_FILES = (
    "dm.csv",
    "ex.csv",
    "ae.csv",
    "suppae.csv",
    "ds.csv",
    "lb.csv.gz",
    "vs.csv.gz",
    "rs_onco_imwg.csv",
    "supprs_onco_imwg.csv",
)


def test_pharmaversesdtm_csv_loads(store: str, shared_data: Path) -> None:
    folder = shared_data / "pharmaversesdtm"
    files = [folder / name for name in PHARMAVERSE_FILES]

    report = load(files, "sdtm", database_url=store, actor="test")

    assert (report.status, report.rejected_total) == ("committed", 0), report.rejections
    ex = pd.read_csv(folder / "ex.csv", dtype=str, keep_default_na=False)
    assert count(store, "subject") == ex["USUBJID"].nunique() == 254
    vs = pd.read_csv(folder / "vs.csv.gz", dtype=str, keep_default_na=False)
    monitored = vs[vs["VSTESTCD"].isin(MONITORED_VITALS) & (vs["VSORRES"] != "")]
    assert report.files["vs.csv.gz"].inserted == len(monitored)
    rs = pd.read_csv(folder / "rs_onco_imwg.csv", dtype=str, keep_default_na=False)
    overall = rs[(rs["RSTESTCD"] == "OVRLRESP") & ~rs["RSSTRESC"].isin(["", "ND", "NOT DONE"])]
    assert count(store, "disease_assessment") == len(overall)
    partial = query(
        store,
        "SELECT assessed_on, assessed_on_source_value, date_imputation FROM disease_assessment "
        "WHERE date_imputation IS NOT NULL",
    )
    # One IMWG response is dated "2013-08": kept as written, imputed to the 1st, flagged.
    assert partial.astype(str).values.tolist() == [["2013-08-01", "2013-08", "day"]]


@pytest.fixture(scope="module")
def synthetic_exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same 40-subject synthetic cohort as tidy files and as SDTM."""
    root = tmp_path_factory.mktemp("synthetic")
    generate_cohort(40, seed=5, out_dir=root / "tidy")
    generate_cohort(40, seed=5, out_dir=root / "sdtm", export_format="sdtm")
    return root / "tidy", root / "sdtm"


CLINICAL_TABLES = (
    "subject",
    "infusion",
    "death",
    "measurement",
    "observation",
    "disease_assessment",
    "drug_exposure",
    "adverse_event",
)


def test_the_synthetic_sdtm_export_loads_like_the_tidy_one(
    synthetic_exports: tuple[Path, Path], tmp_path: Path
) -> None:
    tidy, sdtm = synthetic_exports
    stores = {}
    for name, folder in (("tidy", tidy), ("sdtm", sdtm)):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade_store(url, actor="test")
        report = load([folder], name, database_url=url, actor="test")
        assert (report.status, report.rejected_total) == ("committed", 0), report.rejections
        stores[name] = url
    for table in CLINICAL_TABLES:
        assert count(stores["tidy"], table) == count(stores["sdtm"], table), table
    sql = (
        "SELECT s.subject_key, m.code, m.measured_at, ROUND(m.value, 6) AS value, m.unit "
        "FROM measurement m JOIN subject s ON s.subject_id = m.subject_id "
        "ORDER BY 1, 2, 3, 4"
    )
    from_tidy, from_sdtm = query(stores["tidy"], sql), query(stores["sdtm"], sql)
    # SDTM keys subjects by USUBJID, which is STUDYID-SUBJID.
    study = str(query(stores["sdtm"], "SELECT study_key FROM study")["study_key"].iloc[0])
    from_sdtm["subject_key"] = from_sdtm["subject_key"].str.removeprefix(study + "-")
    pd.testing.assert_frame_equal(from_tidy, from_sdtm)
