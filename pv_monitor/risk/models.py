"""Trained risk models: grade >= 3 CRS and ICANS from what is known by day 0 and by day +3.

The estimator is one scikit-learn pipeline: median imputation (with missingness indicators) and
scaling of the numeric features, one-hot encoding of product, costimulatory domain, target and
diagnosis, then a soft-voting ensemble of an L2-regularised logistic regression and a
gradient-boosted tree model. Only scikit-learn estimators are used, so every estimator of ours
follows scikit-learn's conventions by construction.

Evaluation is honest: out-of-fold predictions from 5-fold cross-validation grouped by subject
(an infusion's subject never appears in its own training folds), AUROC, AUPRC and Brier score
with 95 % bootstrap intervals, and a calibration table (deciles of predicted risk, observed
rate with Wilson intervals). A model card records the training data's SHA-256, dates, metrics,
features and software versions. Features never look past the prediction day.

Examples
--------
>>> sorted(HORIZONS)
[0, 3]
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pv_monitor.risk.scores import lab_values

HORIZONS = {0: "day_0", 3: "day_3"}
"""Prediction day -> the lab time point known by then."""
OUTCOMES = ("crs", "icans")
LAB_CODES = ("LDH", "CREAT", "PLT", "CRP", "ANC", "HGB", "FERRITIN")
CATEGORICAL = ("product", "costimulatory_domain", "target_antigen", "diagnosis")
MODEL_VERSION = "1"
OPERATING_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5)
"""Probabilities at which the model card reports what an alert threshold would do."""


def features(
    infusions: pd.DataFrame,
    measurements: pd.DataFrame,
    drugs: pd.DataFrame,
    daily: pd.DataFrame,
    horizon: int,
) -> pd.DataFrame:
    """One row per infusion of what is known by study day ``horizon``.

    Parameters
    ----------
    infusions : DataFrame
        ``infusion_id, subject_id, infusion_date, age_years`` and the :data:`CATEGORICAL`
        columns.
    measurements, drugs : DataFrame
        As for :func:`pv_monitor.risk.scores.lab_values`.
    daily : DataFrame
        Day rows with ``infusion_id, study_day, temp_c_max``.
    """
    labs = lab_values(infusions, measurements, drugs)
    labs = labs[labs["study_day"] <= horizon]
    wanted = ["pre_lymphodepletion"] + ([HORIZONS[horizon]] if horizon in HORIZONS else [])
    labs = labs[labs["timepoint"].isin(wanted) & labs["code"].isin(LAB_CODES)]
    wide = labs.pivot_table(
        index="infusion_id", columns=["timepoint", "code"], values="value", aggfunc="first"
    )
    wide.columns = [f"{pair[1]}_{pair[0]}" for pair in wide.columns.to_list()]
    early = daily[(daily["study_day"] >= 0) & (daily["study_day"] <= horizon)]
    tmax = early.groupby("infusion_id")["temp_c_max"].max().rename(f"temp_max_day0_{horizon}")
    frame = infusions.set_index("infusion_id")[["subject_id", "age_years", *CATEGORICAL]]
    frame = frame.join(wide).join(tmax)
    for point in wanted:  # every expected column exists, even when nobody has the value
        for code in LAB_CODES:
            frame[f"{code}_{point}"] = frame.get(f"{code}_{point}", np.nan)
    base = frame.get("PLT_pre_lymphodepletion")
    if base is not None:
        frame["easix_pre_lymphodepletion"] = (
            frame["LDH_pre_lymphodepletion"] * frame["CREAT_pre_lymphodepletion"] / base
        )
    return frame.sort_index()


def outcomes(infusion_ids: pd.Index, episodes: pd.DataFrame, syndrome: str) -> pd.Series:
    """1 when the infusion had an episode of ``syndrome`` peaking at grade >= 3, else 0."""
    severe = episodes[(episodes["syndrome"] == syndrome) & (episodes["peak_grade"] >= 3)]
    return pd.Series(infusion_ids.isin(severe["infusion_id"]).astype(int), index=infusion_ids)


def make_estimator(numeric: list[str], categorical: list[str], seed: int = 0) -> Pipeline:
    """The pipeline: imputation and scaling, one-hot encoding, logistic + boosted ensemble."""
    prepare = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            ),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    ensemble = VotingClassifier(
        [
            ("logistic", LogisticRegression(C=0.5, max_iter=2000)),
            (
                "boosting",
                HistGradientBoostingClassifier(
                    max_depth=3, learning_rate=0.05, max_iter=150, random_state=seed
                ),
            ),
        ],
        voting="soft",
    )
    return Pipeline([("prepare", prepare), ("model", ensemble)])


def _wilson(successes: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    z = 1.959964
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def operating_points(
    y: np.ndarray, p: np.ndarray, thresholds: tuple[float, ...] = OPERATING_THRESHOLDS
) -> list[dict[str, float | None]]:
    """What alerting at each probability threshold would have done to out-of-fold predictions:
    the share of infusions flagged, sensitivity, specificity and positive predictive value.

    A site reads this table to choose its alert threshold (``pv-monitor run
    --alert-probability``); a ratio with an empty denominator is ``None``.

    Examples
    --------
    >>> y, p = np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.6, 0.1])
    >>> operating_points(y, p, (0.5,))
    [{'threshold': 0.5, 'flagged': 0.5, 'sensitivity': 0.5, 'specificity': 0.5, 'ppv': 0.5}]
    """

    def ratio(numerator: int, denominator: int) -> float | None:
        return numerator / denominator if denominator else None

    table = []
    for threshold in thresholds:
        flagged = p >= threshold
        hits = int((flagged & (y == 1)).sum())
        table.append(
            {
                "threshold": threshold,
                "flagged": float(flagged.mean()),
                "sensitivity": ratio(hits, int((y == 1).sum())),
                "specificity": ratio(int((~flagged & (y == 0)).sum()), int((y == 0).sum())),
                "ppv": ratio(hits, int(flagged.sum())),
            }
        )
    return table


def _bootstrap(
    y: np.ndarray, p: np.ndarray, groups: np.ndarray, seed: int, n: int = 500
) -> dict[str, tuple[float, float]]:
    """95 % intervals of the metrics, resampling subjects."""
    rng = np.random.default_rng(seed)
    subjects = np.unique(groups)
    rows_of = {s: np.flatnonzero(groups == s) for s in subjects}
    draws: dict[str, list[float]] = {"auroc": [], "auprc": [], "brier": []}
    for _ in range(n):
        rows = np.concatenate([rows_of[s] for s in rng.choice(subjects, subjects.size)])
        if y[rows].min() == y[rows].max():
            continue
        draws["auroc"].append(roc_auc_score(y[rows], p[rows]))
        draws["auprc"].append(average_precision_score(y[rows], p[rows]))
        draws["brier"].append(brier_score_loss(y[rows], p[rows]))
    return {
        k: (float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975)))
        for k, v in draws.items()
        if v
    }


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model with its cross-validated evaluation and model card."""

    name: str
    estimator: Pipeline
    card: dict[str, Any]
    calibration: pd.DataFrame


def train(
    frame: pd.DataFrame,
    target: pd.Series,
    name: str,
    *,
    seed: int = 0,
    folds: int = 5,
    bootstrap: int = 500,
) -> TrainedModel:
    """Cross-validate (grouped by subject) and fit on everything.

    Raises
    ------
    ValueError
        When the cohort has fewer than ``folds`` events or non-events (no honest estimate).
    """
    y = target.reindex(frame.index).to_numpy(dtype=int)
    if min(y.sum(), (1 - y).sum()) < folds:
        raise ValueError(f"{name}: {int(y.sum())} events in {y.size} infusions, too few to train")
    groups = frame["subject_id"].to_numpy()
    x = frame.drop(columns="subject_id")
    numeric = [c for c in x.columns if c not in CATEGORICAL]
    categorical = [c for c in CATEGORICAL if c in x.columns]
    unusable = [c for c in numeric if not pd.api.types.is_numeric_dtype(x[c])]
    if unusable:
        raise ValueError(f"{name}: features {unusable} are neither numeric nor categorical")
    x[categorical] = x[categorical].astype(str)
    estimator = make_estimator(numeric, categorical, seed)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    p = cross_val_predict(estimator, x, y, groups=groups, cv=splitter, method="predict_proba")[:, 1]
    metrics = {
        "auroc": float(roc_auc_score(y, p)),
        "auprc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "prevalence": float(y.mean()),
    }
    intervals = _bootstrap(y, p, groups, seed, bootstrap)
    bins = pd.qcut(p, q=10, duplicates="drop")
    calibration = (
        pd.DataFrame({"bin": bins, "p": p, "y": y})
        .groupby("bin", observed=True)
        .agg(n=("y", "size"), mean_predicted=("p", "mean"), events=("y", "sum"))
        .reset_index(drop=True)
    )
    bounds = [
        _wilson(int(e), int(n))
        for e, n in zip(calibration["events"], calibration["n"], strict=True)
    ]
    calibration["observed"] = calibration["events"] / calibration["n"]
    calibration["observed_low"] = [b[0] for b in bounds]
    calibration["observed_high"] = [b[1] for b in bounds]
    estimator.fit(x, y)
    data_sha = hashlib.sha256(
        pd.concat([x, pd.Series(y, index=x.index, name="y")], axis=1).to_csv().encode()
    ).hexdigest()
    card = {
        "name": name,
        "model_version": MODEL_VERSION,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_data_sha256": data_sha,
        "infusions": int(y.size),
        "subjects": int(np.unique(groups).size),
        "events": int(y.sum()),
        "validation": f"{folds}-fold cross-validation grouped by subject (out-of-fold)",
        "metrics": metrics,
        "metrics_95ci": intervals,
        "operating_points": operating_points(y, p),
        "features": {"numeric": numeric, "categorical": categorical},
        "software": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
        },
        "caution": "Trained on the data in this store. A model trained on synthetic data says "
        "nothing about patients; a site must validate it on its own patients (discrimination "
        "and calibration) before relying on it.",
    }
    return TrainedModel(name, estimator, card, calibration)


def card_json(model: TrainedModel) -> str:
    """The model card with its calibration table, as JSON."""
    card = dict(model.card)
    card["calibration"] = model.calibration.to_dict("records")
    return json.dumps(card, indent=2, default=str)


@dataclass(frozen=True)
class LoadedModel:
    """A saved model with its card, ready to predict.

    ``alert_probability`` is the site's threshold: predictions at or above it are stored with
    category ``high`` and raise an alert; ``None`` stores predictions without categories and
    raises no alert from them.
    """

    name: str
    horizon: int
    estimator: Pipeline
    card: dict[str, Any]
    alert_probability: float | None = None

    @property
    def version(self) -> str:
        """Model version and the first 12 hex digits of its training data's SHA-256."""
        return f"model{self.card['model_version']}:{self.card['training_data_sha256'][:12]}"

    @property
    def auroc(self) -> float:
        """Cross-validated AUROC from the card."""
        return float(self.card["metrics"]["auroc"])


def predictions(model: LoadedModel, frame: pd.DataFrame) -> pd.DataFrame:
    """``risk_score`` rows of ``model``'s probability for each infusion of ``frame`` (the
    :func:`features` of the model's horizon)."""
    x = frame.drop(columns="subject_id")
    categorical = [c for c in CATEGORICAL if c in x.columns]
    x[categorical] = x[categorical].astype(str)
    wanted = model.card["features"]["numeric"] + model.card["features"]["categorical"]
    for column in wanted:
        if column not in x.columns:
            x[column] = np.nan
    probability = model.estimator.predict_proba(x[wanted])[:, 1]
    trained = model.card["trained_at"][:10]
    threshold = model.alert_probability
    reason = (
        f"predicted probability of {model.name.replace('_', ' ')} (model trained {trained} on "
        f"{model.card['infusions']} infusions; cross-validated AUROC {model.auroc:.3f}"
        + ("" if threshold is None else f"; site alert threshold {threshold:g}")
        + ")"
    )
    category = None if threshold is None else np.where(probability >= threshold, "high", "low")
    return pd.DataFrame(
        {
            "infusion_id": frame.index.to_numpy(),
            "subject_id": frame["subject_id"].to_numpy(),
            "score": model.name,
            "score_version": model.version,
            "timepoint": HORIZONS[model.horizon],
            "study_day": model.horizon,
            "value": probability,
            "category": category,
            "inputs": [
                {k: (None if pd.isna(v) else v) for k, v in row.items()}
                for row in x[wanted].to_dict("records")
            ],
            "reason": reason,
        }
    )
