"""The seven approved CAR-T products (clinical.md §7.1) and the names they go by.

Brand, generic and development-code names all map to one product, so that FAERS drug names,
SDTM ``EXTRT`` and site spreadsheets name the same thing. Targets and costimulatory domains are
[C] in clinical.md; the development codes (``aliases``) are from general knowledge
[UNCONFIRMED], as real_data.md §4 says of the FAERS names, and only widen matching.

Examples
--------
>>> find_product("YESCARTA").generic_name
'axicabtagene ciloleucel'
>>> find_product("cilta-cel").target_antigen
'BCMA'
>>> find_product("aspirin") is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    """An approved CAR-T product.

    ``evidence`` carries the clinical.md tag of facts that were not confirmed from a source
    ([UNCONFIRMED] for some vectors); the store keeps it in ``product.source``.
    """

    generic_name: str
    brand_name: str
    short_name: str
    target_antigen: str
    costimulatory_domain: str
    vector: str
    aliases: tuple[str, ...]
    evidence: str

    @property
    def names(self) -> tuple[str, ...]:
        """Every name this product is known by."""
        return (self.generic_name, self.brand_name, self.short_name, *self.aliases)


_SOURCE = "clinical.md §7.1 (ASH view-large 10062344, 11527903; PMC10647582; FELIX papers)"

APPROVED_PRODUCTS: tuple[Product, ...] = (
    Product(
        "axicabtagene ciloleucel",
        "Yescarta",
        "axi-cel",
        "CD19",
        "CD28",
        "retrovirus",
        ("KTE-C19",),
        f"[C] {_SOURCE}",
    ),
    Product(
        "tisagenlecleucel",
        "Kymriah",
        "tisa-cel",
        "CD19",
        "4-1BB",
        "lentivirus",
        ("CTL019",),
        f"[C] {_SOURCE}",
    ),
    Product(
        "lisocabtagene maraleucel",
        "Breyanzi",
        "liso-cel",
        "CD19",
        "4-1BB",
        "lentivirus",
        ("JCAR017",),
        f"[C] {_SOURCE}",
    ),
    Product(
        "brexucabtagene autoleucel",
        "Tecartus",
        "brexu-cel",
        "CD19",
        "CD28",
        "retrovirus",
        ("KTE-X19",),
        f"[C] target/domain; vector [UNCONFIRMED]; {_SOURCE}",
    ),
    Product(
        "idecabtagene vicleucel",
        "Abecma",
        "ide-cel",
        "BCMA",
        "4-1BB",
        "lentivirus",
        ("bb2121",),
        f"[C] target/domain; vector [UNCONFIRMED]; {_SOURCE}",
    ),
    Product(
        "ciltacabtagene autoleucel",
        "Carvykti",
        "cilta-cel",
        "BCMA",
        "4-1BB",
        "lentivirus",
        ("JNJ-68284528", "LCAR-B38M"),
        f"[C] target/domain; vector [UNCONFIRMED]; {_SOURCE}",
    ),
    Product(
        "obecabtagene autoleucel",
        "Aucatzyl",
        "obe-cel",
        "CD19",
        "4-1BB",
        "lentivirus",
        ("AUTO1",),
        f"[C] target/domain; vector [UNCONFIRMED]; {_SOURCE}",
    ),
)


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_NAME = {_normalise(name): p for p in APPROVED_PRODUCTS for name in p.names}


def find_product(name: str) -> Product | None:
    """The approved product a name refers to (case, spaces and hyphens ignored), or None."""
    return _BY_NAME.get(_normalise(name))
