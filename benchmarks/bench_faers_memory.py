"""Benchmark: peak memory and speed of loading FAERS quarters one after another.

Target (issue 13): twenty quarters load one after another, in one batch, with peak resident
memory under 1 GB. Printed:

* **baseline read**: the same files read in this process with pyarrow's CSV reader (every
  column as text, the floor of any reader of these files), in rows per second, and this
  process's peak memory afterwards;
* **load of 1 quarter** and **load of N quarters**: ``etl.load(..., "faers")`` end to end
  (read, check, shape, write, DELETE lists, commit) into a fresh store, each in a process of
  its own so that its peak resident memory (``ru_maxrss`` from ``wait4``) is its own. When the
  quarters stream, the peak of N quarters is that of one; the rates are compared to the
  baseline.

The quarters are synthetic but shaped like FDA's: every table and column of the 2026Q2
layout, ``$``-delimited, CRLF line endings, a ``Deleted/DELETE<yy>Q<q>.txt`` list per quarter
(1% of the earlier quarters' cases), about a fifth of the cases carried into the next
quarter as a new version. Real quarters (2023-2026) hold about 400,000 DEMO, 1,800,000 DRUG,
1,300,000 REAC, 300,000 OUTC, 700,000 THER, 1,100,000 INDI and 5,000 RPSR rows; ``--scale 1``
makes quarters of that size (5.6 M rows, about 300 MB each), ``--scale 0.1`` a tenth.

    python benchmarks/bench_faers_memory.py                      # 3 real-size quarters, SQLite
    python benchmarks/bench_faers_memory.py --quarters 20 --scale 0.1
    python benchmarks/bench_faers_memory.py --postgres-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pv_monitor.cli import upgrade_store

POSTGRES_ENV = "PV_MONITOR_TEST_POSTGRES_URL"
MIB = 1024  # ru_maxrss is in KiB on Linux
REAL_ROWS = {
    "DEMO": 400_000,
    "DRUG": 1_800_000,
    "REAC": 1_300_000,
    "OUTC": 300_000,
    "THER": 700_000,
    "INDI": 1_100_000,
    "RPSR": 5_000,
}
"""Rows of a real FAERS quarter (2023-2026, rounded)."""
HEADERS = {
    "DEMO": "primaryid$caseid$caseversion$i_f_code$event_dt$mfr_dt$init_fda_dt$fda_dt$rept_cod"
    "$auth_num$mfr_num$mfr_sndr$lit_ref$age$age_cod$age_grp$sex$e_sub$wt$wt_cod$rept_dt$to_mfr"
    "$occp_cod$reporter_country$occr_country",
    "DRUG": "primaryid$caseid$drug_seq$role_cod$drugname$prod_ai$val_vbm$route$dose_vbm"
    "$cum_dose_chr$cum_dose_unit$dechal$rechal$lot_num$exp_dt$nda_num$dose_amt$dose_unit"
    "$dose_form$dose_freq",
    "REAC": "primaryid$caseid$pt$drug_rec_act",
    "OUTC": "primaryid$caseid$outc_cod",
    "RPSR": "primaryid$caseid$rpsr_cod",
    "THER": "primaryid$caseid$dsg_drug_seq$start_dt$end_dt$dur$dur_cod",
    "INDI": "primaryid$caseid$indi_drug_seq$indi_pt",
}
"""The 2026Q2 headers (as in shared/data/faers_sample/faers_ascii_2026q2_head)."""
DRUGS = [
    ("KYMRIAH", "TISAGENLECLEUCEL"),
    ("YESCARTA", "AXICABTAGENE CILOLEUCEL"),
    ("ACTEMRA", "TOCILIZUMAB"),
    ("DEXAMETHASONE", "DEXAMETHASONE"),
    ("HUMIRA", "ADALIMUMAB"),
    ("Metformin", "METFORMIN HYDROCHLORIDE"),
    ("ASPIRIN", "ASPIRIN"),
    ("XELJANZ", "TOFACITINIB CITRATE"),
] + [(f"DRUG {i:04d}", f"INGREDIENT {i:04d}") for i in range(3000)]
TERMS = ["Cytokine release syndrome", "Pyrexia", "Neurotoxicity", "Nausea", "Death"] + [
    f"Preferred term {i:05d}" for i in range(8000)
]


def _pick(rng: np.random.Generator, values: list[str], n: int) -> pa.Array:
    """``n`` values drawn with Zipf-like frequencies (a few common, many rare)."""
    weights = 1.0 / np.arange(1, len(values) + 1) ** 1.1
    index = rng.choice(len(values), size=n, p=weights / weights.sum())
    return pa.array(np.asarray(values, dtype=object)[index], type=pa.string())


def _text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _dates(rng: np.random.Generator, n: int, year: int) -> pa.Array:
    """YYYYMMDD dates of ``year``, with 10% YYYYMM and 5% YYYY partial dates."""
    days = rng.integers(0, 365, n)
    stamps = (np.datetime64(f"{year}-01-01") + days).astype("datetime64[D]").astype(str)
    full = np.char.replace(stamps, "-", "")
    kind = rng.random(n)
    out = np.where(kind < 0.05, full.astype("U4"), np.where(kind < 0.15, full.astype("U6"), full))
    return pa.array(out.astype(object), type=pa.string())


def _write(path: Path, header: str, columns: list[pa.Array]) -> None:
    """One '$'-delimited table with CRLF line endings (written 200,000 lines at a time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(columns[0])
    with path.open("wb") as out:
        out.write(header.encode() + b"\r\n")
        for start in range(0, n, 200_000):
            part = [c.slice(start, 200_000) for c in columns]
            lines = pc.binary_join_element_wise(*part, "$")
            out.write("\r\n".join(lines.to_pylist()).encode() + b"\r\n")


def make_quarter(folder: Path, number: int, scale: float, seed: int) -> int:
    """Write quarter ``number`` (0 = 2021Q1) into ``folder``; its rows (all tables)."""
    rng = np.random.default_rng(seed + number)
    year, q = 2021 + number // 4, number % 4 + 1
    tag = f"{year % 100:02d}Q{q}"
    n = max(int(REAL_ROWS["DEMO"] * scale), 10)
    # a fifth of the cases are new versions of the previous quarter's cases
    fresh = np.arange(n) + 10_000_000 * (number + 1)
    carried = (np.arange(n) + 10_000_000 * number) if number else fresh
    again = rng.random(n) < 0.2
    caseid = np.where(again, carried, fresh)
    version = np.where(again, 2 + number, 1)
    primaryid = caseid * 100 + version
    pid, cid = _text(primaryid), _text(caseid)
    empty = pa.array([""] * n, type=pa.string())
    demo = [
        pid, cid, _text(version), pa.array(np.where(again, "F", "I").astype(object)),
        _dates(rng, n, year - 1), empty, _dates(rng, n, year), _dates(rng, n, year),
        _pick(rng, ["EXP", "PER", "DIR"], n), empty, empty, _pick(rng, ["FDA-CTU", "ROCHE"], n),
        empty, _text(rng.integers(1, 95, n)), pa.array(["YR"] * n), empty,
        _pick(rng, ["F", "M", "UNK"], n), pa.array(["Y"] * n), _text(rng.integers(30, 120, n)),
        pa.array(["KG"] * n), _dates(rng, n, year), empty, _pick(rng, ["MD", "CN", "HP"], n),
        _pick(rng, ["US", "GB", "FR", "JP"], n), _pick(rng, ["US", "GB", "FR", "JP"], n),
    ]  # fmt: skip
    rows = 0
    ascii_folder = folder / "ASCII"
    _write(ascii_folder / f"DEMO{tag}.txt", HEADERS["DEMO"], demo)
    rows += n

    def per_report(table: str) -> tuple[np.ndarray, np.ndarray]:
        """Report index and 1-based sequence of each row of a child table."""
        mean = REAL_ROWS[table] / REAL_ROWS["DEMO"]
        counts = rng.poisson(max(mean - 1, 0.01), n) + (1 if mean >= 1 else 0)
        report = np.repeat(np.arange(n), counts)
        sequence = np.arange(len(report)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
        return report, sequence

    drug_report, drug_seq = per_report("DRUG")
    m = len(drug_report)
    names = rng.choice(len(DRUGS), size=m, p=_zipf(len(DRUGS)))
    drug = [
        _text(primaryid[drug_report]), _text(caseid[drug_report]), _text(drug_seq),
        pa.array(np.where(drug_seq == 1, "PS", "C").astype(object)),
        pa.array(np.asarray([d[0] for d in DRUGS], dtype=object)[names]),
        pa.array(np.asarray([d[1] for d in DRUGS], dtype=object)[names]),
        pa.array(["1"] * m), _pick(rng, ["Oral", "Intravenous (not otherwise specified)"], m),
        pa.array([""] * m), pa.array([""] * m), pa.array([""] * m), _pick(rng, ["Y", "N", "U"], m),
        _pick(rng, ["Y", "N", "U"], m), pa.array([""] * m), pa.array([""] * m),
        pa.array([""] * m), _text(rng.integers(1, 500, m)), _pick(rng, ["MG", "UG", "ML"], m),
        _pick(rng, ["TABLET", "INJECTION"], m), _pick(rng, ["QD", "BID", "/WK"], m),
    ]  # fmt: skip
    _write(ascii_folder / f"DRUG{tag}.txt", HEADERS["DRUG"], drug)
    rows += m
    for table in ("REAC", "OUTC", "RPSR", "THER", "INDI"):
        report, sequence = per_report(table)
        k = len(report)
        keys = [_text(primaryid[report]), _text(caseid[report])]
        if table == "REAC":  # one row per distinct term of a report (as FDA's files)
            terms = (sequence - 1 + rng.integers(0, 50, k)[0]) % len(TERMS)
            cols = [pa.array(np.asarray(TERMS, dtype=object)[terms]), pa.array([""] * k)]
        elif table == "OUTC":
            codes = np.asarray(["OT", "HO", "DE", "LT", "DS", "RI", "CA"], dtype=object)
            cols = [pa.array(codes[(sequence - 1) % 7])]
        elif table == "RPSR":
            cols = [_pick(rng, ["CSM", "HP", "LIT", "SDY"], k)]
        else:  # THER and INDI name one of the report's drugs
            drugs_of = np.bincount(drug_report, minlength=n)
            seq = np.minimum(sequence, np.maximum(drugs_of[report], 1))
            if table == "THER":
                cols = [
                    _text(seq), _dates(rng, k, year - 1), _dates(rng, k, year),
                    _text(rng.integers(1, 300, k)), pa.array(["DAY"] * k),
                ]  # fmt: skip
            else:
                cols = [_text(seq), _pick(rng, TERMS, k)]
            # rows for drugs the report has, one per (report, drug): repeats are dropped
            pairs = report.astype(np.int64) * 1000 + seq
            keep = (drugs_of[report] > 0) & np.r_[True, pairs[1:] != pairs[:-1]]
            keys = [k_.filter(pa.array(keep)) for k_ in keys]
            cols = [c.filter(pa.array(keep)) for c in cols]
        _write(ascii_folder / f"{table}{tag}.txt", HEADERS[table], [*keys, *cols])
        rows += len(keys[0])
    if number:  # FDA's list of cases deleted since: 1% of the previous quarter's new cases
        listed = fresh[: max(n // 100, 1)] - 10_000_000
        deleted = folder / "Deleted" / f"DELETE{tag}.txt"
        deleted.parent.mkdir(parents=True, exist_ok=True)
        deleted.write_bytes(b" \r\n" + b"".join(b"%d\r\n" % c for c in listed))
    return rows


def _zipf(size: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1) ** 1.1
    result: np.ndarray = weights / weights.sum()
    return result


def baseline_read(folders: list[Path]) -> tuple[int, float]:
    """Rows and seconds of reading every table of ``folders`` with pyarrow (text columns)."""
    rows, start = 0, time.perf_counter()
    for folder in folders:
        for path in sorted((folder / "ASCII").iterdir()):
            header = path.open().readline().rstrip("\r\n").split("$")
            table = pacsv.read_csv(
                path,
                parse_options=pacsv.ParseOptions(delimiter="$", quote_char=False),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(header, pa.string())
                ),
            )
            rows += table.num_rows
            del table
    return rows, time.perf_counter() - start


@contextmanager
def fresh_store(kind: str, folder: Path, postgres: str | None) -> Iterator[str]:
    """URL of a new, migrated store (a PostgreSQL database is dropped afterwards)."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}"
        upgrade_store(url, actor="bench")
        yield url
        return
    assert postgres is not None
    admin_url = make_url(postgres)
    name = f"pvm_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_store(url, actor="bench")
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def load_in_child(url: str, folders: list[Path]) -> tuple[float, float, str]:
    """Seconds, peak resident memory (MiB) and outcome of a FAERS load in its own process."""
    code = (
        "import sys; from pathlib import Path; from etl import load; "
        "r = load([Path(p) for p in sys.argv[2:]], 'faers', database_url=sys.argv[1], "
        "actor='bench'); print('  ', r.status, r.message); "
        "[print('   note:', n[:160]) for n in r.notes[:3]]; "
        "sys.exit(0 if r.status == 'committed' else 1)"
    )
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, url, *map(str, folders)])
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    return seconds, usage.ru_maxrss / MIB, "committed" if status == 0 else f"status {status}"


def run(quarters: int, scale: float, postgres: str | None, folder: Path, seed: int) -> None:
    """Make the quarters, measure and print."""
    start = time.perf_counter()
    folders, rows = [], []
    for number in range(quarters):
        target = folder / f"quarter{number:02d}"
        rows.append(make_quarter(target, number, scale, seed))
        folders.append(target)
    size = sum(p.stat().st_size for f in folders for p in f.rglob("*") if p.is_file()) / 1e6
    print(
        f"{quarters} synthetic quarter(s) at scale {scale:g}: {sum(rows):,} rows, {size:,.0f} MB "
        f"(made in {time.perf_counter() - start:.0f} s)"
    )
    read_rows, read_seconds = baseline_read(folders)
    read_rate = read_rows / read_seconds
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MIB
    print(
        f"baseline read (pyarrow, this process): {read_rate:,.0f} rows/s; this process's peak "
        f"{own_peak:,.0f} MiB"
    )
    stores = ["sqlite"] + (["postgresql"] if postgres else [])
    runs = [(f"{quarters} quarter(s)", folders)]
    if quarters > 1:  # streaming: the peak of N quarters should be that of one
        runs.insert(0, ("1 quarter", folders[:1]))
    for kind in stores:
        for label, chosen in runs:
            with fresh_store(kind, folder, postgres) as url:
                print(f"{kind}, load of {label}:")
                seconds, peak, outcome = load_in_child(url, chosen)
            loaded = sum(rows[: len(chosen)])
            rate = loaded / seconds
            print(
                f"  {outcome}: {loaded:,} rows in {seconds:,.0f} s, {rate:,.0f} rows/s "
                f"(ratio to the baseline read {rate / read_rate:.3f}); peak resident memory "
                f"{peak:,.0f} MiB (target < 1024)"
            )


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quarters", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="1 = a real quarter's size")
    parser.add_argument("--postgres-url", default=os.environ.get(POSTGRES_ENV))
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--folder", type=Path, help="where to write the quarters (default: tmp)")
    arguments = parser.parse_args()
    if arguments.folder is not None:
        arguments.folder.mkdir(parents=True, exist_ok=True)
        run(
            arguments.quarters,
            arguments.scale,
            arguments.postgres_url,
            arguments.folder,
            arguments.seed,
        )
        return
    with tempfile.TemporaryDirectory(prefix="pvm-bench-faers-") as folder:
        run(
            arguments.quarters,
            arguments.scale,
            arguments.postgres_url,
            Path(folder),
            arguments.seed,
        )


if __name__ == "__main__":
    main()
