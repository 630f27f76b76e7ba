"""Realistic synthetic CAR-T cohorts written as real export files (tidy format v1 or SDTM).

The cohort covers the seven approved products with the incidence, onset and duration figures of
their pivotal trials (``pv_monitor/reference/pivotal_trial_rates_v1.csv``, clinical.md §7) and
follows every subject from lymphodepletion to two years: vital signs several times a day, oxygen,
vasopressors, tocilizumab and steroids, ICE (CAPD for children), laboratory values, B cells, CAR
transgene, MRD, responses, relapses with their antigen phenotype, deaths and follow-up. Everything
that is not a published figure is a synthetic assumption (``cohort_v1.toml``); the cohort is a
test fixture and a demonstration, never evidence.

Generation streams: subjects are simulated in chunks of :data:`CHUNK_SUBJECTS`, each from its own
seed (derived from the cohort seed and the chunk number), written and dropped, so memory stays
flat whatever the cohort size and the files are identical for a seed, with or without workers.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as folder:
...     summary = generate_cohort(20, seed=7, out_dir=Path(folder) / "tidy")
...     sorted(summary.rows)
['adverse_events.csv', 'medications.csv', 'observations.csv', 'subjects.csv']
>>> summary.rows["subjects.csv"]
20
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from pv_monitor import __version__
from pv_monitor.synthetic.course import simulate_courses
from pv_monitor.synthetic.parameters import (
    PARAMETER_SET_VERSION,
    CohortParameters,
    load_parameters,
)
from pv_monitor.synthetic.records import build_records
from pv_monitor.synthetic.writers import CsvFolder, sdtm_tables, tidy_tables, write_parts
from pv_monitor.vocabulary import TIDY_FORMAT_VERSION

CHUNK_SUBJECTS = 500
"""Subjects simulated per chunk. Part of what a seed means: changing it changes the cohort."""
MANIFEST = "synthetic_manifest.json"
ExportFormat = Literal["tidy", "sdtm"]
FORMATS: tuple[ExportFormat, ...] = ("tidy", "sdtm")


class OutputFolderError(ValueError):
    """The output folder holds files that are not a previous synthetic export."""


@dataclass(frozen=True)
class SynthesisSummary:
    """What :func:`generate_cohort` wrote."""

    subjects: int
    seed: int
    export_format: ExportFormat
    out_dir: Path
    rows: dict[str, int]
    sha256: dict[str, str]
    parameter_set: str


@lru_cache(maxsize=1)
def _parameters() -> CohortParameters:
    return load_parameters(PARAMETER_SET_VERSION)


Tables = dict[str, pa.Table]


def chunk_tables(seed: int, chunk: int, size: int, export_format: ExportFormat) -> Tables:
    """Chunk number ``chunk`` (``size`` subjects) of cohort ``seed``, as the rows of each file."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk,)))
    params = _parameters()
    courses = simulate_courses(rng, params, size, first_number=chunk * CHUNK_SUBJECTS + 1)
    records = build_records(courses, rng, params.study_id)
    if export_format == "tidy":
        return tidy_tables(records)
    return sdtm_tables(records, params.study_id)


def _chunk_sizes(n_subjects: int) -> list[int]:
    full, rest = divmod(n_subjects, CHUNK_SUBJECTS)
    return [CHUNK_SUBJECTS] * full + ([rest] if rest else [])


def chunk_parts(
    seed: int, chunk: int, size: int, export_format: ExportFormat, folder: Path
) -> dict[str, int]:
    """In a worker: write chunk ``chunk`` as part files in ``folder``; return rows per file."""
    tables = chunk_tables(seed, chunk, size, export_format)
    write_parts(tables, folder, chunk)
    return {name: table.num_rows for name, table in tables.items()}


def _write_in_process(
    folder: CsvFolder, seed: int, sizes: list[int], export_format: ExportFormat
) -> Iterator[int]:
    for index, size in enumerate(sizes):
        folder.append(chunk_tables(seed, index, size, export_format))
        yield size


def _write_with_workers(
    folder: CsvFolder, seed: int, sizes: list[int], export_format: ExportFormat, workers: int
) -> Iterator[int]:
    """Workers write part files (no tables cross process boundaries); this process appends
    them in chunk order. At most two chunks per worker are in flight, so memory is bounded."""
    parts = folder.folder / ".parts"
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: list[tuple[int, Future[dict[str, int]]]] = []
        submitted = 0
        while submitted < len(sizes) or pending:
            while submitted < len(sizes) and len(pending) < 2 * workers:
                job = pool.submit(
                    chunk_parts, seed, submitted, sizes[submitted], export_format, parts
                )
                pending.append((submitted, job))
                submitted += 1
            index, job = pending.pop(0)
            folder.append_parts(parts, index, job.result())
            yield sizes[index]
    shutil.rmtree(parts, ignore_errors=True)


def _prepare_folder(out_dir: Path, *, overwrite: bool) -> None:
    if not out_dir.exists() or not any(out_dir.iterdir()):
        out_dir.mkdir(parents=True, exist_ok=True)
        return
    if not overwrite:
        raise OutputFolderError(f"{out_dir} is not empty; choose another folder or overwrite")
    if not (out_dir / MANIFEST).is_file():
        raise OutputFolderError(
            f"{out_dir} is not empty and holds no {MANIFEST}: refusing to delete files that are "
            "not a synthetic export"
        )
    shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def generate_cohort(
    n_subjects: int,
    *,
    seed: int,
    out_dir: Path,
    export_format: ExportFormat = "tidy",
    workers: int = 1,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SynthesisSummary:
    """Simulate ``n_subjects`` and write them to ``out_dir`` as real export files.

    Parameters
    ----------
    n_subjects : int
        Cohort size (at least 1).
    seed : int
        Seed; the same seed and size give byte-identical files.
    out_dir : Path
        Folder to write; must be empty or absent, unless ``overwrite`` replaces a previous
        synthetic export (recognised by its manifest).
    export_format : {"tidy", "sdtm"}
        Tidy format v1 (four CSV files) or SDTM domains as CSV.
    workers : int
        Processes simulating chunks in parallel; the output does not depend on it.
    overwrite : bool
        Replace a previous synthetic export in ``out_dir``.
    progress : callable, optional
        Called with the number of subjects written after each chunk.

    Returns
    -------
    SynthesisSummary
    """
    if n_subjects < 1:
        raise ValueError("n_subjects must be at least 1")
    if export_format not in FORMATS:
        raise ValueError(f"export_format must be one of {FORMATS}")
    _prepare_folder(out_dir, overwrite=overwrite)
    params = _parameters()
    folder = CsvFolder(out_dir)
    written = 0
    try:
        sizes = _chunk_sizes(n_subjects)
        chunks = (
            _write_with_workers(folder, seed, sizes, export_format, workers)
            if workers > 1
            else _write_in_process(folder, seed, sizes, export_format)
        )
        for size in chunks:
            written += size
            if progress is not None:
                progress(written)
    finally:
        rows = folder.close()
    sha256 = {name: _sha256(out_dir / name) for name in sorted(rows)}
    manifest = {
        "generator": f"pv-monitor {__version__} synth",
        "parameter_set": params.version,
        "format": export_format,
        "tidy_format_version": TIDY_FORMAT_VERSION if export_format == "tidy" else None,
        "study_id": params.study_id,
        "seed": seed,
        "subjects": n_subjects,
        "data_cut": params.data_cut.isoformat(),
        "files": {name: {"rows": rows[name], "sha256": sha256[name]} for name in sorted(rows)},
        "note": "Synthetic data for testing and demonstration; not clinical evidence.",
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return SynthesisSummary(
        subjects=n_subjects,
        seed=seed,
        export_format=export_format,
        out_dir=out_dir,
        rows=rows,
        sha256=sha256,
        parameter_set=params.version,
    )


__all__ = [
    "CHUNK_SUBJECTS",
    "FORMATS",
    "ExportFormat",
    "OutputFolderError",
    "SynthesisSummary",
    "generate_cohort",
]
