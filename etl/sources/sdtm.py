"""Reader of CDISC SDTM exports (SAS transport ``.xpt`` or CSV, optionally gzipped).

Folders and files may be mixed; each file's domain comes from its ``DOMAIN`` (or ``RDOMAIN``)
column, so split domains such as ``LBCH``/``LBHE``/``LBUR`` are read as one LB. Where CAR-T data
sit in SDTM is described in ``docs/data_formats.md``; this module reads them back into tidy
format v1 rows (then validated and normalised like any tidy export):

* subjects: DM (USUBJID, STUDYID, SITEID, SEX, AGE/AGEU, RFPENDTC, DTHDTC), SUPPDM ``PRIMDIAG``
  (diagnosis), EX (the first administration that is not lymphodepletion is the infusion, day 0:
  its EXTRT is the product, EXDOSE in cells its dose), EX lymphodepletion records (regimen), DS
  ``DEATH`` (cause), VS ``WEIGHT`` (baseline weight in kg). Subjects never dosed (no EX record,
  e.g. screen failures) are not loaded, and neither are their other records; a note counts them.
* observations: VS, LB, QS, NV and PC records whose test code is monitored (each code's own test
  code, or an alias in ``SDTM_TEST_ALIASES``). The reported value and unit (``--ORRES``,
  ``--ORRESU``) are used when the unit is accepted for the code, else the standard ones
  (``--STRESN``/``--STRESC``, ``--STRESU``). Records not done (``--STAT = NOT DONE``) or without a
  result, and tests pv-monitor does not monitor, are left out and counted in a note. SUPP--
  ``OTHCAUSE = Y`` marks a finding attributed to another cause. RS ``OVRLRESP`` records are
  responses (the investigator's when several evaluators assessed), and SUPPRS ``AGSTAT`` the
  antigen status of a relapse. RS ``CRSGR``/``ICANSGR`` records are daily reported grades
  (observations ``CRS_GRADE``/``ICANS_GRADE``, the grading scale in RSCAT).
* medications: CM (CMDECOD, else CMTRT; a record without a start date is a drug given at an
  unknown time), and EX records other than the infusion (lymphodepletion, split doses).
* adverse events: AE (AETERM, AEDECOD, AETOXGR, AESER, AEOUT, AESTDTC, AEENDTC) with the grading
  scale from SUPPAE ``TOXGRSC``; AESEV is kept as free text when present.

Every row's identity is its domain and sequence number (``LB|12``), so a corrected export
updates exactly the records that changed.
"""

from __future__ import annotations

import csv
import io
import struct
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from etl import rejections
from etl.contracts import CONTRACTS, ROW, Kind
from etl.sources import IGNORED, NOT_RECOGNISED, UNREADABLE, USED, Chunk, ReadLog
from etl.sources.files import (
    AUTO,
    CHUNK_ROWS,
    MISSING_VALUE_LITERALS,
    FileProblem,
    SourceFile,
    read_csv_chunks,
)
from pv_monitor.vocabulary import OBSERVATION_CODES, REPORTED_GRADE_CODES, SDTM_TEST_ALIASES

FINDINGS = ("VS", "LB", "QS", "NV", "PC")
SMALL = (
    "DM",
    "EX",
    "DS",
    "SUPPDM",
    "SUPPAE",
    "SUPPRS",
    "AE",
    "CM",
    "RS",
    *(f"SUPP{d}" for d in FINDINGS),
)
LYMPHODEPLETION = ("FLUDARABINE", "CYCLOPHOSPHAMIDE", "BENDAMUSTINE")
AGE_UNITS = {"YEARS": 1.0, "MONTHS": 1 / 12, "WEEKS": 7 / 365.25, "DAYS": 1 / 365.25}
CELL_UNITS = {"CELLS": 1.0, "10^6 CELLS": 1e6, "10^8 CELLS": 1e8, "10^9 CELLS": 1e9}
DIAGNOSIS_QNAMS = ("PRIMDIAG", "DIAGNOSIS", "DIAG")
SCALE_QNAMS = ("TOXGRSC", "AETOXGRS", "GRDSCALE")
SUFFIXES = (".xpt", ".csv", ".gz")
USED_DOMAINS = frozenset((*SMALL, *FINDINGS))
"""Domains pv-monitor reads; a file of any other domain (TS, SV, MH, ...) is not read at all."""
SUBJECT_DOMAINS = ("DM", "EX")
"""Domains that define which subjects a load has: when one cannot be read, nothing else is."""
USED_QNAMS = {
    "SUPPDM": DIAGNOSIS_QNAMS,
    "SUPPAE": SCALE_QNAMS,
    "SUPPRS": ("AGSTAT",),
    **{f"SUPP{d}": ("OTHCAUSE",) for d in FINDINGS},
}
"""The supplemental qualifiers pv-monitor uses, per SUPP-- dataset (others are noted)."""


def required_variables(domain: str) -> tuple[str, ...]:
    """The variables a file of ``domain`` must have to be read (others are permissible).

    Examples
    --------
    >>> required_variables("LB")
    ('USUBJID', 'LBTESTCD', 'LBSEQ', 'LBDTC')
    """
    if domain in FINDINGS:
        return ("USUBJID", f"{domain}TESTCD", f"{domain}SEQ", f"{domain}DTC")
    if domain == "SUPPDM":
        return ("USUBJID", "QNAM", "QVAL")
    if domain.startswith("SUPP"):
        return ("USUBJID", "QNAM", "QVAL", "IDVARVAL")
    return {
        "DM": ("USUBJID", "STUDYID"),
        "EX": ("USUBJID", "EXTRT", "EXSTDTC", "EXSEQ"),
        "AE": ("USUBJID", "AETERM", "AESEQ"),
        "CM": ("USUBJID", "CMTRT", "CMSEQ"),
        "DS": ("USUBJID", "DSDECOD", "DSTERM", "DSSTDTC"),
        "RS": ("USUBJID", "RSTESTCD", "RSORRES", "RSSEQ", "RSDTC"),
    }.get(domain, ("USUBJID",))


# ---- SAS transport (XPORT version 5, SAS TS-140) --------------------------------------------

CARD = 80
"""XPORT files are sequences of 80-byte records ("cards"); the data are padded with blanks to
a whole card."""
_LIBRARY = b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!"
_MEMBER = b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!"
_DESCRIPTOR = b"HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!"
_NAMESTR = b"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!"
_OBSERVATIONS = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!"


@dataclass(frozen=True)
class XptLayout:
    """What the headers of a SAS transport file say: its dataset, its variables (name: type,
    position, length) and where its records start."""

    member: str
    variables: dict[str, tuple[int, int, int]]
    record_length: int
    data_start: int


def _not_xpt(what: str) -> FileProblem:
    return FileProblem("unreadable_file", f"not a readable SAS transport (XPORT) file: {what}")


def xpt_layout(path: Path) -> XptLayout:
    """Read the headers of a SAS transport file (a few hundred bytes, never its records).

    Raises :class:`FileProblem` when they are not those of an XPORT version 5 file.
    """
    if path.stat().st_size == 0:
        raise FileProblem("empty_file", "the file is empty (0 bytes)")
    with path.open("rb") as handle:
        head = handle.read(8 * CARD)
        if not head.startswith(_LIBRARY):
            version8 = b"LIBV8" in head[:CARD]
            raise _not_xpt(
                "it is SAS transport version 8; save it as version 5 (XPORT)"
                if version8
                else "its first record is not a library header"
            )
        if len(head) < 8 * CARD:
            raise _not_xpt("it ends inside its headers (truncated)")
        member, descriptor, names = head[3 * CARD : 4 * CARD], head[4 * CARD :], head[7 * CARD :]
        if not (
            member.startswith(_MEMBER)
            and descriptor.startswith(_DESCRIPTOR)
            and names.startswith(_NAMESTR)
        ):
            raise _not_xpt("its member headers are missing or damaged")
        try:
            namestr_length = int(member[75:78])
            count = int(names[54:58])
        except ValueError as error:
            raise _not_xpt("its member header does not give the variables' layout") from error
        if namestr_length not in (136, 140):
            raise _not_xpt(f"variable descriptions of {namestr_length} bytes (expected 140)")
        size = count * namestr_length
        padded = size + (-size) % CARD
        described = handle.read(padded)
        following = handle.read(CARD)
    if len(described) < padded or not following.startswith(_OBSERVATIONS):
        raise _not_xpt("it ends inside its variable descriptions, or they are damaged")
    variables: dict[str, tuple[int, int, int]] = {}
    for index in range(count):
        record = described[index * namestr_length : (index + 1) * namestr_length].ljust(140)
        kind, _, length = struct.unpack(">hhh", record[:6])
        (position,) = struct.unpack(">l", record[84:88])
        name = record[8:16].decode("ascii", errors="replace").strip()
        if kind not in (1, 2) or length < 1 or (kind == 1 and not 2 <= length <= 8):
            raise _not_xpt(f"variable {name or index + 1} has an impossible type or length")
        variables[name] = (kind, position, length)
    record_length = sum(length for _, _, length in variables.values())
    ends = max((pos + length for _, pos, length in variables.values()), default=0)
    if ends != record_length:
        raise _not_xpt(
            f"its variables' positions end at byte {ends} of a {record_length}-byte record "
            "(the headers disagree with the record length)"
        )
    member_name = head[4 * CARD + CARD + 8 : 4 * CARD + CARD + 16]
    return XptLayout(
        member=member_name.decode("ascii", errors="replace").strip().upper(),
        variables=variables,
        record_length=record_length,
        data_start=8 * CARD + padded + CARD,
    )


def check_xpt_records(path: Path, layout: XptLayout) -> int:
    """The number of records, after checking that the data are whole records of the declared
    length followed only by the blank padding of the last card (SAS TS-140); reads only the
    file's last bytes. Raises :class:`FileProblem` for a file cut mid-record, or with bytes
    added at its end.

    XPORT v5 carries no record count, so a file cut exactly at a record boundary that is also
    a card boundary cannot be told from a complete one.
    """
    data = path.stat().st_size - layout.data_start
    if layout.record_length == 0 or data == 0:
        return 0
    if data % CARD:
        raise FileProblem(
            "unreadable_file",
            f"its data are not a whole number of {CARD}-byte records ({data % CARD} byte(s) "
            "over): the file is truncated, or bytes were added at its end",
        )
    rows, rest = divmod(data, layout.record_length)
    if rest:
        with path.open("rb") as handle:
            handle.seek(-rest, 2)
            tail = handle.read(rest)
        if rest >= CARD or tail.strip(b" "):
            raise FileProblem(
                "unreadable_file",
                f"its last record is incomplete: {rest} byte(s) of a {layout.record_length}-byte "
                f"record follow record {rows:,} (the file is cut mid-record, or bytes were added "
                "at its end)",
            )
    return rows


def _first_record(path: Path, layout: XptLayout) -> dict[str, str]:
    """The character values of the first record (for the domain), without reading the rest."""
    with path.open("rb") as handle:
        handle.seek(layout.data_start)
        record = handle.read(layout.record_length)
    if len(record) < layout.record_length:
        return {}
    return {
        name: record[pos : pos + length].decode("cp1252", errors="replace").strip()
        for name, (kind, pos, length) in layout.variables.items()
        if kind == 2
    }


def _csv_first_record(path: Path) -> dict[str, str]:
    """The header and first row of an SDTM CSV (``.gz``: gzip), from its first 64 KB at most."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    if path.suffix.lower() == ".gz":
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 1 << 18)
        except zlib.error as error:
            raise FileProblem(
                "unreadable_file", f"the file is not a readable gzip file ({error})"
            ) from error
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header, first = next(reader, []), next(reader, [])
    return dict(zip(header, first, strict=False))


_TEST_CODES = {
    (spec.sdtm.domain, spec.sdtm.testcd): code for code, spec in OBSERVATION_CODES.items()
}
_TEST_CODES.update(SDTM_TEST_ALIASES)


def _text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """XPT columns as text: whole numbers without ``.0``, missing values empty."""
    out = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_numeric_dtype(values):
            numbers = values.to_numpy(dtype=float)
            whole = np.isfinite(numbers) & (numbers == np.round(numbers))
            text = pd.Series(values.astype(str).to_numpy(), index=frame.index, dtype=object)
            text[whole] = pd.Series(numbers[whole].astype(np.int64)).astype(str).to_numpy()
            text[~np.isfinite(numbers)] = ""
            out[name] = text
        else:
            out[name] = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    return pd.DataFrame(out, index=frame.index)


def _decoded(frame: pd.DataFrame, name: str, log: ReadLog, state: list[str]) -> pd.DataFrame:
    """XPT character columns (bytes) as text: UTF-8, else Windows-1252 (``state`` holds the
    file's encoding once a chunk needed the fallback)."""
    for column in frame.columns:
        values = frame[column]
        if values.dtype != object:
            continue
        try:
            frame[column] = values.str.decode(state[0])
        except UnicodeDecodeError:
            if state[0] == "cp1252":
                raise FileProblem(
                    "encoding", "the file is neither UTF-8 nor Windows-1252 text"
                ) from None
            state[0] = "cp1252"
            _note(log, f"{name}: not UTF-8; read as Windows-1252 (cp1252), the fallback")
            try:
                frame[column] = values.str.decode("cp1252")
            except UnicodeDecodeError:
                raise FileProblem(
                    "encoding", "the file is neither UTF-8 nor Windows-1252 text"
                ) from None
    return frame


def _note(log: ReadLog, text: str) -> None:
    if text not in log.notes:
        log.notes.append(text)


def _read(file: SourceFile, log: ReadLog, domain: str | None = None) -> Iterator[pd.DataFrame]:
    """Text chunks of one SDTM file with ``_row``; its structure is checked before the first
    chunk, and the variables ``domain`` needs with the first."""
    path = file.path
    if path.suffix.lower() != ".xpt":
        frames = read_csv_chunks(
            file,
            encoding=AUTO,
            missing_values=MISSING_VALUE_LITERALS["sdtm"],
            notes=log.notes,
            name=file.name,
        )
    else:
        frames = _read_xpt(file, log)
    for number, frame in enumerate(frames):
        if number == 0 and domain is not None:
            missing = [v for v in required_variables(domain) if v not in frame.columns]
            if missing:
                raise FileProblem(
                    "columns",
                    f"the SDTM variable(s) {', '.join(missing)} that domain {domain} needs are "
                    "missing",
                )
        yield frame


def _read_xpt(file: SourceFile, log: ReadLog) -> Iterator[pd.DataFrame]:
    layout = xpt_layout(file.path)
    check_xpt_records(file.path, layout)
    with file.snapshot() as data:  # parse the very bytes the manifest describes
        yield from _xpt_frames(file, log, layout, data)


def _xpt_frames(
    file: SourceFile, log: ReadLog, layout: XptLayout, data: IO[bytes]
) -> Iterator[pd.DataFrame]:
    state = ["utf-8"]
    try:
        reader = pd.read_sas(data, format="xport", encoding=None, chunksize=CHUNK_ROWS)
    except (ValueError, OSError, TypeError, KeyError, struct.error) as error:
        raise _not_xpt(str(error)) from error
    next_row = 1
    with reader:
        while True:
            try:
                frame = reader.read(CHUNK_ROWS)
            except StopIteration:
                frame = None
            except (ValueError, OSError, TypeError, struct.error) as error:
                raise _not_xpt(str(error)) from error
            if frame is None or not len(frame):
                if next_row == 1:
                    yield _empty(list(layout.variables))
                break
            text = _text_columns(_decoded(frame, file.name, log, state))
            text[ROW] = range(next_row, next_row + len(text))
            next_row += len(text)
            yield text


def _empty(names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype=object) for name in names})
    frame[ROW] = pd.Series(dtype="int64")
    return frame


class SdtmSource:
    """An SDTM export read into tidy format v1 chunks."""

    format = "sdtm"

    def __init__(self, paths: Sequence[Path]) -> None:
        self.log = ReadLog()
        self.display_path = ", ".join(str(p) for p in paths)
        files: list[tuple[Path, Path | None]] = []
        several = len(paths) > 1  # name files by folder too, so that names stay unique
        for path in paths:
            if path.is_dir():
                children = sorted(path.iterdir())
                root = path.parent if several else path
                if not children:
                    self.log.account(str(path), NOT_RECOGNISED, "the folder holds no file")
                for child in children:
                    if _is_sdtm_file(child):
                        files.append((child, root))
                    else:
                        self.log.account(
                            str(child.relative_to(root)),
                            NOT_RECOGNISED,
                            "a folder: folders inside the one given are not read"
                            if child.is_dir()
                            else "not an SDTM dataset (.xpt, .csv or .csv.gz)",
                        )
            elif _is_sdtm_file(path):
                files.append((path, None))
            else:
                self.log.account(
                    path.name, NOT_RECOGNISED, "not an SDTM dataset (.xpt, .csv or .csv.gz)"
                )
        self.files = [SourceFile.of(path, root=root) for path, root in files]
        self._domains: dict[str, list[SourceFile]] = {}
        self._domain: dict[str, str] = {}
        self._broken: set[str] = set()
        """Domains with a file that could not be read."""
        for file in self.files:
            domain = self._domain_of(file)
            if domain is not None:
                self._domains.setdefault(domain, []).append(file)
                self._domain[file.name] = domain
        for domain, domain_files in self._domains.items():
            if domain not in USED_DOMAINS:
                for file in domain_files:
                    self.log.account(
                        file.name, IGNORED, f"domain {domain} is not used by pv-monitor"
                    )
        self._small: dict[str, pd.DataFrame] = {}

    def _domain_of(self, file: SourceFile) -> str | None:
        """The file's domain, from its first record (DOMAIN, or RDOMAIN for SUPP--), else the
        XPT dataset name, else the file name; nothing but the header and first record is read.

        A file whose header cannot be read is rejected, unless its name is that of a domain
        pv-monitor does not use (it is then ignored unread)."""
        stem = Path(file.name).name.split(".")[0].upper()
        try:
            if file.path.suffix.lower() == ".xpt":
                layout = xpt_layout(file.path)
                first = _first_record(file.path, layout)
                fallback = layout.member or stem
            else:
                if file.size == 0:
                    raise FileProblem("empty_file", "the file is empty (0 bytes)")
                first = _csv_first_record(file.path)
                fallback = stem
        except (FileProblem, OSError) as error:
            named = [d for d in USED_DOMAINS if stem.startswith(d)]
            if not named:
                return stem  # an unused domain: ignored, never read
            problem = error if isinstance(error, FileProblem) else _not_xpt(str(error))
            self._reject(file, problem)
            self._broken.add(max(named, key=len))
            return None
        for variable, prefix in (("RDOMAIN", "SUPP"), ("DOMAIN", "")):
            value = first.get(variable, "").strip().upper()
            if value and value not in MISSING_VALUE_LITERALS["sdtm"]:
                return prefix + value
        if "DOMAIN" not in first and "RDOMAIN" not in first:
            self.log.notes.append(f"{file.name}: no DOMAIN column; read as domain {fallback}")
        return fallback

    def _reject(self, file: SourceFile, problem: FileProblem) -> None:
        if self._unreadable(file):
            return
        self.log.problems.append(rejections.file_rejection(file.name, problem.rule, problem.reason))
        self.log.account(file.name, UNREADABLE, problem.reason)
        domain = self._domain.get(file.name)
        if domain is not None:
            self._broken.add(domain)

    # ---- reading ------------------------------------------------------------------------

    def _whole(self, domain: str) -> pd.DataFrame:
        """Every row of a small domain, with ``_file`` naming each row's file (a file that
        cannot be read whole adds no row)."""
        if domain not in self._small:
            frames = []
            for file in self._domains.get(domain, []):
                try:
                    mine = [
                        chunk.assign(_file=file.name) for chunk in _read(file, self.log, domain)
                    ]
                except FileProblem as problem:
                    self._reject(file, problem)
                    continue
                frames += mine
                self.log.account(file.name, USED)
            self._small[domain] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return self._small[domain]

    def _unreadable(self, file: SourceFile) -> bool:
        found = self.log.uses.get(file.name)
        return found is not None and found.use == UNREADABLE

    def _stream(self, domain: str) -> Iterator[tuple[SourceFile, pd.DataFrame]]:
        for file in self._domains.get(domain, []):
            if self._unreadable(file):
                continue  # refused once already (VS is read for weights, then for findings)
            try:
                for chunk in _read(file, self.log, domain):
                    yield file, chunk
            except FileProblem as problem:
                self._reject(file, problem)
                continue
            self.log.account(file.name, USED)

    def _left_out_qnams(self, domain: str, supp: pd.DataFrame) -> None:
        """Note the supplemental qualifiers pv-monitor does not use; a SUPP-- file none of whose
        QNAMs is used is accounted as ignored."""
        if not len(supp):
            return
        used = USED_QNAMS.get(domain, ())
        qnams = supp["QNAM"].str.upper()
        left = sorted(set(qnams) - set(used))
        names = ", ".join(dict.fromkeys(supp["_file"]))
        if left and qnams.isin(used).any():
            _note(
                self.log,
                f"{names}: QNAM(s) {', '.join(left)} of {domain} were left out "
                f"(pv-monitor uses {', '.join(used)})",
            )
        elif left:
            for name in dict.fromkeys(supp["_file"]):
                self.log.account(
                    str(name),
                    IGNORED,
                    f"none of its QNAMs ({', '.join(left)}) is used by pv-monitor "
                    f"(it uses {', '.join(used)})",
                )

    # ---- chunks ---------------------------------------------------------------------------

    def chunks(self) -> Iterator[Chunk]:
        """Subjects (DM and what completes it), then findings, responses, drugs, AEs."""
        unused = sorted(set(self._domains) - USED_DOMAINS)
        for domain in unused:
            names = ", ".join(f.name for f in self._domains[domain])
            self.log.notes.append(f"{names}: domain {domain} is not used by pv-monitor")
        subjects, dosed = self._subjects()
        broken = [d for d in SUBJECT_DOMAINS if d in self._broken]
        if broken:
            self._not_read(
                f"domain {' and '.join(broken)} could not be read, so the subjects "
                "of this load are unknown and no other file was read"
            )
            return
        if subjects is not None:
            yield subjects
        for domain in FINDINGS:
            supp = self._supplement(domain)
            for file, frame in self._stream(domain):
                chunk = self._findings(domain, file, frame, dosed, supp)
                if chunk is not None:
                    yield chunk
        yield from self._responses(dosed)
        yield from self._medications(dosed)
        yield from self._adverse_events(dosed)
        self._not_read("nothing it qualifies or completes was loaded")

    def _not_read(self, why: str) -> None:
        """Account the files not read by now as ignored, saying why."""
        for file in self.files:
            if file.name not in self.log.uses:
                self.log.account(file.name, IGNORED, f"not read: {why}")

    def _subjects(self) -> tuple[Chunk | None, set[str]]:
        dm = self._whole("DM")
        ex = self._whole("EX")
        if any(d in self._broken for d in SUBJECT_DOMAINS):
            return None, set()
        if not len(dm):
            if self._domains:
                self.log.notes.append("no DM domain: records refer to subjects already loaded")
            return None, set()
        infusion = self._infusions(ex)
        dosed = set(infusion.index)
        never = dm[~dm["USUBJID"].isin(dosed)]
        if len(never):
            self.log.notes.append(
                f"{len(never)} subject(s) in DM were never dosed (no EX record); they and their "
                "other records were not loaded"
            )
        dm = dm[dm["USUBJID"].isin(dosed)]
        age = pd.to_numeric(_column(dm, "AGE"), errors="coerce")
        factor = _column(dm, "AGEU").str.upper().map(AGE_UNITS)  # no unit: years
        age_years = (age * factor.fillna(1.0)).round(2)
        frame = pd.DataFrame(
            {
                "subject_id": dm["USUBJID"],
                "study_id": dm["STUDYID"],
                "site_id": _column(dm, "SITEID").replace("", "UNKNOWN"),
                "sex": _column(dm, "SEX"),
                "age_years": age_years.map(lambda a: "" if pd.isna(a) else f"{a:g}"),
                "diagnosis": _lookup(dm["USUBJID"], self._supp_value("SUPPDM", DIAGNOSIS_QNAMS)),
                "product": dm["USUBJID"].map(infusion["product"]),
                "infusion_date": dm["USUBJID"].map(infusion["date"]),
                "weight_kg": _lookup(dm["USUBJID"], self._weights()),
                "dose_cells": _lookup(dm["USUBJID"], infusion["dose_cells"]),
                "lymphodepletion": _lookup(dm["USUBJID"], self._lymphodepletion(ex)),
                "death_date": _column(dm, "DTHDTC").str.slice(0, 10),
                "death_cause": _lookup(dm["USUBJID"], self._death_causes()),
                "last_contact_date": _column(dm, "RFPENDTC").str.slice(0, 10),
                ROW: dm[ROW],
            }
        )
        deaths = self._death_dates()
        frame["death_date"] = frame["death_date"].where(
            frame["death_date"] != "", _lookup(frame["subject_id"], deaths)
        )
        partial_contact = frame["last_contact_date"].str.len() < 10
        frame.loc[partial_contact, "last_contact_date"] = ""
        name = dm["_file"].iloc[0] if len(dm) else "dm"
        return Chunk(Kind.SUBJECTS, str(name), frame.reset_index(drop=True)), dosed

    def _infusions(self, ex: pd.DataFrame) -> pd.DataFrame:
        columns = ["product", "date", "dose_cells", "seq"]
        if not len(ex):
            return pd.DataFrame(columns=columns)
        treatment = ex[~_is_lymphodepletion(ex)].copy()
        treatment["_start"] = treatment["EXSTDTC"].str.slice(0, 10)
        treatment = treatment[treatment["_start"] != ""].sort_values(["USUBJID", "_start", ROW])
        first = treatment.groupby("USUBJID").head(1).set_index("USUBJID")
        unit = _column(first, "EXDOSU").str.upper()
        dose = pd.to_numeric(_column(first, "EXDOSE"), errors="coerce") * unit.map(CELL_UNITS)
        return pd.DataFrame(
            {
                "product": first["EXTRT"],
                "date": first["_start"],
                "dose_cells": dose.map(lambda d: "" if pd.isna(d) else f"{d:.0f}"),
                "seq": first["EXSEQ"],
            }
        )

    def _lymphodepletion(self, ex: pd.DataFrame) -> pd.Series:
        if not len(ex):
            return pd.Series(dtype=object)
        ld = ex[_is_lymphodepletion(ex)]
        return ld.groupby("USUBJID")["EXTRT"].agg(lambda t: "/".join(dict.fromkeys(t.str.lower())))

    def _supp_value(self, domain: str, qnams: Sequence[str]) -> pd.Series:
        supp = self._whole(domain)
        self._left_out_qnams(domain, supp)
        if not len(supp):
            return pd.Series(dtype=object)
        rows = supp[supp["QNAM"].str.upper().isin(qnams)]
        return rows.groupby("USUBJID")["QVAL"].first()

    def _weights(self) -> pd.Series:
        """Baseline weight (kg) per subject from VS WEIGHT (the baseline record, else the first)."""
        found = []
        for _, frame in self._stream("VS"):
            weight = frame[frame["VSTESTCD"].str.upper() == "WEIGHT"]
            if len(weight):
                found.append(weight)
        if not found:
            return pd.Series(dtype=object)
        weight = pd.concat(found)
        kg = _column(weight, "VSSTRESU").str.lower() == "kg"
        weight = weight[kg & (weight["VSSTRESN"] != "")]
        baseline = _column(weight, "VSBLFL") == "Y"
        weight = weight.assign(_first=~baseline).sort_values(["USUBJID", "_first", ROW])
        return weight.groupby("USUBJID")["VSSTRESN"].first()

    def _death_records(self) -> pd.DataFrame:
        ds = self._whole("DS")
        if not len(ds):
            return ds
        return ds[ds["DSDECOD"].str.upper() == "DEATH"]

    def _death_causes(self) -> pd.Series:
        deaths = self._death_records()
        return (
            deaths.groupby("USUBJID")["DSTERM"].first() if len(deaths) else pd.Series(dtype=object)
        )

    def _death_dates(self) -> pd.Series:
        deaths = self._death_records()
        if not len(deaths):
            return pd.Series(dtype=object)
        return deaths.groupby("USUBJID")["DSSTDTC"].first().str.slice(0, 10)

    def _supplement(self, domain: str) -> pd.Series:
        """SUPP-- OTHCAUSE = Y per (subject, sequence)."""
        supp = self._whole(f"SUPP{domain}")
        self._left_out_qnams(f"SUPP{domain}", supp)
        if not len(supp):
            return pd.Series(dtype=bool)
        flagged = supp[(supp["QNAM"].str.upper() == "OTHCAUSE") & (supp["QVAL"].str.upper() == "Y")]
        return pd.Series(True, index=flagged["USUBJID"] + "|" + _sequence_text(flagged["IDVARVAL"]))

    def _findings(
        self,
        domain: str,
        file: SourceFile,
        frame: pd.DataFrame,
        dosed: set[str],
        other_cause: pd.Series,
    ) -> Chunk | None:
        p = domain
        testcd = frame[f"{p}TESTCD"].str.upper()
        code = pd.Series([_TEST_CODES.get((domain, t)) for t in testcd], index=frame.index)
        counted = Counter(testcd[code.isna()])
        monitored = code.notna()
        status = _column(frame, f"{p}STAT").str.upper()
        original = _column(frame, f"{p}ORRES")
        standard_c = _column(frame, f"{p}STRESC")
        not_done = monitored & ((status == "NOT DONE") | ((original == "") & (standard_c == "")))
        subject = frame["USUBJID"]
        skipped_subject = monitored & ~not_done & ~subject.isin(dosed) & bool(dosed)
        keep = monitored & ~not_done & ~skipped_subject
        if counted:
            listed = ", ".join(f"{t} {n:,}" for t, n in counted.most_common(8))
            self.log.notes.append(
                f"{file.name}: {sum(counted.values()):,} record(s) of tests "
                f"pv-monitor does not monitor were not loaded ({listed})"
            )
        if not_done.any():
            self.log.notes.append(
                f"{file.name}: {int(not_done.sum()):,} record(s) not done or "
                "without a result were not loaded"
            )
        if skipped_subject.any():
            self.log.notes.append(
                f"{file.name}: {int(skipped_subject.sum()):,} record(s) of subjects "
                "never dosed were not loaded"
            )
        if not keep.any():
            return None
        rows = frame[keep]
        code = code[keep]
        value, unit = _choose_result(p, rows, code)
        sequence = _sequence_text(rows[f"{p}SEQ"])
        out = pd.DataFrame(
            {
                "subject_id": rows["USUBJID"],
                "observed_at": rows[f"{p}DTC"],
                "code": code,
                "value": value,
                "unit": unit,
                "other_cause": (rows["USUBJID"] + "|" + sequence)
                .isin(other_cause.index)
                .map({True: "true", False: "false"}),
                "source_id": "",
                "_key": p + "|" + sequence,
                "_specimen": _column(rows, f"{p}SPEC"),
                "_mrd_method": _column(rows, f"{p}METHOD").where(code == "MRD", ""),
                ROW: rows[ROW],
            }
        )
        return Chunk(Kind.OBSERVATIONS, file.name, out.reset_index(drop=True))

    def _responses(self, dosed: set[str]) -> Iterator[Chunk]:
        rs = self._whole("RS")
        if not len(rs):
            return
        grade_code = rs["RSTESTCD"].str.upper().map(lambda t: _TEST_CODES.get(("RS", t)))
        graded = grade_code.isin(list(REPORTED_GRADE_CODES))
        if graded.any():
            yield self._reported_grades(rs[graded], grade_code[graded], dosed)
            rs = rs[~graded]
            if not len(rs):
                return
        overall = rs[rs["RSTESTCD"].str.upper() == "OVRLRESP"]
        if len(overall) < len(rs):
            self.log.notes.append(
                f"RS: {len(rs) - len(overall):,} record(s) other than the overall "
                "response (OVRLRESP) were not loaded"
            )
        if "RSEVAL" in overall and (overall["RSEVAL"] != "").any():
            investigator = overall["RSEVAL"].str.upper().isin(["INVESTIGATOR", ""])
            if (~investigator).any():
                self.log.notes.append(
                    f"RS: {int((~investigator).sum()):,} assessment(s) by other "
                    "evaluators than the investigator were not loaded"
                )
            overall = overall[investigator]
        value = overall.get("RSSTRESC", overall["RSORRES"]).where(
            lambda v: v != "", overall["RSORRES"]
        )
        not_done = value.str.upper().isin(["ND", "NOT DONE", ""])
        if not_done.any():
            self.log.notes.append(
                f"RS: {int(not_done.sum()):,} response(s) not done were not loaded"
            )
        keep = ~not_done & (overall["USUBJID"].isin(dosed) | (not dosed))
        rows = overall[keep]
        sequence = _sequence_text(rows["RSSEQ"])
        responses = pd.DataFrame(
            {
                "subject_id": rows["USUBJID"],
                "observed_at": rows["RSDTC"],
                "code": "RESPONSE",
                "value": value[keep],
                "unit": "",
                "other_cause": "false",
                "source_id": "",
                "_key": "RS|" + sequence,
                ROW: rows[ROW],
            }
        )
        supp = self._whole("SUPPRS")
        self._left_out_qnams("SUPPRS", supp)
        antigen = pd.DataFrame(columns=responses.columns)
        if len(supp):
            status = supp[supp["QNAM"].str.upper() == "AGSTAT"]
            linked = status.assign(_seq=_sequence_text(status["IDVARVAL"])).merge(
                rows.assign(_seq=sequence), on=["USUBJID", "_seq"], suffixes=("", "_rs")
            )
            antigen = pd.DataFrame(
                {
                    "subject_id": linked["USUBJID"],
                    "observed_at": linked["RSDTC"],
                    "code": "ANTIGEN_STATUS",
                    "value": linked["QVAL"],
                    "unit": "",
                    "other_cause": "false",
                    "source_id": "",
                    "_key": "SUPPRS|" + linked["_seq"] + "|AGSTAT",
                    ROW: linked[ROW],
                }
            )
        file = str(overall["_file"].iloc[0]) if len(overall) else "rs"
        yield Chunk(Kind.OBSERVATIONS, file, pd.concat([responses, antigen], ignore_index=True))

    def _reported_grades(self, rows: pd.DataFrame, code: pd.Series, dosed: set[str]) -> Chunk:
        """RS clinical classifications ``CRSGR``/``ICANSGR``: a clinician's grade of one day, the
        grading scale in RSCAT (the observation's unit), the grade in RSSTRESN, else RSSTRESC,
        else RSORRES (half grades kept as given)."""
        file = str(rows["_file"].iloc[0])
        numeric = _column(rows, "RSSTRESN")
        value = numeric.where(numeric != "", _column(rows, "RSSTRESC"))
        value = value.where(value != "", _column(rows, "RSORRES"))
        not_done = (_column(rows, "RSSTAT").str.upper() == "NOT DONE") | (value == "")
        if not_done.any():
            self.log.notes.append(
                f"{file}: {int(not_done.sum()):,} daily grade(s) not done or without a result "
                "were not loaded"
            )
        keep = ~not_done & (rows["USUBJID"].isin(dosed) | (not dosed))
        rows = rows[keep]
        frame = pd.DataFrame(
            {
                "subject_id": rows["USUBJID"],
                "observed_at": rows["RSDTC"],
                "code": code[keep],
                "value": value[keep],
                "unit": _column(rows, "RSCAT"),
                "other_cause": "false",
                "source_id": "",
                "_key": "RS|" + _sequence_text(rows["RSSEQ"]),
                ROW: rows[ROW],
            }
        )
        return Chunk(Kind.OBSERVATIONS, file, frame.reset_index(drop=True))

    def _medications(self, dosed: set[str]) -> Iterator[Chunk]:
        columns = [*CONTRACTS[Kind.MEDICATIONS].required, *CONTRACTS[Kind.MEDICATIONS].optional]
        ex = self._whole("EX")
        if len(ex):
            infusion = self._infusions(ex)
            first = ex["USUBJID"].map(infusion["seq"]) == ex["EXSEQ"]
            rows = ex[~first & ex["USUBJID"].isin(dosed)]
            if len(rows):
                frame = pd.DataFrame(
                    {
                        "subject_id": rows["USUBJID"],
                        "drug": rows["EXTRT"],
                        "started_at": rows["EXSTDTC"],
                        "ended_at": _column(rows, "EXENDTC"),
                        "dose": _column(rows, "EXDOSE"),
                        "dose_unit": _column(rows, "EXDOSU"),
                        "route": _column(rows, "EXROUTE"),
                        "source_id": "",
                        "_key": "EX|" + _sequence_text(rows["EXSEQ"]),
                        ROW: rows[ROW],
                    }
                )
                yield Chunk(
                    Kind.MEDICATIONS, str(rows["_file"].iloc[0]), frame[[*columns, "_key", ROW]]
                )
        cm = self._whole("CM")
        if len(cm):
            rows = cm[cm["USUBJID"].isin(dosed) | (not dosed)]
            decoded = _column(rows, "CMDECOD")
            frame = pd.DataFrame(
                {
                    "subject_id": rows["USUBJID"],
                    "drug": decoded.where(decoded != "", rows["CMTRT"]),
                    "started_at": _column(rows, "CMSTDTC"),
                    "ended_at": _column(rows, "CMENDTC"),
                    "dose": _column(rows, "CMDOSE"),
                    "dose_unit": _column(rows, "CMDOSU"),
                    "route": _column(rows, "CMROUTE"),
                    "source_id": "",
                    "_key": "CM|" + _sequence_text(rows["CMSEQ"]),
                    "_started_unknown": (_column(rows, "CMSTDTC") == "").map(
                        {True: "true", False: ""}
                    ),
                    ROW: rows[ROW],
                }
            )
            yield Chunk(Kind.MEDICATIONS, str(rows["_file"].iloc[0]), frame)

    def _adverse_events(self, dosed: set[str]) -> Iterator[Chunk]:
        ae = self._whole("AE")
        if not len(ae):
            return
        rows = ae[ae["USUBJID"].isin(dosed) | (not dosed)]
        supp = self._whole("SUPPAE")
        self._left_out_qnams("SUPPAE", supp)
        scale = pd.Series("", index=rows.index)
        sequence = _sequence_text(rows["AESEQ"])
        if len(supp):
            chosen = supp[supp["QNAM"].str.upper().isin(SCALE_QNAMS)]
            by_key = pd.Series(
                chosen["QVAL"].to_numpy(),
                index=chosen["USUBJID"] + "|" + _sequence_text(chosen["IDVARVAL"]),
            )
            by_key = by_key[~by_key.index.duplicated()]
            scale = _lookup(rows["USUBJID"] + "|" + sequence, by_key)
        severity = _column(rows, "AESEV")
        frame = pd.DataFrame(
            {
                "subject_id": rows["USUBJID"],
                "term": rows["AETERM"],
                "onset_date": _column(rows, "AESTDTC"),
                "resolved_date": _column(rows, "AEENDTC"),
                "grade": _column(rows, "AETOXGR"),
                "grading_scale": scale,
                "serious": _column(rows, "AESER"),
                "outcome": _column(rows, "AEOUT"),
                "source_id": "",
                "_key": "AE|" + sequence,
                "_decoded_term": _column(rows, "AEDECOD"),
                "_verbatim": severity.where(severity == "", "severity: " + severity),
                ROW: rows[ROW],
            }
        )
        yield Chunk(Kind.ADVERSE_EVENTS, str(rows["_file"].iloc[0]), frame)


def _is_sdtm_file(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and (name.endswith((".xpt", ".csv", ".csv.gz")))


def _lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``table``'s text for each key; empty text where the key is not in it."""
    found = keys.map(table).astype(object)
    return found.where(found.notna(), "")


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A text column, or empty text when the file does not have it (permissible variables)."""
    if name in frame:
        column: pd.Series = frame[name]
        return column
    return pd.Series("", index=frame.index, dtype=object)


def _is_lymphodepletion(ex: pd.DataFrame) -> pd.Series:
    category = _column(ex, "EXCAT").str.upper()
    named = ex["EXTRT"].str.upper().isin(LYMPHODEPLETION)
    return named | category.str.contains("LYMPHODEPLET", regex=False)


def _sequence_text(values: pd.Series) -> pd.Series:
    """Sequence numbers as text without a decimal part (``1.0`` and ``1`` both give ``1``)."""
    numbers = pd.to_numeric(values, errors="coerce")
    whole = numbers.notna() & (numbers == numbers.round())
    text = values.astype(str).str.strip()
    return text.where(~whole, numbers.fillna(0).astype(np.int64).astype(str))


def _choose_result(domain: str, rows: pd.DataFrame, code: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The reported result when its unit is accepted for the code, else the standard one."""
    from pv_monitor.units import CONVERSIONS, unit_spelling

    def accepted(unit_column: pd.Series) -> pd.Series:
        spelled = unit_column.map(unit_spelling)
        ok = [
            (u in OBSERVATION_CODES[c].units)
            or ((c, u) in CONVERSIONS)
            or (u == "" and OBSERVATION_CODES[c].kind != "numeric")
            or (u == "" and OBSERVATION_CODES[c].canonical_unit == "points")
            for c, u in zip(code, spelled, strict=True)
        ]
        return pd.Series(ok, index=unit_column.index)

    original, original_unit = _column(rows, f"{domain}ORRES"), _column(rows, f"{domain}ORRESU")
    standard, standard_unit = _column(rows, f"{domain}STRESC"), _column(rows, f"{domain}STRESU")
    use_original = (original != "") & accepted(original_unit)
    value = original.where(use_original, standard.where(standard != "", original))
    unit = original_unit.where(use_original, standard_unit.where(standard != "", original_unit))
    return value, unit
