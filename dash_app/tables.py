"""Plain HTML tables of a frame; every cell is text (Dash escapes it, never renders HTML).

Examples
--------
>>> import pandas as pd
>>> table = text_table(pd.DataFrame({"a": [1, None]}), {"a": "A"})
>>> [cell.children for cell in table.children[1].children[1].children]
['']
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from dash import html


def text_table(frame: pd.DataFrame, labels: Mapping[str, str] | None = None) -> html.Table:
    """``frame``'s columns (those of ``labels``, headed by its values, when given) as a table;
    missing values are empty cells."""
    columns = dict(labels) if labels is not None else {str(c): str(c) for c in frame.columns}
    head = html.Thead(html.Tr([html.Th(label) for label in columns.values()]))
    body = html.Tbody(
        [
            html.Tr([html.Td("" if pd.isna(row[c]) else str(row[c])) for c in columns])
            for row in frame.to_dict("records")
        ]
    )
    return html.Table([head, body])
