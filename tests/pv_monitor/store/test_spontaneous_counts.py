"""The disproportionality counts table built in SQL (SQLite, and PostgreSQL when configured),
on a handful of hand-made FAERS reports whose every count is known."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pv_monitor.cli import upgrade_store
from pv_monitor.signals.disproportionality import (
    COUNT_COLUMNS,
    disproportionality,
    report_counts,
)
from pv_monitor.signals.gps import GpsPrior
from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.models import IcsrCase, IcsrDrug, IcsrReaction, LoadBatch, Product
from pv_monitor.store.spontaneous_counts import spontaneous_counts

NOW = datetime(2024, 12, 1, tzinfo=UTC)
TISA = "tisagenlecleucel"
AXI = "axicabtagene ciloleucel"
LISO = "lisocabtagene maraleucel"
CRS = "CYTOKINE RELEASE SYNDROME"
ICANS = "IMMUNE EFFECTOR CELL-ASSOCIATED NEUROTOXICITY SYNDROME"


@dataclass
class Report:
    """One report version: its drugs as (verbatim name, normalised generic name or None)."""

    key: str
    case: str
    version: int
    latest: bool
    drugs: list[tuple[str, str | None]]
    reactions: list[str]
    sex: str | None = None
    age: float | None = None
    age_unit: str | None = None
    received: date | None = None
    rows: list[str] = field(default_factory=list)


REPORTS = [
    # an earlier version of case C1: not counted (its NAUSEA must not appear anywhere)
    Report(
        "C1-1", "C1", 1, False, [("KYMRIAH", TISA)], ["Nausea"], "F", 30, "YR", date(2023, 11, 2)
    ),
    # brand and generic on two drug lines of one report: one product, counted once;
    # " Aspirin" has no normalised product, so it is the verbatim name upper-cased and trimmed
    Report(
        "C1-2", "C1", 2, True,
        [("KYMRIAH", TISA), ("tisagenlecleucel", TISA), (" Aspirin", None)],
        ["Cytokine release syndrome", "Pyrexia"], "F", 30, "YR", date(2024, 1, 10),
    ),
    Report(
        "C2-1", "C2", 1, True, [("Yescarta", AXI)],
        ["Cytokine release syndrome", "Immune effector cell-associated neurotoxicity syndrome"],
        "M", 70, "YR", date(2024, 2, 15),
    ),
    # 216 months = 18.0 years (band 18-64); sex unknown; a lower-case term
    Report(
        "C3-1", "C3", 1, True, [("ASPIRIN", None), ("KYMRIAH", TISA)], ["pyrexia"],
        None, 216, "MON", date(2024, 3, 20),
    ),
    Report(
        "C4-1", "C4", 1, True, [("Kymriah", TISA)], ["Cytokine release syndrome"],
        "F", None, None, date(2023, 12, 1),
    ),
    # no reaction: counted nowhere, not even in the product's margin or the total
    Report("C5-1", "C5", 1, True, [("KYMRIAH", TISA)], [], "M", 40, "YR", date(2024, 4, 1)),
    # no received date: counted only when no interval is asked for
    Report("C6-1", "C6", 1, True, [("Breyanzi", LISO)], ["Pyrexia"], "F", 80, "YR", None),
]  # fmt: skip


@pytest.fixture
def session(store_url: str) -> Iterator[Session]:
    """A migrated store holding :data:`REPORTS`."""
    upgrade_store(store_url, actor="test")
    engine = create_store_engine(store_url)
    with session_factory(engine)() as session, session.begin():
        batch = LoadBatch(
            source_path="test",
            source_sha256="0" * 64,
            source_format="faers",
            loaded_by="test",
            started_at=NOW,
            status="committed",
            policy="all_or_nothing",
            rows_read=0,
            rows_loaded=0,
            rows_rejected=0,
            etl_version="test",
        )
        session.add(batch)
        session.flush()
        products = dict(session.execute(select(Product.generic_name, Product.product_id)).all())
        for report in REPORTS:
            case = IcsrCase(
                source="faers",
                report_key=report.key,
                case_key=report.case,
                case_version=report.version,
                is_latest=report.latest,
                sex=report.sex,
                age=report.age,
                age_unit=report.age_unit,
                fda_received_date=report.received,
                load_batch_id=batch.load_batch_id,
                source_key=f"DEMO#{report.key}",
            )
            session.add(case)
            session.flush()
            for seq, (name, generic) in enumerate(report.drugs, start=1):
                session.add(
                    IcsrDrug(
                        icsr_case_id=case.icsr_case_id,
                        drug_seq=seq,
                        drug_name=name,
                        product_id=products[generic] if generic else None,
                        load_batch_id=batch.load_batch_id,
                        source_key=f"DRUG#{report.key}#{seq}",
                    )
                )
            for term in report.reactions:
                session.add(
                    IcsrReaction(
                        icsr_case_id=case.icsr_case_id,
                        preferred_term=term,
                        load_batch_id=batch.load_batch_id,
                        source_key=f"REAC#{report.key}#{term}",
                    )
                )
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def _frame(rows: list[tuple[object, ...]], stratified: bool = False) -> pd.DataFrame:
    columns = list(COUNT_COLUMNS)
    if stratified:
        columns.insert(2, "stratum")
    frame = pd.DataFrame(rows, columns=columns)
    for column in COUNT_COLUMNS[2:]:
        frame[column] = frame[column].astype("int64")
    return frame


def test_counts_unique_latest_reports_with_products_collapsed(session: Session) -> None:
    """Reports counted: C1 (version 2), C2, C3, C4, C6 -> N = 5 (C5 has no reaction).
    Products: tisagenlecleucel C1, C3, C4 = 3 (C1's two lines once); ASPIRIN C1, C3 = 2;
    axicabtagene C2 = 1; lisocabtagene C6 = 1. Events: CRS C1, C2, C4 = 3; PYREXIA C1, C3,
    C6 = 3; ICANS C2 = 1."""
    got = spontaneous_counts(session)

    expected = _frame(
        [
            ("ASPIRIN", CRS, 1, 2, 3, 5),  # C1
            ("ASPIRIN", "PYREXIA", 2, 2, 3, 5),  # C1, C3
            (AXI, CRS, 1, 1, 3, 5),  # C2
            (AXI, ICANS, 1, 1, 1, 5),  # C2
            (LISO, "PYREXIA", 1, 1, 3, 5),  # C6
            (TISA, CRS, 2, 3, 3, 5),  # C1, C4
            (TISA, "PYREXIA", 2, 3, 3, 5),  # C1, C3
        ]
    )
    pd.testing.assert_frame_equal(got, expected)


def test_received_interval_keeps_reports_received_in_it(session: Session) -> None:
    """2024 only: C1 (2024-01-10), C2, C3; not C4 (2023), not C6 (no date) -> N = 3."""
    got = spontaneous_counts(
        session, received_from=date(2024, 1, 1), received_to=date(2024, 12, 31)
    )

    expected = _frame(
        [
            ("ASPIRIN", CRS, 1, 2, 2, 3),  # products: ASPIRIN C1, C3; CRS C1, C2
            ("ASPIRIN", "PYREXIA", 2, 2, 2, 3),  # PYREXIA C1, C3
            (AXI, CRS, 1, 1, 2, 3),
            (AXI, ICANS, 1, 1, 1, 3),
            (TISA, CRS, 1, 2, 2, 3),  # tisagenlecleucel C1, C3
            (TISA, "PYREXIA", 2, 2, 2, 3),
        ]
    )
    pd.testing.assert_frame_equal(got, expected)
    assert spontaneous_counts(session, received_to=date(2023, 12, 31))["total_reports"].eq(1).all()


def test_stratified_by_sex_counts_within_each_stratum(session: Session) -> None:
    """F: C1, C4, C6 (3 reports); M: C2 (1); UNK: C3 (no sex, 1)."""
    got = spontaneous_counts(session, stratify_by="sex")

    expected = _frame(
        [
            ("ASPIRIN", CRS, "F", 1, 1, 2, 3),  # F: ASPIRIN C1; CRS C1, C4
            ("ASPIRIN", "PYREXIA", "F", 1, 1, 2, 3),  # F: PYREXIA C1, C6
            ("ASPIRIN", "PYREXIA", "UNK", 1, 1, 1, 1),
            (AXI, CRS, "M", 1, 1, 1, 1),
            (AXI, ICANS, "M", 1, 1, 1, 1),
            (LISO, "PYREXIA", "F", 1, 1, 2, 3),
            (TISA, CRS, "F", 2, 2, 2, 3),  # F: tisagenlecleucel C1, C4
            (TISA, "PYREXIA", "F", 1, 2, 2, 3),
            (TISA, "PYREXIA", "UNK", 1, 1, 1, 1),
        ],
        stratified=True,
    )
    pd.testing.assert_frame_equal(got, expected)


def test_stratified_by_age_band_converts_units(session: Session) -> None:
    """C1 30 years and C3 216 months (18.0 years) -> 18-64; C2 70 -> 65-74; C6 80 -> >=75;
    C4 no age -> unknown."""
    got = spontaneous_counts(session, stratify_by="age_band")

    bands = got.groupby("stratum")["total_reports"].first().to_dict()
    assert bands == {"18-64": 2, "65-74": 1, ">=75": 1, "unknown": 1}
    tisa_pyrexia = got[(got["product"] == TISA) & (got["event"] == "PYREXIA")]
    assert tisa_pyrexia[["stratum", "a", "product_reports"]].values.tolist() == [["18-64", 2, 2]]


def test_sql_counts_equal_the_pure_report_counts(session: Session) -> None:
    """The same reports as report-level rows give the same table through pandas."""
    rows = [
        (r.key, (generic or name.strip().upper()), term.upper(), r.sex or "UNK")
        for r in REPORTS
        if r.latest and r.reactions
        for name, generic in r.drugs
        for term in r.reactions
    ]
    frame = pd.DataFrame(rows, columns=["id", "product", "event", "sex"])

    pd.testing.assert_frame_equal(spontaneous_counts(session), report_counts(frame))
    pd.testing.assert_frame_equal(
        spontaneous_counts(session, stratify_by="sex"), report_counts(frame, stratum="sex")
    )


def test_the_table_feeds_disproportionality(session: Session) -> None:
    counts = spontaneous_counts(session, stratify_by="sex")

    result = disproportionality(counts, prior=GpsPrior(3.256, 0.400, 2.024, 1.906, 0.0653))

    tisa_crs = result[(result["product"] == TISA) & (result["event"] == CRS)].iloc[0]
    # crude table: a = 2, b = 3 - 2 = 1, c = 3 - 2 = 1, d = 5 - 3 - 3 + 2 = 1
    assert tisa_crs[["a", "b", "c", "d"]].tolist() == [2, 1, 1, 1]
    # stratified E: F 2 * 2 / 3 + UNK 1 * 0 (no CRS in UNK, so that stratum is left out)
    assert tisa_crs["gps_expected"] == pytest.approx(4 / 3)


def test_an_empty_store_gives_an_empty_table(store_url: str) -> None:
    upgrade_store(store_url, actor="test")
    engine = create_store_engine(store_url)
    with session_factory(engine)() as session:
        got = spontaneous_counts(session, stratify_by="age_band")
    engine.dispose()
    assert got.empty
    assert list(got.columns) == ["product", "event", "stratum", *COUNT_COLUMNS[2:]]


def test_unknown_stratification_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="stratify_by"):
        spontaneous_counts(session, stratify_by="country")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="before"):
        spontaneous_counts(session, received_from=date(2024, 2, 1), received_to=date(2024, 1, 1))
