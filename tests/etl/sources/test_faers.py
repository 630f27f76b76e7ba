"""The FAERS / legacy AERS reader on the real 100-report samples and on small hand-written files.

Counts on the samples were measured on the files in shared/data/faers_sample (see its SOURCE.md).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from etl.rejections import COLUMNS
from etl.sources.faers import (
    CASE_COLUMNS,
    DRUG_COLUMNS,
    REACTION_COLUMNS,
    Deletion,
    FaersExport,
    read_faers,
)

FAERS_DEMO = (
    "primaryid$caseid$caseversion$i_f_code$event_dt$fda_dt$rept_cod$age$age_cod$sex$wt$wt_cod"
    "$occp_cod$reporter_country$occr_country"
)
FAERS_DRUG = (
    "primaryid$caseid$drug_seq$role_cod$drugname$prod_ai$route$dose_amt$dose_unit$dechal$rechal"
)
FAERS_REAC = "primaryid$caseid$pt$drug_rec_act"


def faers_2017q2(shared_data: Path) -> Path:
    return shared_data / "faers_sample" / "faers_ascii_2017q2" / "ascii"


def aers_2004q1(shared_data: Path) -> Path:
    return shared_data / "faers_sample" / "aers_ascii_2004q1" / "ascii"


def write(folder: Path, name: str, *lines: str) -> Path:
    """A '$'-delimited file with LF line endings."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def demo_row(
    primaryid: str, caseid: str, version: str = "1", *, age: str = "40", sex: str = "F"
) -> str:
    return f"{primaryid}${caseid}${version}$I$20170101$20170405$EXP${age}$YR${sex}$70$KG$MD$US$US"


def drug_row(primaryid: str, seq: str, name: str, prod_ai: str = "", dose: str = "") -> str:
    return f"{primaryid}$x${seq}$PS${name}${prod_ai}$Oral${dose}$MG$U$U"


def quarter(
    folder: Path,
    *,
    demo: tuple[str, ...] = (),
    drug: tuple[str, ...] = (),
    reac: tuple[str, ...] = (),
    suffix: str = "17Q2",
) -> Path:
    """A small FAERS-layout quarter: DEMO always, DRUG and REAC when given."""
    write(folder, f"DEMO{suffix}.txt", FAERS_DEMO, *demo)
    if drug:
        write(folder, f"DRUG{suffix}.txt", FAERS_DRUG, *drug)
    if reac:
        write(folder, f"REAC{suffix}.txt", FAERS_REAC, *reac)
    return folder


def rejected(export: FaersExport) -> list[dict[str, object]]:
    """The rejections as plain records (row numbers as int, missing as None)."""
    frame = export.rejections.astype(object)
    frame = frame.where(frame.notna(), None)
    records = [{str(k): v for k, v in record.items()} for record in frame.to_dict("records")]
    for record in records:
        if record["row"] is not None:
            record["row"] = int(str(record["row"]))
    return records


# --- the real 2017Q2 FAERS sample ----------------------------------------------------------------


def test_faers_2017q2_counts(shared_data: Path) -> None:
    export = read_faers([faers_2017q2(shared_data)])
    assert sorted(f.name for f in export.files) == [
        "DEMO17Q2.txt", "DRUG17Q2.txt", "INDI17Q2.txt", "OUTC17Q2.txt", "REAC17Q2.txt",
        "RPSR17Q2.txt", "THER17Q2.txt",
    ]  # fmt: skip
    assert len(export.cases) == 100
    assert len(export.drugs) == 328
    # REAC17Q2.txt has 286 data rows and no report lists the same PT twice (not even in another
    # case), so removing duplicate PTs removes nothing: all 286 are kept.
    assert len(export.reactions) == 286
    assert export.rejections.empty
    assert list(export.rejections.columns) == list(COLUMNS)
    assert export.notes == []
    assert tuple(export.cases.columns) == CASE_COLUMNS
    assert tuple(export.drugs.columns) == DRUG_COLUMNS
    assert tuple(export.reactions.columns) == REACTION_COLUMNS
    assert set(export.cases["source"]) == {"faers"}
    assert set(export.cases["quarter"]) == set(export.drugs["quarter"]) == {"2017Q2"}
    assert export.cases["_key"].is_unique and export.drugs["_key"].is_unique
    assert export.reactions["_key"].is_unique


def test_faers_2017q2_case_values(shared_data: Path) -> None:
    cases = read_faers([faers_2017q2(shared_data)]).cases.set_index("report_key")
    case = cases.loc["111440772"]
    assert case["case_key"] == "11144077"
    assert case["case_version"] == 2
    assert case["initial_or_followup"] == "F"
    assert case["event_date_source_value"] is None  # empty event_dt
    assert case["fda_received_date_source_value"] == "20170417"
    assert (case["report_type"], case["age"], case["age_unit"]) == ("EXP", 40.0, "YR")
    assert (case["sex"], case["reporter_occupation"]) == ("M", "MD")
    assert (case["reporter_country"], case["occurrence_country"]) == ("US", "US")
    assert case["outcomes"] == "OT"
    assert case["report_sources"] is None
    assert case["_key"] == "DEMO|111440772"
    assert cases.loc["109792364", "event_date_source_value"] == "2003"  # partial date as given
    assert str(cases["case_version"].dtype) == "Int64"
    # 59 distinct reports appear in OUTC17Q2.txt; several codes are sorted and joined.
    assert cases["outcomes"].notna().sum() == 59
    assert cases["outcomes"].value_counts()["HO;LT;OT"] == 2
    assert cases["report_sources"].dropna().to_dict() == {"136190021": "HP", "136554421": "HP"}
    assert cases["initial_or_followup"].value_counts().to_dict() == {"I": 68, "F": 32}
    # The 100 sampled reports belong to 100 different cases, so each is its case's latest.
    assert cases["case_key"].nunique() == 100
    assert cases["is_latest"].dtype == bool and cases["is_latest"].all()


def test_faers_2017q2_drugs_join_therapy_and_indications(shared_data: Path) -> None:
    drugs = read_faers([faers_2017q2(shared_data)]).drugs
    xeljanz = drugs[(drugs["report_key"] == "115630624") & (drugs["drug_seq"] == 1)].iloc[0]
    assert xeljanz["drug_name"] == "XELJANZ"
    # THER17Q2.txt: 115630624$11563062$1$20150327$201507$$
    assert xeljanz["start_date_source_value"] == "20150327"
    assert xeljanz["end_date_source_value"] == "201507"
    assert xeljanz["indication"] == "Rheumatoid arthritis"
    doxorubicin = drugs[drugs["_key"] == "DRUG|111440772|1"].iloc[0]
    assert (doxorubicin["drug_name"], doxorubicin["active_ingredient"]) == (
        "Doxorubicin",
        "DOXORUBICIN",
    )
    assert doxorubicin["route"] == "Unknown"
    # Every one of the 142 THER and 232 INDI rows names a different drug.
    dated = drugs["start_date_source_value"].notna() | drugs["end_date_source_value"].notna()
    assert dated.sum() == 142
    assert drugs["indication"].notna().sum() == 232
    assert drugs["drug_seq"].dtype == "int64"
    assert drugs["dose_amount"].dtype == "float64"
    assert drugs["product"].isna().all()  # no CAR-T product before 2017Q3


# --- the real 2004Q1 legacy AERS sample ----------------------------------------------------------


def test_aers_2004q1_counts_and_layout(shared_data: Path) -> None:
    export = read_faers([aers_2004q1(shared_data)])
    assert len(export.cases) == 100
    assert len(export.drugs) == 386
    assert len(export.reactions) == 416  # 416 REAC rows, no repeated PT within a report
    assert export.rejections.empty
    assert set(export.cases["source"]) == {"aers"}
    assert set(export.cases["quarter"]) == {"2004Q1"}
    assert export.cases["case_version"].isna().all()
    assert export.cases["reporter_country"].isna().all()
    assert export.drugs["active_ingredient"].isna().all()
    # The trailing v23/v13/v3/v7 columns (from the line-final '$') are empty and dropped.
    for frame in (export.cases, export.drugs, export.reactions):
        assert not {"v23", "v13", "v7", "v3", ""} & set(frame.columns)
    assert export.notes == [
        "THER04Q1.TXT: 23 rows give several therapy periods for 4 drug(s); kept the earliest "
        "start_dt and the latest end_dt of each drug"
    ]


def test_aers_2004q1_values(shared_data: Path) -> None:
    export = read_faers([aers_2004q1(shared_data)])
    cases = export.cases.set_index("report_key")
    assert cases["sex"].value_counts(dropna=False).to_dict() == {
        "F": 58, "M": 37, None: 4, "UNK": 1,
    }  # fmt: skip
    assert (cases.loc["4265584", "weight"], cases.loc["4265584", "weight_unit"]) == (152.0, "LBS")
    assert cases.loc["4263742", "case_key"] == "4061110"
    assert cases.loc["4263742", "outcomes"] == "HO"
    assert cases.loc["4263742", "report_sources"] == "FGN;HP;OTH"
    assert cases.loc["4263742", "initial_or_followup"] == "I"
    assert cases["is_latest"].all()  # 100 different cases
    drugs = export.drugs.set_index(["report_key", "drug_seq"])
    # THER04Q1.TXT: 4263742$1004492716$20031115$20031115$$$
    assert drugs.loc[("4263742", 1004492716), "start_date_source_value"] == "20031115"
    assert drugs.loc[("4263742", 1004492716), "end_date_source_value"] == "20031115"
    # Eight THER rows for THALOMID (4312209, 1004680662): earliest start 20031008 (line 74),
    # latest end 20040218 (line 80, whose start is empty).
    thalomid = ("4312209", 1004680662)
    assert drugs.loc[thalomid, "drug_name"] == "THALOMID"
    assert drugs.loc[thalomid, "start_date_source_value"] == "20031008"
    assert drugs.loc[thalomid, "end_date_source_value"] == "20040218"
    # INDI04Q1.TXT has two rows for drug 1004579265 of report 4283782.
    assert drugs.loc[("4283782", 1004579265), "indication"] == "MYOCARDIAL INFARCTION; PROPHYLAXIS"
    assert drugs["indication"].str.contains("; ", na=False).sum() == 7


def test_every_quarter_of_the_samples_in_one_call(shared_data: Path) -> None:
    # faers_sample holds three quarters: the 2004Q1 and 2017Q2 samples (7 tables each) and the
    # 2026Q2 head (7 tables and Deleted/DELETE26Q2.txt), plus SOURCE.md.
    export = read_faers([shared_data / "faers_sample"])
    names = sorted(f.name for f in export.files)
    assert len(names) == 22
    assert [n for n in names if "26Q2" in n] == [
        "DELETE26Q2.txt", "DEMO26Q2.txt", "DRUG26Q2.txt", "INDI26Q2.txt", "OUTC26Q2.txt",
        "REAC26Q2.txt", "RPSR26Q2.txt", "THER26Q2.txt",
    ]  # fmt: skip
    counts = {"2004Q1": 100, "2017Q2": 100, "2026Q2": 25}
    assert export.cases["quarter"].value_counts().to_dict() == counts
    counts = {"2004Q1": 386, "2017Q2": 328, "2026Q2": 25}
    assert export.drugs["quarter"].value_counts().to_dict() == counts
    counts = {"2004Q1": 416, "2017Q2": 286, "2026Q2": 25}
    assert export.reactions["quarter"].value_counts().to_dict() == counts
    assert export.cases.groupby("quarter")["source"].unique().map(list).to_dict() == {
        "2004Q1": ["aers"],
        "2017Q2": ["faers"],
        "2026Q2": ["faers"],
    }
    # The 2026Q2 head is not relationally closed (SOURCE.md): its OUTC/RPSR/THER/INDI rows
    # name reports and drugs outside its 25 DEMO rows; the two older samples are closed.
    assert export.rejections.groupby(["file", "rule"]).size().to_dict() == {
        ("INDI26Q2.txt", "no_such_drug"): 2,
        ("OUTC26Q2.txt", "not_in_demo"): 21,
        ("RPSR26Q2.txt", "not_in_demo"): 25,
        ("THER26Q2.txt", "no_such_drug"): 22,
    }
    assert [(u.name, u.use) for u in export.uses.values() if u.use != "used"] == [
        ("SOURCE.md", "not recognised")
    ]


# --- small hand-written files ---------------------------------------------------------------------


def test_legacy_fda_form_with_line_final_dollar(tmp_path: Path) -> None:
    folder = tmp_path / "aers"
    write(folder, "DEMO04Q1.TXT",
          "ISR$CASE$I_F_COD$FOLL_SEQ$IMAGE$EVENT_DT$MFR_DT$FDA_DT$REPT_COD$AGE$AGE_COD$GNDR_COD$WT"
          "$WT_COD$OCCP_COD$",
          "4000001$3000001$I$$4000001-1$20031115$$20040102$EXP$42$YR$M$80$KG$MD$",
          "4000002$3000002$F$$4000002-1$$$20040105$PER$$$F$$$$")  # fmt: skip
    write(folder, "DRUG04Q1.TXT",
          "ISR$DRUG_SEQ$ROLE_COD$DRUGNAME$VAL_VBM$ROUTE$DOSE_VBM$DECHAL$RECHAL$",
          "4000001$1001$PS$ASPIRIN$1$ORAL$100 MG$Y$N$",
          "4000002$1002$SS$YESCARTA$1$INTRAVENOUS$$$$")  # fmt: skip
    write(folder, "REAC04Q1.TXT", "ISR$PT$", "4000001$NAUSEA$", "4000002$PYREXIA$")
    write(folder, "THER04Q1.TXT", "ISR$DRUG_SEQ$START_DT$END_DT$DUR$DUR_COD$",
          "4000001$1001$20031101$20031110$$$")  # fmt: skip
    write(folder, "INDI04Q1.TXT", "ISR$DRUG_SEQ$INDI_PT$", "4000001$1001$HEADACHE$")
    write(folder, "OUTC04Q1.TXT", "ISR$OUTC_COD$", "4000001$HO$")
    export = read_faers([folder])
    assert export.rejections.empty
    assert export.notes == []
    cases = export.cases
    assert cases["report_key"].tolist() == ["4000001", "4000002"]
    assert cases["source"].tolist() == ["aers", "aers"]
    assert cases["sex"].tolist() == ["M", "F"]
    assert cases["age"].tolist()[0] == 42.0 and pd.isna(cases["age"].tolist()[1])
    assert cases["initial_or_followup"].tolist() == ["I", "F"]
    assert cases["outcomes"].tolist() == ["HO", None]
    assert cases["quarter"].tolist() == ["2004Q1", "2004Q1"]
    drugs = export.drugs
    assert drugs["drug_seq"].tolist() == [1001, 1002]
    assert drugs["start_date_source_value"].tolist() == ["20031101", None]
    assert drugs["end_date_source_value"].tolist() == ["20031110", None]
    assert drugs["indication"].tolist() == ["HEADACHE", None]
    assert drugs["product"].tolist() == [None, "axicabtagene ciloleucel"]
    assert export.reactions["preferred_term"].tolist() == ["NAUSEA", "PYREXIA"]


def test_a_trailing_column_with_values_is_reported(tmp_path: Path) -> None:
    folder = quarter(tmp_path / "q", demo=(demo_row("11", "1"),))
    write(
        folder,
        "REAC17Q2.txt",
        "primaryid$caseid$pt$drug_rec_act$v3",
        "11$1$Nausea$$",
        "11$1$Rash$$oops",
    )
    export = read_faers([folder])
    assert export.reactions["preferred_term"].tolist() == ["Nausea", "Rash"]
    assert export.notes == [
        "REAC17Q2.txt: the last column 'v3' looks like the empty field after a line-final '$' "
        "but holds values in 1 row(s); they were ignored"
    ]


def test_drug_whose_report_is_not_in_demo_is_rejected(tmp_path: Path) -> None:
    folder = quarter(
        tmp_path / "q",
        demo=(demo_row("11", "1"),),
        drug=(drug_row("11", "1", "ASPIRIN"), drug_row("99", "1", "IBUPROFEN")),
    )
    export = read_faers([folder])
    assert export.drugs["_key"].tolist() == ["DRUG|11|1"]
    assert rejected(export) == [
        {"file": "DRUG17Q2.txt", "row": 2, "field": "primaryid", "value": "99",
         "rule": "not_in_demo", "reason": "report 99 is not in DEMO"},
    ]  # fmt: skip


def test_non_numeric_age_rejects_the_case_but_keeps_its_drugs(tmp_path: Path) -> None:
    folder = quarter(
        tmp_path / "q",
        demo=(demo_row("11", "1", age="abc"), demo_row("21", "2", age=" 7.5 ")),
        drug=(drug_row("11", "1", "ASPIRIN"),),
    )
    export = read_faers([folder])
    assert export.cases["report_key"].tolist() == ["21"]
    assert export.cases["age"].tolist() == [7.5]
    assert rejected(export) == [
        {"file": "DEMO17Q2.txt", "row": 1, "field": "age", "value": "abc",
         "rule": "not_a_number", "reason": "age 'abc' is not a number"},
    ]  # fmt: skip
    assert export.drugs["report_key"].tolist() == ["11"]
    assert export.notes == [
        "1 DRUG row(s) and 0 REAC row(s) belong to reports whose DEMO row was rejected; they "
        "are kept, but those reports have no case row"
    ]


def test_duplicate_reaction_is_rejected_ignoring_case(tmp_path: Path) -> None:
    folder = quarter(
        tmp_path / "q",
        demo=(demo_row("11", "1"),),
        reac=("11$1$Nausea$", "11$1$Rash$", "11$1$ nausea $1"),
    )
    export = read_faers([folder])
    assert export.reactions["preferred_term"].tolist() == ["Nausea", "Rash"]
    assert export.reactions["_key"].tolist() == ["REAC|11|Nausea", "REAC|11|Rash"]
    assert rejected(export) == [
        {"file": "REAC17Q2.txt", "row": 3, "field": "pt", "value": "nausea", "rule": "duplicate",
         "reason": "reaction 'nausea' of report 11 already appears in row 1 of REAC17Q2.txt"},
    ]  # fmt: skip


def test_unknown_outcome_and_report_source_codes_are_rejected(tmp_path: Path) -> None:
    folder = quarter(tmp_path / "q", demo=(demo_row("11", "1"),))
    write(folder, "OUTC17Q2.txt", "primaryid$caseid$outc_cod",
          "11$1$OT", "11$1$XX", "11$1$de", "11$1$OT")  # fmt: skip
    write(folder, "RPSR17Q2.txt", "primaryid$caseid$rpsr_cod", "11$1$HP", "11$1$ZZZ")
    export = read_faers([folder])
    assert export.cases["outcomes"].tolist() == ["DE;OT"]  # sorted, unique, upper case
    assert export.cases["report_sources"].tolist() == ["HP"]
    assert [(r["file"], r["row"], r["value"], r["rule"]) for r in rejected(export)] == [
        ("OUTC17Q2.txt", 2, "XX", "unknown_code"),
        ("RPSR17Q2.txt", 2, "ZZZ", "unknown_code"),
    ]
    assert rejected(export)[0]["reason"] == (
        "outcome code 'XX' is not one of DE, LT, HO, DS, CA, RI, OT"
    )
    assert rejected(export)[0]["field"] == "outc_cod"


def test_missing_demo_is_one_file_rejection_and_empty_frames(tmp_path: Path) -> None:
    folder = tmp_path / "q"
    write(folder, "DRUG17Q2.txt", FAERS_DRUG, drug_row("11", "1", "ASPIRIN"))
    write(folder, "REAC17Q2.txt", FAERS_REAC, "11$1$Nausea$")
    export = read_faers([folder])
    assert rejected(export) == [
        {"file": "DEMO17Q2", "row": None, "field": None, "value": None, "rule": "missing_demo",
         "reason": "there is no DEMO file for 2017Q2, so its reports are unknown; not read: "
                   "DRUG17Q2.txt, REAC17Q2.txt"},
    ]  # fmt: skip
    assert export.files == []
    assert export.cases.empty and export.drugs.empty and export.reactions.empty
    assert tuple(export.cases.columns) == CASE_COLUMNS
    assert tuple(export.drugs.columns) == DRUG_COLUMNS
    assert tuple(export.reactions.columns) == REACTION_COLUMNS


def test_unreadable_demo_leaves_the_quarter_unread(tmp_path: Path) -> None:
    folder = tmp_path / "q"
    write(folder, "DRUG17Q2.txt", FAERS_DRUG, drug_row("11", "1", "ASPIRIN"))
    (folder / "DEMO17Q2.txt").write_bytes(b"")
    export = read_faers([folder])
    assert [(r["file"], r["rule"]) for r in rejected(export)] == [("DEMO17Q2.txt", "empty_file")]
    assert export.notes == ["2017Q2: no usable DEMO file, so these were not read: DRUG17Q2.txt"]
    assert [f.name for f in export.files] == ["DEMO17Q2.txt"]
    assert export.drugs.empty


def test_missing_required_column_rejects_the_file(tmp_path: Path) -> None:
    folder = quarter(tmp_path / "q", demo=(demo_row("11", "1"),))
    write(folder, "DRUG17Q2.txt", "primaryid$caseid$drug_seq$role_cod", "11$1$1$PS")
    write(folder, "REAC17Q2.txt", "caseid$pt", "1$Nausea")
    export = read_faers([folder])
    assert len(export.cases) == 1
    assert export.drugs.empty and export.reactions.empty
    assert rejected(export) == [
        {"file": "DRUG17Q2.txt", "row": None, "field": None, "value": None,
         "rule": "missing_columns",
         "reason": "the DRUG file (FAERS layout) lacks the required column(s) drugname; its "
                   "rows were not read"},
        {"file": "REAC17Q2.txt", "row": None, "field": None, "value": None,
         "rule": "missing_columns",
         "reason": "the REAC file has neither a primaryid column (FAERS) nor an isr column "
                   "(legacy AERS), so its rows cannot be tied to reports; its rows were not read"},
    ]  # fmt: skip


def test_faers_demo_without_caseversion_is_rejected(tmp_path: Path) -> None:
    folder = tmp_path / "q"
    write(folder, "DEMO17Q2.txt", "primaryid$caseid$age", "11$1$40")
    export = read_faers([folder])
    assert export.cases.empty
    assert rejected(export)[0]["rule"] == "missing_columns"
    assert "caseversion" in str(rejected(export)[0]["reason"])


def test_car_t_drug_is_mapped_by_name_or_active_ingredient(tmp_path: Path) -> None:
    folder = quarter(
        tmp_path / "q",
        demo=(demo_row("11", "1"),),
        drug=(
            drug_row("11", "1", "YESCARTA"),
            drug_row("11", "2", "CAR-T CELLS", "AXICABTAGENE CILOLEUCEL"),
            drug_row("11", "3", "Kymriah"),
            drug_row("11", "4", "TOCILIZUMAB", "TOCILIZUMAB"),
        ),
    )
    drugs = read_faers([folder]).drugs
    assert drugs["product"].tolist() == [
        "axicabtagene ciloleucel",
        "axicabtagene ciloleucel",
        "tisagenlecleucel",
        None,
    ]


def test_only_the_latest_version_of_a_case_is_latest(tmp_path: Path) -> None:
    folder = quarter(
        tmp_path / "q",
        demo=(demo_row("1002", "100", "2"), demo_row("1001", "100", "1"), demo_row("2001", "200")),
    )
    cases = read_faers([folder]).cases
    assert cases.set_index("report_key")["is_latest"].to_dict() == {
        "1002": True, "1001": False, "2001": True,
    }  # fmt: skip
    assert cases["case_version"].tolist() == [2, 1, 1]


def test_latest_version_across_quarters_follows_caseversion(tmp_path: Path) -> None:
    quarter(tmp_path / "q1", demo=(demo_row("1003", "100", "3"),), suffix="17Q1")
    quarter(tmp_path / "q2", demo=(demo_row("1002", "100", "2"),), suffix="17Q2")
    cases = read_faers([tmp_path / "q2", tmp_path / "q1"]).cases
    assert cases[["quarter", "report_key", "is_latest"]].values.tolist() == [
        ["2017Q1", "1003", True],
        ["2017Q2", "1002", False],
    ]


def test_legacy_latest_version_is_highest_isr(tmp_path: Path) -> None:
    folder = tmp_path / "aers"
    write(folder, "DEMO04Q1.TXT", "isr$case$i_f_cod$gndr_cod$v5",
          "900$50$F$M$", "1000$50$F$M$", "800$50$I$M$")  # fmt: skip
    cases = read_faers([folder]).cases
    assert cases.set_index("report_key")["is_latest"].to_dict() == {
        "900": False, "1000": True, "800": False,
    }  # fmt: skip


def test_duplicate_report_and_bad_caseversion_in_demo(tmp_path: Path) -> None:
    folder = quarter(
        tmp_path / "q",
        demo=(
            demo_row("11", "1"),
            demo_row("11", "1", age="50"),
            demo_row("21", "2", "2a"),
            demo_row("31", ""),
        ),
    )
    export = read_faers([folder])
    assert export.cases["report_key"].tolist() == ["11"]
    assert export.cases["age"].tolist() == [40.0]  # the first row is kept
    assert [(r["row"], r["field"], r["rule"], r["reason"]) for r in rejected(export)] == [
        (2, "primaryid", "duplicate", "report 11 already appears in row 1 of DEMO17Q2.txt"),
        (3, "caseversion", "not_an_integer", "caseversion '2a' is not a whole number"),
        (4, "caseid", "missing_value", "caseid is empty, so the report cannot be tied to a case"),
    ]


def test_drug_checks_and_therapy_and_indication_links(tmp_path: Path) -> None:
    folder = quarter(
        tmp_path / "q",
        demo=(demo_row("11", "1"),),
        drug=(
            drug_row("11", "1", "ASPIRIN", dose="1,000"),
            drug_row("11", "1", "ASPIRIN AGAIN"),
            drug_row("11", "x", "PARACETAMOL"),
            drug_row("11", "3", ""),
            drug_row("11", "4", "IBUPROFEN", dose="400"),
        ),
    )
    write(folder, "THER17Q2.txt", "primaryid$caseid$dsg_drug_seq$start_dt$end_dt$dur$dur_cod",
          "11$1$1$20170301$20170305$$", "11$1$1$201702$2017$$", "11$1$4$$20170310$$",
          "11$1$9$20170101$$$", "11$1$3$20170101$$$")  # fmt: skip
    write(folder, "INDI17Q2.txt", "primaryid$caseid$indi_drug_seq$indi_pt",
          "11$1$1$Pain", "11$1$1$Fever", "11$1$1$Pain", "11$1$4$", "11$1$7$Headache")  # fmt: skip
    export = read_faers([folder])
    drugs = export.drugs
    assert drugs["drug_seq"].tolist() == [1, 4]
    assert drugs["route"].tolist() == ["Oral", "Oral"]
    assert pd.isna(drugs["dose_amount"].iloc[0]) and drugs["dose_amount"].iloc[1] == 400.0
    # Two THER rows for drug 1: the earliest start is "201702" and the latest end "20170305".
    assert drugs["start_date_source_value"].tolist() == ["201702", None]
    assert drugs["end_date_source_value"].tolist() == ["20170305", "20170310"]
    assert drugs["indication"].tolist() == ["Pain; Fever", None]
    assert [(r["file"], r["row"], r["rule"], r["reason"]) for r in rejected(export)] == [
        ("DRUG17Q2.txt", 2, "duplicate", "drug 1 of report 11 already appears in row 1 of "
         "DRUG17Q2.txt"),
        ("DRUG17Q2.txt", 3, "not_an_integer", "drug_seq 'x' is not a whole number"),
        ("DRUG17Q2.txt", 4, "missing_value", "drugname is empty, so the drug is unknown"),
        ("INDI17Q2.txt", 4, "missing_value",
         "indi_pt is empty, so there is no indication to record"),
        ("INDI17Q2.txt", 5, "no_such_drug", "no drug 7 in report 11"),
        ("THER17Q2.txt", 4, "no_such_drug", "no drug 9 in report 11"),
        ("THER17Q2.txt", 5, "drug_rejected",
         "drug 3 of report 11 was rejected, so this therapy period was not used"),
    ]  # fmt: skip
    assert export.notes == [
        "DRUG17Q2.txt: 1 dose_amt value(s) are not numbers (e.g. '1,000'); their dose_amount "
        "is left empty",
        "THER17Q2.txt: 2 rows give several therapy periods for 1 drug(s); kept the earliest "
        "start_dt and the latest end_dt of each drug",
    ]


def test_file_names_decide_table_and_quarter(tmp_path: Path) -> None:
    demo = write(tmp_path / "a", "demo04q1.txt", "isr$case", "5$6")
    other = write(tmp_path / "a", "notes.txt", "hello")
    undated = write(tmp_path / "b", "DEMO.txt", "isr$case", "7$8")
    write(tmp_path / "c", "DELETE17Q2.txt", "123")
    export = read_faers([demo, other, undated, tmp_path / "c", tmp_path / "nowhere"])
    assert export.cases[["quarter", "report_key", "source"]].values.tolist() == [
        ["2004Q1", "5", "aers"]
    ]
    assert [(r["file"], r["rule"]) for r in rejected(export)] == [
        ("notes.txt", "unknown_table"),
        ("DEMO.txt", "unknown_quarter"),
        (str(tmp_path / "nowhere"), "missing_file"),
    ]
    assert export.deletions == [Deletion("DELETE17Q2.txt", "2017Q2", ["123"])]
    assert export.notes == [
        "demo04q1.txt: no column i_f_cod or i_f_code, event_dt, fda_dt, rept_cod, age, age_cod, "
        "gndr_cod or sex, wt, wt_cod, occp_cod; left empty",
    ]


@pytest.mark.parametrize("header_case", [str.lower, str.upper])
def test_header_names_are_compared_in_lower_case(
    tmp_path: Path, header_case: Callable[[str], str]
) -> None:
    folder = tmp_path / "q"
    write(folder, "DEMO17Q2.txt", header_case(FAERS_DEMO), demo_row("11", "1", sex=" M "))
    cases = read_faers([folder]).cases
    assert cases[["report_key", "case_key", "sex", "weight"]].values.tolist() == [
        ["11", "1", "M", 70.0]
    ]


# --- issue 13: real exports as they arrive ------------------------------------------------------


def faers_2026q2(shared_data: Path) -> Path:
    return shared_data / "faers_sample" / "faers_ascii_2026q2_head"


def write_crlf(folder: Path, name: str, *lines: str) -> Path:
    """A file with CRLF line endings, as FDA's own quarterly files have."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes("".join(line + "\r\n" for line in lines).encode("utf-8"))
    return path


def test_2026q2_head_crlf_and_layout(shared_data: Path) -> None:
    folder = faers_2026q2(shared_data)
    assert b"\r\n" in (folder / "ASCII" / "DEMO26Q2.txt").read_bytes()  # the real line endings
    export = read_faers([folder])
    assert len(export.cases) == 25 and len(export.drugs) == 25 and len(export.reactions) == 25
    # No value keeps the carriage return, not even the last column of a line.
    for frame in (export.cases, export.drugs, export.reactions):
        text = frame.select_dtypes(object).astype(str)
        assert not text.apply(lambda column: column.str.contains("\r")).any().any()
    case = export.cases.set_index("report_key").loc["100140224"]
    assert (case["occurrence_country"], case["reporter_country"]) == ("EU", "EU")
    assert (case["case_key"], case["case_version"], case["age"], case["sex"]) == (
        "10014022", 4, 66.0, "M",
    )  # fmt: skip
    assert export.drugs.iloc[0]["drug_name"] == "PEGINTERFERON ALFA-2A"
    # The 2026 layout has the 2017Q2 columns, in the same order, for all seven tables; no column
    # is unknown, so there is no note about columns.
    for table in ("DEMO", "DRUG", "REAC", "OUTC", "RPSR", "THER", "INDI"):
        new = (folder / "ASCII" / f"{table}26Q2.txt").read_text().splitlines()[0]
        old = (faers_2017q2(shared_data) / f"{table}17Q2.txt").read_text().splitlines()[0]
        assert new == old
    assert not [note for note in export.notes if "column" in note]
    assert export.deletions[0].file == "DELETE26Q2.txt"
    assert len(export.deletions[0].case_keys) == 24  # 25 lines, the first a single space
    assert export.deletions[0].case_keys[:2] == ["10172236", "10923325"]
    assert export.deletions[0].in_export == ()  # none of the 25 DEMO rows is listed


def test_a_renamed_or_new_column_is_named_in_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "q"
    header = FAERS_DEMO.replace("occr_country", "occr_cntry") + "$new_col"
    write_crlf(folder, "DEMO26Q2.txt", header, demo_row("11", "1") + "$x")
    export = read_faers([folder])
    assert export.cases["occurrence_country"].tolist() == [None]
    assert export.notes == [
        "DEMO26Q2.txt: no column occr_country; left empty",
        "DEMO26Q2.txt: column(s) occr_cntry, new_col are not in the FAERS layout pv-monitor "
        "knows (new or renamed?); their values were not stored",
    ]


def test_delete_list_with_blank_header_and_bad_lines(tmp_path: Path) -> None:
    folder = tmp_path / "q"
    write_crlf(folder / "Deleted", "DELETE26Q2.txt", " ", "caseid", "100", "", "200", "abc", "100")
    export = read_faers([folder])
    assert export.deletions == [Deletion("DELETE26Q2.txt", "2026Q2", ["100", "200"])]
    assert rejected(export) == [
        {"file": "DELETE26Q2.txt", "row": 6, "field": "caseid", "value": "abc",
         "rule": "not_an_integer",
         "reason": "caseid 'abc' is not a whole number, so no case can be deleted"},
    ]  # fmt: skip
    assert export.rows_read == {"DELETE26Q2.txt": 4}  # after the blank lines and the header
    assert export.uses["DELETE26Q2.txt"].use == "used"


def test_cases_on_the_quarters_delete_list_are_withheld(tmp_path: Path) -> None:
    folder = quarter(
        tmp_path / "q",
        demo=(demo_row("1001", "100", "1"), demo_row("1002", "100", "2"), demo_row("2001", "200")),
        drug=(drug_row("1001", "1", "KYMRIAH"), drug_row("2001", "1", "YESCARTA")),
        reac=("1002$100$Pyrexia$", "2001$200$Cytokine release syndrome$"),
        suffix="26Q2",
    )
    write(folder, "OUTC26Q2.txt", "primaryid$caseid$outc_cod", "1002$100$DE", "2001$200$HO")
    write_crlf(folder / "Deleted", "DELETE26Q2.txt", "100", "999")
    export = read_faers([folder])
    assert export.cases["report_key"].tolist() == ["2001"]
    assert export.drugs["report_key"].tolist() == ["2001"]
    assert export.reactions["report_key"].tolist() == ["2001"]
    assert export.cases["outcomes"].tolist() == ["HO"]
    assert export.withheld == {
        "DEMO26Q2.txt": 2, "DRUG26Q2.txt": 1, "REAC26Q2.txt": 1, "OUTC26Q2.txt": 1,
    }  # fmt: skip
    assert export.deletions == [Deletion("DELETE26Q2.txt", "2026Q2", ["100", "999"], ("100",))]
    assert export.rejections.empty


def test_impossible_dates_are_rejected_and_partial_dates_kept(tmp_path: Path) -> None:
    def dated(primaryid: str, event: str, fda: str = "20170405") -> str:
        return demo_row(primaryid, primaryid).replace("$20170101$20170405$", f"${event}${fda}$")

    folder = quarter(
        tmp_path / "q",
        demo=(
            dated("11", "20170231"), dated("12", "20171301"), dated("13", "2017-02-03"),
            dated("14", "2017"), dated("15", "201702", fda="201713"), dated("16", "00000000"),
            dated("17", "18991231"),
        ),
        drug=(drug_row("14", "1", "ASPIRIN"), drug_row("14", "2", "IBUPROFEN")),
    )  # fmt: skip
    write(folder, "THER17Q2.txt", "primaryid$caseid$dsg_drug_seq$start_dt$end_dt$dur$dur_cod",
          "14$14$1$20170230$$$", "14$14$2$201702$2017$$")  # fmt: skip
    export = read_faers([folder])
    assert export.cases["report_key"].tolist() == ["14"]
    assert export.cases["event_date_source_value"].tolist() == ["2017"]
    assert export.drugs["start_date_source_value"].tolist() == [None, "201702"]
    assert [(r["file"], r["row"], r["field"], r["value"], r["rule"], r["reason"])
            for r in rejected(export)] == [
        ("DEMO17Q2.txt", 1, "event_dt", "20170231", "date",
         "event_dt '20170231' is not a possible date"),
        ("DEMO17Q2.txt", 2, "event_dt", "20171301", "date",
         "event_dt '20171301' is not a possible date"),
        ("DEMO17Q2.txt", 3, "event_dt", "2017-02-03", "date",
         "event_dt '2017-02-03' is not a date of the FAERS form YYYYMMDD, YYYYMM or YYYY"),
        ("DEMO17Q2.txt", 5, "fda_dt", "201713", "date",
         "fda_dt '201713' is not a possible date"),
        ("DEMO17Q2.txt", 6, "event_dt", "00000000", "date",
         "event_dt '00000000' is not a possible date (year outside 1900-2199)"),
        ("DEMO17Q2.txt", 7, "event_dt", "18991231", "date",
         "event_dt '18991231' is not a possible date (year outside 1900-2199)"),
        ("THER17Q2.txt", 1, "start_dt", "20170230", "date",
         "start_dt '20170230' is not a possible date"),
    ]  # fmt: skip


def test_impossible_ages_and_weights_are_rejected(tmp_path: Path) -> None:
    def aged(primaryid: str, age: str, unit: str = "YR", weight: str = "70") -> str:
        row = demo_row(primaryid, primaryid, age=age)
        return row.replace(f"${age}$YR$", f"${age}${unit}$").replace("$70$KG$", f"${weight}$KG$")

    folder = quarter(
        tmp_path / "q",
        demo=(
            aged("11", "-40"), aged("12", "300"), aged("13", "150"), aged("14", "0", "DY"),
            aged("15", "2000", "MON"), aged("16", "30", "DEC"), aged("17", "40", weight="-5"),
            aged("18", "40", weight="900"), aged("19", "7", "WK"),
        ),
    )  # fmt: skip
    export = read_faers([folder])
    assert export.cases["report_key"].tolist() == ["13", "14", "19"]
    assert [(r["row"], r["field"], r["value"], r["rule"], r["reason"])
            for r in rejected(export)] == [
        (1, "age", "-40", "range", "-40 YR is negative, not a possible age"),
        (2, "age", "300", "range", "300 YR is more than 150 YR, not a possible age"),
        (5, "age", "2000", "range", "2000 MON is more than 1800 MON, not a possible age"),
        (6, "age", "30", "range", "30 DEC is more than 15 DEC, not a possible age"),
        (7, "wt", "-5", "range", "-5 KG is negative, not a possible weight"),
        (8, "wt", "900", "range", "900 KG is more than 700 KG, not a possible weight"),
    ]  # fmt: skip


def test_formula_text_is_rejected_in_every_faers_table(shared_data: Path, tmp_path: Path) -> None:
    # The real 2017Q2 sample, with spreadsheet formulas planted in DRUG, REAC and INDI.
    folder = tmp_path / "ascii"
    shutil.copytree(faers_2017q2(shared_data), folder)
    plant = {
        "DRUG17Q2.txt": ("$Doxorubicin$", '$=HYPERLINK("http://x")$'),
        "REAC17Q2.txt": ("$Abnormal weight gain$", "$+cmd|' /C calc'!A0$"),
        "INDI17Q2.txt": ("$Rheumatoid arthritis", "$@SUM(1+1)"),
    }
    for name, (old, new) in plant.items():
        path = folder / name
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
    export = read_faers([folder])
    found = [(r["file"], r["field"], r["value"], r["rule"]) for r in rejected(export)]
    assert ("DRUG17Q2.txt", "drugname", '=HYPERLINK("http://x")', "formula") in found
    assert ("REAC17Q2.txt", "pt", "+cmd|' /C calc'!A0", "formula") in found
    assert ("INDI17Q2.txt", "indi_pt", "@SUM(1+1)", "formula") in found
    assert {r["rule"] for r in rejected(export)} <= {"formula", "drug_rejected"}
    assert str(rejected(export)[0]["reason"]).endswith(
        "starts like a spreadsheet formula (=, +, - or @), so it could run when someone opens "
        "the data in a spreadsheet; the row was not loaded"
    )
    assert len(export.drugs) == 327 and len(export.reactions) == 285
    assert not export.drugs["drug_name"].str.startswith("=").any()


def test_quotes_in_faers_values_are_read_verbatim(shared_data: Path, tmp_path: Path) -> None:
    # FAERS ASCII has no quoting: a '"' is part of the value (real drug names such as
    # '"TYLENOL"' are written so). One opening quote without its closing one must not swallow
    # the rest of the file, and a quoted name keeps its quotes.
    folder = tmp_path / "ascii"
    folder.mkdir()
    for file in faers_2017q2(shared_data).iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    drug = folder / "DRUG17Q2.txt"
    text = drug.read_bytes()
    for old, new in ((b"$Doxorubicin$", b'$"Doxorubicin$'), (b"$XELJANZ$", b'$"XELJANZ"$')):
        assert old in text
        text = text.replace(old, new, 1)
    drug.write_bytes(text)
    export = read_faers([folder])
    assert export.rejections.empty
    assert len(export.drugs) == 328
    drugs = export.drugs.set_index("_key")["drug_name"]
    assert drugs["DRUG|111440772|1"] == '"Doxorubicin'
    assert drugs.str.startswith('"XELJANZ"').sum() == 1
