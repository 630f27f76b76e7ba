"""Benchmark: an incremental ``pv-monitor run`` against a full one.

Target (issue 5): after a load batch that touches 1 % of 10,000 subjects, the incremental run
(grading, scores and alerts of the touched subjects only) takes under 5 % of the time of a full
run over everyone, both timed in this process on the same store.

Steps: a synthetic tidy export is generated and loaded into a fresh SQLite store (not timed);
a full run is timed; one extra temperature reading is appended for 1 % of the subjects and the
export is loaded again (only those subjects change; not timed); the incremental run is timed.

    python benchmarks/bench_alerts.py                  # 10,000 subjects
    python benchmarks/bench_alerts.py --subjects 2000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from etl import load
from pv_monitor.cli import upgrade_store
from pv_monitor.pipeline import run_pipeline
from pv_monitor.synthetic import generate_cohort


def touch(export: Path, share: float, seed: int) -> int:
    """Append one febrile reading on day 2 at 23:59 for ``share`` of the subjects."""
    subjects = pd.read_csv(export / "subjects.csv", usecols=["subject_id", "infusion_date"])
    rng = np.random.default_rng(seed)
    picked = subjects.sample(n=max(1, round(share * len(subjects))), random_state=rng)
    when = pd.to_datetime(picked["infusion_date"]) + pd.Timedelta(days=2, hours=23, minutes=59)
    rows = pd.DataFrame(
        {
            "subject_id": picked["subject_id"],
            "observed_at": when.dt.strftime("%Y-%m-%dT%H:%M"),
            "code": "TEMP",
            "value": "39.5",
            "unit": "C",
        }
    )
    header = pd.read_csv(export / "observations.csv", nrows=0).columns
    rows = rows.reindex(columns=header)
    rows.to_csv(export / "observations.csv", mode="a", header=False, index=False)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--share", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pvm-bench-alerts-") as folder:
        export = Path(folder) / "tidy"
        url = f"sqlite:///{Path(folder) / 'store.db'}"
        started = time.perf_counter()
        generate_cohort(args.subjects, seed=args.seed, out_dir=export, workers=2)
        upgrade_store(url, actor="bench")
        if load([export], "tidy", database_url=url, actor="bench").exit_code:
            raise SystemExit("the synthetic export did not load cleanly")
        print(f"store built in {time.perf_counter() - started:.1f} s ({args.subjects:,} subjects)")

        started = time.perf_counter()
        full = run_pipeline(url, actor="bench", full=True)
        full_s = time.perf_counter() - started
        alerts = sum(n for k, n in full.counts.items() if k.startswith("alerts_"))
        print(f"full run: {full_s:.1f} s ({full.subjects:,} subjects, {alerts:,} alert actions)")

        touched = touch(export, args.share, args.seed)
        report = load([export], "tidy", database_url=url, actor="bench")
        if report.exit_code:
            raise SystemExit("the touched export did not load cleanly")
        started = time.perf_counter()
        incremental = run_pipeline(url, actor="bench")
        incremental_s = time.perf_counter() - started
        alerts = sum(n for k, n in incremental.counts.items() if k.startswith("alerts_"))
        print(
            f"incremental run after a batch touching {touched:,} subjects: {incremental_s:.2f} s "
            f"({incremental.subjects:,} subjects recomputed, {alerts:,} alert actions)"
        )
        ratio = incremental_s / full_s
        verdict = "met" if ratio < 0.05 else "NOT met"
        print(f"ratio: {ratio:.1%} of the full run (target < 5 %): {verdict}")


if __name__ == "__main__":
    main()
