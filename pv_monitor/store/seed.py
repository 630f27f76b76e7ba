"""Reference data the store needs before anything is loaded: the approved CAR-T products.

Schema changes go through Alembic; reference *rows* are synchronised here, idempotently, after
every ``pv-monitor db upgrade``, and each insertion or correction is written to the audit trail.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pv_monitor.reference import APPROVED_PRODUCTS
from pv_monitor.reference.products import Product as ProductFacts
from pv_monitor.store.audit import audited_insert, audited_update
from pv_monitor.store.models import Product


def approved_product_values(fact: ProductFacts) -> dict[str, object]:
    """The ``product`` row of an approved product, from the reference facts."""
    return {
        "generic_name": fact.generic_name,
        "brand_name": fact.brand_name,
        "target_antigen": fact.target_antigen,
        "costimulatory_domain": fact.costimulatory_domain,
        "vector": fact.vector,
        "is_approved": True,
        "source": fact.evidence,
    }


def sync_products(session: Session, *, actor: str) -> dict[str, int]:
    """Insert missing approved products and correct changed facts; return counts.

    Examples
    --------
    >>> from pv_monitor.store.engine import create_store_engine
    >>> from pv_monitor.store.base import Base
    >>> engine = create_store_engine("sqlite://")
    >>> Base.metadata.create_all(engine)
    >>> with Session(engine) as session:
    ...     first = sync_products(session, actor="doctest")
    ...     again = sync_products(session, actor="doctest")
    >>> first, again
    ({'inserted': 7, 'updated': 0}, {'inserted': 0, 'updated': 0})
    """
    existing = {p.generic_name: p for p in session.scalars(select(Product))}
    counts = {"inserted": 0, "updated": 0}
    for fact in APPROVED_PRODUCTS:
        values = approved_product_values(fact)
        row = existing.get(fact.generic_name)
        if row is None:
            audited_insert(session, Product(**values), actor=actor, reason="reference data")
            counts["inserted"] += 1
        elif audited_update(
            session, row, values, actor=actor, reason="reference data updated with pv-monitor"
        ):
            counts["updated"] += 1
    return counts
