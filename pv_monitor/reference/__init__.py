"""Reference facts with their sources: products and pivotal-trial toxicity rates.

Pure: no store, no I/O beyond reading the package's own data files.
"""

from pv_monitor.reference.products import APPROVED_PRODUCTS, Product, find_product
from pv_monitor.reference.trials import PIVOTAL_RATES_VERSION, load_pivotal_rates

__all__ = [
    "APPROVED_PRODUCTS",
    "PIVOTAL_RATES_VERSION",
    "Product",
    "find_product",
    "load_pivotal_rates",
]
