"""``pv-monitor mapping check``: a dry run of a mapped load that never touches a store."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pv_monitor.cli import app

CD22_MAPPING = Path(__file__).resolve().parents[2] / "examples" / "mappings" / "cd22_trial.yaml"

runner = CliRunner()


def check(tmp_path: Path, *args: str) -> tuple[int, str]:
    """Run the check with a database URL pointing at a file that must never appear."""
    url = f"sqlite:///{tmp_path / 'never.db'}"
    result = runner.invoke(app, ["--database-url", url, "mapping", "check", *args])
    assert not (tmp_path / "never.db").exists()
    return result.exit_code, result.output


def test_check_of_the_cd22_export_shows_stored_rows_and_exits_0(
    shared_data: Path, tmp_path: Path
) -> None:
    code, output = check(
        tmp_path, str(CD22_MAPPING), str(shared_data / "cart_cd22_hlh"), "--rows", "2"
    )
    assert code == 0, output
    lines = output.splitlines()
    # The rows as the store would hold them, after the contracts and the normalisation: 59
    # subjects on the anchor day, 11,821 measurements, 54 medications, 139 adverse events
    # (the counts test_mapping.py checks in a real store).
    assert "subject: 59 row(s) would be stored; the first 2:" in lines
    assert "measurement: 11,821 row(s) would be stored; the first 2:" in lines
    assert "drug_exposure: 54 row(s) would be stored; the first 2:" in lines
    assert "adverse_event: 139 row(s) would be stored; the first 2:" in lines
    first_subject = lines[lines.index("subject: 59 row(s) would be stored; the first 2:") + 1]
    assert first_subject.startswith("  data row 1: subject_key=277, study_key=15-C-0029,")
    assert "infusion_date=2000-01-01, day_zero_anchored=True" in first_subject
    first_crp = lines[lines.index("measurement: 11,821 row(s) would be stored; the first 2:") + 1]
    assert "code=CRP, measured_at=2000-01-01T05:43" in first_crp
    assert "  SOURCE.md: ignored (not used by the mapping)" in lines
    assert "Nothing would be rejected." in lines
    assert any(
        line.startswith("note: clinical_data_05-12-20_v1.xlsx: subjects' study_id")
        for line in lines
    )


def test_check_of_a_broken_mapping_summarises_what_would_be_rejected(
    shared_data: Path, tmp_path: Path
) -> None:
    text = CD22_MAPPING.read_text(encoding="utf-8")
    # ferritin said to be in mmol/L (not a ferritin unit); the value map for "Hemolyzed" misspelt
    broken = text.replace("unit: ug/L", "unit: mmol/L").replace(
        "Hemolyzed: null", "Haemolysed: null"
    )
    assert broken.count("mmol/L") == 5 and "Haemolysed" in broken
    mapping = tmp_path / "broken.yaml"
    mapping.write_text(broken, encoding="utf-8")
    code, output = check(tmp_path, str(mapping), str(shared_data / "cart_cd22_hlh"))
    assert code == 1
    lines = output.splitlines()
    # the 221 ferritin values of the workbook; the 3 LDH results written "Hemolyzed"
    assert "224 rejection(s) would stop an all-or-nothing load:" in lines
    assert "  clinical_data_05-12-20_v1.xlsx: 3 x number, e.g." in lines
    assert "  clinical_data_05-12-20_v1.xlsx: 221 x unit, e.g." in lines
    assert any(
        line.startswith("    row ")
        and "field value, value 'Hemolyzed': value is not a number" in line
        for line in lines
    )
    assert any(line.startswith("    row 1, field unit, value 'mmol/L':") for line in lines), output
    # 980 tidy rows (977 + the 3 LDH now read); a workbook row with several rejections is one
    assert (
        "  clinical_data_05-12-20_v1.xlsx: 980 tidy row(s) read from it; rejections in 50 of "
        "its data rows"
    ) in lines
    # the rows that would be stored are still shown: the check stops nothing
    assert "subject: 59 row(s) would be stored; the first 5:" in lines


def test_check_of_an_invalid_mapping_says_why_and_exits_1(
    shared_data: Path, tmp_path: Path
) -> None:
    mapping = tmp_path / "site.yaml"
    mapping.write_text(
        CD22_MAPPING.read_text(encoding="utf-8").replace(
            "path: day_after_infusion_data_export.csv", "path: ../../../../../../etc/passwd"
        ),
        encoding="utf-8",
    )
    code, output = check(tmp_path, str(mapping), str(shared_data / "cart_cd22_hlh"))
    assert code == 1
    assert "mapping check failed: mapping site.yaml: files.cytokines.path:" in output
    assert "is outside the folder given to the load" in output
    assert "root:" not in output
