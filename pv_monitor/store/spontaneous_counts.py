"""The disproportionality counts table from the store's spontaneous reports, built in SQL.

:func:`spontaneous_counts` returns the input of
:func:`pv_monitor.signals.disproportionality.disproportionality`. The joins, the distinct
counts and the grouping run in the database (SQLite or PostgreSQL). Python only shapes the
resulting rows into a DataFrame. Definitions (``docs/disproportionality.md``):

* **Report**: the latest loaded version of a case (``icsr_case.is_latest``). Earlier
  versions of the case are not counted. With a received-date interval, only reports whose
  ``fda_received_date`` falls in it (both ends included) count, so a report without a date
  counts only when no interval is given. Only reports that name at least one drug and at
  least one reaction count, in the margins as well as in the pairs: a report without both
  cannot contribute a product-event pair. This is how openEBGM's ``processRaw`` counts, since
  its rows are (report, product, event).
* **Product**: the normalised product's generic name (``product.generic_name``) when
  ``icsr_drug.product_id`` is set, so the brand and generic names of a CAR-T product count as
  one product. Otherwise the verbatim drug name, trimmed and upper-cased. A report that names
  the same product on several drug lines counts once.
* **Event**: the MedDRA preferred term, trimmed and upper-cased. The ETL already treats terms
  that differ only in case as one term within a report; upper-casing applies the same rule
  across reports and quarters.
* **Counts**: ``a`` is the number of reports naming both the product and the event.
  ``product_reports``, ``event_reports`` and ``total_reports`` are the reports naming the
  product, naming the event, and all reports. With ``stratify_by``, every count is taken
  within the stratum.
* **Strata**: ``sex`` gives ``F``, ``M`` and ``UNK`` (FAERS ``sex``; empty and anything else
  become ``UNK``). ``age_band`` gives :data:`AGE_BANDS`, with the age converted to years from
  FAERS ``age_cod`` (:data:`AGE_UNIT_YEARS`), and ``unknown`` when the age or its unit is
  missing, not a FAERS unit, negative or over 150 years.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, and_, case, exists, func, literal, select, true
from sqlalchemy.orm import Session

from pv_monitor.signals.disproportionality import COUNT_COLUMNS, STRATUM
from pv_monitor.store.models import IcsrCase, IcsrDrug, IcsrReaction, Product
from pv_monitor.store.pipeline_io import read_frame

Stratification = Literal["sex", "age_band"]
STRATIFICATIONS: tuple[Stratification, ...] = ("sex", "age_band")
AGE_UNIT_YEARS = {
    "YR": 1.0,
    "DEC": 10.0,
    "MON": 1 / 12,
    "WK": 7 / 365.25,
    "DY": 1 / 365.25,
    "HR": 1 / (24 * 365.25),
}
"""Years per unit of FAERS ``age_cod`` (decade, year, month, week, day, hour)."""
AGE_BANDS = ((0.0, "<18"), (18.0, "18-64"), (65.0, "65-74"), (75.0, ">=75"))
"""Lower edge (years, included) and label of each age band. 18 separates the paediatric
population (ICH E11) and 65 the geriatric one (ICH E7). The over-65s are split at 75 because
CAR-T recipients are often old."""
UNKNOWN_AGE = "unknown"
UNKNOWN_SEX = "UNK"
MAX_AGE_YEARS = 150.0


def _stratum(stratify_by: Stratification) -> ColumnElement[Any]:
    """The stratum of a report, never NULL (a NULL would not join to its margins)."""
    if stratify_by == "sex":
        sex = func.upper(func.trim(IcsrCase.sex))
        return case((sex.in_(("F", "M")), sex), else_=literal(UNKNOWN_SEX))
    unit = func.upper(func.trim(IcsrCase.age_unit))
    years = case(
        *((unit == code, IcsrCase.age * factor) for code, factor in AGE_UNIT_YEARS.items()),
        else_=None,
    )
    bands = [
        (years.is_(None), literal(UNKNOWN_AGE)),
        (years < 0, literal(UNKNOWN_AGE)),
        (years > MAX_AGE_YEARS, literal(UNKNOWN_AGE)),
    ]
    bands += [(years >= edge, literal(label)) for edge, label in reversed(AGE_BANDS[1:])]
    return case(*bands, else_=literal(AGE_BANDS[0][1]))


def spontaneous_counts(
    session: Session,
    *,
    received_from: date | None = None,
    received_to: date | None = None,
    stratify_by: Stratification | None = None,
) -> pd.DataFrame:
    """The product-event counts table of the store's spontaneous reports.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        An open session on the store.
    received_from, received_to : datetime.date, optional
        Count only reports received by FDA (``fda_received_date``) on or after
        ``received_from`` and on or before ``received_to``.
    stratify_by : {"sex", "age_band"}, optional
        Count within strata of the report's sex or age band (module docstring).

    Returns
    -------
    pandas.DataFrame
        Columns ``product``, ``event``, (``stratum``,) ``a``, ``product_reports``,
        ``event_reports``, ``total_reports`` (:data:`COUNT_COLUMNS`), one row per pair (and
        stratum) with ``a >= 1``, sorted by product, event (and stratum) in code-point order
        (the same on both backends); integer counts.

    Raises
    ------
    ValueError
        If ``stratify_by`` is not one of :data:`STRATIFICATIONS`, or the interval ends
        before it starts.

    Examples
    --------
    >>> from sqlalchemy.orm import Session
    >>> from pv_monitor.store.base import Base
    >>> from pv_monitor.store.engine import create_store_engine
    >>> engine = create_store_engine("sqlite://")
    >>> Base.metadata.create_all(engine)
    >>> with Session(engine) as session:
    ...     spontaneous_counts(session).empty
    True
    """
    if stratify_by is not None and stratify_by not in STRATIFICATIONS:
        raise ValueError(f"stratify_by must be one of {STRATIFICATIONS}, not {stratify_by!r}")
    if received_from and received_to and received_to < received_from:
        raise ValueError("received_to is before received_from")

    has_drug = exists().where(IcsrDrug.icsr_case_id == IcsrCase.icsr_case_id)
    has_reaction = exists().where(IcsrReaction.icsr_case_id == IcsrCase.icsr_case_id)
    conditions = [IcsrCase.is_latest.is_(True), has_drug, has_reaction]
    if received_from is not None:
        conditions.append(IcsrCase.fda_received_date >= received_from)
    if received_to is not None:
        conditions.append(IcsrCase.fda_received_date <= received_to)
    report_columns = [IcsrCase.icsr_case_id.label("case_id")]
    if stratify_by is not None:
        report_columns.append(_stratum(stratify_by).label(STRATUM))
    reports = select(*report_columns).where(and_(*conditions)).cte("reports")

    product = case(
        (IcsrDrug.product_id.is_not(None), Product.generic_name),
        else_=func.upper(func.trim(IcsrDrug.drug_name)),
    )
    drugs = (
        select(IcsrDrug.icsr_case_id.label("case_id"), product.label("product"))
        .join(reports, reports.c.case_id == IcsrDrug.icsr_case_id)
        .outerjoin(Product, Product.product_id == IcsrDrug.product_id)
        .distinct()
        .cte("drugs")
    )
    events = (
        select(
            IcsrReaction.icsr_case_id.label("case_id"),
            func.upper(func.trim(IcsrReaction.preferred_term)).label("event"),
        )
        .join(reports, reports.c.case_id == IcsrReaction.icsr_case_id)
        .distinct()
        .cte("events")
    )

    stratified = stratify_by is not None
    strata = [reports.c[STRATUM]] if stratified else []
    pairs_from = drugs.join(events, events.c.case_id == drugs.c.case_id)
    if stratified:
        pairs_from = pairs_from.join(reports, reports.c.case_id == drugs.c.case_id)
    pairs = (
        select(drugs.c.product, events.c.event, *strata, func.count().label("a"))
        .select_from(pairs_from)
        .group_by(drugs.c.product, events.c.event, *strata)
        .subquery("pairs")
    )
    by_product = (
        select(drugs.c.product, *strata, func.count().label("product_reports"))
        .join(reports, reports.c.case_id == drugs.c.case_id)
        .group_by(drugs.c.product, *strata)
        .subquery("by_product")
    )
    by_event = (
        select(events.c.event, *strata, func.count().label("event_reports"))
        .join(reports, reports.c.case_id == events.c.case_id)
        .group_by(events.c.event, *strata)
        .subquery("by_event")
    )
    totals = (
        select(*strata, func.count().label("total_reports"))
        .select_from(reports)
        .group_by(*strata)
        .subquery("totals")
    )

    def in_stratum(other: Any) -> ColumnElement[bool]:
        return other.c[STRATUM] == pairs.c[STRATUM] if stratified else true()

    query = (
        select(
            pairs.c.product,
            pairs.c.event,
            *([pairs.c[STRATUM]] if stratified else []),
            pairs.c.a,
            by_product.c.product_reports,
            by_event.c.event_reports,
            totals.c.total_reports,
        )
        .join(by_product, and_(by_product.c.product == pairs.c.product, in_stratum(by_product)))
        .join(by_event, and_(by_event.c.event == pairs.c.event, in_stratum(by_event)))
        .join(totals, in_stratum(totals))
    )
    keys = ["product", "event", *([STRATUM] if stratified else [])]
    frame = read_frame(session, query).reindex(columns=[*keys, *COUNT_COLUMNS[2:]])
    for column in COUNT_COLUMNS[2:]:
        frame[column] = frame[column].astype(np.int64)
    # sorted here, not by ORDER BY: SQLite and PostgreSQL collate text differently
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


__all__ = ["AGE_BANDS", "AGE_UNIT_YEARS", "STRATIFICATIONS", "spontaneous_counts"]
