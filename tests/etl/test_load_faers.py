"""Loading FAERS and legacy AERS quarters into the spontaneous-report tables, on both stores."""

from __future__ import annotations

import shutil
from pathlib import Path

from etl import load
from etl.load import ACCEPT_PARTIAL, LoadReport
from tests.etl.conftest import count, query
from tests.etl.sources.test_faers import (
    FAERS_DEMO,
    FAERS_DRUG,
    FAERS_REAC,
    aers_2004q1,
    demo_row,
    drug_row,
    faers_2017q2,
    faers_2026q2,
    quarter,
    write,
)


def test_both_layouts_load_with_every_row(store: str, shared_data: Path) -> None:
    paths = [aers_2004q1(shared_data), faers_2017q2(shared_data)]

    report = load(paths, "faers", database_url=store, actor="test")

    assert (report.status, report.rejected_total) == ("committed", 0)
    cases = query(
        store,
        "SELECT source, COUNT(*) AS n, SUM(CASE WHEN is_latest THEN 1 ELSE 0 END) AS latest "
        "FROM icsr_case GROUP BY source ORDER BY source",
    )
    # 100 reports per sample quarter, each the only version of its case in the sample.
    assert cases.values.tolist() == [["aers", 100, 100], ["faers", 100, 100]]
    # DRUG04Q1 386 + DRUG17Q2 328 rows; REAC04Q1 416 + REAC17Q2 286 rows.
    assert count(store, "icsr_drug") == 386 + 328
    assert count(store, "icsr_reaction") == 416 + 286
    case = query(
        store,
        "SELECT case_key, case_version, fda_received_date, age, age_unit, sex, outcomes "
        "FROM icsr_case WHERE source = 'faers' AND report_key = '111440772'",
    ).iloc[0]
    assert case.astype(str).tolist() == ["11144077", "2", "2017-04-17", "40.0", "YR", "M", "OT"]

    again = load(paths, "faers", database_url=store, actor="test")

    assert again.status == "unchanged"


def test_a_later_version_of_a_case_becomes_the_latest(store: str, tmp_path: Path) -> None:
    first = quarter(
        tmp_path / "q2",
        demo=(demo_row("1001", "100", "1"),),
        drug=(drug_row("1001", "1", "KYMRIAH"),),
        reac=("1001$100$Cytokine release syndrome$",),
    )
    load([first], "faers", database_url=store, actor="test")
    later = tmp_path / "q3"
    write(later, "DEMO17Q3.txt", FAERS_DEMO, demo_row("1002", "100", "2"))
    write(later, "DRUG17Q3.txt", FAERS_DRUG, drug_row("1002", "1", "KYMRIAH"))
    write(later, "REAC17Q3.txt", FAERS_REAC, "1002$100$Cytokine release syndrome$")

    report = load([later], "faers", database_url=store, actor="test")

    assert report.status == "committed"
    versions = query(
        store, "SELECT report_key, case_version, is_latest FROM icsr_case ORDER BY report_key"
    )
    versions["is_latest"] = versions["is_latest"].astype(bool)
    assert versions.values.tolist() == [["1001", 1, False], ["1002", 2, True]]
    product = query(
        store,
        "SELECT p.generic_name FROM icsr_drug d JOIN product p ON p.product_id = d.product_id",
    )
    assert set(product["generic_name"]) == {"tisagenlecleucel"}


# --- issue 13: DELETE lists, file accounting, the seven tables ------------------------------------


def faers_state(url: str) -> dict[str, list[list[object]]]:
    """The spontaneous-report tables and the audit trail, to compare a store before and after."""
    tables = {
        "icsr_case": "SELECT * FROM icsr_case ORDER BY icsr_case_id",
        "icsr_drug": "SELECT * FROM icsr_drug ORDER BY icsr_drug_id",
        "icsr_reaction": "SELECT * FROM icsr_reaction ORDER BY icsr_reaction_id",
        "audit_log": "SELECT audit_log_id, action, table_name FROM audit_log ORDER BY 1",
    }
    return {name: query(url, sql).astype(str).values.tolist() for name, sql in tables.items()}


def accounted(report: LoadReport) -> dict[str, int]:
    """Per file, rows read minus every outcome: 0 when each row is accounted for."""
    return {
        name: f.rows_read
        - (f.inserted + f.updated + f.unchanged + f.joined + f.withheld + f.rejected)
        for name, f in report.files.items()
        if not name.startswith("DELETE")
    }


def write_crlf(folder: Path, name: str, *lines: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes("".join(line + "\r\n" for line in lines).encode("utf-8"))
    return path


def crlf_quarter(folder: Path, suffix: str, demo: tuple[str, ...], drugs: tuple[str, ...]) -> Path:
    """A FAERS quarter with CRLF line endings: DEMO, DRUG and one reaction per report."""
    write_crlf(folder, f"DEMO{suffix}.txt", FAERS_DEMO, *demo)
    write_crlf(folder, f"DRUG{suffix}.txt", FAERS_DRUG, *drugs)
    reports = [row.split("$")[:2] for row in demo]
    write_crlf(folder, f"REAC{suffix}.txt", FAERS_REAC,
               *(f"{p}${c}$Cytokine release syndrome$" for p, c in reports))  # fmt: skip
    return folder


def test_real_delete_list_removes_every_version_of_its_cases_audited(
    store: str, shared_data: Path, tmp_path: Path
) -> None:
    # An earlier quarter holding two cases that the real DELETE26Q2.txt lists (10172236, in two
    # versions, and 10923325) and one it does not (55555).
    earlier = crlf_quarter(
        tmp_path / "q1",
        "26Q1",
        demo=(demo_row("101722361", "10172236", "1"), demo_row("101722362", "10172236", "2"),
              demo_row("109233251", "10923325", "1"), demo_row("555551", "55555", "1")),
        drugs=(drug_row("101722361", "1", "KYMRIAH"), drug_row("101722362", "1", "KYMRIAH"),
               drug_row("101722362", "2", "TOCILIZUMAB"), drug_row("555551", "1", "YESCARTA")),
    )  # fmt: skip
    first = load([earlier], "faers", database_url=store, actor="test")
    assert (first.status, count(store, "icsr_case"), count(store, "icsr_drug")) == (
        "committed", 4, 4,
    )  # fmt: skip

    # The real 2026Q2 head is not relationally closed (its OUTC/RPSR/THER/INDI rows name
    # reports outside its DEMO rows), so it loads only with accept-partial.
    report = load([faers_2026q2(shared_data)], "faers", database_url=store, actor="test",
                  policy=ACCEPT_PARTIAL)  # fmt: skip

    assert report.status == "partial"
    left = query(store, "SELECT case_key FROM icsr_case WHERE quarter = '2026Q1'")
    assert left["case_key"].tolist() == ["55555"]
    assert count(store, "icsr_case") == 1 + 25
    assert (
        query(store, "SELECT COUNT(*) AS n FROM icsr_drug WHERE drug_name = 'TOCILIZUMAB'")[
            "n"
        ].iloc[0]
        == 0
    )
    deleted = query(
        store,
        "SELECT table_name, reason, old_value FROM audit_log WHERE action = 'delete' "
        "ORDER BY audit_log_id",
    )
    # 3 drugs, 3 reactions and 3 case versions, one entry each, with the values they held.
    assert deleted["table_name"].value_counts().to_dict() == {
        "icsr_drug": 3, "icsr_reaction": 3, "icsr_case": 3,
    }  # fmt: skip
    assert deleted["reason"].str.startswith("FDA deleted the case (DELETE26Q2.txt)").all()
    cases = deleted[deleted["table_name"] == "icsr_case"]
    assert cases["old_value"].str.contains('"case_key":"10172236"').sum() == 2
    assert report.files["DELETE26Q2.txt"].rows_read == 24
    assert report.files["DELETE26Q2.txt"].deleted == 3
    assert (
        "DELETE26Q2.txt lists 24 caseid(s): 2 in the store (3 version(s), with 3 drug(s) and "
        "3 reaction(s), deleted by this batch and audited), 0 in 2026Q2's own files (not "
        "loaded), 22 in neither"
    ) in report.notes
    assert set(accounted(report).values()) == {0}


def test_delete_list_applies_up_to_its_quarter_and_a_later_version_comes_back(
    store: str, tmp_path: Path
) -> None:
    q1 = crlf_quarter(tmp_path / "q1", "26Q1", demo=(demo_row("1001", "100", "1"),),
                      drugs=(drug_row("1001", "1", "KYMRIAH"),))  # fmt: skip
    q2 = crlf_quarter(
        tmp_path / "q2",
        "26Q2",
        demo=(demo_row("1002", "100", "2"), demo_row("3001", "300", "1")),
        drugs=(drug_row("1002", "1", "KYMRIAH"), drug_row("3001", "1", "ABECMA")),
    )
    write_crlf(q2 / "Deleted", "DELETE26Q2.txt", " ", "100", "")
    q3 = crlf_quarter(tmp_path / "q3", "26Q3", demo=(demo_row("1003", "100", "3"),),
                      drugs=(drug_row("1003", "1", "KYMRIAH"),))  # fmt: skip

    report = load([q3, q1, q2], "faers", database_url=store, actor="test")  # in any order

    assert (report.status, report.rejected_total) == ("committed", 0)
    cases = query(
        store, "SELECT report_key, case_key, is_latest FROM icsr_case ORDER BY report_key"
    )
    cases["is_latest"] = cases["is_latest"].astype(bool)
    # 1001 (2026Q1) was loaded, then deleted by 2026Q2's list; 1002 (2026Q2) was withheld;
    # 1003 (2026Q3) re-reports the case after the deletion and stays.
    assert cases.values.tolist() == [["1003", "100", True], ["3001", "300", True]]
    assert count(store, "icsr_drug") == 2
    files = report.files
    assert (files["DEMO26Q1.txt"].inserted, files["DELETE26Q2.txt"].deleted) == (1, 1)
    assert (files["DEMO26Q2.txt"].withheld, files["DRUG26Q2.txt"].withheld) == (1, 1)
    assert files["REAC26Q2.txt"].withheld == 1
    assert files["DEMO26Q3.txt"].inserted == 1
    assert set(accounted(report).values()) == {0}
    assert (
        "DELETE26Q2.txt lists 1 caseid(s): 1 in the store (1 version(s), with 1 drug(s) and "
        "1 reaction(s), deleted by this batch and audited), 1 in 2026Q2's own files (not "
        "loaded), 0 in neither"
    ) in report.notes


def test_a_rejected_batch_applies_no_delete_list(store: str, tmp_path: Path) -> None:
    q1 = crlf_quarter(tmp_path / "q1", "26Q1", demo=(demo_row("1001", "100", "1"),),
                      drugs=(drug_row("1001", "1", "KYMRIAH"),))  # fmt: skip
    load([q1], "faers", database_url=store, actor="test")
    before = faers_state(store)
    q2 = crlf_quarter(tmp_path / "q2", "26Q2",
                      demo=(demo_row("2001", "200", "1", age="-40"),),
                      drugs=(drug_row("2001", "1", "KYMRIAH"),))  # fmt: skip
    write_crlf(q2 / "Deleted", "DELETE26Q2.txt", "100")

    report = load([q2], "faers", database_url=store, actor="test")

    assert (report.status, report.exit_code) == ("rejected", 1)
    assert faers_state(store)["icsr_case"] == before["icsr_case"]
    assert faers_state(store)["icsr_drug"] == before["icsr_drug"]
    assert [r for r in faers_state(store)["audit_log"] if r[1] == "delete"] == []
    assert report.files["DELETE26Q2.txt"].deleted == 0
    first = report.rejections.iloc[0]
    assert (first["file"], first["row"], first["field"], first["value"], first["rule"]) == (
        "DEMO26Q2.txt", 1, "age", "-40", "range",
    )  # fmt: skip
    assert first["reason"] == "-40 YR is negative, not a possible age"


def test_impossible_date_rejects_the_batch_and_stores_nothing(store: str, tmp_path: Path) -> None:
    folder = quarter(
        tmp_path / "q",
        demo=(demo_row("1001", "100").replace("$20170101$", "$20170231$"),
              demo_row("2001", "200")),
        drug=(drug_row("1001", "1", "KYMRIAH"),),
    )  # fmt: skip
    report = load([folder], "faers", database_url=store, actor="test")
    assert (report.status, count(store, "icsr_case"), count(store, "icsr_drug")) == (
        "rejected", 0, 0,
    )  # fmt: skip
    rows = report.rejections[["file", "row", "field", "value", "rule"]].values.tolist()
    assert rows == [["DEMO17Q2.txt", 1, "event_dt", "20170231", "date"]]


def test_xml_folder_given_as_faers_is_rejected_and_commits_nothing(
    store: str, tmp_path: Path
) -> None:
    folder = tmp_path / "e2b"
    folder.mkdir()
    for name in ("US-CAR-T-0001.xml", "US-CAR-T-0002.xml"):
        (folder / name).write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<ichicsr lang="en"><safetyreport>'
            "<safetyreportid>US-0001</safetyreportid></safetyreport></ichicsr>\n"
        )
    report = load([folder], "faers", database_url=store, actor="test")
    assert (report.status, report.exit_code) == ("rejected", 1)
    assert [(u.name, u.use) for u in report.uses] == [
        ("US-CAR-T-0001.xml", "not recognised"), ("US-CAR-T-0002.xml", "not recognised"),
    ]  # fmt: skip
    assert set(report.rejections["rule"]) == {"not_recognised"}
    assert count(store, "icsr_case") == 0
    batches = query(store, "SELECT status FROM load_batch")
    assert batches["status"].tolist() == ["rejected"]


def test_seven_tables_accounted_and_other_files_listed(
    store: str, shared_data: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "faers_ascii_2017q2"
    shutil.copytree(faers_2017q2(shared_data), folder / "ascii")
    (folder / "ASC_NTS.pdf").write_bytes(b"%PDF-1.4\n")  # FDA's zips carry their documentation
    report = load([folder], "faers", database_url=store, actor="test")
    assert (report.status, report.rejected_total) == ("committed", 0)
    read = {name: f.rows_read for name, f in report.files.items()}
    assert read == {
        "DEMO17Q2.txt": 100, "DRUG17Q2.txt": 328, "REAC17Q2.txt": 286, "OUTC17Q2.txt": 75,
        "RPSR17Q2.txt": 2, "THER17Q2.txt": 142, "INDI17Q2.txt": 232,
    }  # fmt: skip
    joined = {name: f.joined for name, f in report.files.items() if f.joined}
    assert joined == {"OUTC17Q2.txt": 75, "RPSR17Q2.txt": 2, "THER17Q2.txt": 142,
                      "INDI17Q2.txt": 232}  # fmt: skip
    assert set(accounted(report).values()) == {0}
    assert [(u.name, u.use) for u in report.uses if u.use != "used"] == [
        ("ASC_NTS.pdf", "not recognised")
    ]
    assert len([u for u in report.uses if u.use == "used"]) == 7


def test_folded_rows_of_a_rejected_case_are_rejected_with_it(store: str, tmp_path: Path) -> None:
    folder = quarter(
        tmp_path / "q",
        demo=(demo_row("1001", "100", age="300"), demo_row("2001", "200")),
        drug=(drug_row("1001", "1", "KYMRIAH"), drug_row("2001", "1", "YESCARTA")),
    )
    write(folder, "OUTC17Q2.txt", "primaryid$caseid$outc_cod", "1001$100$DE", "2001$200$HO")
    write(folder, "THER17Q2.txt", "primaryid$caseid$dsg_drug_seq$start_dt$end_dt$dur$dur_cod",
          "1001$100$1$20170101$$$", "2001$200$1$20170102$$$")  # fmt: skip
    report = load([folder], "faers", database_url=store, actor="test", policy=ACCEPT_PARTIAL)
    assert report.status == "partial"
    assert query(store, "SELECT outcomes FROM icsr_case")["outcomes"].tolist() == ["HO"]
    found = sorted(report.rejections[["file", "row", "rule"]].values.tolist())
    assert found == [
        ["DEMO17Q2.txt", 1, "range"],
        ["DRUG17Q2.txt", 1, "case_rejected"],
        ["OUTC17Q2.txt", 1, "case_rejected"],
        ["THER17Q2.txt", 1, "case_rejected"],
    ]
    folded = {
        n: (f.joined, f.rejected) for n, f in report.files.items() if n[:4] in ("OUTC", "THER")
    }
    assert folded == {"OUTC17Q2.txt": (1, 1), "THER17Q2.txt": (1, 1)}
    assert set(accounted(report).values()) == {0}
