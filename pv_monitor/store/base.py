"""Declarative base, constraint naming convention and reusable column types of the store.

Every table inherits :class:`Base`. Constraint names are deterministic (``pk_<table>``,
``fk_<table>_<column>_<referred table>``, ...) so that Alembic autogenerate output is stable and
the generated DDL in ``sql/`` does not churn.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase

from pv_monitor.store.types import UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Column vocabularies: models read as domain words, not SQL types.
Code = Annotated[str, "code"]
"""A controlled-vocabulary value (observation code, status, role): up to 32 characters."""
Key = Annotated[str, "key"]
"""A natural or pseudonymous key from a source (subject key, site key, case id): up to 64."""
SourceKey = Annotated[str, "source_key"]
"""The identity of a loaded row within its source: up to 255 characters."""
Name = Annotated[str, "name"]
"""A human-readable name or term: up to 255 characters."""
LongText = Annotated[str, "text"]
"""Unbounded free text (reasons, comments, verbatim source values)."""
Sha256 = Annotated[str, "sha256"]
"""A lower-case hexadecimal SHA-256 digest."""
Timestamp = Annotated[datetime, "utc"]
"""A system time stamp, always UTC and timezone-aware."""
ClinicalDateTime = Annotated[datetime, "clinical"]
"""A clinical date-time as recorded at the site (no time zone in the source)."""
JsonValue = Annotated[Any, "json"]
"""A JSON document (evidence, inputs, statistics)."""
BigId = Annotated[int, "bigid"]
"""A surrogate key of a high-volume table: BIGINT on PostgreSQL, INTEGER (the rowid) on SQLite."""


class Base(DeclarativeBase):
    """Declarative base of every pv-monitor table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        Code: String(32),
        Key: String(64),
        SourceKey: String(255),
        Name: String(255),
        LongText: Text(),
        Sha256: String(64),
        Timestamp: UtcDateTime(),
        ClinicalDateTime: DateTime(timezone=False),
        JsonValue: JSON(),
        BigId: BigInteger().with_variant(Integer(), "sqlite"),
        date: Date(),
    }

    def __repr__(self) -> str:
        """Show the class and primary key, never clinical values (privacy)."""
        mapper = self.__mapper__
        keys = ", ".join(
            f"{attribute.key}={getattr(self, attribute.key, None)!r}"
            for attribute in (mapper.get_property_by_column(c) for c in mapper.primary_key)
        )
        return f"{type(self).__name__}({keys})"
