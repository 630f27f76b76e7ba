"""The pipeline step (``pv-monitor run``): store -> pure grading -> store -> alerts.

A run recomputes the derived rows (``daily_assessment``, ``toxicity_grade``,
``toxicity_episode``, ``risk_score``) of the subjects that load batches touched since the last
committed run, or of every subject when there was no run yet, when the criteria versions
changed, or when asked (``full=True``). Each subject's derived rows are replaced whole, so
running twice on unchanged data changes nothing, and one run is one transaction: a failure
leaves the previous results. After each chunk of subjects is regraded, the alert rules run on
their derived rows and the engine raises, escalates, updates or reopens their alerts
(``docs/alerts.md``). Each run is recorded in ``pipeline_run`` and in the audit trail; the
criteria versions include the alert rules' versions. ``train_models`` fits the trained risk
models on the store's graded cohort (``docs/models.md``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from pv_monitor import __version__
from pv_monitor.alerts.engine import plan
from pv_monitor.alerts.rules import RULES, evaluate
from pv_monitor.config import DEFAULT_MIN_AUROC
from pv_monitor.grading import daily
from pv_monitor.grading.assess import assess, criteria_versions
from pv_monitor.grading.reconcile import reconcile, reconcile_daily, reported_peaks
from pv_monitor.risk.models import (
    HORIZONS,
    OUTCOMES,
    LoadedModel,
    TrainedModel,
    card_json,
    outcomes,
    predictions,
    train,
)
from pv_monitor.risk.models import features as model_features
from pv_monitor.risk.scores import SCORE_CODES, compute_scores
from pv_monitor.store.alerts import apply_actions, existing_alerts, rule_frames
from pv_monitor.store.audit import record_change
from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.migrate import require_current_schema
from pv_monitor.store.models import PipelineRun
from pv_monitor.store.pipeline_io import (
    daily_reconciliation_inputs,
    last_committed_run,
    latest_load_batch_id,
    peak_grades,
    read_inputs,
    reconciliation_inputs,
    replace_derived,
    subjects_to_run,
    training_frames,
)

CHUNK_SUBJECTS = 2000
"""Subjects graded together: bounds memory (about 2,000 x 108 days per chunk)."""
INPUT_CODES = {
    "measurement": tuple(dict.fromkeys((*daily.MEASUREMENT_CODES, *SCORE_CODES))),
    "observation": daily.OBSERVATION_CODES,
}


@dataclass
class RunSummary:
    """What a run did."""

    run_id: int
    mode: str
    subjects: int
    counts: dict[str, int] = field(default_factory=dict)
    criteria: dict[str, str] = field(default_factory=dict)


def run_pipeline(
    database_url: str,
    *,
    actor: str,
    full: bool = False,
    chunk_subjects: int = CHUNK_SUBJECTS,
    progress: Callable[[int, int], None] | None = None,
    models: Sequence[LoadedModel] = (),
) -> RunSummary:
    """Recompute the derived rows of touched subjects (all subjects when ``full``).

    ``progress(done, total)`` is called after each chunk of subjects. ``models`` (see
    :func:`load_models`) add their predictions as risk scores.

    Raises
    ------
    StoreNotReady
        When the store is not at the newest schema revision.
    """
    engine = create_store_engine(database_url)
    try:
        require_current_schema(engine)
        return _run(engine, actor, full, chunk_subjects, progress, models)
    finally:
        engine.dispose()


def _run(
    engine: Any,
    actor: str,
    full: bool,
    chunk_subjects: int,
    progress: Callable[[int, int], None] | None,
    models: Sequence[LoadedModel],
) -> RunSummary:
    versions = {
        **criteria_versions(),
        "alert_rules": ";".join(f"{rule.rule_id}@{rule.version}" for rule in RULES),
        "models": ";".join(
            f"{m.name}@{m.version}"
            + ("" if m.alert_probability is None else f">={m.alert_probability:g}")
            for m in models
        ),
    }
    with session_factory(engine)() as session, session.begin():
        previous = last_committed_run(session)
        regrade_all = full or previous is None or previous.criteria != versions
        upto = latest_load_batch_id(session)
        subjects = subjects_to_run(
            session, None if regrade_all or previous is None else previous.last_load_batch_id
        )
        run = PipelineRun(
            run_by=actor,
            started_at=datetime.now(UTC),
            status="running",
            mode="full" if regrade_all else "incremental",
            last_load_batch_id=upto,
            criteria=versions,
            subjects=len(subjects),
            pv_monitor_version=__version__,
        )
        session.add(run)
        session.flush()
        counts: dict[str, int] = {}
        for start in range(0, len(subjects), chunk_subjects):
            chunk = subjects[start : start + chunk_subjects]
            inputs = read_inputs(session, chunk, INPUT_CODES)
            result = assess(
                inputs.infusions, inputs.measurements, inputs.observations, inputs.drugs
            )
            scores = pd.concat(
                [
                    compute_scores(inputs.infusions, inputs.measurements, inputs.drugs),
                    result.screens,
                    *(
                        predictions(
                            model,
                            model_features(
                                inputs.infusions,
                                inputs.measurements,
                                inputs.drugs,
                                result.daily,
                                model.horizon,
                            ),
                        )
                        for model in models
                    ),
                ],
                ignore_index=True,
            )
            written = replace_derived(
                session,
                chunk,
                result.daily,
                result.time_points,
                result.grades,
                result.episodes,
                scores,
            )
            frames = rule_frames(session, chunk, result.daily)
            actions = plan(evaluate(frames), existing_alerts(session, chunk))
            written.update({f"alerts_{k}": n for k, n in apply_actions(session, actions).items()})
            for table, rows in written.items():
                counts[table] = counts.get(table, 0) + rows
            if progress is not None:
                progress(min(start + chunk_subjects, len(subjects)), len(subjects))
        run.status = "committed"
        run.finished_at = datetime.now(UTC)
        run.counts = counts
        record_change(
            session,
            actor=actor,
            action="pipeline_run",
            table="pipeline_run",
            key=str(run.pipeline_run_id),
            new={"mode": run.mode, "subjects": len(subjects), "counts": counts, **versions},
            reason="derived rows recomputed from the store",
        )
        return RunSummary(run.pipeline_run_id, run.mode, len(subjects), counts, versions)


def derived_rates(database_url: str) -> pd.DataFrame:
    """Per product: subjects, and the shares with derived CRS and ICANS of any grade and of
    grade >= 3 (each subject's highest episode peak)."""
    engine = create_store_engine(database_url)
    try:
        with session_factory(engine)() as session:
            peaks = peak_grades(session)
    finally:
        engine.dispose()
    peaks["product"] = peaks["brand"].fillna(peaks["product"])
    return (
        peaks.assign(
            crs_any=peaks["crs_peak"] >= 1,
            crs_grade3plus=peaks["crs_peak"] >= 3,
            icans_any=peaks["icans_peak"] >= 1,
            icans_grade3plus=peaks["icans_peak"] >= 3,
        )
        .groupby("product", as_index=False)
        .agg(
            subjects=("subject_id", "size"),
            crs_any=("crs_any", "mean"),
            crs_grade3plus=("crs_grade3plus", "mean"),
            icans_any=("icans_any", "mean"),
            icans_grade3plus=("icans_grade3plus", "mean"),
        )
    )


def reconciliation(
    database_url: str, syndromes: tuple[str, ...] = ("crs", "icans")
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reconciliation table and the reported events it was made from."""
    engine = create_store_engine(database_url)
    try:
        with session_factory(engine)() as session:
            inputs = reconciliation_inputs(session, syndromes)
    finally:
        engine.dispose()
    return reconcile(inputs.reported, inputs.derived, inputs.gradable), inputs.reported


def daily_reconciliation(
    database_url: str, syndromes: tuple[str, ...] = ("crs", "icans")
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reported daily grades against derived daily grades, per subject-day
    (:func:`~pv_monitor.grading.reconcile.reconcile_daily`), and each subject's reported peak
    beside the derived one (:func:`~pv_monitor.grading.reconcile.reported_peaks`)."""
    engine = create_store_engine(database_url)
    try:
        with session_factory(engine)() as session:
            inputs = daily_reconciliation_inputs(session, syndromes)
    finally:
        engine.dispose()
    return (
        reconcile_daily(inputs.reported, inputs.derived),
        reported_peaks(inputs.reported, inputs.derived),
    )


def load_models(
    folder: Path, min_auroc: float = DEFAULT_MIN_AUROC, alert_probability: float | None = None
) -> tuple[list[LoadedModel], list[str]]:
    """The models saved in ``folder`` whose cross-validated AUROC reaches ``min_auroc``, and a
    line for each one left out (shown to the user).

    ``alert_probability`` is the site's alert threshold for the used models' predictions
    (``None``: predictions are stored and raise no alert).

    Raises
    ------
    ValueError
        When ``alert_probability`` is not strictly between 0 and 1.
    """
    if alert_probability is not None and not 0 < alert_probability < 1:
        raise ValueError(f"alert probability {alert_probability} is not between 0 and 1")
    used, left_out = [], []
    for card_path in sorted(folder.glob("*.card.json")):
        card = json.loads(card_path.read_text(encoding="utf-8"))
        name = str(card["name"])
        auroc = float(card["metrics"]["auroc"])
        if auroc < min_auroc:
            left_out.append(f"{name}: cross-validated AUROC {auroc:.3f} < {min_auroc}")
            continue
        estimator = joblib.load(folder / f"{name}.joblib")
        horizon = int(card.get("horizon", name.rsplit("_day", 1)[-1]))  # cards before "horizon"
        used.append(LoadedModel(name, horizon, estimator, card, alert_probability))
    return used, left_out


def train_models(
    database_url: str, out_dir: Path, *, seed: int = 0, bootstrap: int = 500
) -> list[TrainedModel]:
    """Train the grade >= 3 CRS and ICANS models at each horizon on the store's graded cohort;
    write each model (joblib) and its card (JSON) to ``out_dir``."""
    engine = create_store_engine(database_url)
    try:
        require_current_schema(engine)
        with session_factory(engine)() as session:
            data = training_frames(session, SCORE_CODES)
    finally:
        engine.dispose()
    out_dir.mkdir(parents=True, exist_ok=True)
    trained = []
    for horizon in sorted(HORIZONS):
        frame = model_features(
            data["infusions"], data["measurements"], data["drugs"], data["daily"], horizon
        )
        for syndrome in OUTCOMES:
            target = outcomes(frame.index, data["episodes"], syndrome)
            model = train(
                frame, target, f"{syndrome}_grade3_by_day{horizon}", seed=seed, bootstrap=bootstrap
            )
            model.card["horizon"] = horizon
            joblib.dump(model.estimator, out_dir / f"{model.name}.joblib")
            (out_dir / f"{model.name}.card.json").write_text(card_json(model), encoding="utf-8")
            trained.append(model)
    return trained
