"""Reference tables: studies, sites and CAR-T products."""

from __future__ import annotations

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pv_monitor.store.base import Base, Code, Key, LongText, Name


class Study(Base):
    """A trial, registry or programme whose exports are loaded."""

    __tablename__ = "study"
    __table_args__ = {"comment": "A trial, registry or programme whose exports are loaded."}

    study_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    study_key: Mapped[Key] = mapped_column(
        unique=True, comment="Study identifier as in the source (SDTM STUDYID)."
    )
    title: Mapped[Name | None] = mapped_column(comment="Study title, when known.")

    sites: Mapped[list[Site]] = relationship(back_populates="study")


class Site(Base):
    """A clinical site of a study; clinicians are scoped to sites."""

    __tablename__ = "site"
    __table_args__ = (
        UniqueConstraint("study_id", "site_key"),
        {"comment": "A clinical site of a study; clinicians see only their sites' subjects."},
    )

    site_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    study_id: Mapped[int] = mapped_column(
        ForeignKey("study.study_id"), comment="Study the site belongs to."
    )
    site_key: Mapped[Key] = mapped_column(comment="Site identifier as in the source (SITEID).")
    name: Mapped[Name | None] = mapped_column(comment="Site name, when known.")
    country: Mapped[Code | None] = mapped_column(comment="ISO 3166 country code, when known.")

    study: Mapped[Study] = relationship(back_populates="sites")


class Product(Base):
    """A CAR-T product: the seven approved ones are seeded, investigational ones are loaded."""

    __tablename__ = "product"
    __table_args__ = {"comment": "CAR-T products (approved ones seeded from pv_monitor.reference)."}

    product_id: Mapped[int] = mapped_column(primary_key=True, comment="Surrogate key.")
    generic_name: Mapped[Name] = mapped_column(
        unique=True, comment="Generic (INN) name, e.g. axicabtagene ciloleucel."
    )
    brand_name: Mapped[Name | None] = mapped_column(
        unique=True, comment="Brand name, e.g. Yescarta; empty for investigational products."
    )
    target_antigen: Mapped[Code | None] = mapped_column(
        comment="Targeted antigen, e.g. CD19 or BCMA; empty when the source does not say."
    )
    costimulatory_domain: Mapped[Code | None] = mapped_column(
        comment="Costimulatory domain, e.g. CD28 or 4-1BB."
    )
    vector: Mapped[Code | None] = mapped_column(comment="Gene-transfer vector, e.g. lentivirus.")
    is_approved: Mapped[bool] = mapped_column(
        comment="True for products with a marketing authorisation."
    )
    source: Mapped[LongText | None] = mapped_column(
        comment="Where the product facts come from (reference and evidence tag)."
    )
