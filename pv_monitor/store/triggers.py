"""Database triggers that make history tables append-only.

The audit trail (``audit_log``) and the workflow histories (``alert_event``, ``signal_event``)
must never change once written (21 CFR 11.10(e): "changes must not obscure earlier
information"; pharmacovigilance.md §5.7 and §8). A ``BEFORE UPDATE OR DELETE`` trigger raises, on
PostgreSQL and on SQLite; on PostgreSQL ``TRUNCATE`` is refused too.

The SQL below is the one place these triggers are written: the models attach it to
``CREATE TABLE`` (so ``sql/`` DDL and ``metadata.create_all`` carry it) and the migrations execute
it (so ``pv-monitor db upgrade`` installs it).
"""

from __future__ import annotations

from sqlalchemy import DDL, Table, event

APPEND_ONLY_TABLES = ("audit_log", "alert_event", "signal_event")

POSTGRESQL_FUNCTION = """\
CREATE OR REPLACE FUNCTION pv_monitor_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$"""


def postgresql_triggers(table: str) -> list[str]:
    """Statements that make ``table`` append-only on PostgreSQL (function created separately)."""
    return [
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION pv_monitor_refuse_change()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION pv_monitor_refuse_change()",
    ]


def sqlite_triggers(table: str) -> list[str]:
    """Statements that make ``table`` append-only on SQLite."""
    return [
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} is not allowed'); END"
        for op in ("UPDATE", "DELETE")
    ]


def _ddl(statement: str) -> DDL:
    return DDL(statement)  # type: ignore[no-untyped-call]  # DDL.__init__ is unannotated


def make_append_only(table: Table) -> None:
    """Attach the append-only triggers to ``table``'s ``CREATE TABLE`` on both dialects."""
    # DDL() %-formats its text with the table context, hence the doubled percent signs.
    postgresql = [POSTGRESQL_FUNCTION.replace("%", "%%"), *postgresql_triggers(table.name)]
    statements = [_ddl(s).execute_if(dialect="postgresql") for s in postgresql]
    statements += [_ddl(s).execute_if(dialect="sqlite") for s in sqlite_triggers(table.name)]
    for statement in statements:
        event.listen(table, "after_create", statement)
