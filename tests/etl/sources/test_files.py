"""Streaming CSV reading: row numbers, text values, and unreadable files as file problems."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.sources.files import ROW, FileProblem, SourceFile, read_csv_chunks


def test_rows_are_numbered_across_chunks_and_values_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n" + "".join(f"{i},00{i}\n" for i in range(1, 8)), encoding="utf-8")

    chunks = list(read_csv_chunks(path, chunk_rows=3))

    frame = pd.concat(chunks, ignore_index=True)
    assert frame[ROW].tolist() == list(range(1, 8))
    assert frame["b"].tolist()[:2] == ["001", "002"]  # leading zeros kept: no type guessing


def test_quoted_newlines_and_windows_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b'a,b\r\n1,"two\r\nlines"\r\n2,x\r\n')
    frame = pd.concat(read_csv_chunks(path))
    assert frame["b"].tolist() == ["two\r\nlines", "x"]
    assert frame[ROW].tolist() == [1, 2]


def test_a_header_only_file_gives_its_columns_and_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n", encoding="utf-8")
    (frame,) = list(read_csv_chunks(path))
    assert list(frame.columns) == ["a", "b", ROW] and frame.empty


@pytest.mark.parametrize(
    ("content", "rule", "reason"),
    [
        (b"", "empty_file", "0 bytes"),
        (b"a,b\n1,\xe9t\xe9\n", "unreadable_file", "not valid UTF-8"),
        (b"a,b\n1,2,3\n", "unreadable_file", "different numbers of columns"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes, rule: str, reason: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(FileProblem) as problem:
        list(read_csv_chunks(path))
    assert problem.value.rule == rule
    assert reason in problem.value.reason


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_are_read_or_refused_as_a_file_problem(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.csv"
        path.write_bytes(content)
        try:
            frames = list(read_csv_chunks(path))
        except FileProblem as problem:
            assert problem.reason
        else:
            assert all(ROW in frame for frame in frames)


def test_source_file_manifest(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "x.csv"
    path.write_bytes(b"abc")
    file = SourceFile.of(path, root=tmp_path)
    assert file.manifest() == {
        "name": "sub/x.csv",
        "size": 3,
        "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    }
