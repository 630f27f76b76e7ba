"""The tidy format v1 reader: CSV and Parquet, folders and single files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from etl import ExportError, load
from etl.sources.tidy import TidySource
from tests.etl.conftest import FILES, count, query, snapshot, write_export


def _as_parquet(csv_folder: Path, parquet_folder: Path) -> Path:
    parquet_folder.mkdir()
    for name in FILES:
        frame = pd.read_csv(csv_folder / name, dtype=str, keep_default_na=False)
        frame.to_parquet(parquet_folder / name.replace(".csv", ".parquet"), index=False)
    return parquet_folder


def test_parquet_loads_exactly_like_csv(store: str, tmp_path: Path) -> None:
    csv_folder = write_export(tmp_path / "csv")
    parquet = _as_parquet(csv_folder, tmp_path / "parquet")

    report = load([parquet], "tidy", database_url=store, actor="test")

    assert (report.status, report.rejected_total) == ("committed", 0)
    assert sorted(report.files) == sorted(n.replace(".csv", ".parquet") for n in FILES)
    before = snapshot(store)
    again = load([csv_folder], "tidy", database_url=store, actor="test")  # same rows as CSV
    assert sum(r.unchanged for r in again.files.values()) == 24
    after = snapshot(store)
    for table in ("measurement", "observation", "adverse_event", "drug_exposure"):
        pd.testing.assert_frame_equal(before[table], after[table], obj=table)


def test_child_files_may_refer_to_subjects_already_in_the_store(store: str, tmp_path: Path) -> None:
    load([write_export(tmp_path / "first", observations="")], "tidy", database_url=store, actor="t")
    later = write_export(tmp_path / "later")
    (later / "subjects.csv").unlink()

    report = load([later / "observations.csv"], "tidy", database_url=store, actor="test")

    assert report.status == "committed"
    assert count(store, "measurement") + count(store, "observation") == 13
    assert query(store, "SELECT COUNT(*) AS n FROM subject")["n"].iloc[0] == 3


def test_other_files_in_a_folder_are_noted_and_unknown_single_files_refused(
    tmp_path: Path,
) -> None:
    folder = write_export(tmp_path / "export")
    (folder / "README.txt").write_text("about this export")

    source = TidySource([folder])

    assert "README.txt: not a tidy format v1 file, ignored" in source.log.notes
    with pytest.raises(ExportError, match="not a tidy format v1 file name"):
        TidySource([folder / "README.txt"])


def test_files_of_several_folders_are_named_by_folder(tmp_path: Path) -> None:
    site_a = write_export(tmp_path / "site_a")
    site_b = write_export(tmp_path / "site_b")
    names = [file.name for file in TidySource([site_a, site_b]).files]
    assert "site_a/subjects.csv" in names and "site_b/subjects.csv" in names
