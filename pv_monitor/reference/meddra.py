"""A licensed MedDRA hierarchy, read from the MedDRA ASCII distribution when one is configured.

MedDRA is licensed: pv-monitor never ships it. A site that holds a licence points
``PV_MONITOR_MEDDRA_DIR`` (or ``pv-monitor report --meddra DIR``) at the ``MedAscii`` folder of
its release; the report then places each preferred term in its primary system organ class and
orders the classes in the internationally agreed order. Without it, terms are shown as reported
and the class reads "not coded".

Files read (MedDRA ASCII, ``$``-separated, no header; MedDRA "Distribution File Format"
document): ``mdhier.asc`` (pt_code, hlt_code, hlgt_code, soc_code, pt_name, hlt_name, hlgt_name,
soc_name, soc_abbrev, null_field, pt_soc_code, primary_soc_fg) and ``intl_ord.asc``
(intl_ord_code, soc_code); the release version is read from ``meddra_release.asc`` when present
(version$language$...). The column layouts are as recalled from the MedDRA documentation and
have not been checked against a licensed release here [UNCONFIRMED].
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

MEDDRA_DIR_VARIABLE = "PV_MONITOR_MEDDRA_DIR"
HIERARCHY_COLUMNS = [
    "pt_code",
    "hlt_code",
    "hlgt_code",
    "soc_code",
    "pt_name",
    "hlt_name",
    "hlgt_name",
    "soc_name",
    "soc_abbrev",
    "null_field",
    "pt_soc_code",
    "primary_soc_fg",
]


def _read_asc(path: Path, columns: list[str]) -> pd.DataFrame:
    frame = pd.read_csv(path, sep="$", header=None, dtype=str, keep_default_na=False,
                        encoding="latin-1")  # fmt: skip
    return frame.iloc[:, : len(columns)].set_axis(columns, axis=1)


def load_hierarchy(folder: Path) -> pd.DataFrame:
    """Preferred terms with their primary SOC and the SOC's international order.

    Returns ``pt_name, soc_name, soc_order`` (one row per preferred term); a SOC missing from
    ``intl_ord.asc`` sorts last.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "mdhier.asc").write_text(
    ...     "1$2$3$100$Sepsis$h$g$Infections and infestations$Infec$$100$Y$\\n"
    ...     "1$2$3$200$Sepsis$h$g$Vascular disorders$Vasc$$100$N$\\n")
    >>> _ = (folder / "intl_ord.asc").write_text("1$100$\\n")
    >>> load_hierarchy(folder).to_dict("records")
    [{'pt_name': 'Sepsis', 'soc_name': 'Infections and infestations', 'soc_order': 1}]
    """
    hierarchy = _read_asc(folder / "mdhier.asc", HIERARCHY_COLUMNS)
    primary = hierarchy[hierarchy["primary_soc_fg"] == "Y"]
    order_file = folder / "intl_ord.asc"
    order = (
        _read_asc(order_file, ["intl_ord_code", "soc_code"]).set_index("soc_code")["intl_ord_code"]
        if order_file.exists()
        else pd.Series(dtype=str)
    )
    soc_order = pd.to_numeric(primary["soc_code"].map(order), errors="coerce").fillna(999)
    table = pd.DataFrame(
        {
            "pt_name": primary["pt_name"],
            "soc_name": primary["soc_name"],
            "soc_order": soc_order.astype(int),
        }
    )
    return table.drop_duplicates("pt_name").reset_index(drop=True)


def release_version(folder: Path) -> str:
    """The MedDRA version of the release in ``folder`` ("version not stated" when unknown)."""
    release = folder / "meddra_release.asc"
    if not release.exists():
        return "MedDRA (version not stated)"
    first = release.read_text(encoding="latin-1").split("$")[0].strip()
    return f"MedDRA {first}" if first else "MedDRA (version not stated)"


def configured_folder(folder: Path | None = None) -> Path | None:
    """The MedDRA folder given, else ``PV_MONITOR_MEDDRA_DIR``, else None."""
    if folder is not None:
        return folder
    value = os.environ.get(MEDDRA_DIR_VARIABLE)
    return Path(value) if value else None


__all__ = ["MEDDRA_DIR_VARIABLE", "configured_folder", "load_hierarchy", "release_version"]
