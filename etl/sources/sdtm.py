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

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from etl import rejections
from etl.contracts import CONTRACTS, ROW, Kind
from etl.sources import Chunk, ReadLog
from etl.sources.files import CHUNK_ROWS, FileProblem, SourceFile, read_csv_chunks
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


def _read(path: Path, log: ReadLog) -> Iterator[pd.DataFrame]:
    """Text chunks of one SDTM file with ``_row``."""
    if path.suffix.lower() != ".xpt":
        yield from read_csv_chunks(path)
        return
    if path.stat().st_size == 0:
        raise FileProblem("empty_file", "the file is empty (0 bytes)")
    for encoding in ("utf-8", "cp1252"):
        try:
            frames = []
            next_row = 1
            # closed on every path (a decoding error leaves it open otherwise: ResourceWarning)
            with pd.read_sas(
                path, format="xport", encoding=encoding, chunksize=CHUNK_ROWS
            ) as reader:
                for frame in reader:
                    text = _text_columns(frame)
                    text[ROW] = range(next_row, next_row + len(text))
                    next_row += len(text)
                    frames.append(text)
        except UnicodeDecodeError:
            continue
        except (ValueError, OSError) as error:
            raise FileProblem(
                "unreadable_file", f"not a readable SAS transport file ({error})"
            ) from error
        if encoding != "utf-8":
            log.notes.append(f"{path.name}: not UTF-8; read as Windows-1252 (cp1252)")
        yield from frames
        return
    raise FileProblem("encoding", "the file is neither UTF-8 nor Windows-1252 text")


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
                files += [
                    (child, path.parent if several else path)
                    for child in sorted(path.iterdir())
                    if child.suffix.lower() in SUFFIXES and child.is_file()
                ]
            else:
                files.append((path, None))
        self.files = [SourceFile.of(path, root=root) for path, root in files]
        self._domains: dict[str, list[SourceFile]] = {}
        for file in self.files:
            domain = self._domain_of(file)
            if domain is not None:
                self._domains.setdefault(domain, []).append(file)
        self._small: dict[str, pd.DataFrame] = {}

    def _domain_of(self, file: SourceFile) -> str | None:
        try:
            first = next(_read(file.path, self.log), None)
        except FileProblem as problem:
            self.log.problems.append(
                rejections.file_rejection(file.name, problem.rule, problem.reason)
            )
            return None
        if first is None:
            return None
        if "RDOMAIN" in first and len(first):
            return "SUPP" + str(first["RDOMAIN"].iloc[0]).upper()
        if "DOMAIN" in first and len(first):
            return str(first["DOMAIN"].iloc[0]).upper()
        stem = Path(file.name).name.split(".")[0].upper()
        self.log.notes.append(f"{file.name}: no DOMAIN column; read as domain {stem}")
        return stem

    # ---- reading ------------------------------------------------------------------------

    def _whole(self, domain: str) -> pd.DataFrame:
        """Every row of a small domain, with ``_file`` naming each row's file."""
        if domain not in self._small:
            frames = []
            for file in self._domains.get(domain, []):
                try:
                    for chunk in _read(file.path, self.log):
                        frames.append(chunk.assign(_file=file.name))
                except FileProblem as problem:
                    self.log.problems.append(
                        rejections.file_rejection(file.name, problem.rule, problem.reason)
                    )
            self._small[domain] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return self._small[domain]

    def _stream(self, domain: str) -> Iterator[tuple[SourceFile, pd.DataFrame]]:
        for file in self._domains.get(domain, []):
            try:
                for chunk in _read(file.path, self.log):
                    yield file, chunk
            except FileProblem as problem:
                self.log.problems.append(
                    rejections.file_rejection(file.name, problem.rule, problem.reason)
                )

    # ---- chunks ---------------------------------------------------------------------------

    def chunks(self) -> Iterator[Chunk]:
        """Subjects (DM and what completes it), then findings, responses, drugs, AEs."""
        unused = sorted(set(self._domains) - set(SMALL) - set(FINDINGS))
        for domain in unused:
            names = ", ".join(f.name for f in self._domains[domain])
            self.log.notes.append(f"{names}: domain {domain} is not used by pv-monitor")
        subjects, dosed = self._subjects()
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

    def _subjects(self) -> tuple[Chunk | None, set[str]]:
        dm = self._whole("DM")
        if not len(dm):
            if self._domains:
                self.log.notes.append("no DM domain: records refer to subjects already loaded")
            return None, set()
        ex = self._whole("EX")
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
