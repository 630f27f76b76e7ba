#!/usr/bin/env python3
"""Set up and run pv-monitor with nothing but Python 3.11.

    python3 tasks.py demo    # synthetic cohort -> real export files -> fresh SQLite store
    python3 tasks.py test    # lint, type check and the whole test suite

Each command first makes ``.venv`` (if missing) and installs the project with its test and
development extras, pinned by ``constraints.txt``; it re-installs only when ``pyproject.toml`` or
``constraints.txt`` changed. Extra arguments go to the underlying command
(``python3 tasks.py test -k audit``, ``python3 tasks.py demo --subjects 200``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
EXTRAS = "test,postgres,dev"
STAMP = VENV / ".pv-monitor-installed"


def _install_digest() -> str:
    digest = hashlib.sha256(EXTRAS.encode())
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _run(*command: str | Path) -> None:
    completed = subprocess.run([str(part) for part in command], cwd=ROOT, check=False)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def ensure_environment() -> None:
    """Create the virtual environment and install the project when needed."""
    if sys.version_info < (3, 11):  # noqa: UP036  (tasks.py runs under any python3)
        sys.exit(f"pv-monitor needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists() and not (BIN / "python.exe").exists():
        print(f"Creating virtual environment in {VENV} ...", flush=True)
        venv.create(VENV, with_pip=True)
    wanted = _install_digest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("Installing pv-monitor and its dependencies ...", flush=True)
    _run(
        BIN / "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-c",
        ROOT / "constraints.txt",
        "-e",
        f".[{EXTRAS}]",
    )
    STAMP.write_text(wanted)


def demo(arguments: list[str]) -> None:
    """Run the demo on the embedded SQLite default."""
    _run(BIN / "pv-monitor", "demo", *arguments)


def lint() -> None:
    """Ruff (lint and format) and mypy, as configured in pyproject.toml."""
    _run(BIN / "ruff", "check", ".")
    _run(BIN / "ruff", "format", "--check", ".")
    _run(BIN / "mypy", "pv_monitor", "etl", "dash_app", "tests", "benchmarks", "tasks.py")


def test(arguments: list[str]) -> None:
    """Lint, type check, then the test suite (in parallel on every core)."""
    lint()
    _run(BIN / "pytest", "-n", "auto", *arguments)


def lint_only(arguments: list[str]) -> None:
    """Only ruff and mypy."""
    del arguments
    lint()


def main(argv: list[str]) -> None:
    """Dispatch ``demo``, ``test`` or ``lint``."""
    commands: dict[str, Callable[[list[str]], None]] = {
        "demo": demo,
        "test": test,
        "lint": lint_only,
    }
    if not argv or argv[0] not in commands:
        sys.exit(__doc__)
    ensure_environment()
    commands[argv[0]](argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
