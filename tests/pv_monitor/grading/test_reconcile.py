"""Reported grades against derived ones: matching, statuses, and the real CD22 trial export."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from etl import load
from pv_monitor.cli import upgrade_store
from pv_monitor.grading.reconcile import (
    DAILY_COLUMNS,
    agreement_table,
    grades_agree,
    reconcile,
    reconcile_daily,
    reported_peaks,
)
from pv_monitor.pipeline import daily_reconciliation, reconciliation, run_pipeline

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


# ---- daily reported grades ------------------------------------------------------------------


def _daily(*rows: tuple[object, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["subject", "syndrome", "study_day", "scale", "reported_grade"]
    )


def _derived_days(*rows: tuple[object, ...]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["subject", "syndrome", "study_day", "derived_grade"])


def test_half_grades_agree_with_either_neighbour() -> None:
    reported = pd.Series([0.5, 0.5, 1.5, 1.5, 1.5, 2.0, 2.0, 4.5, 5.0, 3.0])
    derived = pd.Series([0, 1, 1, 2, 3, 2, 1, 4, 4, None], dtype="Int64")
    assert grades_agree(reported, derived).tolist() == [
        True, True, True, True, False, True, False, True, True, False
    ]  # fmt: skip


def test_daily_grades_are_compared_day_by_day() -> None:
    reported = _daily(
        ("A", "icans", 1, "astct_2019", 0.0),
        ("A", "icans", 2, "astct_2019", 1.5),
        ("A", "icans", 2, "astct_2019", 1.0),  # a second grade that day: the day's highest
        ("A", "icans", 3, "astct_2019", 1.0),
        ("A", "icans", 4, "cartox", 2.0),
        ("A", "icans", 5, "astct_2019", 2.0),
    )
    derived = _derived_days(
        ("A", "icans", 1, 0), ("A", "icans", 2, 2), ("A", "icans", 3, 2), ("A", "icans", 4, 2),
        ("A", "icans", 5, None), ("A", "icans", 6, 1), ("A", "icans", 7, 0),
        ("B", "icans", 6, 3),  # B has no daily reports: its days are not listed
    )  # fmt: skip
    table = reconcile_daily(reported, derived)
    rows = table.astype(object).where(table.notna(), None).to_dict("records")
    assert [(r["study_day"], r["scale"], r["reported_grade"], r["derived_grade"], r["status"])
            for r in rows] == [
        (1, "astct_2019", 0.0, 0, "agree"),
        (2, "astct_2019", 1.5, 2, "agree"),
        (3, "astct_2019", 1.0, 2, "discordant"),
        (4, "cartox", 2.0, 2, "other scale"),
        (5, "astct_2019", 2.0, None, "not gradable"),
        (6, None, None, 1, "not reported"),
    ]  # fmt: skip
    assert list(table.columns) == list(DAILY_COLUMNS)


def test_reported_peak_is_the_highest_day_as_given() -> None:
    reported = _daily(
        ("A", "icans", 0, "astct_2019", 0.0),
        ("A", "icans", 3, "astct_2019", 1.5),
        ("A", "icans", 4, "astct_2019", 1.5),
        ("A", "icans", 5, "astct_2019", 1.0),
        ("B", "icans", 0, "astct_2019", 0.0),
        ("B", "icans", 1, "astct_2019", 0.0),
    )
    derived = _derived_days(("A", "icans", 4, 1), ("B", "icans", 1, 1))
    peaks = reported_peaks(reported, derived).set_index("subject")
    assert peaks["reported_peak"].to_dict() == {"A": 1.5, "B": 0.0}  # 1.5 stays 1.5, never 0
    assert peaks["reported_peak_day"].to_dict() == {"A": 3, "B": 0}
    assert peaks["reported_days"].to_dict() == {"A": 4, "B": 2}
    assert peaks["status"].to_dict() == {"A": "agree", "B": "discordant"}


DAILY_SUBJECTS = (
    "subject_id,study_id,site_id,sex,age_years,diagnosis,product,infusion_date\n"
    "S1,ST,1,F,50,LBCL,axicabtagene ciloleucel,2024-01-01\n"
)
# ICE 10, 8, 5, 1 on days 1-4 derive ICANS 0, 1, 2, 3; ICE 8 on day 6 derives 1 (not reported)
DAILY_OBSERVATIONS = (
    "subject_id,observed_at,code,value,unit\n"
    "S1,2024-01-02T08:00,ICE,10,points\n"
    "S1,2024-01-03T08:00,ICE,8,points\n"
    "S1,2024-01-04T08:00,ICE,5,points\n"
    "S1,2024-01-05T08:00,ICE,1,points\n"
    "S1,2024-01-07T08:00,ICE,8,points\n"
    "S1,2024-01-02,ICANS_GRADE,0,astct_2019\n"
    "S1,2024-01-03,ICANS_GRADE,1.5,astct_2019\n"
    "S1,2024-01-04,ICANS_GRADE,1,astct_2019\n"
    "S1,2024-01-05,ICANS_GRADE,2.5,astct_2019\n"
    "S1,2024-01-06,ICANS_GRADE,1,astct_2019\n"
)


def test_reported_daily_grades_sit_beside_the_derived_ones(tmp_path: Path, store_url: str) -> None:
    """Through the store and the pipeline: reported daily ICANS grades stay as loaded, the
    derived grades come from the ICE scores alone, and reconcile compares them per day."""
    upgrade_store(store_url, actor="test")
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "subjects.csv").write_text(DAILY_SUBJECTS, encoding="utf-8")
    (folder / "observations.csv").write_text(DAILY_OBSERVATIONS, encoding="utf-8")
    report = load([folder], "tidy", database_url=store_url, actor="test")
    assert report.status == "committed", report.rejections.to_dict("records")
    run_pipeline(store_url, actor="test")
    days, peaks = daily_reconciliation(store_url)
    icans = days[days["syndrome"] == "icans"]
    assert [(d, g, s) for d, g, s in zip(icans["study_day"], icans["derived_grade"].astype(
        object).where(icans["derived_grade"].notna(), None), icans["status"], strict=True)] == [
        (1, 0, "agree"),
        (2, 1, "agree"),  # reported 1.5
        (3, 2, "discordant"),  # reported 1
        (4, 3, "agree"),  # reported 2.5
        (5, None, "not gradable"),  # reported 1, no ICE that day
        (6, 1, "not reported"),
    ]  # fmt: skip
    assert icans["reported_grade"].tolist()[:5] == [0.0, 1.5, 1.0, 2.5, 1.0]
    peak = peaks.set_index("syndrome").loc["icans"]
    assert (peak["reported_peak"], peak["derived_peak"], peak["status"]) == (2.5, 3, "agree")
    # the reported grades are not derived grades: the episode reconciliation (adverse events)
    # has nothing reported, and the derived episode comes from the ICE scores only
    table, _ = reconciliation(store_url)
    assert set(table.loc[table["syndrome"] == "icans", "status"]) == {"not reported"}
    assert table.loc[table["syndrome"] == "icans", "derived_grade"].max() == 3


def test_reconcile_command_prints_and_writes_the_daily_comparison(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pv_monitor.cli import app

    url = f"sqlite:///{tmp_path / 'pv.db'}"
    upgrade_store(url, actor="test")
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "subjects.csv").write_text(DAILY_SUBJECTS, encoding="utf-8")
    (folder / "observations.csv").write_text(DAILY_OBSERVATIONS, encoding="utf-8")
    assert load([folder], "tidy", database_url=url, actor="test").status == "committed"
    run_pipeline(url, actor="test")
    out = tmp_path / "days.csv"
    result = CliRunner().invoke(app, ["--database-url", url, "reconcile", "--daily-out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 discordant subject-days" in result.output
    assert "2.5: 1" in result.output  # the reported ICANS peak, as given
    written = pd.read_csv(out)
    assert list(written.columns) == list(DAILY_COLUMNS) and len(written) == 6
