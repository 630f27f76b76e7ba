"""Reported grades against derived ones: matching, statuses, and the real CD22 trial export."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from etl import load
from pv_monitor.cli import upgrade_store
from pv_monitor.grading.reconcile import agreement_table, reconcile
from pv_monitor.pipeline import reconciliation, run_pipeline

NA = None


def _reported(*rows: tuple[object, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=["subject", "syndrome", "scale", "reported_grade", "onset_day", "resolved_day"],
    )


def _derived(*rows: tuple[object, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=["subject", "syndrome", "episode_number", "onset_day", "resolution_day",
                 "peak_grade"],
    )  # fmt: skip


def _gradable(*subjects: str, days: int = 30) -> pd.DataFrame:
    return pd.DataFrame({"subject": list(subjects), "syndrome": "crs", "graded_days": days})


def _grade(value: object) -> int | None:
    return None if value is None or value is pd.NA else int(str(value))


def _statuses(table: pd.DataFrame) -> list[tuple[object, ...]]:
    return [
        (r["subject"], r["scale"], _grade(r["reported_grade"]), _grade(r["derived_grade"]),
         r["status"])
        for r in table.astype(object).where(table.notna(), None).to_dict("records")
    ]  # fmt: skip


def test_episodes_match_by_overlapping_days() -> None:
    reported = _reported(
        ("A", "crs", "astct_2019", 2, 3, 8),  # overlaps episode 1
        ("A", "crs", "astct_2019", 1, 40, 42),  # overlaps nothing: derived 0
    )
    derived = _derived(("A", "crs", 1, 2, 9, 3), ("A", "crs", 2, 20, 22, 1))
    table = reconcile(reported, derived, _gradable("A"))
    assert _statuses(table) == [
        ("A", "astct_2019", 2, 3, "discordant"),
        ("A", "astct_2019", 1, 0, "discordant"),
        ("A", None, None, 1, "not reported"),
    ]


def test_legacy_scales_are_shown_not_compared() -> None:
    reported = _reported(("A", "crs", "penn", 3, 2, 6))
    derived = _derived(("A", "crs", 1, 2, 7, 2))
    assert _statuses(reconcile(reported, derived, _gradable("A"))) == [
        ("A", "penn", 3, 2, "other scale")
    ]


def test_reported_zero_is_compared_with_the_highest_derived_grade() -> None:
    reported = _reported(
        ("A", "crs", "astct_2019", 0, NA, NA), ("B", "crs", "astct_2019", 0, NA, NA)
    )
    derived = _derived(("A", "crs", 1, 5, 8, 2))
    table = reconcile(reported, derived, _gradable("A", "B"))
    assert _statuses(table) == [
        ("A", "astct_2019", 0, 2, "discordant"),
        ("A", None, None, 2, "not reported"),
        ("B", "astct_2019", 0, 0, "agree"),
    ]


def test_without_gradable_days_nothing_is_derived() -> None:
    reported = _reported(("A", "crs", "lee_2014", 2, 4, 9))
    table = reconcile(reported, _derived(), _gradable("A", days=0))
    assert _statuses(table) == [("A", "lee_2014", 2, None, "not gradable")]


def test_agreement_table_counts_subjects_by_highest_grade() -> None:
    reported = _reported(
        ("A", "crs", "lee_2014", 1, NA, NA),
        ("A", "crs", "astct_2019", 2, NA, NA),
        ("B", "crs", "lee_2014", 2, NA, NA),
        ("B", "crs", "astct_2019", 2, NA, NA),
    )
    table = agreement_table(reported, "crs", "lee_2014", "astct_2019")
    assert table.loc[1, 2] == 1
    assert table.loc[2, 2] == 1
    assert table.loc["total", "total"] == 2


@pytest.mark.slow
def test_cd22_trial_lee_against_astct(sqlite_url: str, shared_data: Path) -> None:
    """The real CD22 export: 59 patients with Lee 2014 and ASTCT 2019 maximum CRS grades and
    no vital signs, so derived grades are not gradable (docs/grading.md has this table)."""
    upgrade_store(sqlite_url, actor="test")
    mapping = Path(__file__).parents[3] / "examples" / "mappings" / "cd22_trial.yaml"
    report = load(
        [shared_data / "cart_cd22_hlh"],
        f"mapping:{mapping}",
        database_url=sqlite_url,
        actor="test",
    )
    assert report.exit_code == 0
    run_pipeline(sqlite_url, actor="test")
    table, reported = reconciliation(sqlite_url)
    crs = table[table["syndrome"] == "crs"]
    assert len(crs) == 118
    assert set(crs["status"]) == {"not gradable"}
    agreement = agreement_table(reported, "crs", "lee_2014", "astct_2019")
    expected = pd.DataFrame(
        [
            [7, 0, 0, 0, 0, 7],
            [0, 21, 5, 0, 0, 26],
            [0, 0, 13, 8, 0, 21],
            [0, 0, 1, 2, 0, 3],
            [0, 0, 0, 0, 2, 2],
            [7, 21, 19, 10, 2, 59],
        ],
        index=[0, 1, 2, 3, 4, "total"],
        columns=[0, 1, 2, 3, 4, "total"],
    )
    assert agreement.to_numpy().tolist() == expected.to_numpy().tolist()
    assert list(agreement.index) == list(expected.index)


def test_a_reported_grade_5_agrees_with_a_derived_4() -> None:
    reported = _reported(("A", "crs", "astct_2019", 5, 2, NA))
    derived = _derived(("A", "crs", 1, 2, NA, 4))
    assert _statuses(reconcile(reported, derived, _gradable("A"))) == [
        ("A", "astct_2019", 5, 4, "agree")
    ]
