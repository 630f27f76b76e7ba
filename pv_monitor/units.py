"""Unit conversions to the canonical unit of each observation code: one table, used everywhere.

A value in an accepted unit converts to the canonical unit (the first unit listed for the code
in :data:`pv_monitor.vocabulary.OBSERVATION_CODES`) as ``canonical = value * scale + offset``.
Units that measure a different quantity (B cells as % of lymphocytes vs cells/µL) are not
converted: both are canonical for their code. A unit not in the table is never guessed.

Factors: temperature (°F − 32) × 5/9; creatinine 1 mg/dL = 88.42 µmol/L; bilirubin
1 mg/dL = 17.1 µmol/L; triglycerides 1 mmol/L = 88.57 mg/dL; CRP 1 mg/dL = 10 mg/L (clinical.md
§0: m-EASIX uses mg/dL); counts 1 ×10⁹/L = 1000 /µL; haemoglobin 1 g/dL = 10 g/L; fibrinogen
1 g/L = 100 mg/dL; FLC 1 mg/dL = 10 mg/L (IMWG threshold 10 mg/dL = 100 mg/L, clinical.md §6.6).

Examples
--------
>>> import numpy as np
>>> to_canonical("TEMP", np.array([100.4]), "F")
array([38.])
>>> from_canonical("CREAT", np.array([1.0]), "umol/L")
array([88.42])
>>> to_canonical("CRP", np.array([1.5]), "mg/dL")
array([15.])
"""

from __future__ import annotations

from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from pv_monitor.vocabulary import OBSERVATION_CODES, REPORTED_GRADE_CODES, VALUE_ALIASES


class Conversion(NamedTuple):
    """``canonical = value * scale + offset``."""

    scale: float
    offset: float = 0.0


_IDENTITY = Conversion(1.0)

CONVERSIONS: MappingProxyType[tuple[str, str], Conversion] = MappingProxyType(
    {
        ("TEMP", "F"): Conversion(5 / 9, -32 * 5 / 9),
        ("CRP", "mg/dL"): Conversion(10.0),
        ("FERRITIN", "ug/L"): _IDENTITY,
        ("CREAT", "umol/L"): Conversion(1 / 88.42),
        ("PLT", "/uL"): Conversion(1e-3),
        ("ANC", "/uL"): Conversion(1e-3),
        ("HGB", "g/L"): Conversion(0.1),
        ("FIBRINOGEN", "g/L"): Conversion(100.0),
        ("BILI", "umol/L"): Conversion(1 / 17.1),
        ("TRIG", "mmol/L"): Conversion(88.57),
        ("BCELL", "%"): _IDENTITY,  # a different quantity: kept as given, unit "%"
        ("MRD", "%"): Conversion(0.01),
        ("M_PROTEIN", "mg/dL"): Conversion(1e-3),
        ("FLC_DIFF", "mg/L"): Conversion(0.1),
        ("PLT", "cells/uL"): Conversion(1e-3),
        ("ANC", "cells/uL"): Conversion(1e-3),
        ("BCELL", "/uL"): _IDENTITY,
        # a reported grade's "unit" is its grading scale: kept as given, never converted
        **{
            (code, scale): _IDENTITY
            for code in REPORTED_GRADE_CODES
            for scale in OBSERVATION_CODES[code].units[1:]
        },
    }
)
"""Non-canonical accepted units and their conversion to the canonical unit."""

SEPARATE_QUANTITY_UNITS = frozenset(
    {
        ("BCELL", "%"),
        *(
            (code, scale)
            for code in REPORTED_GRADE_CODES
            for scale in OBSERVATION_CODES[code].units
        ),
    }
)

UNIT_SPELLINGS: MappingProxyType[str, str] = MappingProxyType(
    {
        "c": "C", "°c": "C", "degc": "C", "cel": "C", "celsius": "C",
        "f": "F", "°f": "F", "degf": "F", "[degf]": "F", "fahrenheit": "F",
        "mmhg": "mmHg", "mm[hg]": "mmHg",
        "/min": "/min", "beats/min": "/min", "bpm": "/min", "{beats}/min": "/min", "min-1": "/min",
        "breaths/min": "/min",
        "%": "%", "percent": "%",
        "l/min": "L/min", "lpm": "L/min",
        "points": "points", "score": "points", "{score}": "points",
        "mg/l": "mg/L", "mg/dl": "mg/dL", "ng/ml": "ng/mL", "ug/l": "ug/L", "mcg/l": "ug/L",
        "u/l": "U/L", "iu/l": "U/L",
        "umol/l": "umol/L", "micromol/l": "umol/L",
        "10^9/l": "10^9/L", "x10^9/l": "10^9/L", "10*9/l": "10^9/L", "10e9/l": "10^9/L",
        "gi/l": "10^9/L", "10^3/ul": "10^9/L", "10*3/ul": "10^9/L", "x10^3/ul": "10^9/L",
        "k/ul": "10^9/L", "thou/ul": "10^9/L", "thou/mm3": "10^9/L",
        "/ul": "/uL", "/mm3": "/uL", "cells/ul": "cells/uL",
        "g/dl": "g/dL", "g/l": "g/L", "mmol/l": "mmol/L", "pg/ml": "pg/mL",
        "copies/ug": "copies/ug", "copies/ugdna": "copies/ug",
        "fraction": "fraction",
    }
)  # fmt: skip
"""Unit spellings seen in real exports (lower case, no spaces, µ as u) -> the spelling above.

SDTM pilot ``GI/L`` and ``THOU/uL`` are 10^9/L; FHIR UCUM ``Cel``, ``[degF]``, ``mm[Hg]``,
``10*3/uL`` likewise (real_data.md §2)."""


def _scale_key(text: str) -> str:
    return "".join(ch for ch in text.strip().lower() if ch not in " _-")


SCALE_SPELLINGS: MappingProxyType[str, str] = MappingProxyType(
    {
        **{_scale_key(alias): scale for alias, scale in VALUE_ALIASES["GRADING_SCALE"].items()},
        **{_scale_key(scale): scale for scale in VALUE_ALIASES["GRADING_SCALE"].values()},
    }
)
"""Grading-scale spellings (the "unit" of a reported grade, e.g. ``ASTCT 2019``, ``Lee-2014``,
``CTCAE v5.0``), ignoring case, spaces, hyphens and underscores -> the scale."""


def unit_spelling(unit: str) -> str:
    """The standard spelling of ``unit``, or ``unit`` stripped when it is not a known spelling.

    Grading scales (the unit of CRS_GRADE and ICANS_GRADE) are spelled as in
    :class:`pv_monitor.vocabulary.GradingScale`.

    Examples
    --------
    >>> unit_spelling(" THOU/uL "), unit_spelling("°F"), unit_spelling("µmol/L")
    ('10^9/L', 'F', 'umol/L')
    >>> unit_spelling("ASTCT 2019"), unit_spelling("Lee-2014"), unit_spelling("CTCAE v5.0")
    ('astct_2019', 'lee_2014', 'ctcae_v5_0')
    """
    key = unit.strip().lower().replace(" ", "").replace("µ", "u").replace("μ", "u")
    return UNIT_SPELLINGS.get(key) or SCALE_SPELLINGS.get(_scale_key(unit)) or unit.strip()


"""Accepted units that are stored as given because they measure another quantity."""


class UnknownUnitError(ValueError):
    """A unit that is not accepted for the code: rejected, never guessed."""


def conversion(code: str, unit: str) -> Conversion:
    """The conversion of ``unit`` to ``code``'s canonical unit."""
    spec = OBSERVATION_CODES.get(code)
    if spec is None or not spec.units:
        raise UnknownUnitError(f"{code} is not a numeric observation code")
    if unit == spec.canonical_unit:
        return _IDENTITY
    try:
        return CONVERSIONS[(code, unit)]
    except KeyError:
        accepted = ", ".join(spec.units)
        raise UnknownUnitError(f"unit {unit!r} is not accepted for {code} ({accepted})") from None


def stored_unit(code: str, unit: str) -> str:
    """The unit a value of ``code`` given in ``unit`` is stored in."""
    spec = OBSERVATION_CODES[code]
    conversion(code, unit)  # raises on an unknown unit
    if (code, unit) in SEPARATE_QUANTITY_UNITS:
        return unit
    return spec.canonical_unit or unit


def to_canonical(code: str, values: npt.ArrayLike, unit: str) -> npt.NDArray[np.float64]:
    """Convert ``values`` of ``code`` from ``unit`` to the canonical unit."""
    scale, offset = conversion(code, unit)
    return np.asarray(values, dtype=np.float64) * scale + offset


def from_canonical(code: str, values: npt.ArrayLike, unit: str) -> npt.NDArray[np.float64]:
    """Convert canonical ``values`` of ``code`` into ``unit``."""
    scale, offset = conversion(code, unit)
    return (np.asarray(values, dtype=np.float64) - offset) / scale
