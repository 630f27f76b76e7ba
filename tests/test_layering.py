"""Layering rules of architecture.md, checked on the source.

Pure packages never import store, etl, dash or sqlalchemy; etl and dash_app never import each
other; only pv_monitor.store talks SQL.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PURE = [
    "grading",
    "risk",
    "relapse",
    "survival",
    "signals",
    "report",
    "alerts/rules.py",
    "reference",
    "synthetic",
    "vocabulary.py",
    "units.py",
    "config.py",
]
FORBIDDEN_IN_PURE = ("pv_monitor.store", "etl", "dash", "dash_app", "sqlalchemy", "alembic")


def imported_modules(path: Path) -> set[str]:
    """Top-level and dotted names of every module a file imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(*parts: str) -> list[Path]:
    target = ROOT.joinpath(*parts)
    if target.is_file():
        return [target]
    return sorted(target.rglob("*.py")) if target.is_dir() else []


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _violations(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{_shown(path)} imports {name}"
        for path in files
        for name in sorted(imported_modules(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_pure_packages_import_no_store_etl_dash_or_sql() -> None:
    files = [f for part in PURE for f in python_files("pv_monitor", part)]
    assert files, "no pure modules found"
    assert _violations(files, FORBIDDEN_IN_PURE) == []


@pytest.mark.parametrize(("package", "forbidden"), [("etl", "dash_app"), ("dash_app", "etl")])
def test_etl_and_dash_app_do_not_import_each_other(package: str, forbidden: str) -> None:
    assert _violations(python_files(package), (forbidden,)) == []


def test_only_the_store_talks_sql() -> None:
    outside_store = [
        f for f in python_files("pv_monitor") if "store" not in f.relative_to(ROOT).parts
    ]
    allowed_sql_callers = {ROOT / "pv_monitor" / "cli.py"}  # URL display only
    files = [f for f in outside_store if f not in allowed_sql_callers]
    assert _violations(files, ("sqlalchemy", "alembic")) == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from pv_monitor.store.models import Subject\nimport sqlalchemy.orm\n")
    assert _violations([bad], FORBIDDEN_IN_PURE) == [
        f"{bad} imports pv_monitor.store.models",
        f"{bad} imports sqlalchemy.orm",
    ]
