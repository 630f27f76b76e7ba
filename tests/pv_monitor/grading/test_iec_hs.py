"""IEC-HS screen: ferritin with a supporting finding, after the CRS peak; never a diagnosis."""

from __future__ import annotations

import pandas as pd
import pytest

from pv_monitor.grading.iec_hs import screen_iec_hs


def _labs(*rows: tuple[int, str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [(1, 1, day, code, value, value) for day, code, value in rows],
        columns=["infusion_id", "subject_id", "study_day", "code", "low", "high"],
    )


BASELINE = ((0, "FERRITIN", 500.0), (0, "PLT", 180.0), (0, "ANC", 2.5), (0, "HGB", 11.0))
CRS = pd.DataFrame({"infusion_id": [1], "resolving_from": [6]})
EXTENT = pd.DataFrame({"infusion_id": [1], "subject_id": [1], "last_day": [60]})


def _screen(*rows: tuple[int, str, float], crs: pd.DataFrame = CRS) -> dict[str, object]:
    screened = screen_iec_hs(_labs(*BASELINE, *rows), crs, EXTENT)
    assert len(screened) == 1
    return {str(k): v for k, v in screened.iloc[0].items()}


@pytest.mark.parametrize(
    ("rows", "category", "fragment"),
    [
        (((10, "FERRITIN", 1001.0), (10, "FIBRINOGEN", 149.0)), "positive", "fibrinogen 149"),
        (((10, "FERRITIN", 1500.0), (10, "FIBRINOGEN", 150.0)), "negative", "no day"),
        (((10, "FERRITIN", 1500.0), (10, "ALT", 201.0)), "positive", "ALT 201"),  # > 5 x 40
        (((10, "FERRITIN", 1500.0), (10, "AST", 200.0)), "negative", "no day"),
        (((10, "FERRITIN", 1500.0), (10, "LDH", 251.0)), "positive", "LDH 251"),  # > ULN 250
        (((10, "FERRITIN", 1500.0), (10, "PLT", 99.0)), "positive", "new platelets 99"),
        (((10, "FERRITIN", 1500.0), (10, "HGB", 8.9)), "positive", "new haemoglobin 8.9"),
    ],
)
def test_screen_thresholds(
    rows: tuple[tuple[int, str, float], ...], category: str, fragment: str
) -> None:
    screen = _screen(*rows)
    assert screen["category"] == category
    assert fragment in str(screen["reason"])


@pytest.mark.parametrize(("ferritin", "category"), [(600.0, "negative"), (601.0, "positive")])
def test_ferritin_must_exceed_twice_its_baseline(ferritin: float, category: str) -> None:
    """Baseline 300 ng/mL: 600 is exactly 2 x (and below 2 x ULN 800), 601 is above."""
    labs = _labs((0, "FERRITIN", 300.0), (10, "FERRITIN", ferritin), (10, "FIBRINOGEN", 120.0))
    assert screen_iec_hs(labs, CRS, EXTENT).iloc[0]["category"] == category


def test_a_cytopenia_present_at_baseline_is_not_new() -> None:
    labs = _labs((0, "FERRITIN", 500.0), (0, "PLT", 60.0), (10, "FERRITIN", 1500.0),
                 (10, "PLT", 40.0))  # fmt: skip
    assert screen_iec_hs(labs, CRS, EXTENT).iloc[0]["category"] == "negative"


def test_ferritin_above_twice_uln_without_a_baseline() -> None:
    labs = _labs((12, "FERRITIN", 900.0), (12, "LDH", 400.0))
    screen = screen_iec_hs(labs, CRS, EXTENT).iloc[0]
    assert screen["category"] == "positive"
    assert "(> 2 x ULN 400)" in screen["reason"]


def test_before_the_crs_peak_ends_or_without_crs_it_does_not_screen_positive() -> None:
    rows = ((5, "FERRITIN", 3000.0), (5, "LDH", 600.0))
    assert _screen(*rows)["category"] == "negative"  # day 5: CRS still at its peak
    no_crs = pd.DataFrame({"infusion_id": [], "resolving_from": []})
    assert _screen((10, "FERRITIN", 3000.0), (10, "LDH", 600.0), crs=no_crs)["category"] == (
        "negative"
    )


def test_first_positive_day_with_its_values_and_words() -> None:
    screen = _screen(
        (8, "FERRITIN", 1200.0), (8, "LDH", 300.0), (9, "FERRITIN", 5000.0), (9, "LDH", 900.0)
    )
    assert (screen["category"], screen["study_day"], screen["value"]) == ("positive", 8, 1.0)
    assert str(screen["reason"]).startswith("screen, not a diagnosis: ferritin 1200 ng/mL")
    assert screen["inputs"] == {
        "FERRITIN": {"value": 1200.0, "study_day": 8},
        "LDH": {"value": 300.0, "study_day": 8},
    }


def test_without_ferritin_after_day_0_it_is_not_computable() -> None:
    screen = screen_iec_hs(_labs(*BASELINE, (10, "LDH", 900.0)), CRS, EXTENT).iloc[0]
    assert screen["category"] is None
    assert screen["reason"] == "not computable: no ferritin after day 0"
