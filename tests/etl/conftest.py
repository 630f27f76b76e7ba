"""A small hand-written tidy export whose every row is known, and helpers to read the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from pv_monitor.cli import upgrade_store

SUBJECTS = """\
subject_id,study_id,site_id,sex,age_years,diagnosis,product,infusion_date,weight_kg,dose_cells,lymphodepletion,death_date,death_cause,last_contact_date
S-001,STUDY-A,SITE-1,F,54,LBCL,axi-cel,2024-03-15,70.5,2.0e8,flu/cy,,,2024-09-30
S-002,STUDY-A,SITE-1,M,8,B-ALL,tisagenlecleucel,2024-03-20,26,1.1e8,flu/cy,2024-05,progression,
S-003,STUDY-A,SITE-2,M,67,MM,cilta-cel,2024-04-02,81,,flu/cy,,,2024-06-01
"""

OBSERVATIONS = """\
subject_id,observed_at,code,value,unit,other_cause
S-001,2024-03-16T08:00,TEMP,101.3,F,
S-001,2024-03-16T14:00,TEMP,39.1,C,
S-001,2024-03-16T14:00,SBP,88,mmHg,
S-001,2024-03-17,CRP,12.5,mg/dL,
S-001,2024-03-17,FERRITIN,2100,ng/mL,
S-001,2024-03-17,CREAT,97,umol/L,
S-001,2024-03-17,PLT,45000,/uL,
S-001,2024-03-17,IL6,<5,pg/mL,
S-001,2024-03-18T09:30,ICE,7,,
S-001,2024-03-18T09:30,O2_DEVICE,HFNC,,
S-002,2024-03-21T06:00,TEMP,38.4,C,
S-002,2024-03-22T10:00,CAPD,12,,
S-002,2024-04-20,RESPONSE,CR,,
S-002,2024-04-25,ANTIGEN_STATUS,negative,,
S-003,2024-04-03,ANC,0.4,10^9/L,
"""

MEDICATIONS = """\
subject_id,drug,started_at,ended_at,dose,dose_unit,route
S-001,Tocilizumab,2024-03-16T15:00,,8,mg/kg,IV
S-001,dexamethasone,2024-03-17T09:00,2024-03-19,10,mg,IV
S-002,norepinephrine,2024-03-21T08:00,2024-03-22T08:00,0.05,ug/kg/min,IV
"""

ADVERSE_EVENTS = """\
subject_id,term,onset_date,resolved_date,grade,grading_scale,serious,outcome
S-001,Cytokine release syndrome,2024-03-16,2024-03-20,2,ASTCT,Y,recovered
S-001,ICANS,2024-03-18,2024-03,1,ASTCT,N,recovered
S-002,CRS,2024-03,,3,Lee 2014,Y,not_recovered
"""

FILES = {
    "subjects.csv": SUBJECTS,
    "observations.csv": OBSERVATIONS,
    "medications.csv": MEDICATIONS,
    "adverse_events.csv": ADVERSE_EVENTS,
}
"""The hand-written export: 3 subjects, 15 observations, 3 medications, 3 adverse events."""

OBSERVATION_TABLES = {"measurement": 12, "observation": 1, "disease_assessment": 2}
"""Where the 15 observations go: numeric codes (ICE and CAPD are scores), categorical codes
(the oxygen device), disease codes."""


def write_export(folder: Path, **replaced: str) -> Path:
    """Write the hand-written export into ``folder``; ``name=text`` replaces a file's text
    (``name`` without ``.csv``; an empty string removes the file)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in FILES.items():
        stem = name.removesuffix(".csv")
        if stem in replaced:
            content = replaced[stem]
            if content == "":
                (folder / name).unlink(missing_ok=True)
                continue
        (folder / name).write_text(content, encoding="utf-8")
    return folder


@pytest.fixture
def tidy_export(tmp_path: Path) -> Path:
    """The hand-written tidy export in a folder of its own."""
    return write_export(tmp_path / "export")


def query(url: str, sql: str, **params: Any) -> pd.DataFrame:
    """Rows of ``sql`` on the store at ``url``."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return pd.read_sql_query(text(sql), conn, params=params)
    finally:
        engine.dispose()


def count(url: str, table: str) -> int:
    """Rows in ``table``."""
    return int(query(url, f"SELECT COUNT(*) AS n FROM {table}")["n"].iloc[0])


STORED_TABLES = (
    "study",
    "site",
    "subject",
    "infusion",
    "death",
    "follow_up",
    "measurement",
    "observation",
    "disease_assessment",
    "drug_exposure",
    "adverse_event",
    "audit_log",
)


def snapshot(url: str) -> dict[str, pd.DataFrame]:
    """Every clinical table's rows (ordered by primary key), to compare a store before and after."""
    engine = create_engine(url)
    try:
        out: dict[str, pd.DataFrame] = {}
        with engine.connect() as conn:
            for table in STORED_TABLES:
                frame = pd.read_sql_query(text(f"SELECT * FROM {table}"), conn)
                out[table] = frame.sort_values(list(frame.columns[:1])).reset_index(drop=True)
        return out
    finally:
        engine.dispose()


def assert_same_store(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> None:
    """The clinical tables are exactly as they were."""
    for table, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[table], obj=table)


@pytest.fixture
def store(store_url: str) -> str:
    """A migrated store with the reference products, on SQLite and on PostgreSQL."""
    upgrade_store(store_url, actor="test")
    return store_url
