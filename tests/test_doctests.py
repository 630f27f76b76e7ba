"""Docs are tests: every docstring example in the packages runs."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import dash
import pytest

import dash_app
import etl
import pv_monitor

SKIP = ("pv_monitor.store.migrations",)  # Alembic scripts run only inside Alembic


def _modules() -> list[str]:
    names = []
    for package in (pv_monitor, etl, dash_app):
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
            if not info.name.startswith(SKIP):
                names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples_run(module_name: str) -> None:
    if module_name.startswith("dash_app.pages.") and not dash._pages.CONFIG:
        # a page registers itself at import, which Dash allows only once an app exists: in a
        # test worker that has built no app yet, build one as create_app does
        dash.Dash(__name__, use_pages=True, pages_folder="")
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"
