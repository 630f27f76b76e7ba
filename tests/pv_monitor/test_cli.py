"""The pv-monitor command: db upgrade/current/ddl, audit verify, synth, demo, load."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from pv_monitor.cli import app
from pv_monitor.config import sqlite_url
from pv_monitor.store.engine import create_store_engine
from pv_monitor.store.migrate import head_revision
from tests.etl.conftest import OBSERVATIONS, write_export

runner = CliRunner()


def test_db_upgrade_creates_the_store_and_seeds_products(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "pv.db")
    result = runner.invoke(app, ["--database-url", url, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"empty -> {head_revision()}" in result.output and "7 added" in result.output
    again = runner.invoke(app, ["--database-url", url, "db", "upgrade"])
    assert "0 added, 0 corrected" in again.output
    assert runner.invoke(app, ["--database-url", url, "db", "current"]).exit_code == 0


def test_db_current_exits_1_on_an_unmigrated_store(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--database-url", sqlite_url(tmp_path / "x.db"), "db", "current"])
    assert result.exit_code == 1 and "db upgrade" in result.output


def test_database_url_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PV_MONITOR_DATABASE_URL", sqlite_url(tmp_path / "env.db"))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert (tmp_path / "env.db").exists()


def test_audit_verify_reports_a_broken_chain_with_exit_1(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "pv.db")
    runner.invoke(app, ["--database-url", url, "db", "upgrade"])
    ok = runner.invoke(app, ["--database-url", url, "audit", "verify"])
    assert ok.exit_code == 0 and "7 entries verified" in ok.output
    engine = create_store_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER audit_log_no_update"))
        connection.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE audit_log_id = 3"))
    engine.dispose()
    broken = runner.invoke(app, ["--database-url", url, "audit", "verify"])
    assert broken.exit_code == 1 and "broken at entry 3" in broken.output


def test_db_ddl_prints_the_schema_and_rejects_an_unknown_dialect() -> None:
    result = runner.invoke(app, ["db", "ddl", "--dialect", "sqlite"])
    assert result.exit_code == 0 and "CREATE TABLE subject" in result.output
    assert runner.invoke(app, ["db", "ddl", "--dialect", "oracle"]).exit_code == 2


def test_synth_writes_the_export_and_refuses_a_foreign_folder(tmp_path: Path) -> None:
    out = tmp_path / "sdtm"
    args = ["synth", "--subjects", "30", "--seed", "4", "--out", str(out), "--format", "sdtm"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "synthetic_manifest.json").read_text())
    assert manifest["files"]["dm.csv"]["rows"] == 30 and manifest["seed"] == 4
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("x")
    refused = runner.invoke(app, ["synth", "--subjects", "5", "--out", str(tmp_path / "mine")])
    assert refused.exit_code == 2
    assert (
        runner.invoke(
            app, ["synth", "--subjects", "5", "--out", str(out), "--format", "xml"]
        ).exit_code
        == 2
    )


def test_demo_loads_its_synthetic_export_into_a_migrated_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["demo", "--subjects", "40", "--no-serve"])
    assert result.exit_code == 0, result.output
    demo = tmp_path / "pv-monitor-demo"
    tidy = demo / "export" / "tidy"
    assert (demo / "export" / "sdtm" / "dm.csv").exists()
    with (tidy / "observations.csv").open() as lines:
        observations = sum(1 for _ in lines) - 1
    engine = create_store_engine(sqlite_url(demo / "pv_monitor_demo.db"))
    with engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version"))
        assert version.scalar_one() == head_revision()
        assert connection.execute(text("SELECT count(*) FROM product")).scalar_one() == 7
        assert connection.execute(text("SELECT count(*) FROM subject")).scalar_one() == 40
        stored = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM measurement) + (SELECT count(*) FROM observation)"
                " + (SELECT count(*) FROM disease_assessment)"
            )
        ).scalar_one()
        assert stored == observations
        batch = connection.execute(text("SELECT status, rows_rejected FROM load_batch")).one()
        assert tuple(batch) == ("committed", 0)
        graded = connection.execute(text("SELECT count(*) FROM toxicity_grade")).scalar_one()
        assert graded > 40 * 100  # every day of every subject, two syndromes
        alerts = connection.execute(text("SELECT count(*) FROM alert")).scalar_one()
    engine.dispose()
    assert "loading the tidy export through the ETL" in result.output
    assert "Derived from the raw observations (ASTCT 2019), by product" in result.output
    url = sqlite_url(demo / "pv_monitor_demo.db")
    queue = runner.invoke(app, ["--database-url", url, "alerts", "--status", "all"])
    assert queue.exit_code == 0, queue.output
    assert f"Alerts (all): {min(alerts, 50)} shown" in queue.output
    add_dr_x = ["--database-url", url, "users", "add", "dr_x", "--role", "clinician"]
    siteless = runner.invoke(app, add_dr_x, input="s3cret\ns3cret\n")
    assert siteless.exit_code == 2
    assert "a clinician needs at least one site" in siteless.output
    added = runner.invoke(app, [*add_dr_x, "--site", "S01"], input="s3cret\ns3cret\n")
    assert added.exit_code == 0, added.output
    assert "User dr_x (clinician) added." in added.output
    again = runner.invoke(app, [*add_dr_x, "--site", "S01"], input="s3cret\ns3cret\n")
    assert again.exit_code == 2
    _report_and_screen_on_the_demo_store(url, tmp_path / "reports")
    assert (
        runner.invoke(app, ["demo", "--subjects", "20", "--no-serve"]).exit_code == 0
    )  # reruns from scratch
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "data.csv").write_text("keep")
    assert (
        runner.invoke(app, ["demo", "--dir", str(tmp_path / "other"), "--no-serve"]).exit_code == 2
    )
    assert (tmp_path / "other" / "data.csv").read_text() == "keep"


def _report_and_screen_on_the_demo_store(url: str, out: Path) -> None:
    """`pv-monitor report` writes the three files; the PDF's pages render; the screen records
    potential signals; a report for an unknown product is refused."""
    period = ["--from", "2020-01-01", "--to", "2030-12-31"]
    report = runner.invoke(app, ["--database-url", url, "report", *period, "--out", str(out)])
    assert report.exit_code == 0, report.output
    files = sorted(p.suffix for p in out.iterdir())
    assert files == [".html", ".pdf", ".xlsx"]
    assert all(p.stat().st_size > 10_000 for p in out.iterdir())
    if shutil.which("pdftoppm") is not None:
        pdf = next(out.glob("*.pdf"))
        subprocess.run(["pdftoppm", "-r", "20", "-png", str(pdf), str(out / "page")], check=True)
        assert len(list(out.glob("page-*.png"))) >= 5
    unknown = runner.invoke(
        app, ["--database-url", url, "report", *period, "--product", "aspirin", "--out", str(out)]
    )
    assert unknown.exit_code == 2
    assert "no product 'aspirin'" in unknown.output
    screen = runner.invoke(app, ["--database-url", url, "signals", "screen", *period])
    assert screen.exit_code == 0, screen.output
    assert "new potential signals:" in " ".join(screen.output.split())


# ---- load ---------------------------------------------------------------------------------------


def _migrated(tmp_path: Path) -> str:
    url = sqlite_url(tmp_path / "pv.db")
    assert runner.invoke(app, ["--database-url", url, "db", "upgrade"]).exit_code == 0
    return url


def test_load_prints_a_summary_and_exits_0(tmp_path: Path) -> None:
    url = _migrated(tmp_path)
    export = write_export(tmp_path / "export")

    result = runner.invoke(app, ["--database-url", url, "load", str(export)])

    assert result.exit_code == 0, result.output
    assert "Load batch 1: committed" in result.output
    assert "24 row(s) added, 0 corrected, 0 unchanged" in result.output
    again = runner.invoke(app, ["--database-url", url, "load", str(export)])
    assert again.exit_code == 0
    assert "Load batch 2: unchanged" in again.output
    assert "nothing changed: the 24 row(s) read are in the store with these values" in again.output


def test_load_with_rejections_exits_1_and_writes_them(tmp_path: Path) -> None:
    url = _migrated(tmp_path)
    export = write_export(
        tmp_path / "export", observations=OBSERVATIONS + "S-001,2024-03-19,ICE,14,,\n"
    )
    listing = tmp_path / "rejections.csv"

    result = runner.invoke(
        app, ["--database-url", url, "load", str(export), "--rejections", str(listing)]
    )

    assert result.exit_code == 1
    assert "nothing was loaded (all-or-nothing)" in result.output
    rejected = pd.read_csv(listing)
    assert rejected[["file", "row", "field", "rule"]].values.tolist() == [
        ["observations.csv", 16, "value", "range"]
    ]
    partial = runner.invoke(app, ["--database-url", url, "load", str(export), "--accept-partial"])
    assert partial.exit_code == 1
    assert "Load batch 2: partial" in partial.output


def test_load_refuses_an_unknown_format_an_invalid_mapping_and_an_empty_store(
    tmp_path: Path,
) -> None:
    export = write_export(tmp_path / "export")
    empty = sqlite_url(tmp_path / "empty.db")
    url = _migrated(tmp_path)
    bad_mapping = tmp_path / "site.yaml"
    bad_mapping.write_text("mapping_version: 1\nfiles: {}\nsubjectz: {}\n")

    unknown = runner.invoke(app, ["--database-url", url, "load", str(export), "--format", "xml"])
    invalid = runner.invoke(
        app, ["--database-url", url, "load", str(export), "--format", f"mapping:{bad_mapping}"]
    )
    unmigrated = runner.invoke(app, ["--database-url", empty, "load", str(export)])

    assert unknown.exit_code == invalid.exit_code == unmigrated.exit_code == 2
    assert "subjectz" in invalid.output
    assert "run `pv-monitor db upgrade` first" in " ".join(unmigrated.output.split())


def test_grade_file_grades_a_csv_without_a_database(tmp_path: Path) -> None:
    """Every hand-worked CRS and ICANS case, written to a CSV, comes back with its grade."""
    from tests.pv_monitor.grading.test_crs import CASES as CRS_CASES
    from tests.pv_monitor.grading.test_icans import CASES as ICANS_CASES

    pairs = list(zip(CRS_CASES, ICANS_CASES, strict=False))
    pd.DataFrame([{**crs[1], **icans[1]} for crs, icans in pairs]).to_csv(
        tmp_path / "in.csv", index=False
    )
    result = CliRunner().invoke(
        app, ["grade-file", str(tmp_path / "in.csv"), str(tmp_path / "out.csv")]
    )
    assert result.exit_code == 0, result.output
    graded = pd.read_csv(tmp_path / "out.csv")
    expected_crs = [crs[2] for crs, _ in pairs]
    expected_icans = [icans[2] for _, icans in pairs]
    assert [None if pd.isna(g) else int(g) for g in graded["crs_grade"]] == expected_crs
    assert [None if pd.isna(g) else int(g) for g in graded["icans_grade"]] == expected_icans


def test_grade_file_refuses_an_unreadable_row(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "temp_c_max,crs_treated,hypotension,vasopressors,o2_device,o2_flow_l_min,age_years,"
        "ice_score,capd_score,loc,seizure,motor_weakness,cerebral_edema,icp_signs,sedated\n"
        "38.5,false,false,,oxygen tent,,50,10,,alert,none,false,,false,false\n"
    )
    result = CliRunner().invoke(app, ["grade-file", str(source), str(tmp_path / "out.csv")])
    assert result.exit_code == 1
    assert "o2_device" in result.output
    assert not (tmp_path / "out.csv").exists()
