"""The parameter set resolves against the reference table and labels every assumption."""

from __future__ import annotations

import pytest

from pv_monitor.reference import load_pivotal_rates
from pv_monitor.synthetic.parameters import (
    ASSUMPTION,
    DAY_METRICS,
    RATE_METRICS,
    DayDistribution,
    load_parameters,
)


def test_every_arm_has_every_figure_with_its_source() -> None:
    params = load_parameters()
    assert len(params.arms) == 9
    assert {arm.product.short_name for arm in params.arms} == {
        "axi-cel",
        "tisa-cel",
        "liso-cel",
        "brexu-cel",
        "ide-cel",
        "cilta-cel",
        "obe-cel",
    }
    for arm in params.arms:
        for metric in (*RATE_METRICS, *DAY_METRICS):
            assert metric in arm.sources, (arm.key, metric)
        assert 0 < arm.crs_grade3plus <= arm.crs_any <= 1
        assert 0 < arm.neuro_grade3plus <= arm.neuro_any <= 1


@pytest.mark.parametrize(
    ("arm", "metric", "trial"),
    [
        ("axi-cel/LBCL", "crs_any", "ZUMA-1"),
        ("tisa-cel/LBCL", "crs_grade3plus", "JULIET"),
        ("liso-cel/LBCL", "neuro_grade3plus", "TRANSCEND NHL 001"),
        ("ide-cel/MM", "crs_any", "KarMMa"),
    ],
)
def test_reference_figures_come_from_the_reference_table(arm: str, metric: str, trial: str) -> None:
    rates = load_pivotal_rates()
    expected = rates[(rates.trial == trial) & (rates.metric == metric)].value.iloc[0]
    resolved = load_parameters().arm(arm)
    assert getattr(resolved, metric) == expected
    assert resolved.sources[metric].startswith(trial)


def test_assumed_figures_are_labelled_as_assumptions() -> None:
    arm = load_parameters().arm("brexu-cel/B-ALL")
    assert arm.crs_onset_day == DayDistribution(5, 1, 12)
    assert arm.sources["crs_onset_day"] == ASSUMPTION
    assert arm.sources["crs_any"].startswith("ZUMA-3")


def test_a_median_without_a_published_range_gets_the_documented_default() -> None:
    arm = load_parameters().arm("tisa-cel/LBCL")  # JULIET: CRS onset 3 days, no range read
    assert arm.crs_onset_day == DayDistribution(3.0, 1.0, 9.0)


def test_severe_icaht_comes_from_the_diagnosis_level_row() -> None:
    params = load_parameters()
    assert params.arm("brexu-cel/MCL").severe_icaht == 0.28
    assert params.arm("ide-cel/MM").severe_icaht == 0.15
