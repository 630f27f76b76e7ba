"""Loading FAERS and legacy AERS quarters into the spontaneous-report tables, on both stores."""

from __future__ import annotations

from pathlib import Path

from etl import load
from tests.etl.conftest import count, query
from tests.etl.sources.test_faers import (
    FAERS_DEMO,
    FAERS_DRUG,
    FAERS_REAC,
    aers_2004q1,
    demo_row,
    drug_row,
    faers_2017q2,
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
