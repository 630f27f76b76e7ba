"""The pivotal-trial rate table is well formed and keeps each figure's evidence tag."""

from __future__ import annotations

import pandas as pd

from pv_monitor.reference import load_pivotal_rates
from pv_monitor.reference.trials import EVIDENCE_TAGS


def test_rates_are_proportions_and_days_are_ordered() -> None:
    rates = load_pivotal_rates()
    proportions = rates[rates["unit"] == "proportion"]
    assert proportions["value"].between(0, 1).all()
    days = rates[rates["unit"] == "day"]
    ranged = days.dropna(subset=["low", "high"])
    assert (ranged["low"] <= ranged["value"]).all() and (ranged["value"] <= ranged["high"]).all()
    assert set(rates["evidence"]) <= set(EVIDENCE_TAGS)
    assert not rates.duplicated(["trial", "population", "indication", "metric"]).any()


def _one(rates: pd.DataFrame, key: tuple[str, str, str], column: str) -> object:
    """The value of the one row at ``key`` (fails if the key matches several rows)."""
    trial, population, metric = key
    row = rates[(rates["trial"] == trial) & (rates["population"] == population)
                & (rates["metric"] == metric)]  # fmt: skip
    return row[column].item()


def test_clinical_reference_figures_are_kept_verbatim() -> None:
    """Spot checks against clinical.md §7.2."""
    rates = load_pivotal_rates()
    assert _one(rates, ("ZUMA-1", "label Study 1", "crs_any"), "value") == 0.94
    assert _one(rates, ("ZUMA-2", "label population", "neuro_duration_days"), "high") == 454
    assert _one(rates, ("KarMMa", "pivotal", "neuro_grade3plus"), "evidence") == "UNCONFIRMED"
    assert _one(rates, ("JULIET", "pivotal", "crs_any"), "scale") == "penn"
