"""The relational store: models, engine and sessions, migrations, audit trail, DDL.

Only this package talks SQL (architecture.md, layering rules).
"""

from pv_monitor.store.engine import StoreConfigurationError, create_store_engine, session_factory

__all__ = ["StoreConfigurationError", "create_store_engine", "session_factory"]
