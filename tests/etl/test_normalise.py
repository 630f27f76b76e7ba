"""Dates, numbers, units and controlled values: tables of edge cases and generated properties."""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.normalise import (
    controlled,
    factorize_pairs,
    impute,
    parse_dates,
    parse_numbers,
    suspicious_text,
    to_canonical_units,
)


@pytest.mark.parametrize(
    ("text", "precision", "invalid"),
    [
        ("2014", "year", False),
        ("2014-03", "month", False),
        ("2014-03-05", "day", False),
        ("20140305", "day", False),  # basic format (FAERS)
        ("2014-03-05T14:30", "minute", False),
        ("2014-03-05 14:30", "minute", False),
        ("2014-03-05T14:30:15", "second", False),
        ("2014-03-05T14:30:15.250Z", "second", False),
        (" 2014-03-05 ", "day", False),
        ("", None, False),
        ("2014-02-30", None, True),  # not a calendar date
        ("2014-13", None, True),
        ("2014-03-05T25:00", None, True),
        ("05/03/2014", None, True),
        ("March 2014", None, True),
        ("14-03-05", None, True),
    ],
)
def test_parse_dates(text: str, precision: str | None, invalid: bool) -> None:
    parsed = parse_dates(pd.Series([text])).iloc[0]
    assert parsed["precision"] == precision
    assert bool(parsed["invalid"]) is invalid
    assert bool(parsed["empty"]) is (text == "")


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31)))
def test_a_written_date_time_parses_back_to_its_minute(moment: datetime) -> None:
    parsed = parse_dates(pd.Series([moment.strftime("%Y-%m-%dT%H:%M")])).iloc[0]
    assert parsed["precision"] == "minute"
    assert parsed["datetime"] == pd.Timestamp(moment.replace(second=0, microsecond=0))


@pytest.mark.parametrize(
    ("text", "rule", "expected", "flag"),
    [
        ("2024-02", "first", "2024-02-01", "day"),
        ("2024-02", "last", "2024-02-29", "day"),  # leap year
        ("2023-02", "last", "2023-02-28", "day"),
        ("2023", "first", "2023-01-01", "month"),
        ("2023", "last", "2023-12-31", "month"),
        ("2023-05-17", "last", "2023-05-17", None),
    ],
)
def test_impute(text: str, rule: str, expected: str, flag: str | None) -> None:
    value, imputed = impute(parse_dates(pd.Series([text])), rule)
    assert value.iloc[0] == pd.Timestamp(expected)
    assert imputed.iloc[0] == flag


@given(st.integers(1900, 2100), st.integers(1, 12))
def test_first_and_last_imputations_bracket_the_month(year: int, month: int) -> None:
    dates = parse_dates(pd.Series([f"{year:04d}-{month:02d}"]))
    first, _ = impute(dates, "first")
    last, _ = impute(dates, "last")
    assert (first.iloc[0].day, first.iloc[0].month) == (1, month)
    assert last.iloc[0].month == month and (last.iloc[0] + pd.Timedelta(days=1)).day == 1


@pytest.mark.parametrize(
    ("text", "value", "operator", "invalid"),
    [
        ("3", 3.0, None, False),
        (" 3.5 ", 3.5, None, False),
        ("-0.2", -0.2, None, False),
        ("1e3", 1000.0, None, False),
        ("<0.2", 0.2, "<", False),
        ("> 1000", 1000.0, ">", False),
        ("<=5", 5.0, "<=", False),
        ("1,5", None, None, True),  # a decimal comma is not guessed
        ("abc", None, None, True),
        ("5 mg", None, None, True),
        ("", None, None, False),
    ],
)
def test_parse_numbers(text: str, value: float | None, operator: str | None, invalid: bool) -> None:
    parsed = parse_numbers(pd.Series([text])).iloc[0]
    if value is None:
        assert math.isnan(parsed["value"])
    else:
        assert parsed["value"] == pytest.approx(value)
    assert parsed["operator"] == operator
    assert bool(parsed["invalid"]) is invalid


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_written_number_parses_back(number: float) -> None:
    parsed = parse_numbers(pd.Series([repr(number)])).iloc[0]
    assert parsed["value"] == number
    assert not parsed["invalid"]


def test_controlled_values_ignore_case_spaces_and_hyphens_and_apply_aliases() -> None:
    allowed = ("none", "high_flow_nasal_cannula", "non_rebreather")
    aliases = {"hfnc": "high_flow_nasal_cannula", "NRB": "non_rebreather"}
    found = controlled(
        pd.Series(["High-flow nasal  cannula", "HFNC", "nrb", "NONE", "", "tent"]),
        allowed,
        aliases,
    )
    assert found["value"].tolist() == [
        "high_flow_nasal_cannula",
        "high_flow_nasal_cannula",
        "non_rebreather",
        "none",
        None,
        None,
    ]
    assert found["empty"].tolist() == [False, False, False, False, True, False]
    assert found["invalid"].tolist() == [False, False, False, False, False, True]


@given(st.floats(min_value=77, max_value=113))
def test_fahrenheit_becomes_celsius(fahrenheit: float) -> None:
    converted = to_canonical_units(
        pd.Series(["TEMP"]), pd.Series([fahrenheit]), pd.Series(["°F"])
    ).iloc[0]
    assert converted["value"] == pytest.approx((fahrenheit - 32) * 5 / 9)
    assert (converted["unit"], converted["unit_source"], converted["invalid_unit"]) == (
        "C",
        "°F",
        False,
    )


@pytest.mark.parametrize(
    ("code", "value", "unit", "expected", "stored"),
    [
        ("CRP", 2.5, "mg/dL", 25.0, "mg/L"),
        ("CRP", 25.0, "mg/l", 25.0, "mg/L"),
        ("CREAT", 88.42, "umol/L", 1.0, "mg/dL"),
        ("PLT", 150_000, "/uL", 150.0, "10^9/L"),
        ("ANC", 0.5, "x10^9/L", 0.5, "10^9/L"),
        ("HGB", 95, "g/L", 9.5, "g/dL"),
        ("MRD", 0.01, "%", 0.0001, "fraction"),
        ("BCELL", 12, "%", 12.0, "%"),  # a share, not a count: kept as given
        ("ICE", 7, "", 7.0, "points"),
    ],
)
def test_conversions(code: str, value: float, unit: str, expected: float, stored: str) -> None:
    converted = to_canonical_units(pd.Series([code]), pd.Series([value]), pd.Series([unit]))
    assert converted["value"].iloc[0] == pytest.approx(expected)
    assert converted["unit"].iloc[0] == stored


@pytest.mark.parametrize(("code", "unit"), [("CRP", "mmol/L"), ("TEMP", "K"), ("PLT", "")])
def test_a_unit_not_accepted_is_rejected_never_guessed(code: str, unit: str) -> None:
    converted = to_canonical_units(pd.Series([code]), pd.Series([1.0]), pd.Series([unit]))
    assert bool(converted["invalid_unit"].iloc[0])
    assert converted["unit"].iloc[0] is None


@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from(["x", "y", ""])), max_size=30))
def test_factorize_pairs_keeps_every_pair(pairs: list[tuple[str, str]]) -> None:
    first = pd.Series([a for a, _ in pairs], dtype=object)
    second = pd.Series([b for _, b in pairs], dtype=object)
    codes, distinct = factorize_pairs(first, second)
    assert [distinct[c] for c in codes] == pairs
    assert len(set(distinct)) == len(distinct)


@pytest.mark.parametrize(
    ("text", "formula", "sql"),
    [
        ("=HYPERLINK(1)", True, False),
        ("+1+1", True, False),
        ("@SUM(A1)", True, False),
        ("-cmd|' /C calc'!A0", True, False),
        ("-3", False, False),
        ("-0.5", False, False),
        ("x'; DROP TABLE subject; --", False, True),
        ("1 UNION SELECT password FROM app_user", False, True),
        ("' or '1'='1", False, True),
        ("Cytokine release syndrome", False, False),
        ("grade 2 - resolved", False, False),
    ],
)
def test_suspicious_text(text: str, formula: bool, sql: bool) -> None:
    found = suspicious_text(pd.Series([text])).iloc[0]
    assert (bool(found["formula"]), bool(found["sql"])) == (formula, sql)


@given(st.sampled_from("=+@"), st.text(max_size=20))
def test_text_starting_like_a_formula_is_always_flagged(start: str, rest: str) -> None:
    assert bool(suspicious_text(pd.Series([start + rest]))["formula"].iloc[0])


def test_a_value_that_overflows_in_conversion_becomes_infinite_without_a_warning() -> None:
    """1e308 mg/dL is 1e309 mg/L: past float range. It becomes inf (rejected by the range check,
    as any impossible value), not a RuntimeWarning that warnings-as-errors turns into a crash."""
    converted = to_canonical_units(
        pd.Series(["CRP", "CRP"]), pd.Series([7.864907465022631e307, 1.5]), pd.Series(["mg/dL"] * 2)
    )

    assert math.isinf(converted["value"].iloc[0])
    assert converted["value"].iloc[1] == pytest.approx(15.0)
