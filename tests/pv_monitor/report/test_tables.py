"""The report's tables on hand-made frames: MedDRA placement and order, windows, phenotypes,
survival censored at the lock."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from pv_monitor.reference.meddra import load_hierarchy, release_version
from pv_monitor.report.tables import (
    NOT_CODED,
    censor_at_lock,
    relapse_phenotypes,
    serious_adverse_events,
)

AES = pd.DataFrame(
    {
        "subject_id": [1, 2, 2, 3],
        "serious": [True, True, True, True],
        "term": ["sepsis", "Febrile neutropenia", "Sepsis", "Made-up term"],
        "decoded_term": ["Sepsis", None, None, None],
        "onset_date": pd.to_datetime(["2026-02-01", "2026-02-02", "2026-03-01", "2026-03-02"]),
    }
)


def _meddra(folder: Path) -> Path:
    # A made-up hierarchy in the MedDRA ASCII layout (not MedDRA content): two SOCs whose
    # international order is the reverse of their codes' order, and a secondary SOC link.
    (folder / "mdhier.asc").write_text(
        "1$11$111$200$Sepsis$h$g$Infections and infestations$Infec$$200$Y$\n"
        "1$11$111$100$Sepsis$h$g$Vascular disorders$Vasc$$200$N$\n"
        "2$22$222$100$Febrile neutropenia$h$g$Blood disorders$Blood$$100$Y$\n"
    )
    (folder / "intl_ord.asc").write_text("1$200$\n2$100$\n")
    (folder / "meddra_release.asc").write_text("27.1$English$\n")
    return folder


def test_soc_from_a_configured_hierarchy_in_international_order(tmp_path: Path) -> None:
    hierarchy = load_hierarchy(_meddra(tmp_path))
    table = serious_adverse_events(AES, date(2026, 1, 1), hierarchy)
    assert table[["soc", "preferred_term", "patients_cumulative", "events_cumulative"]].to_dict(
        "records"
    ) == [
        {"soc": "Infections and infestations", "preferred_term": "Sepsis",
         "patients_cumulative": 2, "events_cumulative": 2},
        {"soc": "Blood disorders", "preferred_term": "Febrile neutropenia",
         "patients_cumulative": 1, "events_cumulative": 1},
        {"soc": "not found in MedDRA", "preferred_term": "Made-up term",
         "patients_cumulative": 1, "events_cumulative": 1},
    ]  # fmt: skip
    assert release_version(tmp_path) == "MedDRA 27.1"


def test_without_meddra_terms_stay_as_reported() -> None:
    table = serious_adverse_events(AES, date(2026, 1, 1))
    assert set(table["soc"]) == {NOT_CODED}
    assert sorted(table["preferred_term"]) == ["Febrile neutropenia", "Made-up term", "Sepsis"]


def test_relapse_phenotype_is_the_first_status_after_infusion() -> None:
    infusions = pd.DataFrame(
        {
            "subject_id": [1, 2, 3],
            "product": ["Kymriah"] * 3,
            "infusion_date": pd.to_datetime(["2026-01-01"] * 3),
        }
    )
    assessments = pd.DataFrame(
        {
            "subject_id": [1, 1, 1, 2, 3],
            "assessed_on": pd.to_datetime(
                ["2025-12-01", "2026-04-01", "2026-05-01", "2026-04-01", "2026-04-01"]
            ),
            "is_relapse": [True, True, False, True, False],
            "antigen_status": ["positive", "negative", "dim", None, "negative"],
        }
    )
    table = relapse_phenotypes(infusions, assessments)
    # subject 1: before-infusion status ignored; subject 2: no status; subject 3: no relapse
    assert table.to_dict("records") == [
        {"product": "Kymriah", "phenotype": "negative", "patients": 1},
        {"product": "Kymriah", "phenotype": "not recorded", "patients": 1},
    ]


def test_survival_is_censored_at_the_lock() -> None:
    infusions = pd.DataFrame(
        {"infusion_id": [1, 2], "infusion_date": pd.to_datetime(["2026-01-01", "2026-03-01"])}
    )
    cohort = pd.DataFrame(
        {
            "infusion_id": [1, 2, 3],
            "os_days": [200.0, 10.0, 5.0],
            "os_event": [1, 1, 1],
            "pfs_days": [50.0, 10.0, 5.0],
            "pfs_event": [1, 0, 1],
        }
    )
    cut = censor_at_lock(cohort, infusions, date(2026, 4, 10))  # day 99 and day 40
    assert cut.to_dict("list") == {
        "infusion_id": [1, 2],  # infusion 3 is outside the report's cohort
        "os_days": [99.0, 10.0],
        "os_event": [0, 1],  # the death on day 200 is after the lock
        "pfs_days": [50.0, 10.0],
        "pfs_event": [1, 0],
    }
