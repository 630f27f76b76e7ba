"""Brand, generic and code names map to one of the seven approved products."""

from __future__ import annotations

import pytest

from pv_monitor.reference import APPROVED_PRODUCTS, find_product


@pytest.mark.parametrize(
    ("name", "generic"),
    [
        ("YESCARTA", "axicabtagene ciloleucel"),
        ("Axicabtagene Ciloleucel", "axicabtagene ciloleucel"),
        ("tisa-cel", "tisagenlecleucel"),
        ("KTE-X19", "brexucabtagene autoleucel"),
        ("Carvykti", "ciltacabtagene autoleucel"),
        ("obe cel", "obecabtagene autoleucel"),
    ],
)
def test_names_map_to_one_product(name: str, generic: str) -> None:
    product = find_product(name)
    assert product is not None and product.generic_name == generic


def test_unknown_names_do_not_match() -> None:
    assert find_product("rituximab") is None


def test_seven_products_with_their_targets() -> None:
    targets = {p.short_name: p.target_antigen for p in APPROVED_PRODUCTS}
    assert targets == {
        "axi-cel": "CD19",
        "tisa-cel": "CD19",
        "liso-cel": "CD19",
        "brexu-cel": "CD19",
        "ide-cel": "BCMA",
        "cilta-cel": "BCMA",
        "obe-cel": "CD19",
    }
