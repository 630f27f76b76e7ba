"""The survival cohort query on a real store (SQLite, and PostgreSQL when configured): a handful
of hand-made subjects whose every duration and code is known."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pv_monitor.cli import upgrade_store
from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.models import (
    DailyAssessment,
    Death,
    DiseaseAssessment,
    FollowUp,
    Infusion,
    LoadBatch,
    Product,
    RiskScore,
    Site,
    Study,
    Subject,
    ToxicityEpisode,
)
from pv_monitor.store.survival_io import SURVIVAL_COLUMNS, survival_inputs
from pv_monitor.survival import compare_groups, cumulative_incidence, kaplan_meier

DAY0 = date(2024, 1, 10)
NOW = datetime(2024, 12, 1, tzinfo=UTC)


def day(n: int) -> date:
    return DAY0 + timedelta(days=n)


class _Builder:
    """Adds rows with the provenance columns every loaded row needs."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.batch = LoadBatch(
            source_path="test",
            source_sha256="0" * 64,
            source_format="tidy",
            loaded_by="test",
            started_at=NOW,
            status="committed",
            policy="all_or_nothing",
            rows_read=0,
            rows_loaded=0,
            rows_rejected=0,
            etl_version="test",
        )
        self.study = Study(study_key="SURV")
        session.add_all([self.batch, self.study])
        session.flush()
        self.sites = {
            key: Site(study_id=self.study.study_id, site_key=key) for key in ("S01", "S02", "S03")
        }
        session.add_all(self.sites.values())
        session.flush()
        self.rows = 0

    def _provenance(self) -> dict[str, object]:
        self.rows += 1
        return {"load_batch_id": self.batch.load_batch_id, "source_key": f"row{self.rows}"}

    def subject(self, key: str, site: str, diagnosis: str | None) -> Subject:
        subject = Subject(
            study_id=self.study.study_id,
            site_id=self.sites[site].site_id,
            subject_key=key,
            diagnosis=diagnosis,
            **self._provenance(),
        )
        self.session.add(subject)
        self.session.flush()
        return subject

    def infusion(self, subject: Subject, product: str, number: int, on: date) -> Infusion:
        product_id = self.session.scalar(
            select(Product.product_id).where(Product.generic_name == product)
        )
        infusion = Infusion(
            subject_id=subject.subject_id,
            product_id=product_id,
            infusion_number=number,
            infusion_date=on,
            **self._provenance(),
        )
        self.session.add(infusion)
        self.session.flush()
        return infusion

    def death(self, subject: Subject, on: date | None) -> None:
        self.session.add(Death(subject_id=subject.subject_id, death_date=on, **self._provenance()))

    def last_contact(self, subject: Subject, on: date) -> None:
        self.session.add(
            FollowUp(subject_id=subject.subject_id, last_contact_date=on, **self._provenance())
        )

    def assessment(
        self,
        subject: Subject,
        on: date,
        response: str | None = None,
        antigen_status: str | None = None,
    ) -> None:
        self.session.add(
            DiseaseAssessment(
                subject_id=subject.subject_id,
                assessed_on=on,
                response=response,
                is_relapse=response in ("PD", "relapse"),
                antigen_status=antigen_status,
                **self._provenance(),
            )
        )

    def graded(self, infusion: Infusion, days: list[int], granularity: str = "day") -> None:
        for n in days:
            at = datetime.combine(infusion.infusion_date + timedelta(days=n), datetime.min.time())
            self.session.add(
                DailyAssessment(
                    subject_id=infusion.subject_id,
                    infusion_id=infusion.infusion_id,
                    study_day=n,
                    granularity=granularity,
                    assessed_at=at,
                    computed_at=NOW,
                )
            )

    def episode(self, infusion: Infusion, syndrome: str, onset: int, peak: int) -> None:
        number = 1 + sum(
            1
            for o in self.session.new
            if isinstance(o, ToxicityEpisode)
            and o.infusion_id == infusion.infusion_id
            and o.syndrome == syndrome
        )
        self.session.add(
            ToxicityEpisode(
                subject_id=infusion.subject_id,
                infusion_id=infusion.infusion_id,
                syndrome=syndrome,
                criteria_version=f"astct_2019_{syndrome}",
                episode_number=number,
                onset_day=onset,
                peak_grade=peak,
                peak_day=onset,
                closure_rule="grade0_2_days",
                computed_at=NOW,
            )
        )

    def easix(self, infusion: Infusion, category: str | None, timepoint: str) -> None:
        self.session.add(
            RiskScore(
                subject_id=infusion.subject_id,
                infusion_id=infusion.infusion_id,
                score="easix",
                score_version="easix_v1",
                timepoint=timepoint,
                value=None if category is None else 3.0,
                category=category,
                computed_at=NOW,
            )
        )


def _build(session: Session) -> dict[str, int]:
    """The subjects (every number below is in EXPECTED); returns site key -> site id."""
    b = _Builder(session)
    # P1: relapse day 90, antigen-negative (status two days later), death day 200
    p1 = b.subject("P1", "S01", "LBCL")
    i1 = b.infusion(p1, "axicabtagene ciloleucel", 1, DAY0)
    b.death(p1, day(200))
    b.last_contact(p1, day(180))
    b.assessment(p1, day(28), "CR")
    b.assessment(p1, day(90), "relapse")
    b.assessment(p1, day(92), antigen_status="negative")
    b.graded(i1, [-7, 0, 55, 100])
    b.graded(i1, [120], granularity="time_point")  # not a graded day
    b.episode(i1, "crs", 2, 3)
    b.episode(i1, "icans", 5, 1)
    b.easix(i1, "high", "pre_lymphodepletion")
    b.easix(i1, None, "day_0")
    # P2: alive at day 365; a relapse before the infusion; re-infused on day 200
    p2 = b.subject("P2", "S01", "B-ALL")
    i2 = b.infusion(p2, "tisagenlecleucel", 1, DAY0)
    i2b = b.infusion(p2, "tisagenlecleucel", 2, day(200))
    b.last_contact(p2, day(365))
    b.assessment(p2, day(-30), "relapse")
    b.assessment(p2, day(28), "CR")
    b.assessment(p2, day(180), "CR")
    b.graded(i2, [0, 100])
    b.graded(i2b, [-7, 10])
    b.episode(i2, "crs", -2, 3)  # began before the infusion: not an onset after it
    b.episode(i2b, "crs", 1, 4)  # the second infusion's: not analysed
    b.easix(i2, "low", "pre_lymphodepletion")
    b.easix(i2b, "high", "pre_lymphodepletion")
    # P3: death day 40 without relapse, inside the grading window
    p3 = b.subject("P3", "S02", "MM")
    i3 = b.infusion(p3, "idecabtagene vicleucel", 1, DAY0)
    b.death(p3, day(40))
    b.last_contact(p3, day(35))
    b.graded(i3, [0, 40])
    b.episode(i3, "crs", 1, 2)
    b.easix(i3, None, "pre_lymphodepletion")
    # P4: antigen-positive progression day 120, alive day 300, never graded, no diagnosis
    p4 = b.subject("P4", "S02", None)
    b.infusion(p4, "lisocabtagene maraleucel", 1, DAY0)
    b.last_contact(p4, day(300))
    b.assessment(p4, day(120), "PD", antigen_status="positive")
    b.assessment(p4, day(200), "PD")
    # P5: lineage-switch relapse day 60; died, date unknown; no follow-up row
    p5 = b.subject("P5", "S03", "MM")
    i5 = b.infusion(p5, "ciltacabtagene autoleucel", 1, DAY0)
    b.death(p5, None)
    b.assessment(p5, day(60), "PD")
    b.assessment(p5, day(61), antigen_status="lineage_switch")
    b.assessment(p5, day(150), antigen_status="positive")
    b.graded(i5, [0, 30])
    # P6: never infused (screen failure): no row
    b.subject("P6", "S01", "LBCL")
    # P7: relapse day 45 with no antigen status; nothing else but graded days to 100
    p7 = b.subject("P7", "S03", "MCL")
    i7 = b.infusion(p7, "brexucabtagene autoleucel", 1, DAY0)
    b.assessment(p7, day(45), "relapse")
    b.graded(i7, [0, 100])
    b.episode(i7, "icans", 0, 2)
    return {key: site.site_id for key, site in b.sites.items()}


NAN = math.nan
EXPECTED = pd.DataFrame(
    [
        # key, product, diagnosis, risk_group, crs_grade3, os, pfs, relapse, antigen, crs, icans
        (
            "P1",
            "Yescarta",
            "LBCL",
            "EASIX high",
            "grade >= 3 CRS",
            200,
            1,
            90,
            1,
            90,
            1,
            90,
            1,
            2,
            1,
            5,
            1,
        ),
        (
            "P2",
            "Kymriah",
            "B-ALL",
            "EASIX low",
            "grade < 3 CRS",
            365,
            0,
            180,
            0,
            180,
            0,
            180,
            0,
            100,
            0,
            100,
            0,
        ),
        (
            "P3",
            "Abecma",
            "MM",
            "not computable",
            "grade < 3 CRS",
            40,
            1,
            40,
            1,
            40,
            2,
            40,
            2,
            1,
            1,
            40,
            0,
        ),
        (
            "P4",
            "Breyanzi",
            "not recorded",
            "not computable",
            "not graded",
            300,
            0,
            120,
            1,
            120,
            1,
            120,
            2,
            NAN,
            0,
            NAN,
            0,
        ),
        (
            "P5",
            "Carvykti",
            "MM",
            "not computable",
            "grade < 3 CRS",
            NAN,
            1,
            60,
            1,
            60,
            1,
            60,
            1,
            30,
            0,
            30,
            0,
        ),
        (
            "P7",
            "Tecartus",
            "MCL",
            "not computable",
            "grade < 3 CRS",
            100,
            0,
            45,
            1,
            45,
            1,
            45,
            2,
            100,
            0,
            0,
            1,
        ),
    ],
    columns=[
        "subject_key",
        "product",
        "diagnosis",
        "risk_group",
        "crs_grade3",
        "os_days",
        "os_event",
        "pfs_days",
        "pfs_event",
        "relapse_days",
        "relapse_code",
        "antigen_negative_days",
        "antigen_negative_code",
        "crs_onset_days",
        "crs_onset_event",
        "icans_onset_days",
        "icans_onset_event",
    ],
)


@pytest.fixture
def survival_store(store_url: str) -> tuple[str, dict[str, int]]:
    upgrade_store(store_url, actor="test")
    engine = create_store_engine(store_url)
    with session_factory(engine)() as session, session.begin():
        sites = _build(session)
    engine.dispose()
    return store_url, sites


def _inputs(url: str, site_ids: list[str | int] | None = None) -> pd.DataFrame:
    engine = create_store_engine(url)
    try:
        with session_factory(engine)() as session:
            return survival_inputs(session, site_ids)
    finally:
        engine.dispose()


def test_every_duration_and_code_is_the_documented_one(
    survival_store: tuple[str, dict[str, int]],
) -> None:
    url, sites = survival_store
    frame = _inputs(url)
    assert list(frame.columns) == list(SURVIVAL_COLUMNS)
    got = frame[list(EXPECTED.columns)].reset_index(drop=True)
    expected = EXPECTED.astype({c: float for c in EXPECTED.columns if c.endswith("_days")})
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    for column in SURVIVAL_COLUMNS:
        if column.endswith(("_event", "_code")):
            assert frame[column].dtype == np.int64, column
        if column.endswith("_days"):
            assert frame[column].dtype == np.float64, column
    # one row per subject, the first infusion's, with the subject's site
    assert frame["subject_id"].is_monotonic_increasing and frame["subject_id"].is_unique
    first = _infusion_ids(url)
    assert frame["infusion_id"].tolist() == [first[k] for k in frame["subject_key"]]
    expected_sites = ["S01", "S01", "S02", "S02", "S03", "S03"]
    assert frame["site_id"].tolist() == [sites[s] for s in expected_sites]


def _infusion_ids(url: str) -> dict[str, int]:
    engine = create_store_engine(url)
    try:
        with session_factory(engine)() as session:
            rows = session.execute(
                select(Subject.subject_key, Infusion.infusion_id)
                .join(Infusion, Infusion.subject_id == Subject.subject_id)
                .where(Infusion.infusion_number == 1)
            )
            return {key: int(infusion) for key, infusion in rows}
    finally:
        engine.dispose()


def test_sites_filter_by_id_or_key(survival_store: tuple[str, dict[str, int]]) -> None:
    url, sites = survival_store
    assert _inputs(url, [sites["S01"]])["subject_key"].tolist() == ["P1", "P2"]
    assert _inputs(url, ["S02", sites["S03"]])["subject_key"].tolist() == ["P3", "P4", "P5", "P7"]
    nobody = _inputs(url, [])
    assert nobody.empty and list(nobody.columns) == list(SURVIVAL_COLUMNS)
    assert _inputs(url, ["S99"]).empty


def test_the_frame_feeds_the_estimators(survival_store: tuple[str, dict[str, int]]) -> None:
    url, _ = survival_store
    frame = _inputs(url)
    evaluable = frame.dropna(subset=["os_days"])
    assert len(evaluable) == 5  # P5 died on an unknown date
    os_fit = kaplan_meier(evaluable, "os_days", "os_event", "product")
    assert os_fit.summary["subjects"].sum() == 5
    relapse = cumulative_incidence(frame, "antigen_negative_days", "antigen_negative_code")
    # P1 (90) and P5 (60) antigen-negative among 6; P7's unknown phenotype competes at 45
    assert relapse.summary["events"].tolist() == [2]
    compared = compare_groups(frame, "pfs_days", "pfs_event", "crs_grade3")
    assert compared.hazard_ratios["group"].tolist() == [
        "grade < 3 CRS",
        "grade >= 3 CRS",
        "not graded",
    ]
    assert compared.hazard_ratios["hazard_ratio"].iloc[0] == 1.0
    with pytest.raises(ValueError, match="missing duration"):
        kaplan_meier(frame, "os_days", "os_event")
