"""The documentation says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from etl.rejections import RULES
from pv_monitor.vocabulary import OBSERVATION_CODES

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _code_table() -> dict[str, list[str]]:
    text = (DOCS / "data_formats.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if (
            len(cells) == 5
            and re.fullmatch(r"[A-Z0-9_]+", cells[0])
            and cells[0] in OBSERVATION_CODES
        ):
            rows[cells[0]] = cells
    return rows


def test_data_formats_lists_every_code_with_its_units_values_and_sdtm_home() -> None:
    rows = _code_table()
    assert set(rows) == set(OBSERVATION_CODES)
    for code, spec in OBSERVATION_CODES.items():
        _, meaning, allowed, domain, testcd = rows[code]
        assert meaning == spec.meaning, code
        assert (domain, testcd) == (spec.sdtm.domain, spec.sdtm.testcd), code
        listed = [item.split(" (")[0].strip() for item in allowed.split(", ")]
        expected = list(spec.units if spec.kind == "numeric" else spec.values)
        assert listed == expected, code


def test_data_formats_lists_every_rejection_rule() -> None:
    lines = (DOCS / "data_formats.md").read_text(encoding="utf-8").splitlines()
    table = lines[lines.index("| rule | meaning |") + 2 :]
    listed = {}
    for line in table:
        if not line.startswith("|"):
            break
        rule, meaning = (cell.strip() for cell in line.strip().strip("|").split("|"))
        listed[rule] = meaning
    assert listed == RULES
