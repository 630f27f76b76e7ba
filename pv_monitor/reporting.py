"""Orchestration for safety officers: the periodic report and the signal screen.

:func:`write_report` reads the store at a data-lock point, builds the report
(:mod:`pv_monitor.report`) and writes it as HTML, PDF and XLSX; it only reads, so running it twice
on the same database gives byte-identical files. :func:`screen_signals` runs the statistical
screens (disproportionality on the spontaneous reports, sequential monitoring of the programme's
cohort) and records every hit as a *potential signal* linked to its analysis run
(:mod:`pv_monitor.store.signals`); it writes, and it is the only thing here that does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd

from pv_monitor import __version__
from pv_monitor.reference.meddra import configured_folder, load_hierarchy, release_version
from pv_monitor.reference.products import find_product
from pv_monitor.report.build import (
    MONITORING_SETTINGS,
    ReportRequest,
    build_report,
    disproportionality_hits,
    sequential_monitoring,
)
from pv_monitor.report.render import write_html, write_pdf, write_xlsx
from pv_monitor.signals.disproportionality import Thresholds
from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.migrate import require_current_schema
from pv_monitor.store.report_io import content_sha256, report_inputs
from pv_monitor.store.signals import (
    RunDescription,
    raise_potential_signals,
    record_analysis_run,
    signal_overview,
)
from pv_monitor.store.spontaneous_counts import spontaneous_counts
from pv_monitor.store.survival_io import survival_inputs


@dataclass(frozen=True)
class ReportFiles:
    """The files written and the content hash they state."""

    html: Path
    pdf: Path
    xlsx: Path
    database_sha256: str


def _stem(request: ReportRequest) -> str:
    product = f"_{request.product.lower().replace(' ', '-')}" if request.product else ""
    return f"signal_report_{request.data_lock_point.isoformat()}{product}"


def write_report(
    database_url: str, request: ReportRequest, out: Path, *, meddra_dir: Path | None = None
) -> ReportFiles:
    """Write the periodic signal report for ``request`` into the folder ``out``."""
    if request.interval_start > request.data_lock_point:
        raise ValueError("the interval starts after the data-lock point")
    folder = configured_folder(meddra_dir)
    hierarchy = load_hierarchy(folder) if folder else None
    engine = create_store_engine(database_url)
    try:
        require_current_schema(engine)
        with session_factory(engine)() as session:
            inputs = report_inputs(session, request.data_lock_point, product=request.product)
            cohort = survival_inputs(session, None)
            counts = spontaneous_counts(session, received_to=request.data_lock_point)
            overview = signal_overview(session, request.interval_start, request.data_lock_point)
    finally:
        engine.dispose()
    digest = content_sha256(inputs, cohort, counts, overview)
    report = build_report(
        request,
        inputs,
        cohort=cohort,
        spontaneous_counts=counts,
        signal_overview=overview,
        database_sha256=digest,
        software_version=__version__,
        hierarchy=hierarchy,
        meddra_version=release_version(folder) if folder else None,
    )
    out.mkdir(parents=True, exist_ok=True)
    stem = out / _stem(request)
    files = ReportFiles(
        stem.with_suffix(".html"), stem.with_suffix(".pdf"), stem.with_suffix(".xlsx"), digest
    )
    write_html(report, files.html)
    write_pdf(report, files.pdf)
    write_xlsx(report, files.xlsx, created=datetime.combine(request.data_lock_point, time()))
    return files


@dataclass(frozen=True)
class ScreenSummary:
    """What one screen found and recorded."""

    disproportionality_hits: int
    sequential_hits: int
    new_signals: int


def screen_signals(
    database_url: str, interval_start: date, data_lock_point: date, *, actor: str
) -> ScreenSummary:
    """Run the screens at the lock and record their hits as potential signals.

    Disproportionality: CAR-T product-event combinations of the spontaneous reports meeting the
    EB05 rule or the Evans rule (:class:`~pv_monitor.signals.disproportionality.Thresholds`).
    Sequential: products whose Bernoulli or risk-adjusted CUSUM alarmed, or whose posterior
    probability of exceeding the reference rate passed the monitor's certainty
    (:mod:`pv_monitor.report.build`).
    """
    engine = create_store_engine(database_url)
    thresholds = Thresholds()
    try:
        require_current_schema(engine)
        with session_factory(engine)() as session, session.begin():
            counts = spontaneous_counts(session, received_to=data_lock_point)
            inputs = report_inputs(session, data_lock_point)
            digest = content_sha256(inputs, counts)
            hits = disproportionality_hits(counts, thresholds)
            car_t = hits["product"].map(lambda p: find_product(str(p)) is not None)
            rule = hits["eb05_signal"].astype(bool) | hits["evans_signal"].astype(bool)
            hits = hits.loc[car_t.astype(bool) & rule]
            columns = ["product", "event", "a", "prr", "chi2", "ror_lower", "ic025", "ebgm", "eb05"]
            run = record_analysis_run(
                session,
                RunDescription("disproportionality", "gps+prr+ror+ic", {"unit": "unique reports"},
                               asdict(thresholds), interval_start, data_lock_point, digest),
                run_by=actor,
                hits=len(hits),
            )  # fmt: skip
            created = raise_potential_signals(
                session, run, hits[[c for c in columns if c in hits.columns]], actor=actor
            )
            monitoring, _ = sequential_monitoring(inputs)
            alarms = _sequential_hits(monitoring)
            for family, rows in alarms.items():
                method = SEQUENTIAL_METHODS[family]
                seq_run = record_analysis_run(
                    session,
                    RunDescription(family, method, {"outcome": "grade >= 3 in days 0-28"},
                                   MONITORING_SETTINGS, interval_start, data_lock_point, digest),
                    run_by=actor,
                    hits=len(rows),
                )  # fmt: skip
                created += raise_potential_signals(session, seq_run, rows, actor=actor)
    finally:
        engine.dispose()
    return ScreenSummary(len(hits), sum(len(r) for r in alarms.values()), len(created))


SEQUENTIAL_METHODS = {
    "sequential": "bernoulli_and_risk_adjusted_cusum",
    "bayesian": "beta_binomial",
}


def _sequential_hits(monitoring: pd.DataFrame) -> dict[str, pd.DataFrame]:
    if monitoring.empty or "cusum_alarms" not in monitoring.columns:
        return {}
    event = "grade >= 3 " + monitoring["syndrome"] + " (days 0-28)"
    frame = monitoring.assign(event=event)
    keep = ["product", "event", "patients", "events", "reference_rate"]
    risk_adjusted = [c for c in ("ra_cusum_h", "ra_cusum_alarms") if c in frame.columns]
    alarmed = frame["cusum_alarms"].fillna(0) > 0
    if "ra_cusum_alarms" in frame.columns:
        alarmed |= frame["ra_cusum_alarms"].fillna(0) > 0
    cusum = frame[alarmed]
    bayes = frame[frame["bayes_first_crossing_patient"].notna()]
    found = {
        "sequential": cusum[[*keep, "cusum_h", "cusum_alarms", *risk_adjusted]],
        "bayesian": bayes[[*keep, "posterior_p_above_reference", "bayes_first_crossing_patient"]],
    }
    return {family: rows for family, rows in found.items() if not rows.empty}


__all__ = ["ReportFiles", "ScreenSummary", "screen_signals", "write_report"]
