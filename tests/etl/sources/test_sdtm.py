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
from etl.contracts import Kind
from etl.sources import IGNORED, NOT_RECOGNISED, UNREADABLE, USED, Chunk, ReadLog
from etl.sources.files import SourceFile
from etl.sources.sdtm import SdtmSource, _read
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


# ---- truncated and corrupt files, unused domains, accounting (issue 13) -----------------------

PILOT_XPT = ("dm.xpt", "ex.xpt", "ae.xpt")


def _pilot_copy(shared_data: Path, folder: Path, names: tuple[str, ...] = PILOT_XPT) -> Path:
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes((shared_data / PILOT / "sdtm" / name).read_bytes())
    return folder


def _read_all(source: SdtmSource) -> list[Chunk]:
    return list(source.chunks())


def _problems(source: SdtmSource) -> pd.DataFrame:
    return (
        pd.concat(source.log.problems, ignore_index=True) if source.log.problems else pd.DataFrame()
    )


def test_an_xpt_cut_mid_record_is_an_unreadable_file(shared_data: Path, tmp_path: Path) -> None:
    folder = _pilot_copy(shared_data, tmp_path / "sdtm")
    (folder / "ae.xpt").write_bytes((folder / "ae.xpt").read_bytes()[:700_000])  # head -c 700000

    source = SdtmSource([folder])
    chunks = _read_all(source)

    assert [c.file for c in chunks if c.file == "ae.xpt"] == []  # not one of its 555 rows
    problems = _problems(source)
    assert problems[["file", "rule"]].values.tolist() == [["ae.xpt", "unreadable_file"]]
    assert "last record is incomplete" in problems["reason"].iloc[0]
    assert "follow record 555" in problems["reason"].iloc[0]
    assert source.log.uses["ae.xpt"].use == UNREADABLE


@pytest.mark.parametrize(
    ("added", "reason"),
    [
        (b"trailing garbage\n", "not a whole number of 80-byte records"),
        (b"X" * 80, "last record is incomplete"),
    ],
)
def test_an_xpt_with_bytes_after_its_last_record_is_an_unreadable_file(
    shared_data: Path, tmp_path: Path, added: bytes, reason: str
) -> None:
    folder = _pilot_copy(shared_data, tmp_path / "sdtm")
    (folder / "ae.xpt").write_bytes((folder / "ae.xpt").read_bytes() + added)
    source = SdtmSource([folder])
    _read_all(source)
    problems = _problems(source)
    assert problems["file"].tolist() == ["ae.xpt"] and reason in problems["reason"].iloc[0]


def test_an_xpt_whose_headers_disagree_with_its_record_length_is_unreadable(
    shared_data: Path, tmp_path: Path
) -> None:
    folder = _pilot_copy(shared_data, tmp_path / "sdtm")
    content = bytearray((folder / "ae.xpt").read_bytes())
    first_variable = 8 * 80  # after the library, member and NAMESTR headers
    assert content[first_variable + 8 : first_variable + 16] == b"STUDYID "
    content[first_variable + 4 : first_variable + 6] = (13).to_bytes(2, "big")  # length 12 -> 13
    (folder / "ae.xpt").write_bytes(bytes(content))

    source = SdtmSource([folder])
    _read_all(source)

    problems = _problems(source)
    assert problems["file"].tolist() == ["ae.xpt"]
    assert "the headers disagree with the record length" in problems["reason"].iloc[0]


def test_a_truncated_dm_is_one_unreadable_file_and_nothing_else_is_read(
    shared_data: Path, tmp_path: Path
) -> None:
    folder = _pilot_copy(shared_data, tmp_path / "sdtm")
    (folder / "dm.xpt").write_bytes((folder / "dm.xpt").read_bytes()[:60_000])

    source = SdtmSource([folder])
    chunks = _read_all(source)

    assert chunks == []  # no AE row is offered: they would all be unknown subjects
    assert _problems(source)["file"].tolist() == ["dm.xpt"]
    assert source.log.uses["dm.xpt"].use == UNREADABLE
    assert source.log.uses["ae.xpt"].use == IGNORED
    assert "domain DM could not be read" in source.log.uses["ae.xpt"].why


def test_the_windows_1252_fallback_of_xpt_is_noted(shared_data: Path) -> None:
    ts = SourceFile.of(shared_data / PILOT / "sdtm" / "ts.xpt")
    log = ReadLog()
    frame = pd.concat(_read(ts, log))
    assert log.notes == ["ts.xpt: not UTF-8; read as Windows-1252 (cp1252), the fallback"]
    assert frame["TSVAL"].str.contains("\u2019").any() and len(frame) == 33


def test_every_file_of_a_folder_is_accounted_for(shared_data: Path) -> None:
    folder = shared_data / PILOT / "sdtm"
    source = SdtmSource([folder])
    _read_all(source)
    uses = {name: (use.use, use.why) for name, use in source.log.uses.items()}
    assert sorted(uses) == sorted(p.name for p in folder.iterdir())
    assert uses["define.xml"][0] == NOT_RECOGNISED
    assert uses["ts.xpt"] == (IGNORED, "domain TS is not used by pv-monitor")
    assert uses["sv.xpt"] == (IGNORED, "domain SV is not used by pv-monitor")
    # SUPPDM holds population flags only, SUPPAE the treatment-emergent flag: said, not silent.
    assert uses["suppdm.xpt"][0] == IGNORED and "COMPLT16" in uses["suppdm.xpt"][1]
    assert uses["suppae.xpt"][0] == IGNORED and "AETRTEM" in uses["suppae.xpt"][1]
    assert {n for n, (use, _) in uses.items() if use == USED} == {
        "dm.xpt",
        "ex.xpt",
        "ds.xpt",
        "cm.xpt",
        "ae.xpt",
    }


def test_unused_domains_are_ignored_unread_even_when_unreadable(
    shared_data: Path, tmp_path: Path
) -> None:
    folder = _pilot_copy(shared_data, tmp_path / "sdtm", ("dm.xpt", "ex.xpt"))
    upstream = shared_data / "pharmaversesdtm_upstream"
    (folder / "ts.csv").write_bytes((upstream / "ts.csv").read_bytes())  # Windows-1252
    sv = (upstream / "sv.csv").read_bytes()
    header_and_first = sv[: sv.index(b"\n", sv.index(b"\n") + 1) + 1]
    (folder / "sv.csv").write_bytes(header_and_first + b'"unterminated\x81\xff' * 1000)
    (folder / "mh.xpt").write_bytes(b"not a transport file at all")

    source = SdtmSource([folder])
    _read_all(source)

    assert source.log.problems == []
    for name, domain in (("ts.csv", "TS"), ("sv.csv", "SV"), ("mh.xpt", "MH")):
        assert (source.log.uses[name].use, source.log.uses[name].why) == (
            IGNORED,
            f"domain {domain} is not used by pv-monitor",
        )


def test_supplemental_qualifiers_left_out_are_noted(shared_data: Path, tmp_path: Path) -> None:
    folder = _pilot_copy(shared_data, tmp_path / "sdtm", ("dm.xpt", "ex.xpt"))
    suppdm = pd.read_csv(
        shared_data / "pharmaversesdtm_upstream" / "suppdm.csv", dtype=str, keep_default_na=False
    )
    suppdm.loc[0, "QNAM"] = "PRIMDIAG"  # one subject's diagnosis, beside the population flags
    suppdm.to_csv(folder / "suppdm.csv", index=False)

    source = SdtmSource([folder])
    subjects = _read_all(source)[0]

    assert source.log.uses["suppdm.csv"].use == USED
    left_out = [n for n in source.log.notes if "QNAM(s)" in n]
    assert left_out == [
        "suppdm.csv: QNAM(s) COMPLT16, COMPLT24, COMPLT8, EFFICACY, ITT, SAFETY of SUPPDM were "
        "left out (pv-monitor uses PRIMDIAG, DIAGNOSIS, DIAG)"
    ]
    assert (subjects.frame["diagnosis"] != "").sum() == 1


def test_an_sdtm_file_without_usubjid_is_a_columns_rejection(
    shared_data: Path, tmp_path: Path
) -> None:
    folder = _pilot_copy(shared_data, tmp_path / "sdtm", ("dm.xpt", "ex.xpt"))
    ae = pd.read_csv(shared_data / "pharmaversesdtm" / "ae.csv", dtype=str, keep_default_na=False)
    ae.drop(columns=["USUBJID"]).to_csv(folder / "ae.csv", index=False)

    source = SdtmSource([folder])
    kinds = [chunk.kind for chunk in _read_all(source)]

    assert kinds == [Kind.SUBJECTS, Kind.MEDICATIONS]  # the subjects and EX, no AE
    problems = _problems(source)
    assert problems[["file", "rule"]].values.tolist() == [["ae.csv", "columns"]]
    assert "USUBJID" in problems["reason"].iloc[0]


def test_a_quoted_na_test_code_is_sodium_not_missing(shared_data: Path, tmp_path: Path) -> None:
    folder = _pilot_copy(shared_data, tmp_path / "sdtm", ("dm.xpt", "ex.xpt"))
    (folder / "lb.csv").write_text(
        '"STUDYID","DOMAIN","USUBJID","LBSEQ","LBTESTCD","LBORRES","LBORRESU","LBDTC"\n'
        '"CDISCPILOT01","LB","01-701-1015",1,"NA","140","mmol/L","2014-01-02"\n'
        '"CDISCPILOT01","LB","01-701-1015",2,NA,NA,NA,"2014-01-02"\n',
        encoding="utf-8",
    )
    source = SdtmSource([folder])
    _read_all(source)
    (note,) = [n for n in source.log.notes if n.startswith("lb.csv")]
    # The quoted code is kept as written, the bare NA read as an empty code.
    assert (
        note
        == "lb.csv: 2 record(s) of tests pv-monitor does not monitor were not loaded (NA 1,  1)"
    )
