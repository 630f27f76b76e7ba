"""The pandera contracts of tidy format v1: columns, required values, lengths, injections."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.contracts import CONTRACTS, ROW, Kind, MissingColumns, check_columns, validate
from etl.rejections import RULES


def observations(**overrides: list[str]) -> pd.DataFrame:
    columns = {
        "subject_id": ["S-1", "S-1"],
        "observed_at": ["2024-03-21T08:00", "2024-03-21T09:00"],
        "code": ["TEMP", "TEMP"],
        "value": ["38.2", "38.4"],
        "unit": ["C", "C"],
    }
    columns.update(overrides)
    frame = pd.DataFrame(columns, dtype=object)
    frame[ROW] = [1, 2]
    return frame


def test_a_good_frame_passes_whole() -> None:
    passed, rejected = validate(observations(), Kind.OBSERVATIONS, "observations.csv")
    assert passed.all() and rejected.empty


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"subject_id": ["S-1", ""]}, "subject_id", "required"),
        ({"value": ["38.2", " "]}, "value", "required"),
        ({"subject_id": ["S-1", "S" * 65]}, "subject_id", "max_length"),
        ({"value": ["38.2", "=1+1"]}, "value", "formula"),
        ({"value": ["38.2", "1; DROP TABLE measurement"]}, "value", "sql"),
    ],
)
def test_a_bad_cell_rejects_its_row_only(
    overrides: dict[str, list[str]], field: str, rule: str
) -> None:
    passed, rejected = validate(observations(**overrides), Kind.OBSERVATIONS, "observations.csv")
    assert passed.tolist() == [True, False]
    assert rejected[["file", "row", "field", "rule"]].values.tolist() == [
        ["observations.csv", 2, field, rule]
    ]
    assert rejected["reason"].iloc[0].startswith(field)


def test_every_contract_rule_is_registered() -> None:
    for rule in ("required", "max_length", "formula", "sql"):
        assert rule in RULES


def test_missing_columns_are_named_with_a_delimiter_hint() -> None:
    header_only = pd.DataFrame({"subject_id;observed_at;code;value;unit": []})
    with pytest.raises(MissingColumns, match="separated by semicolons"):
        check_columns(header_only, Kind.OBSERVATIONS)
    without_unit = observations().drop(columns=["unit"])
    with pytest.raises(MissingColumns, match="missing required column\\(s\\): unit"):
        check_columns(without_unit, Kind.OBSERVATIONS)


def test_optional_columns_may_be_absent() -> None:
    for kind, contract in CONTRACTS.items():
        assert set(contract.not_empty) <= set(contract.required), kind


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300))
def test_any_text_in_a_free_text_field_passes_or_gets_a_named_rule(text: str) -> None:
    passed, rejected = validate(
        observations(value=["38.2", text]), Kind.OBSERVATIONS, "observations.csv"
    )
    assert passed.iloc[0]
    if passed.iloc[1]:
        assert rejected.empty
    else:
        assert set(rejected["rule"]) <= set(RULES)
        assert set(rejected["row"]) == {2}
