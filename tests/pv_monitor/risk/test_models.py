"""Trained models: features never look ahead, evaluation is grouped and honest, cards are full."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from etl import load
from pv_monitor.cli import app, upgrade_store
from pv_monitor.risk.models import (
    LoadedModel,
    features,
    operating_points,
    outcomes,
    predictions,
    train,
)
from tests.etl.conftest import write_export

DAY0 = pd.Timestamp("2024-05-10")


def _infusions(n: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "infusion_id": range(1, n + 1),
            "subject_id": range(1, n + 1),
            "infusion_date": DAY0,
            "age_years": 60.0,
            "product": "axicabtagene ciloleucel",
            "costimulatory_domain": "CD28",
            "target_antigen": "CD19",
            "diagnosis": "LBCL",
        }
    )


def test_features_never_look_past_the_prediction_day() -> None:
    labs = pd.DataFrame(
        {
            "subject_id": 1,
            "code": ["CRP", "CRP", "CRP"],
            "at": [DAY0 + pd.Timedelta(days=d, hours=6) for d in (-5, 0, 4)],
            "value": [5.0, 20.0, 300.0],
            "other_cause": False,
        }
    )
    daily = pd.DataFrame({"infusion_id": 1, "study_day": [0, 2, 4], "temp_c_max": [37, 38, 41]})
    no_drugs = pd.DataFrame(columns=["subject_id", "drug", "drug_class", "started_at", "ended_at"])
    day0 = features(_infusions(), labs, no_drugs, daily, horizon=0).iloc[0]
    day3 = features(_infusions(), labs, no_drugs, daily, horizon=3).iloc[0]
    assert (day0["CRP_pre_lymphodepletion"], day0["CRP_day_0"]) == (5.0, 20.0)
    assert day0["temp_max_day0_0"] == 37
    assert np.isnan(day3["CRP_day_3"])  # the day-4 value is after day 3
    assert day3["temp_max_day0_3"] == 38  # day 4's 41 C is not known on day 3
    assert "CRP_day_0" not in day3.index


def test_outcome_is_grade_3_or_more_of_the_syndrome() -> None:
    episodes = pd.DataFrame(
        {"infusion_id": [1, 2, 3], "syndrome": ["crs", "crs", "icans"], "peak_grade": [3, 2, 4]}
    )
    assert outcomes(pd.Index([1, 2, 3, 4]), episodes, "crs").tolist() == [1, 0, 0, 0]


def _cohort(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    frame = _infusions(n).set_index("infusion_id").drop(columns="infusion_date")
    frame["subject_id"] = (np.arange(n) // 2) + 1  # two infusions per subject
    frame["CRP_day_0"] = rng.lognormal(2, 1, n)
    frame["LDH_day_0"] = np.where(rng.random(n) < 0.2, np.nan, rng.normal(250, 50, n))
    risk = 1 / (1 + np.exp(-(np.log(frame["CRP_day_0"]) - 3)))
    target = pd.Series((rng.random(n) < risk).astype(int), index=frame.index)
    return frame, target


def test_train_reports_grouped_cross_validated_metrics_and_a_card() -> None:
    frame, target = _cohort(400, seed=1)
    model = train(frame, target, "test_model", bootstrap=50)
    card = model.card
    assert 0.6 < card["metrics"]["auroc"] <= 1.0  # the synthetic signal is found...
    low, high = card["metrics_95ci"]["auroc"]
    assert low < card["metrics"]["auroc"] < high  # ...with an interval around it
    assert card["validation"].startswith("5-fold cross-validation grouped by subject")
    assert card["features"]["numeric"] == ["age_years", "CRP_day_0", "LDH_day_0"]
    assert card["subjects"] == 200 and card["infusions"] == 400
    assert len(card["training_data_sha256"]) == 64
    assert "scikit-learn" in card["software"]
    assert model.calibration["n"].sum() == 400
    assert (model.calibration["observed_low"] <= model.calibration["observed"]).all()
    probabilities = model.estimator.predict_proba(frame.drop(columns="subject_id"))[:, 1]
    assert probabilities.shape == (400,)


def test_card_operating_points_match_the_out_of_fold_predictions() -> None:
    frame, target = _cohort(400, seed=1)
    points = train(frame, target, "test_model", bootstrap=20).card["operating_points"]
    assert [p["threshold"] for p in points] == [0.1, 0.2, 0.3, 0.4, 0.5]
    flagged = [p["flagged"] for p in points]
    assert flagged == sorted(flagged, reverse=True)  # a higher threshold flags fewer
    sensitivity = [p["sensitivity"] for p in points]
    assert sensitivity == sorted(sensitivity, reverse=True)


def test_operating_points_by_hand() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.6, 0.2, 0.7, 0.3, 0.1, 0.1, 0.05])
    (point,) = operating_points(y, p, (0.5,))
    # flagged: 0.9, 0.6 (events) and 0.7 (non-event): 3 of 8
    assert point == {
        "threshold": 0.5,
        "flagged": 3 / 8,
        "sensitivity": 2 / 3,
        "specificity": 4 / 5,
        "ppv": 2 / 3,
    }
    (nobody,) = operating_points(y, p, (0.95,))
    assert nobody["ppv"] is None and nobody["sensitivity"] == 0.0


@pytest.mark.parametrize("threshold", [None, 0.5])
def test_predictions_are_categorised_only_against_a_site_threshold(
    threshold: float | None,
) -> None:
    frame, target = _cohort(200, seed=4)
    trained = train(frame, target, "crs_grade3_by_day0", bootstrap=10)
    model = LoadedModel(trained.name, 0, trained.estimator, trained.card, threshold)
    rows = predictions(model, frame)
    if threshold is None:
        assert rows["category"].isna().all()
        assert "threshold" not in rows["reason"].iloc[0]
    else:
        expected = np.where(rows["value"] >= threshold, "high", "low")
        assert (rows["category"].to_numpy() == expected).all()
        assert set(expected) == {"high", "low"}  # both sides are exercised
        assert "site alert threshold 0.5" in rows["reason"].iloc[0]


def test_noise_gives_no_discrimination() -> None:
    """A target unrelated to the features must not look predictive out of fold."""
    frame, _ = _cohort(400, seed=2)
    noise = pd.Series(np.random.default_rng(3).integers(0, 2, 400), index=frame.index)
    assert abs(train(frame, noise, "noise", bootstrap=20).card["metrics"]["auroc"] - 0.5) < 0.1


def test_too_few_events_is_refused() -> None:
    frame, target = _cohort(40, seed=1)
    with pytest.raises(ValueError, match="too few to train"):
        train(frame, target * 0, "empty")


def test_train_command_refuses_a_cohort_without_events(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pv.db'}"
    upgrade_store(url, actor="test")
    assert (
        load([write_export(tmp_path / "x")], "tidy", database_url=url, actor="test").exit_code == 0
    )
    runner = CliRunner()
    assert runner.invoke(app, ["--database-url", url, "run"]).exit_code == 0
    result = runner.invoke(app, ["--database-url", url, "train", "--out", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "too few to train" in result.output
