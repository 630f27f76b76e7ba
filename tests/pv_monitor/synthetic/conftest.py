"""Synthetic cohorts generated once per test session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pv_monitor.synthetic import SynthesisSummary, generate_cohort
from pv_monitor.units import to_canonical

RATES_SUBJECTS = 5000
RATES_SEED = 20261121
SMALL_SUBJECTS = 500
SMALL_SEED = 11


@pytest.fixture(scope="session")
def rates_cohort(tmp_path_factory: pytest.TempPathFactory) -> SynthesisSummary:
    """5,000 subjects in tidy format: large enough to compare rates with their targets."""
    out = tmp_path_factory.mktemp("rates") / "tidy"
    return generate_cohort(RATES_SUBJECTS, seed=RATES_SEED, out_dir=out, workers=2)


@pytest.fixture(scope="session")
def small_tidy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small") / "tidy"
    generate_cohort(SMALL_SUBJECTS, seed=SMALL_SEED, out_dir=out)
    return out


@pytest.fixture(scope="session")
def small_sdtm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small") / "sdtm"
    generate_cohort(SMALL_SUBJECTS, seed=SMALL_SEED, out_dir=out, export_format="sdtm")
    return out


def read_tidy(folder: Path, name: str) -> pd.DataFrame:
    """A tidy file with every column as text (as a loader sees it)."""
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def canonical_values(rows: pd.DataFrame) -> pd.Series:
    """Numeric observation values in their code's canonical unit (pv_monitor.units)."""
    values = pd.Series(np.nan, index=rows.index)
    for (code, unit), group in rows.groupby(["code", "unit"]):
        numbers = group["value"].astype(float).to_numpy()
        values.loc[group.index] = to_canonical(str(code), numbers, str(unit))
    return values
