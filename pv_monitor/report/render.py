"""Write a periodic signal report as self-contained HTML, PDF and XLSX, reproducibly.

The three files hold the same tables, in the same order, with the same header (data-lock
point, interval, product, database content hash, software version). Nothing in them depends on
the clock or the machine: figures are drawn with a fixed SVG hash salt and no date metadata,
the PDF is written in ReportLab's invariant mode and the workbook with a fixed creation date,
so the same inputs give byte-identical files (pharmacovigilance.md §1.3: re-runnable, identical
output for the same DLP and database snapshot).
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

SVG_HASH_SALT = "pv-monitor-report"
"""Fixed salt of the ids matplotlib writes into SVG, so the same figure gives the same bytes."""


@dataclass(frozen=True)
class ReportTable:
    """One table: a key (sheet name), a title, what it counts and a note on its definition."""

    key: str
    title: str
    counts: str
    note: str
    frame: pd.DataFrame


@dataclass(frozen=True)
class ReportFigure:
    """One chart, drawn by matplotlib, with a caption."""

    key: str
    title: str
    caption: str
    figure: Figure


@dataclass(frozen=True)
class Report:
    """A whole report: header fields in order, then tables and figures."""

    title: str
    header: dict[str, str]
    tables: Sequence[ReportTable]
    figures: Sequence[ReportFigure] = field(default_factory=tuple)


def cell_text(value: Any) -> str:
    """How a value is printed in HTML and PDF: missing as empty, numbers to 4 significant digits.

    Examples
    --------
    >>> [cell_text(v) for v in (None, float("nan"), 3, 0.123456, True, "Sepsis")]
    ['', '', '3', '0.1235', 'yes', 'Sepsis']
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    if hasattr(value, "item"):
        return cell_text(value.item())
    return str(value)


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASH_SALT}):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None}, bbox_inches="tight")
    return buffer.getvalue()


_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em; color: #1a1a1a; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #eef1f5; } td.num { text-align: right; }
p.note { font-size: 0.85em; color: #444; max-width: 60em; }
dl.header dt { font-weight: bold; float: left; clear: left; width: 14em; }
dl.header dd { margin-left: 15em; }
"""


def _html_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for value in record:
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            css = ' class="num"' if numeric else ""
            cells.append(f"<td{css}>{html.escape(cell_text(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(frame.columns)}">none</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def write_html(report: Report, path: Path) -> None:
    """One HTML file with inline CSS and SVG figures: nothing is fetched when it opens."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        '<dl class="header">',
        *(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in report.header.items()),
        "</dl>",
    ]
    for number, table in enumerate(report.tables, start=1):
        parts += [
            f'<h2 id="{table.key}">{number}. {html.escape(table.title)}</h2>',
            f'<p class="note">Counts: {html.escape(table.counts)}. {html.escape(table.note)}</p>',
            _html_table(table.frame),
        ]
    for figure in report.figures:
        parts += [
            f'<h2 id="{figure.key}">{html.escape(figure.title)}</h2>',
            _svg(figure.figure),
            f'<p class="note">{html.escape(figure.caption)}</p>',
        ]
    parts.append("</body></html>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def write_xlsx(report: Report, path: Path, created: datetime) -> None:
    """One sheet per table (named by its key) and an "about" sheet with the header.

    ``created`` is written as the workbook's creation date (use the data-lock point): with it
    fixed, XlsxWriter writes the same bytes for the same tables.
    """
    with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
        writer.book.set_properties({"title": report.title, "created": created})
        about = pd.DataFrame(
            [*report.header.items()]
            + [
                (f"table {t.key}", f"{t.title}. Counts: {t.counts}. {t.note}")
                for t in report.tables
            ],
            columns=["field", "value"],
        )
        about.to_excel(writer, sheet_name="about", index=False)
        for table in report.tables:
            table.frame.to_excel(writer, sheet_name=table.key[:31], index=False)


def write_pdf(report: Report, path: Path) -> None:
    """The same report as PDF (ReportLab, landscape A4), written in invariant mode."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import (
        Image,
        LongTable,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7, leading=8.5)
    note = styles["BodyText"].clone("note", fontSize=8, leading=10)
    story: list[Any] = [Paragraph(html.escape(report.title), styles["Title"])]
    for key, value in report.header.items():
        story.append(Paragraph(f"<b>{html.escape(key)}:</b> {html.escape(value)}", note))
    width = landscape(A4)[0] - 3 * cm
    for number, table in enumerate(report.tables, start=1):
        story += [
            Spacer(1, 0.4 * cm),
            Paragraph(f"{number}. {html.escape(table.title)}", styles["Heading2"]),
            Paragraph(f"Counts: {html.escape(table.counts)}. {html.escape(table.note)}", note),
        ]
        frame = table.frame
        data = [[Paragraph(html.escape(str(c)), small) for c in frame.columns]]
        data += [
            [Paragraph(html.escape(cell_text(v)), small) for v in record]
            for record in frame.itertuples(index=False)
        ]
        if len(data) == 1:
            data.append(
                [Paragraph("none" if i == 0 else "", small) for i in range(len(frame.columns))]
            )
        grid = LongTable(data, colWidths=[width / max(1, len(frame.columns))] * len(frame.columns),
                         repeatRows=1)  # fmt: skip
        grid.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(grid)
    for figure in report.figures:
        png = _png(figure.figure)
        inches = figure.figure.get_size_inches()
        image_width = min(width, 24 * cm)
        image = Image(io.BytesIO(png), width=image_width,
                      height=image_width * inches[1] / inches[0])  # fmt: skip
        story += [
            Spacer(1, 0.4 * cm),
            Paragraph(html.escape(figure.title), styles["Heading2"]),
            image,
            Paragraph(html.escape(figure.caption), note),
        ]
    document = SimpleDocTemplate(
        str(path),
        pagesize=landscape(A4),
        title=report.title,
        author="pv-monitor",
        leftMargin=1.5 * cm,
        rightMargin=1.5 * cm,
        topMargin=1.5 * cm,
        bottomMargin=1.5 * cm,
        invariant=1,
    )
    document.build(story)


__all__ = [
    "Report",
    "ReportFigure",
    "ReportTable",
    "cell_text",
    "write_html",
    "write_pdf",
    "write_xlsx",
]
