"""Benchmark: daily assessment + ASTCT grading + episodes against a plain pandas groupby.

Target (issue 4): for 10,000 synthetic subjects (about 5 million observation rows in the
assessment window), the whole step from stored observation rows to graded days and episodes
(:func:`pv_monitor.grading.assess.assess`) within 10 x a plain
``groupby(["subject_id", "day", "code"])["value"].max()`` over the same rows, timed in the same
process, and under one minute.

The store is built once (synthetic tidy export -> ``etl.load`` -> SQLite) and reused with
``--store``; reading the inputs from it is timed and printed but is not part of the ratio (it
is the database's work, the same for any grader).

    python benchmarks/bench_grading.py                        # 10,000 subjects, a fresh store
    python benchmarks/bench_grading.py --store /tmp/grading.db  # build once, then reuse
    python benchmarks/bench_grading.py --subjects 2000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from etl import load
from pv_monitor.cli import upgrade_store
from pv_monitor.grading.assess import assess
from pv_monitor.pipeline import INPUT_CODES
from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.pipeline_io import read_inputs, subjects_to_run
from pv_monitor.synthetic import generate_cohort


def build_store(path: Path, subjects: int, seed: int) -> None:
    """A SQLite store holding a synthetic cohort of ``subjects`` loaded through the ETL."""
    url = f"sqlite:///{path}"
    with tempfile.TemporaryDirectory(prefix="pvm-bench-grading-") as folder:
        export = Path(folder) / "tidy"
        started = time.perf_counter()
        generate_cohort(subjects, seed=seed, out_dir=export, workers=2)
        upgrade_store(url, actor="bench")
        report = load([export], "tidy", database_url=url, actor="bench")
        if report.exit_code:
            raise SystemExit("the synthetic export did not load cleanly")
        print(f"store built in {time.perf_counter() - started:.1f} s: {path}")


def baseline(inputs_m: pd.DataFrame, inputs_o: pd.DataFrame) -> tuple[float, int]:
    """Seconds for a plain groupby max over the same rows (observation values as codes)."""
    rows = pd.concat(
        [
            inputs_m[["subject_id", "at", "code", "value"]],
            inputs_o[["subject_id", "at", "code"]].assign(
                value=pd.factorize(inputs_o["value"])[0].astype(float)
            ),
        ],
        ignore_index=True,
    )
    rows["day"] = rows["at"].to_numpy(dtype="datetime64[D]")
    started = time.perf_counter()
    result = rows.groupby(["subject_id", "day", "code"])["value"].max()
    return time.perf_counter() - started, len(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--store", type=Path, help="SQLite file to build once and reuse")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pvm-bench-grading-db-") as scratch:
        path = args.store or Path(scratch) / "grading.db"
        if not path.exists():
            build_store(path, args.subjects, args.seed)
        engine = create_store_engine(f"sqlite:///{path}")
        with session_factory(engine)() as session:
            subjects = subjects_to_run(session, None)
            started = time.perf_counter()
            inputs = read_inputs(session, subjects, INPUT_CODES)
            read_s = time.perf_counter() - started
        engine.dispose()

    infusions = inputs.infusions
    m, o = inputs.measurements.copy(), inputs.observations.copy()
    for frame in (m, o):
        frame["at"] = pd.to_datetime(frame["at"])
    day0 = infusions.set_index("subject_id")["infusion_date"]
    window = []
    for frame in (m, o):
        offset = (frame["at"] - pd.to_datetime(frame["subject_id"].map(day0))).dt.days
        window.append(frame[(offset >= -7) & (offset <= 100)])
    n_rows = len(window[0]) + len(window[1])
    print(
        f"{len(subjects):,} subjects; {len(m) + len(o):,} observation rows read "
        f"({n_rows:,} in days -7..100) in {read_s:.1f} s"
    )

    group_s, groups = baseline(window[0], window[1])
    started = time.perf_counter()
    result = assess(infusions, m, o, inputs.drugs)
    assess_s = time.perf_counter() - started
    graded = result.grades["grade"].notna().sum()
    print(f"baseline groupby(...).max(): {group_s:.2f} s ({groups:,} groups)")
    print(
        f"assessment + grading + episodes: {assess_s:.2f} s ({len(result.daily):,} days, "
        f"{int(graded):,} grades, {len(result.episodes):,} episodes)"
    )
    ratio = assess_s / group_s
    print(f"ratio: {ratio:.1f} x the groupby (target <= 10 x); under one minute: {assess_s < 60}")


if __name__ == "__main__":
    main()
