"""Streaming CSV reading: row numbers, text values, and unreadable files as file problems."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.sources.files import (
    AUTO,
    MISSING_VALUE_LITERALS,
    ROW,
    FileProblem,
    SourceFile,
    read_csv_chunks,
)


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
        (b"a,b\n1,2,3\n", "unreadable_file", "row 1) has 3 field(s) where the header has 2"),
        (b"a,b\n1,2,3\n4,5\n", "unreadable_file", "row 1 has 3 field(s) where the header has 2"),
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


# ---- missing-value literals, encodings, truncation (issue 13) --------------------------------

SDTM_MISSING = MISSING_VALUE_LITERALS["sdtm"]


def _read(path: Path, **options: object) -> pd.DataFrame:
    return pd.concat(read_csv_chunks(path, **options), ignore_index=True)  # type: ignore[arg-type]


def _problem(path: Path, **options: object) -> FileProblem:
    with pytest.raises(FileProblem) as problem:
        _read(path, **options)
    return problem.value


def test_unquoted_missing_value_literals_are_empty_and_quoted_ones_stay_values(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lb.csv"
    path.write_text(
        'LBTESTCD,LBSTRESN,LBDTC,LBORRES,LBSTAT\n"NA",NA,.,NULL,N/A\nNA,"NA","",".",\n',
        encoding="utf-8",
    )

    frame = _read(path, missing_values=SDTM_MISSING)

    # LBTESTCD "NA" (quoted) is sodium: a value; the unquoted literals are missing.
    assert frame.drop(columns=ROW).values.tolist() == [
        ["NA", "", "", "", ""],
        ["", "NA", "", ".", ""],
    ]
    # Without literals (the default, and what a mapping file chooses), every text is kept.
    assert _read(path).loc[0, "LBSTRESN"] == "NA"


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"\xef\xbb\xbfUSUBJID,AGE\n01-701-1015,63\n")
    assert list(_read(path, encoding=AUTO).columns) == ["USUBJID", "AGE", ROW]
    # A BOM on a file that then turns out not to be UTF-8 is dropped as well.
    path.write_bytes(b"\xef\xbb\xbfUSUBJID,TERM\n01-701-1015,Crohn\x92s\n")
    frame = _read(path, encoding=AUTO)
    assert list(frame.columns) == ["USUBJID", "TERM", ROW]
    assert frame["TERM"].tolist() == ["Crohn\u2019s"]


def test_windows_1252_is_the_noted_fallback(shared_data: Path) -> None:
    ts = shared_data / "pharmaversesdtm_upstream" / "ts.csv"  # R's export: Windows-1252
    with pytest.raises(FileProblem, match="not valid UTF-8"):
        _read(ts)  # an explicit encoding (a mapping's) is kept, not guessed
    notes: list[str] = []

    frame = _read(ts, encoding=AUTO, missing_values=SDTM_MISSING, notes=notes, name="up/ts.csv")

    assert notes == ["up/ts.csv: not UTF-8 text; read as Windows-1252 (cp1252), the fallback"]
    raw = pd.read_csv(ts, dtype=str, encoding="cp1252", keep_default_na=False)
    assert len(frame) == len(raw) == 33
    assert frame["TSVAL"].str.contains("\u2019").any()  # byte 0x92, a right quote


def test_text_that_is_neither_utf8_nor_windows_1252_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"a,b\n1,\x81\xff\n")  # 0x81 is undefined in Windows-1252
    problem = _problem(path, encoding=AUTO)
    assert (problem.rule, "neither UTF-8 nor Windows-1252" in problem.reason) == ("encoding", True)


def test_a_last_line_cut_short_is_refused_with_its_row_number(
    shared_data: Path, tmp_path: Path
) -> None:
    content = (shared_data / "pharmaversesdtm" / "dm.csv").read_bytes()
    cut = content.rindex(b"\n", 0, len(content) - 1) + 40  # 40 bytes into the last row
    path = tmp_path / "dm.csv"
    path.write_bytes(content[:cut])

    problem = _problem(path, encoding=AUTO)

    rows = content[:cut].count(b"\n")  # the header is line 0: the cut row is data row 306
    assert rows == 306
    assert problem.rule == "unreadable_file"
    assert f"its last row (row {rows})" in problem.reason and "cut short" in problem.reason


def test_a_complete_last_line_without_its_line_end_is_read(
    shared_data: Path, tmp_path: Path
) -> None:
    content = (shared_data / "pharmaversesdtm" / "dm.csv").read_bytes()
    path = tmp_path / "dm.csv"
    path.write_bytes(content.rstrip(b"\r\n"))
    frame = _read(path, encoding=AUTO)
    assert len(frame) == 306 and frame[ROW].iloc[-1] == 306


def test_a_quote_left_open_at_the_end_is_refused(shared_data: Path, tmp_path: Path) -> None:
    content = (shared_data / "pharmaversesdtm_upstream" / "suppdm.csv").read_bytes()
    inside = content.rindex(b'"Completers') + 5  # R quotes every text: cut inside one
    path = tmp_path / "suppdm.csv"
    path.write_bytes(content[:inside])

    problem = _problem(path, encoding=AUTO)

    assert problem.rule == "unreadable_file" and "quoted field" in problem.reason


def test_quotes_inside_values_are_not_taken_for_an_open_quote(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b'a,b\n1,5" tall\n2,"say ""hi""\nthen go"\n3,x')
    frame = _read(path, encoding=AUTO)
    assert frame["b"].tolist() == ['5" tall', 'say "hi"\nthen go', "x"]
    assert frame[ROW].tolist() == [1, 2, 3]


def test_a_header_without_a_line_end_is_an_empty_file_of_those_columns(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"a,b")
    (frame,) = list(read_csv_chunks(path))
    assert list(frame.columns) == ["a", "b", ROW] and frame.empty


def test_a_truncated_gzip_file_is_refused_before_any_row(shared_data: Path, tmp_path: Path) -> None:
    content = (shared_data / "pharmaversesdtm" / "lb.csv.gz").read_bytes()
    path = tmp_path / "lb.csv.gz"
    path.write_bytes(content[: len(content) // 2])
    chunks = read_csv_chunks(path, encoding=AUTO)
    with pytest.raises(FileProblem) as problem:
        next(chunks)  # refused before the first chunk: no row of it can be loaded
    assert problem.value.rule == "unreadable_file"
    assert "the gzip file is truncated" in problem.value.reason


def test_a_row_in_the_middle_with_other_fields_is_named_by_number_not_quoted(
    shared_data: Path, tmp_path: Path
) -> None:
    lines = (shared_data / "pharmaversesdtm" / "dm.csv").read_bytes().split(b"\n")
    lines[101] = lines[101].replace(b",", b";", 3)  # data row 101 loses three fields
    path = tmp_path / "dm.csv"
    path.write_bytes(b"\n".join(lines))

    problem = _problem(path, encoding=AUTO)

    assert problem.reason.startswith("row 101 has 25 field(s) where the header has 28")
    assert "01-7" not in problem.reason  # the row's values (its subject) are not repeated
