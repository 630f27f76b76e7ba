"""Benchmark: synthetic cohort generation at scale (target: 100,000 subjects in under 2 minutes
and under 1 GB of memory on the 2-core reference machine).

Prints subjects per second, rows per second and peak resident memory, and the ratio of the
generation time to a baseline measured in the same process: copying the generated files
(the disk-write floor a generator that writes these bytes cannot beat).

    python benchmarks/bench_synth.py --subjects 100000 --format tidy
    python benchmarks/bench_synth.py --subjects 100000 --format sdtm --workers 2
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import cast

from pv_monitor.synthetic import FORMATS, ExportFormat, generate_cohort

MIB = 1024  # ru_maxrss is in KiB on Linux


def _copy_seconds(source: Path, target: Path) -> float:
    target.mkdir()
    start = time.perf_counter()
    for path in source.iterdir():
        shutil.copyfile(path, target / path.name)
    os.sync()
    return time.perf_counter() - start


def run(subjects: int, export_format: ExportFormat, workers: int, folder: Path) -> None:
    """Generate, measure, print."""
    out = folder / export_format
    start = time.perf_counter()
    summary = generate_cohort(
        subjects,
        seed=1,
        out_dir=out,
        export_format=export_format,
        workers=workers,
    )
    os.sync()
    seconds = time.perf_counter() - start
    rows = sum(summary.rows.values())
    size = sum(path.stat().st_size for path in out.iterdir())
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MIB
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / MIB
    copy = _copy_seconds(out, folder / f"{export_format}-copy")
    bound = main_peak + (workers * worker_peak if workers > 1 else 0)
    print(f"format {export_format}, {subjects:,} subjects, {workers} worker(s)")
    print(
        f"  generation: {seconds:.1f} s = {subjects / seconds:,.0f} subjects/s, "
        f"{rows / seconds:,.0f} rows/s ({rows:,} rows, {size / 1e9:.2f} GB)"
    )
    print(
        f"  peak RSS: main {main_peak:.0f} MiB, largest worker {worker_peak:.0f} MiB, "
        f"upper bound for all processes {bound:.0f} MiB"
    )
    print(
        f"  baseline (copy the same files): {copy:.1f} s; generation / copy = {seconds / copy:.1f}"
    )
    shutil.rmtree(out)
    shutil.rmtree(folder / f"{export_format}-copy")


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--format", choices=FORMATS, default="tidy", dest="export_format")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        export_format = cast(ExportFormat, args.export_format)  # argparse checked the choice
        run(args.subjects, export_format, args.workers, Path(scratch))


if __name__ == "__main__":
    main()
