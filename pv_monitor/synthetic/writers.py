"""Synthetic records as real export files: tidy format v1 or SDTM (CSV), chunk by chunk.

:func:`tidy_tables` and :func:`sdtm_tables` are pure: one chunk of records in, the rows of each
export file out (they run in the worker processes). :class:`CsvFolder` streams them to disk: each
chunk is appended to open CSV files and dropped, so memory does not grow with the cohort. The
SDTM layout, and where CAR-T specific data sit in it, is described in ``docs/data_formats.md``;
each observation code's domain and test code is :attr:`pv_monitor.vocabulary.ObservationCode.sdtm`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pv_monitor.reference import APPROVED_PRODUCTS
from pv_monitor.synthetic.records import ChunkRecords, string_lookup
from pv_monitor.vocabulary import DIAGNOSES, OBSERVATION_CODES, DrugClass

TIDY_FILES = ("subjects.csv", "observations.csv", "medications.csv", "adverse_events.csv")


class CsvFolder:
    """CSV files in a folder, each created on its first rows with those rows' columns."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.writers: dict[str, pacsv.CSVWriter] = {}
        self.rows: dict[str, int] = {}

    def append(self, tables: dict[str, pa.Table]) -> None:
        """Append each table to its file."""
        for name, table in tables.items():
            writer = self.writers.get(name)
            if writer is None:
                writer = pacsv.CSVWriter(self.folder / name, table.schema)
                self.writers[name] = writer
                self.rows[name] = 0
            writer.write_table(table)
            self.rows[name] += table.num_rows

    def append_parts(self, folder: Path, chunk: int, rows: dict[str, int]) -> None:
        """Append the part files a worker wrote for ``chunk`` (their header is kept only when
        the file is new), then delete them."""
        for name, count in rows.items():
            part = folder / f"{chunk:06d}.{name}"
            writer = self.writers.get(name)
            if writer is not None:
                writer.close()  # flush what the in-process writer holds before raw appends
                del self.writers[name]
            target = self.folder / name
            is_new = name not in self.rows
            with part.open("rb") as source, target.open("ab") as sink:
                if not is_new:
                    source.readline()
                shutil.copyfileobj(source, sink, 1 << 22)
            part.unlink()
            self.rows[name] = self.rows.get(name, 0) + count

    def close(self) -> dict[str, int]:
        """Close every file; return the rows written to each."""
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()
        return dict(self.rows)


def write_parts(tables: dict[str, pa.Table], folder: Path, chunk: int) -> None:
    """Write one chunk's tables as part files (with header) for :meth:`CsvFolder.append_parts`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        pacsv.write_csv(table, folder / f"{chunk:06d}.{name}")


def _public(table: pa.Table) -> pa.Table:
    """Drop the helper columns (names starting with ``_``)."""
    return table.select([name for name in table.column_names if not name.startswith("_")])


def tidy_tables(records: ChunkRecords) -> dict[str, pa.Table]:
    """The rows of the four tidy format v1 files (architecture.md contract 1) for one chunk."""
    tables = (records.subjects, records.observations, records.medications, records.adverse_events)
    return {name: _public(table) for name, table in zip(TIDY_FILES, tables, strict=True)}


# ---------------------------------------------------------------------------------------------
# SDTM

_CODES = list(OBSERVATION_CODES.values())
_DOMAIN = np.array([c.sdtm.domain for c in _CODES], dtype=object)
_TESTCD = np.array([c.sdtm.testcd for c in _CODES], dtype=object)
_TEST = np.array([c.sdtm.test for c in _CODES], dtype=object)
_CATEGORY = np.array([c.sdtm.category or "" for c in _CODES], dtype=object)
_SPECIMEN = np.array([c.sdtm.specimen or "" for c in _CODES], dtype=object)
_CANONICAL_UNIT = np.array([c.canonical_unit or "" for c in _CODES], dtype=object)
_IS_BOOLEAN = np.array([c.kind == "boolean" for c in _CODES])
FINDINGS_DOMAINS = ("VS", "LB", "QS", "NV", "PC")
RESPONSE_CRITERIA = {
    "LBCL": "LUGANO 2014",
    "MCL": "LUGANO 2014",
    "B-ALL": "NCCN ALL",
    "MM": "IMWG 2016",
}
SCALE_LABEL = "Toxicity Grading Scale"


def _constant(value: str, n: int) -> pa.Array:
    """``n`` copies of one string."""
    return pa.repeat(pa.scalar(value, pa.string()), n)


def sdtm_text(values: pa.Array, boolean: bool) -> pa.Array:
    """Controlled value as written in SDTM: ``true``/``false`` -> ``Y``/``N``; otherwise upper
    case with spaces (``high_flow_nasal_cannula`` -> ``HIGH FLOW NASAL CANNULA``)."""
    if boolean:
        return pc.if_else(pc.equal(values, "true"), "Y", "N")
    return pc.utf8_upper(pc.replace_substring(values, "_", " "))


def _study_day(day: npt.NDArray[np.integer]) -> npt.NDArray[np.int32]:
    """SDTM --DY: the reference date (infusion) is day 1 and there is no day 0."""
    day = np.asarray(day)
    return np.where(day >= 0, day + 1, day).astype(np.int32)


def _sequence(subject: npt.NDArray[np.integer]) -> npt.NDArray[np.int32]:
    """--SEQ: 1, 2, ... within each subject (rows grouped by subject)."""
    subject = np.asarray(subject)
    if subject.size == 0:
        return np.zeros(0, np.int32)
    starts = np.r_[0, np.flatnonzero(np.diff(subject)) + 1]
    lengths = np.diff(np.r_[starts, subject.size])
    return np.asarray(np.arange(subject.size) - np.repeat(starts, lengths) + 1, dtype=np.int32)


def sdtm_tables(records: ChunkRecords, study_id: str) -> dict[str, pa.Table]:
    """The rows of each SDTM domain file for one chunk: DM, SUPPDM, EX, VS, SUPPVS, LB, QS, NV,
    PC, CM, AE, SUPPAE, DS, RS and SUPPRS (``<domain>.csv``)."""
    return _SdtmChunk(records, study_id).tables()


ROUTES = {"IV": "INTRAVENOUS", "PO": "ORAL", "SC": "SUBCUTANEOUS"}


class _SdtmChunk:
    """Builds the SDTM domains of one chunk."""

    def __init__(self, records: ChunkRecords, study_id: str) -> None:
        self.records = records
        self.study_id = study_id
        self.out: dict[str, list[pa.Table]] = {}

    def append(self, name: str, table: pa.Table) -> None:
        self.out.setdefault(name, []).append(table)

    def tables(self) -> dict[str, pa.Table]:
        """Every domain of the chunk."""
        self.write(self.records)
        return {name: pa.concat_tables(parts) for name, parts in self.out.items()}

    def _usubjid(self, keys: pa.Array) -> pa.Array:
        return pc.binary_join_element_wise(self.study_id, keys, "-")

    def _frame(self, domain: str, usubjid: pa.Array, columns: dict[str, object]) -> pa.Table:
        n = len(usubjid)
        head = {
            "STUDYID": _constant(self.study_id, n),
            "DOMAIN": _constant(domain, n),
            "USUBJID": usubjid,
        }
        return pa.table({**head, **columns})

    def write(self, records: ChunkRecords) -> None:
        """Build every domain of the chunk."""
        subjects = records.subjects
        usubjid = self._usubjid(subjects["subject_id"])
        self._demographics(subjects, usubjid)
        self._exposure(subjects, usubjid)
        self._findings(records)
        self._medications(records)
        self._adverse_events(records)
        self._disposition(subjects, usubjid)

    def _demographics(self, subjects: pa.Table, usubjid: pa.Array) -> None:
        died = pc.is_valid(subjects["death_date"])
        short = subjects["_short_name"].to_numpy(zero_copy_only=False)
        brand = {p.short_name: p.brand_name for p in APPROVED_PRODUCTS}
        arm = np.array([brand[s].upper() for s in short], dtype=object)
        armcd = np.array([s.upper().replace("-", "") for s in short], dtype=object)
        subjid = pc.utf8_slice_codeunits(subjects["subject_id"], 4, 10)
        dm = self._frame(
            "DM",
            usubjid,
            {
                "SUBJID": subjid,
                "RFSTDTC": subjects["infusion_date"],
                "RFXSTDTC": subjects["infusion_date"],
                "RFPENDTC": subjects["last_contact_date"],
                "DTHDTC": subjects["death_date"],
                "DTHFL": pc.if_else(died, "Y", pa.scalar(None, pa.string())),
                "SITEID": subjects["site_id"],
                "AGE": subjects["age_years"],
                "AGEU": _constant("YEARS", len(usubjid)),
                "SEX": subjects["sex"],
                "ARMCD": pa.array(armcd, pa.string()),
                "ARM": pa.array(arm, pa.string()),
                "ACTARMCD": pa.array(armcd, pa.string()),
                "ACTARM": pa.array(arm, pa.string()),
                "COUNTRY": _constant("USA", len(usubjid)),
            },
        )
        self.append("dm.csv", dm)
        diagnosis = subjects["diagnosis"].to_numpy(zero_copy_only=False)
        suppdm = pa.table(
            {
                "STUDYID": _constant(self.study_id, len(usubjid)),
                "RDOMAIN": _constant("DM", len(usubjid)),
                "USUBJID": usubjid,
                "IDVAR": pa.nulls(len(usubjid), pa.string()),
                "IDVARVAL": pa.nulls(len(usubjid), pa.string()),
                "QNAM": _constant("PRIMDIAG", len(usubjid)),
                "QLABEL": _constant("Primary Diagnosis", len(usubjid)),
                "QVAL": subjects["diagnosis"],
                "QORIG": _constant("CRF", len(usubjid)),
            }
        )
        assert set(diagnosis) <= set(DIAGNOSES)
        self.append("suppdm.csv", suppdm)

    def _exposure(self, subjects: pa.Table, usubjid: pa.Array) -> None:
        """EX: lymphodepletion (days -5 to -3) and the CAR-T infusion (day 0) per subject."""
        n = len(usubjid)
        generic = {p.short_name: p.generic_name.upper() for p in APPROVED_PRODUCTS}
        short = subjects["_short_name"].to_numpy(zero_copy_only=False)
        epoch = subjects["_infusion_epoch_day"].to_numpy()
        rows_per = 7  # fludarabine and cyclophosphamide on 3 days, then the infusion
        subject = np.repeat(np.arange(n), rows_per)
        slot = np.tile(np.arange(rows_per), n)
        day = np.array([-5, -5, -4, -4, -3, -3, 0])[slot]
        treatment = np.where(
            slot == 6,
            np.array([generic[s] for s in short], dtype=object)[subject],
            np.where(slot % 2 == 0, "FLUDARABINE", "CYCLOPHOSPHAMIDE"),
        )
        dose = np.where(
            slot == 6,
            subjects["dose_cells"].to_numpy()[subject] / 1e6,
            np.where(slot % 2 == 0, 30.0, 500.0),
        )
        unit = np.where(slot == 6, "10^6 CELLS", "mg/m2")
        dates = (
            pa.array((epoch[subject] + day).astype(np.int32)).cast(pa.date32()).cast(pa.string())
        )
        ex = self._frame(
            "EX",
            usubjid.take(pa.array(subject)),
            {
                "EXSEQ": pa.array(slot + 1, pa.int32()),
                "EXTRT": pa.array(treatment, pa.string()),
                "EXCAT": pa.array(
                    np.where(slot == 6, "CAR-T INFUSION", "LYMPHODEPLETION"), pa.string()
                ),
                "EXDOSE": pa.array(np.round(dose, 1)),
                "EXDOSU": pa.array(unit, pa.string()),
                "EXROUTE": _constant("INTRAVENOUS", subject.size),
                "EXSTDTC": dates,
                "EXENDTC": dates,
                "EXSTDY": pa.array(_study_day(day)),
                "EXENDY": pa.array(_study_day(day)),
            },
        )
        self.append("ex.csv", ex)

    def _findings(self, records: ChunkRecords) -> None:
        obs = records.observations
        code = obs["_code_index"].to_numpy().astype(np.int64)
        domain = _DOMAIN[code]
        keys = self._usubjid(obs["subject_id"])
        subject = obs["_subject"].to_numpy()
        other_cause = obs["other_cause"].to_numpy(zero_copy_only=False)
        for name in FINDINGS_DOMAINS:
            chosen = np.flatnonzero(domain == name)
            self._findings_domain(name, obs, keys, code, subject, chosen, other_cause)
        vs_rows = np.bincount(subject[domain == "VS"], minlength=records.subjects.num_rows)
        self._baseline_weight(records.subjects, vs_rows)
        self._responses(records, keys, code, subject)

    def _baseline_weight(self, subjects: pa.Table, vs_rows: npt.NDArray[np.int64]) -> None:
        """VS WEIGHT at day -5 (after the subject's other VS rows of this chunk)."""
        n = subjects.num_rows
        weight = subjects["weight_kg"]
        date = pa.array((subjects["_infusion_epoch_day"].to_numpy() - 5).astype(np.int32))
        vs = self._frame(
            "VS",
            self._usubjid(subjects["subject_id"]),
            {
                "VSSEQ": pa.array((vs_rows + 1).astype(np.int32)),
                "VSTESTCD": _constant("WEIGHT", n),
                "VSTEST": _constant("Weight", n),
                "VSCAT": _constant("", n),
                "VSORRES": pc.cast(weight, pa.string()),
                "VSORRESU": _constant("kg", n),
                "VSSTRESC": pc.cast(weight, pa.string()),
                "VSSTRESN": weight,
                "VSSTRESU": _constant("kg", n),
                "VSDTC": date.cast(pa.date32()).cast(pa.string()),
                "VSDY": pa.array(np.full(n, -5, np.int32)),
            },
        )
        self.append("vs.csv", vs)

    def _findings_domain(
        self,
        name: str,
        obs: pa.Table,
        keys: pa.Array,
        code: npt.NDArray[np.int64],
        subject: npt.NDArray[np.int32],
        chosen: npt.NDArray[np.intp],
        other_cause: npt.NDArray[np.bool_],
    ) -> None:
        take = pa.array(chosen)
        c = code[chosen]
        value = obs["value"].take(take)
        boolean = _IS_BOOLEAN[c]
        numeric = ~np.isnan(obs["_canonical_value"].to_numpy()[chosen])
        text = pc.if_else(pa.array(boolean), sdtm_text(value, True), sdtm_text(value, False))
        original = pc.if_else(pa.array(numeric), value, text)
        canonical = obs["_canonical_value"].take(take)
        stresn = pc.if_else(pa.array(numeric), canonical, pa.scalar(None, pa.float64()))
        stresc = pc.if_else(pa.array(numeric), pc.cast(pc.round(canonical, 6), pa.string()), text)
        stresu = string_lookup(np.where(numeric, c, len(_CODES)), [*_CANONICAL_UNIT, None])
        sequence = _sequence(subject[chosen])
        day = obs["_study_day"].to_numpy()[chosen]
        p = name
        columns: dict[str, object] = {
            f"{p}SEQ": pa.array(sequence),
            f"{p}TESTCD": string_lookup(c, _TESTCD),
            f"{p}TEST": string_lookup(c, _TEST),
            f"{p}CAT": string_lookup(c, _CATEGORY),
            f"{p}ORRES": original,
            f"{p}ORRESU": obs["unit"].take(take),
            f"{p}STRESC": stresc,
            f"{p}STRESN": stresn,
            f"{p}STRESU": stresu,
        }
        if name in ("LB", "PC"):
            columns[f"{p}SPEC"] = string_lookup(c, _SPECIMEN)
        if name == "NV":
            imaging = _TESTCD[c] == "CEREDEMA"
            columns["NVMETHOD"] = string_lookup(imaging.astype(np.int32), [None, "MRI"])
        columns[f"{p}DTC"] = obs["observed_at"].take(take)
        columns[f"{p}DY"] = pa.array(_study_day(day))
        table = self._frame(name, keys.take(take), columns)
        self.append(f"{name.lower()}.csv", table)
        flagged = other_cause[chosen]
        if flagged.any():
            where = np.flatnonzero(flagged)
            supp = pa.table(
                {
                    "STUDYID": _constant(self.study_id, where.size),
                    "RDOMAIN": _constant(name, where.size),
                    "USUBJID": keys.take(take).take(pa.array(where)),
                    "IDVAR": _constant(f"{p}SEQ", where.size),
                    "IDVARVAL": pa.array(sequence[where].astype(str), pa.string()),
                    "QNAM": _constant("OTHCAUSE", where.size),
                    "QLABEL": _constant("Attributed to Another Cause", where.size),
                    "QVAL": _constant("Y", where.size),
                    "QORIG": _constant("CRF", where.size),
                }
            )
            self.append(f"supp{name.lower()}.csv", supp)

    def _responses(
        self,
        records: ChunkRecords,
        keys: pa.Array,
        code: npt.NDArray[np.int64],
        subject: npt.NDArray[np.int32],
    ) -> None:
        """RS for responses; the antigen status of a relapse goes to SUPPRS on its RS record."""
        obs = records.observations
        codes = list(OBSERVATION_CODES)
        response = np.flatnonzero(code == codes.index("RESPONSE"))
        antigen = np.flatnonzero(code == codes.index("ANTIGEN_STATUS"))
        take = pa.array(response)
        sequence = _sequence(subject[response])
        diagnosis = records.subjects["diagnosis"].to_numpy(zero_copy_only=False)
        value = obs["value"].take(take)
        rs = self._frame(
            "RS",
            keys.take(take),
            {
                "RSSEQ": pa.array(sequence),
                "RSTESTCD": _constant("OVRLRESP", response.size),
                "RSTEST": _constant("Overall Response", response.size),
                "RSCAT": pa.array(
                    [RESPONSE_CRITERIA[d] for d in diagnosis[subject[response]]], pa.string()
                ),
                "RSORRES": value,
                "RSSTRESC": pc.utf8_upper(value),
                "RSEVAL": _constant("INVESTIGATOR", response.size),
                "RSDTC": pc.utf8_slice_codeunits(obs["observed_at"].take(take), 0, 10),
                "RSDY": pa.array(_study_day(obs["_study_day"].to_numpy()[response])),
            },
        )
        self.append("rs.csv", rs)
        # each antigen status row follows its relapse response row (same subject, one minute on)
        position = np.searchsorted(response, antigen) - 1
        supp = pa.table(
            {
                "STUDYID": _constant(self.study_id, antigen.size),
                "RDOMAIN": _constant("RS", antigen.size),
                "USUBJID": keys.take(pa.array(antigen)),
                "IDVAR": _constant("RSSEQ", antigen.size),
                "IDVARVAL": pa.array(sequence[position].astype(str), pa.string()),
                "QNAM": _constant("AGSTAT", antigen.size),
                "QLABEL": _constant("Target Antigen Status", antigen.size),
                "QVAL": sdtm_text(obs["value"].take(pa.array(antigen)), False),
                "QORIG": _constant("CRF", antigen.size),
            }
        )
        self.append("supprs.csv", supp)

    def _medications(self, records: ChunkRecords) -> None:
        med = records.medications
        lymphodepletion = pc.equal(med["_drug_class"], DrugClass.LYMPHODEPLETION.value)
        med = med.filter(pc.invert(lymphodepletion))  # in EX
        subject = med["_subject"].to_numpy()
        end_day = med["_end_day"].to_numpy()
        cm = self._frame(
            "CM",
            self._usubjid(med["subject_id"]),
            {
                "CMSEQ": pa.array(_sequence(subject)),
                "CMTRT": pc.utf8_upper(med["drug"]),
                "CMDECOD": pc.utf8_upper(med["drug"]),
                "CMCAT": pc.utf8_upper(pc.replace_substring(med["_drug_class"], "_", " ")),
                "CMDOSE": med["dose"],
                "CMDOSU": med["dose_unit"],
                "CMROUTE": pa.array([ROUTES[r] for r in med["route"].to_pylist()], pa.string()),
                "CMSTDTC": med["started_at"],
                "CMENDTC": med["ended_at"],
                "CMSTDY": pa.array(_study_day(med["_start_day"].to_numpy())),
                "CMENDY": pa.array(_study_day(end_day), mask=end_day <= -99999),
            },
        )
        self.append("cm.csv", cm)

    def _adverse_events(self, records: ChunkRecords) -> None:
        ae = records.adverse_events
        subject = ae["_subject"].to_numpy()
        sequence = _sequence(subject)
        resolved = ae["_resolved_day"].to_numpy()
        usubjid = self._usubjid(ae["subject_id"])
        table = self._frame(
            "AE",
            usubjid,
            {
                "AESEQ": pa.array(sequence),
                "AETERM": ae["term"],
                "AEDECOD": ae["term"],
                "AETOXGR": pc.cast(ae["grade"], pa.string()),
                "AESER": pc.if_else(ae["serious"], "Y", "N"),
                "AEOUT": pc.utf8_upper(pc.replace_substring(ae["outcome"], "_", " ")),
                "AESTDTC": ae["onset_date"],
                "AEENDTC": ae["resolved_date"],
                "AESTDY": pa.array(_study_day(ae["_onset_day"].to_numpy())),
                "AEENDY": pa.array(_study_day(resolved), mask=resolved <= -99999),
            },
        )
        self.append("ae.csv", table)
        n = len(usubjid)
        supp = pa.table(
            {
                "STUDYID": _constant(self.study_id, n),
                "RDOMAIN": _constant("AE", n),
                "USUBJID": usubjid,
                "IDVAR": _constant("AESEQ", n),
                "IDVARVAL": pa.array(sequence.astype(str), pa.string()),
                "QNAM": _constant("TOXGRSC", n),
                "QLABEL": _constant(SCALE_LABEL, n),
                "QVAL": pc.utf8_upper(ae["grading_scale"]),
                "QORIG": _constant("CRF", n),
            }
        )
        self.append("suppae.csv", supp)

    def _disposition(self, subjects: pa.Table, usubjid: pa.Array) -> None:
        """DS: death (with its cause) or completion of two years' follow-up."""
        died = pc.is_valid(subjects["death_date"]).to_numpy(zero_copy_only=False)
        completed = subjects["_completed"].to_numpy(zero_copy_only=False) & ~died
        rows = np.flatnonzero(died | completed)
        take = pa.array(rows)
        is_death = pa.array(died[rows])
        day = np.where(
            died[rows],
            subjects["_death_day"].to_numpy()[rows],
            subjects["_last_day"].to_numpy()[rows],
        )
        ds = self._frame(
            "DS",
            usubjid.take(take),
            {
                "DSSEQ": pa.array(np.ones(rows.size, np.int32)),
                "DSTERM": pc.if_else(
                    is_death,
                    pc.utf8_upper(subjects["death_cause"].take(take)),
                    "COMPLETED 2-YEAR FOLLOW-UP",
                ),
                "DSDECOD": pc.if_else(is_death, "DEATH", "COMPLETED"),
                "DSCAT": _constant("DISPOSITION EVENT", rows.size),
                "DSSTDTC": pc.if_else(
                    is_death,
                    subjects["death_date"].take(take),
                    subjects["last_contact_date"].take(take),
                ),
                "DSSTDY": pa.array(_study_day(day)),
            },
        )
        self.append("ds.csv", ds)
