"""The periodic signal report end to end on a small known cohort (SQLite and PostgreSQL):
three files, byte-identical on re-run, the PDF renders, and the tables agree with direct SQL."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from etl import load
from pv_monitor.cli import upgrade_store
from pv_monitor.pipeline import run_pipeline
from pv_monitor.report.build import ReportRequest
from pv_monitor.reporting import screen_signals, write_report
from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.signals import signal_table
from pv_monitor.synthetic import generate_cohort
from tests.conftest import SHARED_DATA, postgres_admin_url
from tests.etl.sources.test_faers import demo_row, drug_row, quarter

LOCK = date(2026, 6, 30)
START = date(2025, 7, 1)


@dataclass(frozen=True)
class ReportStore:
    url: str
    faers_loaded: bool


def _build(url: str, folder: Path) -> ReportStore:
    generate_cohort(50, seed=8, out_dir=folder / "tidy")
    upgrade_store(url, actor="test")
    assert load([folder / "tidy"], "tidy", database_url=url, actor="test").exit_code == 0
    run_pipeline(url, actor="test")
    faers = SHARED_DATA / "faers_sample" / "faers_ascii_2017q2" / "ascii"
    if faers.exists():
        assert load([faers], "faers", database_url=url, actor="test").exit_code == 0
    return ReportStore(url, faers.exists())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def report_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReportStore]:
    folder = tmp_path_factory.mktemp("report")
    if request.param == "sqlite":
        yield _build(f"sqlite:///{folder / 'store.db'}", folder)
        return
    admin_url = make_url(postgres_admin_url())
    name = f"pvm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _build(admin_url.set(database=name).render_as_string(hide_password=False), folder)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _query(url: str, sql: str) -> pd.DataFrame:
    engine = create_store_engine(url)
    try:
        with engine.connect() as connection:
            params = {"lock": LOCK, "start": START}
            return pd.read_sql_query(text(sql), connection, params=params)
    finally:
        engine.dispose()


FIRST_INFUSIONS = """
    SELECT i.subject_id, i.infusion_id, i.infusion_date,
           COALESCE(p.brand_name, p.generic_name) AS product
    FROM infusion i JOIN product p ON p.product_id = i.product_id
    WHERE i.infusion_date <= :lock AND NOT EXISTS (
        SELECT 1 FROM infusion e WHERE e.subject_id = i.subject_id AND e.infusion_date <= :lock
        AND (e.infusion_date < i.infusion_date OR (e.infusion_date = i.infusion_date
             AND e.infusion_number < i.infusion_number)))
"""


def test_three_files_byte_identical_on_rerun_and_the_pdf_renders(
    report_store: ReportStore, tmp_path: Path
) -> None:
    request = ReportRequest(START, LOCK)
    first = write_report(report_store.url, request, tmp_path / "a")
    second = write_report(report_store.url, request, tmp_path / "b")
    assert first.database_sha256 == second.database_sha256
    for a, b in ((first.html, second.html), (first.pdf, second.pdf), (first.xlsx, second.xlsx)):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs between two runs"
    html = first.html.read_text()
    assert LOCK.isoformat() in html and first.database_sha256 in html
    assert "<script" not in html  # self-contained and inert
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: the PDF was not rendered")
    subprocess.run(
        ["pdftoppm", "-r", "30", "-png", str(first.pdf), str(tmp_path / "page")], check=True
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 5
    assert all(p.stat().st_size > 1_000 for p in pages)  # rendered, not blank files


def test_tables_agree_with_direct_queries(report_store: ReportStore, tmp_path: Path) -> None:
    files = write_report(report_store.url, ReportRequest(START, LOCK), tmp_path)
    sheets = pd.read_excel(files.xlsx, sheet_name=None)
    url = report_store.url
    first = _query(url, FIRST_INFUSIONS)
    assert len(first) > 0

    exposure = sheets["exposure"]
    by_product = exposure[exposure["dimension"] == "product"].set_index("category")
    expected = first.groupby("product").size()
    assert by_product["patients_cumulative"].sort_index().to_dict() == expected.to_dict()
    in_interval = first[pd.to_datetime(first["infusion_date"]) >= pd.Timestamp(START)]
    total = exposure[exposure["dimension"] == "all"].iloc[0]
    assert (total["patients_cumulative"], total["patients_interval"]) == (
        len(first),
        len(in_interval),
    )

    saes = _query(
        url,
        "SELECT a.subject_id FROM adverse_event a WHERE a.serious "
        "AND (a.onset_date IS NULL OR a.onset_date <= :lock) "
        f"AND a.subject_id IN (SELECT subject_id FROM ({FIRST_INFUSIONS}) f)",
    )
    assert sheets["sae_soc_pt"]["events_cumulative"].sum() == len(saes)
    listed = _query(
        url,
        "SELECT a.subject_id FROM adverse_event a WHERE a.serious "
        "AND a.onset_date >= :start AND a.onset_date <= :lock "
        f"AND a.subject_id IN (SELECT subject_id FROM ({FIRST_INFUSIONS}) f)",
    )
    assert len(sheets["sae_listing"]) == len(listed) > 0
    assert sheets["sae_soc_pt"]["events_interval"].sum() == len(listed)

    crs3 = _query(
        url,
        "SELECT DISTINCT e.infusion_id FROM toxicity_episode e "
        f"JOIN ({FIRST_INFUSIONS}) f ON f.infusion_id = e.infusion_id "
        "WHERE e.syndrome = 'crs' AND e.peak_grade >= 3 AND e.onset_day BETWEEN 0 AND 28",
    )
    grades = sheets["crs_icans_grades"]
    all_crs = grades[(grades["product"] == "all products") & (grades["syndrome"] == "CRS")]
    assert int(all_crs["grade_3_plus"].iloc[0]) == len(crs3)
    assert int(all_crs["n"].iloc[0]) == len(first)

    deaths = _query(
        url,
        "SELECT d.subject_id FROM death d WHERE (d.death_date IS NULL OR d.death_date <= :lock) "
        f"AND d.subject_id IN (SELECT subject_id FROM ({FIRST_INFUSIONS}) f)",
    )
    assert sheets["deaths"]["patients_cumulative"].sum() == deaths["subject_id"].nunique()
    incidence = sheets["incidence_vs_reference"]
    died = incidence[incidence["metric"] == "death"].drop_duplicates("product")
    assert died["events"].sum() == deaths["subject_id"].nunique()
    assert died["n"].sum() == len(first)
    about = sheets["about"].set_index("field")["value"]
    assert about["Data-lock point"] == LOCK.isoformat()
    assert about["Database content hash (SHA-256)"] == files.database_sha256


def test_one_product_and_a_later_lock(report_store: ReportStore, tmp_path: Path) -> None:
    first = _query(report_store.url, FIRST_INFUSIONS)
    product = str(first["product"].mode().iloc[0])
    files = write_report(report_store.url, ReportRequest(START, LOCK, product), tmp_path / "one")
    exposure = pd.read_excel(files.xlsx, sheet_name="exposure")
    products = exposure.loc[exposure["dimension"] == "product", "category"].tolist()
    assert products == [product]
    later = write_report(report_store.url, ReportRequest(START, date(2027, 12, 31)), tmp_path)
    assert later.database_sha256 != files.database_sha256


def _spontaneous_quarter(folder: Path) -> Path:
    """A made-up FAERS quarter with one planted signal: all 10 YESCARTA reports name cytokine
    release syndrome, against 2 of 40 ASPIRIN reports (PRR = (10/10) / (2/40) = 20, a = 10),
    while ASPIRIN's headache reports are not disproportionate."""
    demo, drug, reac = [], [], []
    for i in range(50):
        primaryid = str(1000 + i)
        demo.append(demo_row(primaryid, str(100 + i)))
        drug.append(drug_row(primaryid, "1", "YESCARTA" if i < 10 else "ASPIRIN"))
        crs = i < 10 or i in (10, 11)
        reac.append(f"{primaryid}${100 + i}${'Cytokine release syndrome' if crs else 'Headache'}$")
    return quarter(folder, demo=tuple(demo), drug=tuple(drug), reac=tuple(reac))


def test_screen_records_potential_signals_linked_to_runs(store_url: str, tmp_path: Path) -> None:
    upgrade_store(store_url, actor="test")
    faers = _spontaneous_quarter(tmp_path / "faers")
    assert load([faers], "faers", database_url=store_url, actor="test").exit_code == 0
    summary = screen_signals(store_url, START, LOCK, actor="test")
    engine = create_store_engine(store_url)
    try:
        with session_factory(engine)() as session:
            table = signal_table(session)
    finally:
        engine.dispose()
    assert (summary.disproportionality_hits, summary.new_signals) == (1, 1)
    signal = table.iloc[0]
    assert (signal["product"], signal["event_term"]) == (
        "axicabtagene ciloleucel",  # YESCARTA normalised to its product
        "CYTOKINE RELEASE SYNDROME",
    )
    assert (signal["status"], signal["method_family"]) == ("new", "disproportionality")
    assert str(signal["run_key"]).startswith("gps+prr+ror+ic-")
    again = screen_signals(store_url, START, LOCK, actor="test")
    assert again.new_signals == 0  # the open combination is not raised twice
