"""Relapse signals (clinical.md §6): each at its threshold, confirmed or not, inside its window."""

from __future__ import annotations

import pandas as pd
import pytest

from pv_monitor.relapse.markers import phenotype_summary, relapse_signals

DAY0 = pd.Timestamp("2024-01-01")


def _infusions(target: str = "CD19") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subject_id": [1],
            "infusion_id": [1],
            "target_antigen": [target],
            "infusion_date": [DAY0],
            "product": ["tisagenlecleucel"],
        }
    )


def _markers(code: str, unit: str, values: dict[int, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subject_id": 1,
            "code": code,
            "unit": unit,
            "at": [DAY0 + pd.Timedelta(days=d) for d in values],
            "value": list(values.values()),
        }
    )


def _signals(
    markers: pd.DataFrame, target: str = "CD19", assessments: pd.DataFrame | None = None
) -> list[tuple[str, int]]:
    found = relapse_signals(_infusions(target), markers, assessments)
    return list(zip(found["signal"], found["study_day"], strict=True))


@pytest.mark.parametrize(
    ("values", "unit", "expected"),
    [
        ({30: 0.5, 60: 150.0, 90: 160.0}, "cells/uL", [("bca_loss", 90)]),
        ({30: 0.5, 60: 100.0, 90: 160.0}, "cells/uL", []),  # 100 is not above 100
        ({30: 0.5, 60: 150.0, 90: 50.0}, "cells/uL", []),  # not confirmed
        ({30: 0.2, 60: 1.5, 90: 2.0}, "%", [("bca_loss", 90)]),
        ({30: 0.2, 60: 1.0, 90: 2.0}, "%", []),
        ({150: 0.5, 190: 150.0, 220: 160.0}, "cells/uL", []),  # first rise after 6 months
    ],
)
def test_loss_of_b_cell_aplasia(
    values: dict[int, float], unit: str, expected: list[tuple[str, int]]
) -> None:
    assert _signals(_markers("BCELL", unit, values)) == expected


def test_b_cells_after_a_bcma_product_are_not_a_signal() -> None:
    assert _signals(_markers("BCELL", "cells/uL", {30: 150.0, 60: 160.0}), target="BCMA") == []


def test_car_transgene_lost_on_two_consecutive_samples() -> None:
    assert _signals(
        _markers("CAR_TRANSGENE", "copies/ug", {7: 5e4, 28: 900.0, 56: 0.0, 90: 0.0})
    ) == [("car_loss", 90)]
    assert _signals(_markers("CAR_TRANSGENE", "copies/ug", {7: 5e4, 56: 0.0, 90: 12.0})) == []
    assert _signals(_markers("CAR_TRANSGENE", "copies/ug", {7: 0.0, 28: 0.0})) == []  # never seen


def _mrd(days: dict[int, float], relapse_day: int | None = None) -> pd.DataFrame:
    rows: list[dict[str, object]] = [
        {
            "subject_id": 1,
            "assessed_on": DAY0 + pd.Timedelta(days=d),
            "response": None,
            "is_relapse": False,
            "mrd_fraction": f,
            "antigen_status": None,
        }
        for d, f in days.items()
    ]
    if relapse_day is not None:
        rows.append(
            {
                "subject_id": 1,
                "assessed_on": DAY0 + pd.Timedelta(days=relapse_day),
                "response": "relapse",
                "is_relapse": True,
                "mrd_fraction": None,
                "antigen_status": "negative",
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ({28: 1e-4}, [("mrd_positive", 28)]),
        ({28: 0.0}, []),
        ({36: 1e-4}, []),  # outside the day-28 window
        ({90: 1e-5}, [("mrd_positive", 90)]),
    ],
)
def test_mrd_at_day_28_or_month_3(days: dict[int, float], expected: list[tuple[str, int]]) -> None:
    assert _signals(_markers("BCELL", "cells/uL", {}), assessments=_mrd(days)) == expected


def test_relapse_with_persisting_aplasia_is_probable_escape() -> None:
    aplastic = _markers("BCELL", "cells/uL", {28: 0.3, 90: 0.4, 180: 0.2})
    assert _signals(aplastic, assessments=_mrd({}, relapse_day=200)) == [("probable_escape", 200)]
    recovered = _markers("BCELL", "cells/uL", {28: 0.3, 150: 200.0, 180: 220.0})
    found = _signals(recovered, assessments=_mrd({}, relapse_day=200))
    assert ("probable_escape", 200) not in found


def test_imwg_progression_needs_two_consecutive_rises() -> None:
    values = {28: 2.0, 56: 1.0, 90: 1.6, 120: 1.7}  # nadir 1.0; +0.6 (60 %) twice
    assert _signals(_markers("M_PROTEIN", "g/dL", values), target="BCMA") == [
        ("imwg_progression", 120)
    ]
    once = {28: 2.0, 56: 1.0, 90: 1.6, 120: 1.1}
    assert _signals(_markers("M_PROTEIN", "g/dL", once), target="BCMA") == []
    small = {28: 0.4, 56: 0.3, 90: 0.5, 120: 0.6}  # +0.3 g/dL: below the absolute 0.5
    assert _signals(_markers("M_PROTEIN", "g/dL", small), target="BCMA") == []


def test_phenotype_summary_per_product() -> None:
    summary = phenotype_summary(_mrd({}, relapse_day=200), _infusions())
    assert summary.loc["tisagenlecleucel", "negative"] == 1
