"""ETL: read trial exports, validate them, normalise codes, units and dates, load one batch.

The loaders arrive with the ETL issue; this package exists so that installation, imports and
the layering test cover it from the first commit.
"""

__all__: list[str] = []
