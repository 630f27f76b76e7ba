"""Benchmark: server time of the dashboard's alerts-queue, patient-timeline and cohort-survival
callbacks on a large store.

Target (issue 6): with 20,000 subjects and about 10 million observations (PostgreSQL when
available, else SQLite), the p95 server time of each of the three callbacks, over 200 requests
each, is under 300 ms.

Each request is a real one: the app is built by ``dash_app.create_app``, a safety officer (all
sites) and a clinician (one site) log in through ``/login`` with Flask's test client (CSRF form
token, then the ``X-CSRFToken`` header from the ``_csrf_token`` cookie, same ``Origin``), and
each callback is a POST to ``/_dash-update-component`` with the body Dash's renderer sends. The
time is ``time.perf_counter`` around the test-client call: the whole Flask/Dash server path
(session, login lookup, CSRF, the callback, JSON) without a network. Every response must be
HTTP 200 and hold the expected output, or the run stops: a refused or failed request is never
timed as a fast one. Requests vary so that no cache answers them: the queue's block, sort and
filter; the patient; the cohort's endpoint and grouping. The cohort page caches its
time-to-event frame per store version and user scope: its first request (cold, the frame is
read from the store) is printed apart from the counted ones (warm: the frame is cached, the
curves, numbers at risk, log-rank test and Cox model are computed per request).

    python benchmarks/bench_dashboard.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/pvm_bench20k
    python benchmarks/bench_dashboard.py --subjects 300       # builds a small SQLite store first
    PV_MONITOR_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        python benchmarks/bench_dashboard.py                  # builds 20,000 subjects in a new
                                                              # PostgreSQL database (dropped after)

Without ``--database-url`` the store is built first (synthetic tidy export, ``etl.load``, a
full ``run_pipeline``; 30-40 minutes for 20,000 subjects) into a new PostgreSQL database when
``--postgres-url`` or ``PV_MONITOR_BENCH_POSTGRES_URL`` names a server, else into SQLite in a
temporary folder; either is removed afterwards. To build a store once and keep it:

    export PV_MONITOR_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/pvm_bench20k
    pv-monitor synth --subjects 20000 --seed 11 --out /tmp/tidy && pv-monitor db upgrade
    pv-monitor load /tmp/tidy --format tidy && pv-monitor run

The users ``bench_safety`` and ``bench_clinician`` are added to the store when missing.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import secrets
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from dash_app import DashboardConfig, create_app
from etl import load
from pv_monitor.pipeline import run_pipeline
from pv_monitor.store.alerts import alert_rows
from pv_monitor.store.engine import create_store_engine, session_factory
from pv_monitor.store.models import (
    Alert,
    AppUser,
    Infusion,
    Measurement,
    Observation,
    Subject,
)
from pv_monitor.store.users import add_user, site_scope
from pv_monitor.synthetic import generate_cohort

POSTGRES_ENV = "PV_MONITOR_BENCH_POSTGRES_URL"
TARGET_MS = 300.0
ORIGIN = "http://localhost"  # the test client's own host: a same-origin request
PASSWORD = "bench-only-password"  # throwaway users of a benchmark store
SAFETY, CLINICIAN = "bench_safety", "bench_clinician"
BLOCK = 100  # the alerts grid's cacheBlockSize

Check = Callable[[dict[str, Any]], str | None]
"""Looks at a callback's ``response`` and says what is wrong with it (``None``: as expected)."""


@dataclass(frozen=True)
class Request:
    """One callback request: the body Dash's renderer posts and how to check the answer."""

    body: dict[str, Any]
    check: Check


# ---- the store ---------------------------------------------------------------------------


@contextmanager
def built_store(subjects: int, seed: int, postgres: str | None) -> Iterator[str]:
    """A new store holding ``subjects`` synthetic subjects, loaded and graded (removed after)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.bench_load import fresh_store  # a new, migrated SQLite or PostgreSQL store

    with tempfile.TemporaryDirectory(prefix="pvm-bench-dashboard-") as folder:
        kind = "postgresql" if postgres else "sqlite"
        with fresh_store(kind, Path(folder), postgres) as url:
            started = time.perf_counter()
            export = Path(folder) / "tidy"
            generate_cohort(subjects, seed=seed, out_dir=export, workers=2)
            if load([export], "tidy", database_url=url, actor="bench").exit_code:
                raise SystemExit("the synthetic export did not load cleanly")
            run_pipeline(url, actor="bench", full=True)
            engine = create_store_engine(url)
            with engine.begin() as connection:  # planner statistics, as autovacuum would
                connection.execute(text("ANALYZE"))
            engine.dispose()
            print(f"store built in {time.perf_counter() - started:.0f} s ({kind})")
            yield url


def describe(factory: sessionmaker[Session], dialect: str) -> None:
    """Print the store's dialect and size (``SELECT count(*)`` of the big tables)."""
    with factory() as session:
        count = {
            name: session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in (
                ("subjects", Subject),
                ("infusions", Infusion),
                ("measurements", Measurement),
                ("observations", Observation),
                ("alerts", Alert),
            )
        }
        never = (
            session.scalars(
                text(
                    "SELECT relname FROM pg_stat_user_tables WHERE relname IN ('alert', "
                    "'toxicity_grade', 'measurement') AND last_analyze IS NULL AND "
                    "last_autoanalyze IS NULL"
                )
            ).all()
            if dialect == "postgresql"
            else []
        )
    rows = count["measurements"] + count["observations"]
    print(
        f"store: {dialect}, {count['subjects']:,} subjects ({count['infusions']:,} infusions), "
        f"{rows:,} observation rows ({count['measurements']:,} measurement + "
        f"{count['observations']:,} observation), {count['alerts']:,} alerts"
    )
    if never:  # without statistics the planner misjudges the queue's joins by 100 x
        print(f"warning: never analysed: {', '.join(never)}; run ANALYZE (autovacuum off?)")


def ensure_users(factory: sessionmaker[Session]) -> None:
    """Add ``bench_safety`` (safety officer) and ``bench_clinician`` (the largest site) if
    missing."""
    with factory() as session, session.begin():
        names = set(session.scalars(select(AppUser.username)))
        if SAFETY not in names:
            add_user(session, SAFETY, "safety_officer", PASSWORD, actor="bench")
        if CLINICIAN not in names:
            site = session.scalar(
                select(Subject.site_id)
                .where(Subject.site_id.is_not(None))
                .group_by(Subject.site_id)
                .order_by(func.count().desc(), Subject.site_id)
                .limit(1)
            )
            if site is None:
                raise SystemExit("the store has no subject with a site")
            add_user(session, CLINICIAN, "clinician", PASSWORD, actor="bench", site_ids=[site])


def scope_of(factory: sessionmaker[Session], username: str) -> frozenset[int] | None:
    """The sites ``username`` sees (``None``: all)."""
    with factory() as session:
        user = session.scalar(select(AppUser).where(AppUser.username == username))
        assert user is not None
        return site_scope(session, user)


# ---- logging in and posting as the renderer does -----------------------------------------


class DashClient:
    """One logged-in user's browser, as far as the server can tell."""

    def __init__(self, app: Any, username: str) -> None:
        self.app = app
        self.client: FlaskClient = app.server.test_client()
        page = self.client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if token is None:
            raise SystemExit("the login page has no CSRF token")
        response = self.client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
            headers={"Origin": ORIGIN},
        )
        if response.status_code != 302:
            raise SystemExit(f"login of {username} failed: HTTP {response.status_code}")
        if self.client.get("/").status_code != 200:  # as a browser does; sets the CSRF cookie
            raise SystemExit(f"the home page refused {username}")

    def post(self, request: Request) -> float:
        """Seconds of server time for one callback request; stops on a wrong answer."""
        cookie = self.client.get_cookie("_csrf_token")
        headers = {"Origin": ORIGIN, "X-CSRFToken": cookie.value if cookie else ""}
        started = time.perf_counter()
        response = self.client.post("/_dash-update-component", json=request.body, headers=headers)
        elapsed = time.perf_counter() - started
        output = request.body["output"]
        if response.status_code != 200:
            answer = response.get_data(as_text=True)[:300]
            raise SystemExit(f"{output}: HTTP {response.status_code}: {answer}")
        problem = request.check(response.get_json()["response"])
        if problem is not None:
            raise SystemExit(f"{output}: unexpected answer: {problem}")
        return elapsed


def callback_body(
    app: Any,
    outputs: list[tuple[str, str]],
    inputs: list[tuple[str, str, Any]],
    state: list[tuple[str, str, Any]] | None = None,
    changed: list[str] | None = None,
) -> dict[str, Any]:
    """The JSON Dash's renderer posts to ``/_dash-update-component`` for one callback."""
    names = [f"{i}.{p}" for i, p in outputs]
    output = names[0] if len(names) == 1 else ".." + "...".join(names) + ".."
    if output not in app.callback_map:
        raise SystemExit(f"the app has no callback for {output}")
    targets = [{"id": i, "property": p} for i, p in outputs]
    return {
        "output": output,
        "outputs": targets[0] if len(targets) == 1 else targets,
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "changedPropIds": changed if changed is not None else [f"{i}.{p}" for i, p, _ in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state or []],
    }


# ---- the three callbacks' requests -------------------------------------------------------


def queue_cases(
    factory: sessionmaker[Session], scope: frozenset[int] | None
) -> list[tuple[list[dict[str, str]], dict[str, Any], int]]:
    """Sort models, filter models and how many alerts each filter matches (counted untimed)."""
    with factory() as session:
        query = (
            select(Alert.syndrome, Alert.status)
            .join(Subject)
            .group_by(Alert.syndrome, Alert.status)
        )
        if scope is not None:
            query = query.where(Subject.site_id.in_(scope))
        pairs = session.execute(query).all()
        syndrome = max({p.syndrome for p in pairs}) if pairs else "crs"
        status = min({p.status for p in pairs}) if pairs else "open"
        filters: list[dict[str, Any]] = [
            {},
            {"status": {"filterType": "text", "type": "equals", "filter": status}},
            {"syndrome": {"filterType": "text", "type": "contains", "filter": syndrome}},
            {"study_day": {"filterType": "number", "type": "greaterThan", "filter": 3}},
            {"severity": {"filterType": "text", "type": "notEqual", "filter": "info"}},
        ]
        counted = []
        for model in filters:
            _, total = alert_rows(session, scope, start=0, end=0, filter_model=model)
            if total:
                counted.append((model, total))
    sorts: list[list[dict[str, str]]] = [
        [],
        [{"colId": "raised_at", "sort": "desc"}],
        [{"colId": "subject_key", "sort": "asc"}],
        [{"colId": "study_day", "sort": "desc"}],
        [{"colId": "severity", "sort": "asc"}],
        [{"colId": "site", "sort": "asc"}, {"colId": "status", "sort": "desc"}],
    ]
    return [(sort, model, total) for sort in sorts for model, total in counted]


def queue_requests(
    app: Any,
    cases: list[tuple[list[dict[str, str]], dict[str, Any], int]],
    n: int,
    rng: np.random.Generator,
) -> list[Request]:
    """Blocks of the alerts grid (AG Grid's infinite row model) with varied sort and filter."""
    requests = []
    for _ in range(n):
        sort, model, total = cases[int(rng.integers(len(cases)))]
        start = int(rng.integers(math.ceil(total / BLOCK))) * BLOCK
        value = {
            "startRow": start,
            "endRow": start + BLOCK,
            "sortModel": sort,
            "filterModel": model,
        }
        body = callback_body(
            app, [("alerts-grid", "getRowsResponse")], [("alerts-grid", "getRowsRequest", value)]
        )
        requests.append(Request(body, _queue_check(total, min(BLOCK, total - start))))
    return requests


def _queue_check(total: int, rows: int) -> Check:
    def check(response: dict[str, Any]) -> str | None:
        answer = response["alerts-grid"]["getRowsResponse"]
        got = (answer["rowCount"], len(answer["rowData"]))
        if got != (total, rows) or not all("alert_id" in r for r in answer["rowData"]):
            return f"expected {rows} of {total} rows, got {got[1]} of {got[0]}"
        return None

    return check


def patient_requests(
    app: Any,
    factory: sessionmaker[Session],
    scope: frozenset[int] | None,
    n: int,
    rng: np.random.Generator,
) -> list[Request]:
    """Patient pages of random infused subjects the user may see (each at most once while
    there are enough)."""
    with factory() as session:
        query = select(Subject.subject_id, Subject.subject_key).where(
            Subject.subject_id.in_(select(Infusion.subject_id))
        )
        if scope is not None:
            query = query.where(Subject.site_id.in_(scope))
        subjects = session.execute(query.order_by(Subject.subject_id)).all()
    if not subjects:
        raise SystemExit("no infused subject is visible to the user")
    picked = rng.choice(len(subjects), size=n, replace=n > len(subjects))
    outputs = [
        ("patient-header", "children"),
        ("patient-timeline", "figure"),
        ("patient-management", "children"),
        ("patient-alerts", "children"),
        ("patient-scores", "children"),
    ]
    requests = []
    for index in picked:
        subject_id, key = subjects[int(index)]
        body = callback_body(
            app,
            outputs,
            [("patient-subject", "data", str(subject_id))],
            [("patient-subject", "id", "patient-subject")],
        )
        requests.append(Request(body, _patient_check(key)))
    return requests


def _patient_check(key: str) -> Check:
    def check(response: dict[str, Any]) -> str | None:
        if f"Patient {key}" not in json.dumps(response["patient-header"]):
            return f"the header does not name {key}"
        if not response["patient-timeline"]["figure"]["data"]:
            return f"the timeline of {key} has no trace"
        return None

    return check


def cohort_requests(app: Any, n: int, rng: np.random.Generator) -> list[Request]:
    """The survival callback for random endpoint and grouping choices (the user changed one)."""
    from dash_app.pages.cohort import ENDPOINTS, GROUPS  # a page registers itself: after the app

    outputs = [
        ("cohort-figure", "figure"),
        ("cohort-at-risk", "children"),
        ("cohort-comparison", "children"),
        ("cohort-note", "children"),
    ]
    endpoints, groups = list(ENDPOINTS), list(GROUPS)
    requests = []
    for _ in range(n):
        endpoint = endpoints[int(rng.integers(len(endpoints)))]
        group = groups[int(rng.integers(len(groups)))]
        changed = "cohort-endpoint.value" if rng.random() < 0.5 else "cohort-group.value"
        body = callback_body(
            app,
            outputs,
            [("cohort-endpoint", "value", endpoint), ("cohort-group", "value", group)],
            changed=[changed],
        )
        requests.append(Request(body, _cohort_check(group)))
    return requests


def _cohort_check(group: str) -> Check:
    def check(response: dict[str, Any]) -> str | None:
        if not response["cohort-figure"]["figure"]["data"]:
            return "the survival figure has no curve"
        if "infused subjects" not in str(response["cohort-note"]["children"]):
            return "no cohort note"
        comparison = json.dumps(response["cohort-comparison"]["children"])
        if group != "none" and "Log-rank p" not in comparison and "at least two" not in comparison:
            return "no group comparison"
        return None

    return check


# ---- timing ------------------------------------------------------------------------------


def timed(client: DashClient, requests: list[Request], warmup: int) -> list[float]:
    """Milliseconds of each request after the first ``warmup`` (sent, checked, not counted)."""
    return [client.post(r) * 1000 for r in requests][warmup:]


def row(name: str, user: str, times: list[float]) -> None:
    """One line of the table: n, p50, p95, max and the verdict against the p95 target."""
    p50, p95 = np.percentile(times, [50, 95])
    verdict = "PASS" if p95 < TARGET_MS else "FAIL"
    print(
        f"{name:<28} {user:<22} {len(times):>4} {p50:>8.1f} {p95:>8.1f} {max(times):>8.1f}"
        f"  {verdict}"
    )


def run(url: str, requests: int, warmup: int, seed: int) -> None:
    """Measure the three callbacks for a safety officer and a clinician on the store at
    ``url``."""
    # Dash calls every page's layout once outside a login, which the pages log as refusals.
    logging.getLogger("pv_monitor.dashboard.security").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", "Downcasting object dtype", FutureWarning)  # timeline.py
    engine = create_store_engine(url)
    factory = session_factory(engine)
    describe(factory, engine.dialect.name)
    ensure_users(factory)
    app = create_app(DashboardConfig(url, secret_key=secrets.token_hex(32)))
    rng = np.random.default_rng(seed)
    total = requests + warmup
    colds: list[tuple[str, float]] = []
    print(
        f"\nserver time per request in ms ({warmup} warm-up requests each, not counted); "
        f"target p95 < {TARGET_MS:.0f} ms"
    )
    print(f"{'callback':<28} {'user':<22} {'n':>4} {'p50':>8} {'p95':>8} {'max':>8}")
    for username in (SAFETY, CLINICIAN):
        scope = scope_of(factory, username)
        who = f"{username} ({'all sites' if scope is None else f'{len(scope)} site'})"
        client = DashClient(app, username)
        cases = queue_cases(factory, scope)
        if not cases:
            raise SystemExit(f"no alert is visible to {username}")
        row(
            "alerts queue (grid block)",
            who,
            timed(client, queue_requests(app, cases, total, rng), warmup),
        )
        row(
            "patient timeline",
            who,
            timed(client, patient_requests(app, factory, scope, total, rng), warmup),
        )
        cohort = cohort_requests(app, total + 1, rng)
        colds.append((who, client.post(cohort[0]) * 1000))  # reads the time-to-event frame
        row("cohort survival (warm)", who, timed(client, cohort[1:], warmup))
    for who, ms in colds:
        print(
            f"cohort survival, first request (cold: time-to-event frame read), {who}: {ms:.0f} ms"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="an existing, graded store (else one is built)")
    parser.add_argument("--subjects", type=int, default=20_000, help="when building a store")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_ENV),
        help=f"build in a new database on this server (${POSTGRES_ENV})",
    )
    parser.add_argument("--requests", type=int, default=200, help="counted requests each")
    parser.add_argument("--warmup", type=int, default=5, help="uncounted requests first")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.database_url:
        run(args.database_url, args.requests, args.warmup, args.seed)
        return
    with built_store(args.subjects, args.seed, args.postgres_url) as url:
        run(url, args.requests, args.warmup, args.seed)


if __name__ == "__main__":
    main()
