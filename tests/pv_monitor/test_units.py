"""One conversion table: every accepted unit converts, unknown units are refused."""

from __future__ import annotations

import numpy as np
import pytest

from pv_monitor.units import (
    CONVERSIONS,
    UnknownUnitError,
    from_canonical,
    stored_unit,
    to_canonical,
)
from pv_monitor.vocabulary import OBSERVATION_CODES


def test_every_accepted_unit_has_a_conversion() -> None:
    for code, spec in OBSERVATION_CODES.items():
        for unit in spec.units:
            to_canonical(code, np.array([1.0]), unit)  # raises when a unit has no conversion
    assert {code for code, _ in CONVERSIONS} <= set(OBSERVATION_CODES)


@pytest.mark.parametrize(
    ("code", "value", "unit", "canonical"),
    [
        ("TEMP", 100.4, "F", 38.0),  # the ASTCT fever threshold in Fahrenheit
        ("TEMP", 98.6, "F", 37.0),
        ("CRP", 2.5, "mg/dL", 25.0),
        ("CREAT", 88.42, "umol/L", 1.0),
        ("PLT", 150_000, "/uL", 150.0),
        ("ANC", 500, "/uL", 0.5),  # the ICAHT "severe" threshold
        ("HGB", 90, "g/L", 9.0),
        ("FIBRINOGEN", 1.5, "g/L", 150.0),
        ("BILI", 17.1, "umol/L", 1.0),
        ("TRIG", 3.0, "mmol/L", 265.71),
        ("MRD", 0.01, "%", 1e-4),
        ("FLC_DIFF", 100, "mg/L", 10.0),  # IMWG 10 mg/dL = 100 mg/L (clinical.md §6.6)
        ("M_PROTEIN", 500, "mg/dL", 0.5),
    ],
)
def test_conversions_to_the_canonical_unit(
    code: str, value: float, unit: str, canonical: float
) -> None:
    assert to_canonical(code, np.array([value]), unit)[0] == pytest.approx(canonical)
    assert from_canonical(code, np.array([canonical]), unit)[0] == pytest.approx(value)


def test_unknown_units_are_refused_never_guessed() -> None:
    with pytest.raises(UnknownUnitError, match="not accepted for TEMP"):
        to_canonical("TEMP", np.array([310.0]), "K")
    with pytest.raises(UnknownUnitError, match="not a numeric"):
        to_canonical("LOC", np.array([1.0]), "points")


def test_a_different_quantity_is_stored_in_its_own_unit() -> None:
    assert stored_unit("BCELL", "%") == "%"
    assert stored_unit("BCELL", "cells/uL") == "cells/uL"
    assert stored_unit("TEMP", "F") == "C"
