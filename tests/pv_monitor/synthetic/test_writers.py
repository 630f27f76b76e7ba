"""The synthetic exports are real files in tidy format v1 and in SDTM, carrying the same data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pv_monitor.reference import find_product
from pv_monitor.units import to_canonical
from pv_monitor.vocabulary import (
    AE_OUTCOMES,
    DIAGNOSES,
    DRUG_CLASSES,
    OBSERVATION_CODES,
    GradingScale,
)
from tests.pv_monitor.synthetic.conftest import SMALL_SUBJECTS, read_tidy

# architecture.md, contract 1: required columns, then the optional ones we write
TIDY_COLUMNS = {
    "subjects.csv": [
        "subject_id",
        "study_id",
        "site_id",
        "sex",
        "age_years",
        "diagnosis",
        "product",
        "infusion_date",
        "weight_kg",
        "dose_cells",
        "lymphodepletion",
        "death_date",
        "death_cause",
        "last_contact_date",
    ],
    "observations.csv": ["subject_id", "observed_at", "code", "value", "unit", "other_cause"],
    "medications.csv": [
        "subject_id",
        "drug",
        "started_at",
        "ended_at",
        "dose",
        "dose_unit",
        "route",
    ],
    "adverse_events.csv": [
        "subject_id",
        "term",
        "onset_date",
        "resolved_date",
        "grade",
        "grading_scale",
        "serious",
        "outcome",
    ],
}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")


@pytest.mark.parametrize("name", sorted(TIDY_COLUMNS))
def test_tidy_files_have_exactly_the_contract_columns(small_tidy: Path, name: str) -> None:
    assert list(read_tidy(small_tidy, name).columns) == TIDY_COLUMNS[name]


def test_tidy_subjects_follow_the_contract(small_tidy: Path) -> None:
    subjects = read_tidy(small_tidy, "subjects.csv")
    assert len(subjects) == SMALL_SUBJECTS and subjects["subject_id"].is_unique
    assert subjects["sex"].isin(["F", "M"]).all()
    assert subjects["diagnosis"].isin(list(DIAGNOSES)).all()
    assert all(find_product(name) is not None for name in subjects["product"])
    assert subjects["infusion_date"].str.match(DATE).all()
    assert subjects["last_contact_date"].str.match(DATE).all()
    dead = subjects[subjects["death_date"] != ""]
    assert dead["death_date"].str.match(DATE).all() and (dead["death_cause"] != "").all()
    assert (dead["death_date"] == dead["last_contact_date"]).all()
    follow_up = pd.to_datetime(subjects["last_contact_date"]) - pd.to_datetime(
        subjects["infusion_date"]
    )
    assert follow_up.dt.days.between(0, 730).all()


def test_tidy_observations_use_known_codes_values_and_units(small_tidy: Path) -> None:
    obs = read_tidy(small_tidy, "observations.csv")
    assert obs["observed_at"].str.match(DATETIME).all()
    assert obs["other_cause"].isin(["true", "false"]).all()
    for code, rows in obs.groupby("code"):
        spec = OBSERVATION_CODES[str(code)]
        if spec.kind == "numeric":
            assert rows["unit"].isin(spec.units).all(), code
            values = rows["value"].astype(float).to_numpy()
            for unit, group in rows.assign(v=values).groupby("unit"):
                canonical = to_canonical(str(code), group["v"].to_numpy(), str(unit))
                assert spec.lower is not None and spec.upper is not None
                assert np.all((canonical >= spec.lower) & (canonical <= spec.upper)), (code, unit)
        else:
            assert rows["value"].isin(spec.values).all(), code
            assert (rows["unit"] == "").all(), code


def test_every_site_unit_and_product_name_style_appears(small_tidy: Path) -> None:
    obs = read_tidy(small_tidy, "observations.csv")
    assert set(obs.loc[obs["code"] == "TEMP", "unit"]) == {"C", "F"}
    assert set(obs.loc[obs["code"] == "CREAT", "unit"]) == {"mg/dL", "umol/L"}
    names = set(read_tidy(small_tidy, "subjects.csv")["product"])
    assert {"Yescarta", "axi-cel", "axicabtagene ciloleucel"} <= names


def test_tidy_medications_and_adverse_events_follow_the_contract(small_tidy: Path) -> None:
    meds = read_tidy(small_tidy, "medications.csv")
    assert meds["drug"].isin(list(DRUG_CLASSES)).all()
    assert meds["started_at"].str.match(DATETIME).all()
    ended = meds[meds["ended_at"] != ""]
    assert ended["ended_at"].str.match(DATETIME).all()
    assert (pd.to_datetime(ended["ended_at"]) >= pd.to_datetime(ended["started_at"])).all()
    events = read_tidy(small_tidy, "adverse_events.csv")
    assert events["onset_date"].str.match(PARTIAL_DATE).all()
    assert events["grade"].astype(int).between(1, 5).all()
    assert events["grading_scale"].isin([s.value for s in GradingScale]).all()
    assert events["outcome"].isin(AE_OUTCOMES).all()
    assert events["serious"].isin(["true", "false"]).all()


def _sdtm(folder: Path, domain: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{domain}.csv", dtype=str, keep_default_na=False)


def test_sdtm_has_one_dm_record_per_subject_and_unique_sequences(small_sdtm: Path) -> None:
    dm = _sdtm(small_sdtm, "dm")
    assert len(dm) == SMALL_SUBJECTS and dm["USUBJID"].is_unique
    assert set(dm["USUBJID"]) == set(_sdtm(small_sdtm, "suppdm")["USUBJID"])
    for domain in ("vs", "lb", "qs", "nv", "pc", "cm", "ae", "rs", "ex"):
        frame = _sdtm(small_sdtm, domain)
        seq = frame[f"{domain.upper()}SEQ"].astype(int)
        assert not frame.assign(seq=seq).duplicated(["USUBJID", "seq"]).any(), domain
        assert set(frame["USUBJID"]) <= set(dm["USUBJID"]), domain


def test_sdtm_study_days_have_no_day_zero_and_infusion_is_day_one(small_sdtm: Path) -> None:
    ex = _sdtm(small_sdtm, "ex")
    infusion = ex[ex["EXCAT"] == "CAR-T INFUSION"]
    assert (infusion["EXSTDY"] == "1").all()
    assert (infusion["EXSTDTC"].to_numpy() == _sdtm(small_sdtm, "dm")["RFXSTDTC"].to_numpy()).all()
    for domain in ("vs", "lb", "cm", "ae"):
        frame = _sdtm(small_sdtm, domain)
        column = f"{domain.upper()}{'STDY' if domain in ('cm', 'ae') else 'DY'}"
        assert "0" not in set(frame[column]), domain


def test_sdtm_carries_the_same_observations_as_tidy(small_tidy: Path, small_sdtm: Path) -> None:
    obs = read_tidy(small_tidy, "observations.csv")
    for code, spec in OBSERVATION_CODES.items():
        if spec.sdtm.domain.startswith("SUPP") or spec.sdtm.domain == "RS":
            continue
        frame = _sdtm(small_sdtm, spec.sdtm.domain.lower())
        testcd = frame[f"{spec.sdtm.domain}TESTCD"]
        assert (testcd == spec.sdtm.testcd).sum() == (obs["code"] == code).sum(), code
    assert len(_sdtm(small_sdtm, "rs")) == (obs["code"] == "RESPONSE").sum()
    assert len(_sdtm(small_sdtm, "supprs")) == (obs["code"] == "ANTIGEN_STATUS").sum()
    flagged = (obs["other_cause"] == "true").sum()
    assert flagged > 0 and len(_sdtm(small_sdtm, "suppvs")) == flagged


def test_sdtm_standard_results_are_canonical(small_sdtm: Path) -> None:
    vs = _sdtm(small_sdtm, "vs")
    temp = vs[vs["VSTESTCD"] == "TEMP"]
    fahrenheit = temp[temp["VSORRESU"] == "F"]
    assert len(fahrenheit) and (temp["VSSTRESU"] == "C").all()
    converted = (fahrenheit["VSORRES"].astype(float) - 32) * 5 / 9
    assert np.allclose(converted, fahrenheit["VSSTRESN"].astype(float), atol=1e-6)


def test_sdtm_relapse_antigen_status_points_at_a_relapse_response(small_sdtm: Path) -> None:
    rs = _sdtm(small_sdtm, "rs")
    supp = _sdtm(small_sdtm, "supprs")
    assert len(supp)
    linked = supp.merge(rs, left_on=["USUBJID", "IDVARVAL"], right_on=["USUBJID", "RSSEQ"])
    assert len(linked) == len(supp)
    assert set(linked["RSSTRESC"]) <= {"RELAPSE", "PD"}
    assert set(supp["QVAL"]) <= {"POSITIVE", "DIM", "NEGATIVE", "LINEAGE SWITCH"}


def test_sdtm_adverse_events_keep_their_grading_scale(small_sdtm: Path) -> None:
    ae, supp = _sdtm(small_sdtm, "ae"), _sdtm(small_sdtm, "suppae")
    assert len(ae) == len(supp)
    joined = ae.merge(supp, left_on=["USUBJID", "AESEQ"], right_on=["USUBJID", "IDVARVAL"])
    crs = joined[joined["AETERM"] == "Cytokine release syndrome"]
    assert len(crs) and (crs["QVAL"] == "ASTCT_2019").all()
