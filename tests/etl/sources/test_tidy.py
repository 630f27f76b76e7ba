"""The tidy format v1 reader: CSV and Parquet, folders and single files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl import ExportError, load
from etl.contracts import Kind
from etl.sources import NOT_RECOGNISED, UNREADABLE, USED, Chunk
from etl.sources.tidy import TidySource
from tests.etl.conftest import (
    ADVERSE_EVENTS,
    FILES,
    SUBJECTS,
    count,
    query,
    snapshot,
    write_export,
)


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


# ---- file accounting, Parquet corruption, missing values and encodings (issue 13) -------------


def _consume(source: TidySource) -> list[Chunk]:
    return list(source.chunks())


def _problems(source: TidySource) -> list[tuple[str, str, str]]:
    return [
        (str(p["file"].iloc[0]), str(p["rule"].iloc[0]), str(p["reason"].iloc[0]))
        for p in source.log.problems
    ]


def test_every_file_of_a_tidy_folder_is_accounted_for(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "export")
    (folder / "README.txt").write_text("about this export")
    (folder / "export.xml").write_text("<ichicsr/>")
    (folder / "older").mkdir()

    source = TidySource([folder])
    _consume(source)

    uses = {name: use.use for name, use in source.log.uses.items()}
    assert uses == {
        "README.txt": NOT_RECOGNISED,
        "export.xml": NOT_RECOGNISED,
        "older": NOT_RECOGNISED,
        **dict.fromkeys(FILES, USED),
    }
    assert "folders inside the one given are not read" in source.log.uses["older"].why


def test_a_nested_parquet_column_is_a_file_rejection_naming_it(tmp_path: Path) -> None:
    folder = _as_parquet(write_export(tmp_path / "csv"), tmp_path / "parquet")
    table = pq.read_table(folder / "observations.parquet")
    nested = pa.array([["a", "b"]] * table.num_rows, type=pa.list_(pa.string()))
    pq.write_table(table.set_column(3, "value", nested), folder / "observations.parquet")

    source = TidySource([folder])
    kinds = [chunk.kind for chunk in _consume(source)]

    assert Kind.OBSERVATIONS not in kinds
    ((file, rule, reason),) = _problems(source)
    assert (file, rule) == ("observations.parquet", "unreadable_file")
    assert "column value holds lists or records" in reason
    assert source.log.uses["observations.parquet"].use == UNREADABLE


def test_a_truncated_parquet_file_is_a_file_rejection(tmp_path: Path) -> None:
    folder = _as_parquet(write_export(tmp_path / "csv"), tmp_path / "parquet")
    path = folder / "subjects.parquet"
    path.write_bytes(path.read_bytes()[:-40])

    source = TidySource([folder])
    _consume(source)

    ((file, rule, reason),) = _problems(source)
    assert (file, rule) == ("subjects.parquet", "unreadable_file")
    assert "not a readable Parquet file" in reason


def test_tidy_csv_reads_missing_value_literals_as_empty(tmp_path: Path) -> None:
    subjects = SUBJECTS.replace("flu/cy,,,2024-09-30", "flu/cy,NA,NULL,2024-09-30")
    subjects = subjects.replace("81,,flu/cy", "81,N/A,flu/cy")
    folder = write_export(tmp_path / "export", subjects=subjects)

    frame = _consume(TidySource([folder / "subjects.csv"]))[0].frame

    assert [frame.loc[0, "death_date"], frame.loc[0, "death_cause"]] == ["", ""]
    assert frame.loc[2, "dose_cells"] == ""


def test_tidy_csv_with_a_bom_or_in_windows_1252(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "export")
    subjects = folder / "subjects.csv"
    subjects.write_bytes(b"\xef\xbb\xbf" + subjects.read_bytes())
    adverse = folder / "adverse_events.csv"
    adverse.write_bytes(adverse.read_bytes().replace(b"ICANS", b"ICANS \x96 encephalopathy"))

    source = TidySource([folder])
    chunks = {chunk.file: chunk.frame for chunk in _consume(source)}

    assert _problems(source) == []
    assert chunks["subjects.csv"].columns[0] == "subject_id"
    assert "ICANS \u2013 encephalopathy" in chunks["adverse_events.csv"]["term"].tolist()
    assert source.log.notes == [
        "adverse_events.csv: not UTF-8 text; read as Windows-1252 (cp1252), the fallback"
    ]


def test_columns_tidy_v1_does_not_read_are_named_in_a_note(tmp_path: Path) -> None:
    """An extra column and a header cell left empty (a trailing comma) are not loaded: the load
    says so instead of dropping their values unseen."""
    lines = ADVERSE_EVENTS.splitlines()
    edited = "\n".join([lines[0] + ",comment,", *(line + ",seen by PI," for line in lines[1:])])
    export = write_export(tmp_path / "export", adverse_events=edited + "\n")

    source = TidySource([export])
    kinds = [chunk.kind for chunk in source.chunks()]

    assert Kind.ADVERSE_EVENTS in kinds
    assert (
        "adverse_events.csv: column(s) 'comment', column 10 (no header) are not part of tidy "
        "format v1 adverse_events and were not loaded"
    ) in source.log.notes
    assert not [note for note in source.log.notes if note.startswith("subjects.csv: column")]
