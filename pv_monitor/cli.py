"""The ``pv-monitor`` command.

Exit codes: 0 success, 1 rejected input or a failed check (with a report), 2 usage error.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from pv_monitor import __version__
from pv_monitor.config import DEFAULT_MIN_AUROC, database_url

if TYPE_CHECKING:
    import pandas as pd

    from etl.dry_run import DryRun
    from etl.load import LoadReport
    from pv_monitor.pipeline import RunSummary
    from pv_monitor.synthetic import SynthesisSummary

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="pv-monitor",
    help="CAR-T clinical-safety pharmacovigilance monitor.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(
    help="The store's schema: upgrade, current revision, DDL.", no_args_is_help=True
)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
users_app = typer.Typer(help="Users and roles.", no_args_is_help=True)
signals_app = typer.Typer(help="Signal detection and tracking.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(users_app, name="users")
app.add_typer(signals_app, name="signals")
mapping_app = typer.Typer(
    help="Mapping files of site exports: check one before the first load.", no_args_is_help=True
)
app.add_typer(mapping_app, name="mapping")


@dataclass(frozen=True)
class CliState:
    """Options shared by every command."""

    database_url: str

    @property
    def shown_url(self) -> str:
        """The URL with any password hidden (safe to print)."""
        return make_url(self.database_url).render_as_string(hide_password=True)


def current_actor() -> str:
    """Who runs the command, for the audit trail (the operating-system login)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _version(value: bool) -> None:
    if value:
        console.print(f"pv-monitor {__version__}")
        raise typer.Exit


@app.callback()
def main(
    ctx: typer.Context,
    db_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="PV_MONITOR_DATABASE_URL",
            help="SQLAlchemy URL of the store; default: pv_monitor.db in the working directory.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """CAR-T clinical-safety pharmacovigilance monitor."""
    ctx.obj = CliState(database_url=database_url(db_url))


def _state(ctx: typer.Context) -> CliState:
    state = ctx.find_root().obj
    assert isinstance(state, CliState)
    return state


def upgrade_store(url: str, *, actor: str) -> tuple[str | None, str, dict[str, int]]:
    """Migrate the store at ``url`` to the newest schema and sync reference data.

    Returns the revision before, the revision after and the product sync counts.
    """
    from pv_monitor.store.engine import create_store_engine, session_factory
    from pv_monitor.store.migrate import current_revision, upgrade
    from pv_monitor.store.seed import sync_products

    engine = create_store_engine(url)
    try:
        before = current_revision(engine)
        upgrade(url)
        after = current_revision(engine)
        with session_factory(engine)() as session, session.begin():
            counts = sync_products(session, actor=actor)
    finally:
        engine.dispose()
    return before, after or "", counts


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or migrate the store to the newest schema, then sync reference data."""
    state = _state(ctx)
    before, after, counts = upgrade_store(state.database_url, actor=current_actor())
    console.print(f"Store: {state.shown_url}")
    console.print(f"Schema revision: {before or 'empty'} -> {after}")
    console.print(
        f"Approved CAR-T products: {counts['inserted']} added, {counts['updated']} corrected"
    )


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the store's schema revision and the newest one this version ships."""
    from pv_monitor.store.engine import create_store_engine
    from pv_monitor.store.migrate import current_revision, head_revision

    state = _state(ctx)
    engine = create_store_engine(state.database_url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    console.print(f"Store: {state.shown_url}")
    console.print(f"Schema revision: {current or 'empty'} (newest: {head})")
    if current != head:
        console.print("Run `pv-monitor db upgrade` to migrate.")
        raise typer.Exit(1)


@db_app.command("ddl")
def db_ddl(
    dialect: Annotated[
        str, typer.Option(help="sqlite or postgresql (ignored with --write).")
    ] = "postgresql",
    write: Annotated[
        Path | None,
        typer.Option(help="Write every dialect's schema.sql under this folder (e.g. sql)."),
    ] = None,
) -> None:
    """Print (or write) the store's DDL, generated from the models."""
    from pv_monitor.store.ddl import DIALECTS, render_ddl, write_ddl

    if write is not None:
        for path in write_ddl(write):
            console.print(f"wrote {path}")
        return
    if dialect not in DIALECTS:
        raise typer.BadParameter(f"choose one of {', '.join(DIALECTS)}", param_hint="--dialect")
    typer.echo(render_ddl(dialect), nl=False)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Recompute the audit trail's hash chain and report the first entry that does not fit."""
    from pv_monitor.store.audit import verify_audit_chain
    from pv_monitor.store.engine import create_store_engine, session_factory

    state = _state(ctx)
    engine = create_store_engine(state.database_url)
    try:
        with session_factory(engine)() as session:
            result = verify_audit_chain(session)
    finally:
        engine.dispose()
    if result.ok:
        console.print(f"Audit trail intact: {result.entries_checked} entries verified.")
        return
    err_console.print(
        f"Audit trail broken at entry {result.first_broken_id}: {result.problem} "
        f"({result.entries_checked} entries before it verified)."
    )
    raise typer.Exit(1)


@app.command("load")
def load(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Export folder(s) or file(s).", exists=True)],
    export_format: Annotated[
        str, typer.Option("--format", help="tidy, sdtm, faers or mapping:FILE.yaml")
    ] = "tidy",
    accept_partial: Annotated[
        bool, typer.Option(help="Write the good rows when some are rejected (default: none).")
    ] = False,
    rejections_csv: Annotated[
        Path | None, typer.Option("--rejections", help="Write every rejection to this CSV.")
    ] = None,
) -> None:
    """Load an export into the store as one batch; exit 1 when anything was rejected."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from etl import FORMATS, ExportError, load
    from etl.load import ACCEPT_PARTIAL, ALL_OR_NOTHING
    from pv_monitor.store.engine import explain_database_error
    from pv_monitor.store.migrate import StoreNotReady

    state = _state(ctx)
    if export_format not in FORMATS and not export_format.startswith("mapping:"):
        choices = ", ".join((*FORMATS, "mapping:FILE.yaml"))
        raise typer.BadParameter(f"choose one of {choices}", param_hint="--format")
    columns = (  # one bar per file; rich disables it when the output is not a terminal (CI)
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(file: str, rows: int) -> None:
            if file not in tasks:
                tasks[file] = bar.add_task(file, total=None)
            bar.update(tasks[file], completed=rows)

        try:
            report = load(
                paths,
                export_format,
                database_url=state.database_url,
                actor=current_actor(),
                policy=ACCEPT_PARTIAL if accept_partial else ALL_OR_NOTHING,
                progress=progress,
            )
        except ExportError as error:  # a reader refused its input (file names, mapping)
            raise typer.BadParameter(str(error)) from error
        except StoreNotReady as error:
            err_console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from error
        except Exception as error:  # the store is unchanged; the batch is recorded as failed
            explained = explain_database_error(error, state.shown_url) or (
                f"an unexpected error stopped the load ({type(error).__name__}: {error}); please "
                "report it to whoever maintains pv-monitor"
            )
            err_console.print(f"load failed, nothing was written: {explained}", style="red")
            raise typer.Exit(1) from error
    _print_load(report, rejections_csv)
    raise typer.Exit(report.exit_code)


def _print_load(report: LoadReport, rejections_csv: Path | None) -> None:
    from rich.table import Table

    table = Table(title=f"Load batch {report.batch_id}: {report.status}")
    # FAERS only: rows joined into cases/drugs, withheld and deleted by FDA's DELETE lists
    extra = [
        column
        for column in ("joined", "withheld", "deleted")
        if any(getattr(file, column) for file in report.files.values())
    ]
    columns = ("file", "read", "added", "corrected", "unchanged", *extra, "rejected")
    for column in columns:
        table.add_column(column, justify="left" if column == "file" else "right")
    for name, file in report.files.items():
        table.add_row(
            name,
            f"{file.rows_read:,}",
            f"{file.inserted:,}",
            f"{file.updated:,}",
            f"{file.unchanged:,}",
            *(f"{getattr(file, c):,}" for c in extra),
            f"{file.rejected:,}",
        )
    if report.files:
        console.print(table)
    not_used = [use for use in report.uses if use.use != "used"]
    if not_used:
        used = len(report.uses) - len(not_used)
        console.print(f"{len(report.uses)} file(s) given: {used} used, {len(not_used)} not:")
        for use in not_used:
            console.print(f"  {use.name}: {use.use}" + (f" ({use.why})" if use.why else ""))
    console.print(report.message)
    for note in report.notes:
        console.print(f"note: {note}")
    if report.rejected_total:
        shown = report.rejections.head(20)
        listing = Table(title=f"Rejections ({report.rejected_total:,}; first {len(shown)})")
        for column in ("file", "data row", "field", "value", "reason"):
            listing.add_column(column)
        for row in shown.itertuples():
            listing.add_row(
                str(row.file),
                "" if row.row is None else str(row.row),
                str(row.field or ""),
                str(row.value or ""),
                str(row.reason),
            )
        console.print(listing)
    if rejections_csv is not None:
        report.rejections.to_csv(rejections_csv, index=False)
        console.print(f"all stored rejections written to {rejections_csv}")


@mapping_app.command("check")
def mapping_check(
    mapping: Annotated[
        Path, typer.Argument(help="The mapping file (YAML).", exists=True, dir_okay=False)
    ],
    paths: Annotated[list[Path], typer.Argument(help="Export folder(s) or file(s).", exists=True)],
    rows: Annotated[int, typer.Option("--rows", min=1, help="Rows shown per store table.")] = 5,
) -> None:
    """Dry run of `load --format mapping:MAPPING`: the first rows as they would be stored and
    what would be rejected. Reads no store, writes nothing; exit 1 when anything would be
    rejected or the mapping is refused."""
    from etl.dry_run import dry_run
    from etl.sources import ExportError
    from etl.sources.mapping import MappingSource

    try:
        result = dry_run(MappingSource(mapping, paths), rows=rows)
    except ExportError as error:  # the mapping is refused: say why, as load would
        err_console.print(f"mapping check failed: {error}", markup=False, highlight=False)
        raise typer.Exit(1) from error
    except Exception as error:  # never a traceback for a data manager
        err_console.print(
            f"mapping check failed: {type(error).__name__}: {error}", markup=False, highlight=False
        )
        raise typer.Exit(1) from error
    _print_dry_run(mapping, result)
    raise typer.Exit(result.exit_code)


def _shown_value(value: object) -> str:
    import pandas as pd

    if isinstance(value, pd.Timestamp):
        if value == value.normalize():
            return value.date().isoformat()
        return value.isoformat(timespec="minutes")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _print_dry_run(mapping: Path, result: DryRun) -> None:
    import pandas as pd

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    say(f"Dry run of {mapping.name}: nothing was read from or written to a store.")
    not_used = [use for use in result.uses if use.use != "used"]
    say(f"{len(result.uses)} file(s) given: {len(result.uses) - len(not_used)} used")
    for use in not_used:
        say(f"  {use.name}: {use.use}" + (f" ({use.why})" if use.why else ""))
    for name, file in result.files.items():
        say(
            f"  {name}: {file.rows_read:,} tidy row(s) read from it; rejections in "
            f"{file.rejected:,} of its data rows"
        )
    for table, count in result.stored.items():
        shown = result.tables.get(table, pd.DataFrame())
        say(f"{table}: {count:,} row(s) would be stored; the first {len(shown)}:")
        for record in shown.to_dict("records"):
            row = record.pop("source_row", None)
            fields = ", ".join(
                f"{key}={_shown_value(value)}"
                for key, value in record.items()
                if value is not None
                and not (isinstance(value, float) and pd.isna(value))
                and value is not pd.NaT
                and value != ""
            )
            say(f"  data row {row}: {fields}")
    for note in result.notes:
        say(f"note: {note}")
    if not result.rejected_total:
        say("Nothing would be rejected.")
        return
    say(f"{result.rejected_total:,} rejection(s) would stop an all-or-nothing load:")
    for group in result.summary():
        say(f"  {group.file}: {group.count:,} x {group.rule}, e.g.")
        for example in group.examples:
            row = "" if example["row"] is None or pd.isna(example["row"]) else example["row"]
            parts = [f"row {row}" if row != "" else "the whole file"]
            if example["field"]:
                parts.append(f"field {example['field']}")
            if example["value"] is not None:
                parts.append(f"value {example['value']!r}")
            say(f"    {', '.join(parts)}: {example['reason']}")


@app.command("run")
def run(
    ctx: typer.Context,
    full: Annotated[
        bool, typer.Option("--full", help="Recompute every subject, not only those touched.")
    ] = False,
    models_dir: Annotated[
        Path | None,
        typer.Option(
            "--models",
            envvar="PV_MONITOR_MODELS_DIR",
            help="Folder of trained models (pv-monitor train) whose predictions to store.",
        ),
    ] = None,
    min_auroc: Annotated[
        float,
        typer.Option(
            envvar="PV_MONITOR_MODEL_MIN_AUROC",
            help="Cross-validated AUROC a model needs before its predictions are used.",
        ),
    ] = DEFAULT_MIN_AUROC,
    alert_probability: Annotated[
        float | None,
        typer.Option(
            envvar="PV_MONITOR_MODEL_ALERT_PROBABILITY",
            min=0.0,
            max=1.0,
            help="Predicted probability at or above which a used model raises an alert (the "
            "model card's operating points show what a threshold does). Without it, model "
            "predictions are stored and alerts come from the published scores alone.",
        ),
    ] = None,
) -> None:
    """Assess, grade, score and alert for subjects touched since the last run."""
    from rich.progress import Progress

    from pv_monitor.pipeline import load_models, run_pipeline
    from pv_monitor.store.migrate import StoreNotReady

    try:
        models, left_out = (
            load_models(models_dir, min_auroc, alert_probability) if models_dir else ([], [])
        )
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--alert-probability") from error
    for line in left_out:
        console.print(f"Model not used: {line}")
    if models_dir is not None:
        console.print(f"Models used: {', '.join(m.name for m in models) or 'none'}")
    if models and alert_probability is None:
        console.print(
            "No --alert-probability: model predictions are stored but raise no alert; alerts "
            "come from the published scores alone."
        )

    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("grading subjects", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            summary = run_pipeline(
                _state(ctx).database_url,
                actor=current_actor(),
                full=full,
                progress=progress,
                models=models,
            )
        except StoreNotReady as error:
            err_console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from error
    _print_run(summary)


@app.command("grade-file")
def grade_file(
    source: Annotated[
        Path,
        typer.Argument(
            help="CSV in the daily assessment frame's columns.", exists=True, dir_okay=False
        ),
    ],
    target: Annotated[Path, typer.Argument(help="CSV to write: the rows plus their grades.")],
) -> None:
    """Grade CRS and ICANS (ASTCT 2019) on a CSV of assessments (architecture contract 2),
    without a database; exit 1 when a row cannot be read."""
    import pandas as pd

    from pv_monitor.grading import FrameError, grade_crs, grade_icans

    frame = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""])
    try:
        graded = grade_icans(grade_crs(frame))
    except FrameError as error:
        err_console.print(f"[red]{source.name}: {error}[/red]")
        raise typer.Exit(1) from error
    graded.to_csv(target, index=False)
    counts = graded["crs_grade"].value_counts(dropna=False).sort_index()
    labels = counts.index.astype("string").fillna("not gradable")
    shown = ", ".join(f"{g}: {n}" for g, n in zip(labels, counts, strict=True))
    console.print(f"Graded {len(graded):,} rows into {target} (CRS grades {shown}).")


@app.command("reconcile")
def reconcile_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the whole reconciliation to this CSV.")
    ] = None,
    daily_out: Annotated[
        Path | None,
        typer.Option(
            "--daily-out", help="Write the per subject-day comparison of daily grades to this CSV."
        ),
    ] = None,
) -> None:
    """Reported CRS and ICANS grades (with their scale) against the ASTCT grades derived from
    raw observations, per subject and episode (adverse events) and per subject-day (daily
    reported grades CRS_GRADE/ICANS_GRADE); and the agreement between reported scales."""
    from rich.table import Table

    from pv_monitor.grading.reconcile import agreement_table
    from pv_monitor.pipeline import daily_reconciliation, reconciliation

    table, reported = reconciliation(_state(ctx).database_url)
    days, peaks = daily_reconciliation(_state(ctx).database_url)
    if daily_out is not None:
        days.to_csv(daily_out, index=False)
    if out is not None:
        table.to_csv(out, index=False)
    summary = table.groupby(["syndrome", "status"]).size().rename("rows").reset_index()
    shown = Table(title="Reported against derived (ASTCT 2019 from raw observations)")
    for column in ("syndrome", "status", "rows"):
        shown.add_column(column)
    for row in summary.itertuples(index=False):
        shown.add_row(str(row.syndrome), str(row.status), str(row.rows))
    console.print(shown)
    for syndrome in ("crs", "icans"):
        scales = sorted(  # legacy scales as rows, ASTCT 2019 as columns
            reported.loc[reported["syndrome"] == syndrome, "scale"].dropna().unique(),
            key=lambda scale: (scale == "astct_2019", scale),
        )
        for i, first in enumerate(scales):
            for second in scales[i + 1 :]:
                agreement = agreement_table(reported, syndrome, first, second)
                _print_agreement(agreement, syndrome, first, second)
    discordant = table[table["status"] == "discordant"]
    if len(discordant):
        console.print(
            f"{len(discordant)} discordant rows" + (f"; all rows in {out}" if out else "")
        )
        console.print(discordant.head(20).to_string(index=False))
    elif out is not None:
        console.print(f"All rows in {out}")
    _print_daily(days, peaks, daily_out)


def _print_daily(days: pd.DataFrame, peaks: pd.DataFrame, out: Path | None) -> None:
    """Summaries of the daily comparison: days and subjects' peaks by status."""
    from rich.table import Table

    if not len(days):
        console.print("No daily reported grades (CRS_GRADE, ICANS_GRADE) in the store.")
        return
    shown = Table(title="Daily reported grades against derived (ASTCT 2019), per subject-day")
    for column in ("syndrome", "scale", "status", "days", "subjects"):
        shown.add_column(column, justify="right" if column in ("days", "subjects") else "left")
    summary = (
        days.assign(scale=days["scale"].fillna("-"))
        .groupby(["syndrome", "scale", "status"])
        .agg(days=("study_day", "size"), subjects=("subject", "nunique"))
        .reset_index()
    )
    for row in summary.itertuples(index=False):
        shown.add_row(*(str(value) for value in row))
    console.print(shown)
    highest = Table(title="Reported daily peak (maximum as given) against derived peak")
    for column in ("syndrome", "scale", "status", "subjects", "reported peak: subjects"):
        highest.add_column(column)
    for (syndrome, scale, status), group in peaks.groupby(["syndrome", "scale", "status"]):
        counts = group["reported_peak"].value_counts().sort_index()
        spread = ", ".join(f"{grade:g}: {n}" for grade, n in counts.items())
        highest.add_row(str(syndrome), str(scale), str(status), str(len(group)), spread)
    console.print(highest)
    discordant = days[days["status"] == "discordant"]
    if len(discordant):
        console.print(
            f"{len(discordant)} discordant subject-days" + (f"; all days in {out}" if out else "")
        )
        console.print(discordant.head(20).to_string(index=False))


def _print_agreement(agreement: pd.DataFrame, syndrome: str, rows: str, columns: str) -> None:
    from rich.table import Table

    counts = agreement.to_numpy(dtype=int)
    labels = list(agreement.index[:-1])
    agree = sum(
        int(counts[i, list(agreement.columns).index(g)])
        for i, g in enumerate(labels)
        if g in agreement.columns[:-1]
    )
    total = int(counts[-1, -1])
    title = (
        f"{syndrome.upper()}: highest reported grade, {rows} (rows) vs {columns} (columns); "
        f"same grade for {agree} of {total} subjects"
    )
    shown = Table(title=title)
    shown.add_column(f"{rows} \\ {columns}")
    for column in agreement.columns:
        shown.add_column(str(column), justify="right")
    for index, values in agreement.iterrows():
        shown.add_row(str(index), *(str(int(v)) for v in values))
    console.print(shown)


@app.command("alerts")
def alerts_command(
    ctx: typer.Context,
    status: Annotated[
        str, typer.Option(help="open, acknowledged, resolved, dismissed or all.")
    ] = "open",
    limit: Annotated[int, typer.Option(min=1, help="Rows to show.")] = 50,
) -> None:
    """The alert queue: most severe first, then newest."""
    from rich.table import Table

    from pv_monitor.store.alerts import alert_queue
    from pv_monitor.store.engine import create_store_engine, session_factory

    engine = create_store_engine(_state(ctx).database_url)
    try:
        with session_factory(engine)() as session:
            queue = alert_queue(session, None if status == "all" else status, limit)
    finally:
        engine.dispose()
    table = Table(title=f"Alerts ({status}): {len(queue)} shown")
    for column in ("id", "severity", "subject", "day", "rule", "title", "status"):
        table.add_column(column)
    for row in queue.to_dict("records"):
        table.add_row(
            str(row["alert_id"]),
            str(row["severity"]),
            str(row["subject_key"]),
            "" if row["study_day"] is None else str(row["study_day"]),
            str(row["rule_id"]),
            str(row["title"]),
            str(row["status"]),
        )
    console.print(table)


IntervalStart = Annotated[
    datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="Interval start (date).")
]
DataLockPoint = Annotated[
    datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Data-lock point (date).")
]


@app.command("report")
def report_command(
    ctx: typer.Context,
    start: IntervalStart,
    lock: DataLockPoint,
    product: Annotated[
        str | None, typer.Option("--product", help="One product (brand or generic name).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the three files.")] = Path(
        "reports"
    ),
    meddra: Annotated[
        Path | None,
        typer.Option(
            "--meddra",
            help="A licensed MedDRA MedAscii folder (default: $PV_MONITOR_MEDDRA_DIR, if set).",
        ),
    ] = None,
) -> None:
    """The periodic signal report for a data-lock point: HTML, PDF and XLSX with every table."""
    from pv_monitor.report.build import ReportRequest
    from pv_monitor.reporting import write_report
    from pv_monitor.store.report_io import UnknownProduct

    request = ReportRequest(start.date(), lock.date(), product)
    try:
        files = write_report(_state(ctx).database_url, request, out, meddra_dir=meddra)
    except (UnknownProduct, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    console.print(
        f"Data-lock point {request.data_lock_point}; content hash {files.database_sha256}"
    )
    for path in (files.html, files.pdf, files.xlsx):
        console.print(f"wrote {path}")


@signals_app.command("screen")
def signals_screen(
    ctx: typer.Context,
    start: IntervalStart,
    lock: DataLockPoint,
) -> None:
    """Run the statistical screens and record their hits as potential signals (not signals:
    a person validates them)."""
    from pv_monitor.reporting import screen_signals

    summary = screen_signals(
        _state(ctx).database_url, start.date(), lock.date(), actor=current_actor()
    )
    console.print(
        f"disproportionality hits: {summary.disproportionality_hits}; sequential-monitoring "
        f"hits: {summary.sequential_hits}; new potential signals: {summary.new_signals}"
    )


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="clinician, safety_officer, data_manager or admin.")],
    site: Annotated[
        list[str] | None, typer.Option(help="Site key a clinician is limited to (repeatable).")
    ] = None,
) -> None:
    """Add a user; the password is asked for and stored only as a salted hash."""
    from sqlalchemy import select

    from pv_monitor.store.engine import create_store_engine, session_factory
    from pv_monitor.store.models import Site
    from pv_monitor.store.users import UserError, add_user

    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = create_store_engine(_state(ctx).database_url)
    try:
        with session_factory(engine)() as session, session.begin():
            sites = [
                int(s)
                for s in session.scalars(select(Site.site_id).where(Site.site_key.in_(site or [])))
            ]
            if len(sites) != len(set(site or [])):
                raise typer.BadParameter(f"unknown site in {site}", param_hint="--site")
            user = add_user(
                session, username, role, password, actor=current_actor(), site_ids=sites
            )
            console.print(f"User {user.username} ({user.role}) added.")
    except UserError as error:
        err_console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    finally:
        engine.dispose()


@app.command("train")
def train_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder for the models and cards.")] = Path(
        "models"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the folds and the boosted trees.")] = 0,
) -> None:
    """Train grade >= 3 CRS and ICANS models (day 0 and day +3) on the store's graded cohort and
    print their cross-validated metrics."""
    from rich.table import Table

    from pv_monitor.pipeline import train_models
    from pv_monitor.store.migrate import StoreNotReady

    try:
        models = train_models(_state(ctx).database_url, out, seed=seed)
    except StoreNotReady as error:
        err_console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    except ValueError as error:
        err_console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    table = Table(title="Cross-validated (5 folds grouped by subject), 95 % bootstrap intervals")
    for column in ("model", "infusions", "events", "AUROC", "AUPRC", "Brier"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for model in models:
        m, ci = model.card["metrics"], model.card["metrics_95ci"]
        shown = [
            f"{m[k]:.3f} ({ci[k][0]:.3f}-{ci[k][1]:.3f})" if k in ci else f"{m[k]:.3f}"
            for k in ("auroc", "auprc", "brier")
        ]
        table.add_row(model.name, str(model.card["infusions"]), str(model.card["events"]), *shown)
    console.print(table)
    console.print(
        f"Models and model cards (with calibration tables) written to {out}. These metrics are "
        "only as good as the data in this store: on a synthetic cohort they describe the "
        "generator, not patients (docs/models.md)."
    )


def _print_run(summary: RunSummary) -> None:
    written = ", ".join(f"{rows:,} {table}" for table, rows in summary.counts.items()) or "nothing"
    console.print(
        f"Pipeline run {summary.run_id} ({summary.mode}): {summary.subjects:,} subjects "
        f"recomputed; wrote {written}."
    )
    versions = ", ".join(f"{k} {v}" for k, v in summary.criteria.items())
    console.print(f"Criteria: {versions}")


def _default_workers(n_subjects: int) -> int:
    from pv_monitor.synthetic import CHUNK_SUBJECTS

    if n_subjects <= 2 * CHUNK_SUBJECTS:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def synthesise(
    n_subjects: int, *, seed: int, out: Path, export_format: str, workers: int, overwrite: bool
) -> SynthesisSummary:
    """Generate a synthetic export with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from pv_monitor.synthetic import FORMATS, generate_cohort

    if export_format not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"{export_format} export", total=n_subjects)
        return generate_cohort(
            n_subjects,
            seed=seed,
            out_dir=out,
            export_format=export_format,  # narrowed to ExportFormat by the check above
            workers=workers,
            overwrite=overwrite,
            progress=lambda done: progress.update(task, completed=done),
        )


@app.command("synth")
def synth(
    subjects: Annotated[int, typer.Option("--subjects", min=1, help="Number of subjects.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write (empty or absent).")],
    seed: Annotated[int, typer.Option("--seed", help="Seed: same seed, same files.")] = 2026,
    export_format: Annotated[str, typer.Option("--format", help="tidy or sdtm.")] = "tidy",
    workers: Annotated[
        int | None, typer.Option(help="Worker processes; default: all cores for big cohorts.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace a previous synthetic export in --out.")
    ] = False,
) -> None:
    """Write a synthetic CAR-T cohort as real export files (tidy format v1 or SDTM CSV)."""
    from pv_monitor.synthetic import OutputFolderError

    try:
        summary = synthesise(
            subjects,
            seed=seed,
            out=out,
            export_format=export_format,
            workers=workers or _default_workers(subjects),
            overwrite=overwrite,
        )
    except OutputFolderError as error:
        err_console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    _print_files(summary)


def _print_files(summary: SynthesisSummary) -> None:
    from rich.table import Table

    table = Table(title=f"{summary.export_format} export in {summary.out_dir}")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, rows in sorted(summary.rows.items()):
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(
        f"{summary.subjects:,} synthetic subjects, seed {summary.seed}, parameter set "
        f"v{summary.parameter_set}. Synthetic data: not clinical evidence."
    )


DEMO_MARKER = ".pv-monitor-demo"


def _serve(url: str, host: str, port: int, debug: bool) -> None:
    """Run the dashboard on Flask's development server (production: docs/dashboard.md)."""
    from dash_app import DashboardConfig, create_app

    dashboard = create_app(DashboardConfig.from_environment(url, debug=debug))
    console.print(
        f"Dashboard on http://{host}:{port}/ (development server; Ctrl+C stops it; for "
        "production use gunicorn as docs/dashboard.md shows)."
    )
    dashboard.run(host=host, port=port, debug=debug)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8050,
    debug: Annotated[
        bool, typer.Option("--debug", help="Dash debug mode: never on a reachable server.")
    ] = False,
) -> None:
    """Serve the dashboard (login required; add users with pv-monitor users add)."""
    from pv_monitor.store.engine import create_store_engine
    from pv_monitor.store.migrate import StoreNotReady, require_current_schema

    url = _state(ctx).database_url
    engine = create_store_engine(url)
    try:
        require_current_schema(engine)
    except StoreNotReady as error:
        err_console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    finally:
        engine.dispose()
    _serve(url, host, port, debug)


DEMO_USERS = (
    ("demo_clinician", "clinician"),
    ("demo_safety", "safety_officer"),
    ("demo_data", "data_manager"),
    ("demo_admin", "admin"),
)
"""One demo user per role; the clinician sees the first site only."""


def _demo_users(url: str) -> list[tuple[str, str, str]]:
    """Create the demo users with fresh random passwords; (name, role, password) each."""
    import secrets

    from sqlalchemy import select

    from pv_monitor.store.engine import create_store_engine, session_factory
    from pv_monitor.store.models import Site
    from pv_monitor.store.users import add_user

    made = []
    engine = create_store_engine(url)
    try:
        with session_factory(engine)() as session, session.begin():
            first_site = session.scalars(select(Site.site_id).order_by(Site.site_key)).first()
            for name, role in DEMO_USERS:
                sites = [first_site] if role == "clinician" and first_site is not None else []
                password = secrets.token_urlsafe(9)
                add_user(session, name, role, password, actor=current_actor(), site_ids=sites)
                made.append((name, role, password))
    finally:
        engine.dispose()
    return made


@app.command("demo")
def demo(
    folder: Annotated[Path, typer.Option("--dir", help="Folder for the demo's files.")] = Path(
        "pv-monitor-demo"
    ),
    subjects: Annotated[int, typer.Option("--subjects", min=1, help="Cohort size.")] = 500,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the cohort.")] = 2026,
    serve_after: Annotated[
        bool,
        typer.Option("--serve/--no-serve", help="Serve the dashboard at the end."),
    ] = True,
    port: Annotated[int, typer.Option(help="Port of the dashboard.")] = 8050,
) -> None:
    """Synthetic cohort -> real export files (tidy and SDTM) -> a fresh SQLite store, loaded
    through the ETL from the tidy export, graded and alerted -> the dashboard on
    127.0.0.1:8050 with one demo user per role."""
    import shutil

    from pv_monitor.config import sqlite_url

    if folder.exists() and any(folder.iterdir()) and not (folder / DEMO_MARKER).exists():
        err_console.print(f"[red]{folder} exists and is not a pv-monitor demo folder.[/red]")
        raise typer.Exit(2)
    if folder.exists():
        shutil.rmtree(folder)  # a demo always starts from scratch
    folder.mkdir(parents=True)
    (folder / DEMO_MARKER).write_text("created by pv-monitor demo; deleted by the next demo\n")
    console.rule("pv-monitor demo")
    exports = {}
    for export_format in ("tidy", "sdtm"):
        out = folder / "export" / export_format
        exports[export_format] = synthesise(
            subjects,
            seed=seed,
            out=out,
            export_format=export_format,
            workers=_default_workers(subjects),
            overwrite=False,
        )
        _print_files(exports[export_format])
    database = folder / "pv_monitor_demo.db"
    url = sqlite_url(database)
    before, after, counts = upgrade_store(url, actor=current_actor())
    _print_cohort(exports["tidy"].out_dir)
    console.print(f"Store: SQLite {database} (schema revision {after}, fresh: {before is None})")
    console.print(f"Approved CAR-T products seeded: {counts['inserted']}")
    console.rule("loading the tidy export through the ETL")
    from etl import load

    report = load([exports["tidy"].out_dir], "tidy", database_url=url, actor=current_actor())
    _print_load(report, None)
    if report.exit_code:
        err_console.print("[red]the synthetic export did not load cleanly[/red]")
        raise typer.Exit(1)
    console.rule("grading: daily assessments, ASTCT CRS and ICANS, episodes")
    from pv_monitor.pipeline import derived_rates, run_pipeline

    summary = run_pipeline(url, actor=current_actor())
    _print_run(summary)
    _print_rates(derived_rates(url))
    from rich.table import Table

    users = Table(title="Demo users (passwords made for this demo only)")
    for column in ("user", "role", "password"):
        users.add_column(column)
    for row in _demo_users(url):
        users.add_row(*row)
    console.print(users)
    console.print(
        "Done: synthetic exports written, loaded through the ETL, graded and alerted. The alert "
        f"queue: pv-monitor --database-url {url} alerts. The SDTM export of the same cohort "
        f"loads with: pv-monitor load {exports['sdtm'].out_dir} --format sdtm (into another "
        "store)."
    )
    if serve_after:
        _serve(url, "127.0.0.1", port, debug=False)


def _print_rates(rates: pd.DataFrame) -> None:
    """Per-product shares of subjects with derived any-grade and grade >= 3 CRS and ICANS."""
    from rich.table import Table

    table = Table(title="Derived from the raw observations (ASTCT 2019), by product")
    for column in ("product", "subjects", "CRS any", "CRS >= 3", "ICANS any", "ICANS >= 3"):
        table.add_column(column, justify="left" if column == "product" else "right")
    for row in rates.to_dict("records"):
        shares = [
            float(row[c]) for c in ("crs_any", "crs_grade3plus", "icans_any", "icans_grade3plus")
        ]
        table.add_row(str(row["product"]), str(row["subjects"]), *(f"{s:.0%}" for s in shares))
    console.print(table)


def _print_cohort(tidy_folder: Path) -> None:
    """Subjects, CRS and ICANS per product as the synthetic adverse events report them."""
    import pandas as pd
    from rich.table import Table

    from pv_monitor.reference import APPROVED_PRODUCTS

    subjects = pd.read_csv(tidy_folder / "subjects.csv", usecols=["subject_id", "product"])
    events = pd.read_csv(
        tidy_folder / "adverse_events.csv", usecols=["subject_id", "term", "grade"]
    )
    worst = events.pivot_table(index="subject_id", columns="term", values="grade", aggfunc="max")
    worst = worst.reindex(subjects["subject_id"]).fillna(0)
    brand = {name: product.brand_name for product in APPROVED_PRODUCTS for name in product.names}
    frame = pd.DataFrame(
        {
            "product": subjects["product"].map(brand).to_numpy(),
            "crs": worst.get("Cytokine release syndrome", 0),
            "icans": worst.get("Immune effector cell-associated neurotoxicity syndrome", 0),
        }
    )
    table = Table(title="Synthetic cohort by product (reported ASTCT grades)")
    for column in ("product", "subjects", "CRS any", "CRS >= 3", "ICANS any", "ICANS >= 3"):
        table.add_column(column, justify="left" if column == "product" else "right")
    for product, group in frame.groupby("product"):
        shares = [(group[s] >= g).mean() for s in ("crs", "icans") for g in (1, 3)]
        table.add_row(str(product), str(len(group)), *(f"{share:.0%}" for share in shares))
    console.print(table)
