"""Tables as self-describing rows: each row of a table is written as one line of the parsed text
that names its columns, under the table's title, so every chunk, BM25 posting, embedding and
quote of a row carries its headers:

    Sheet "Segments 2023" — Zone NA; January–June 2023 / Sales: 12553; January–June 2023 / Trading operating profit: 2632

Why this format: `name: value` pairs separated by `; ` read as plain language to a model, a
person and the BM25 tokenizer alike (a Markdown table repeats no header in its rows; JSON
spends tokens on quotes and braces); the title leads every row (a quote of one row still says
which sheet or table it is from, e.g. which year); the first column's value (the row header,
"Zone NA") comes first, bare when its column has no name; empty cells are left out, and a
column label made of several header rows joins them top-down with ` / `.

What is a header:
- header rows marked in the source (`<thead>`, rows of `<th>` cells) are the header;
- otherwise the first row is the header when its cells read as labels: none past the first
  starts with a number (a year such as 2023 does not count), none is sentence-long, and the
  first is no bullet or list marker ("(1)"); the rows below it are also header rows (at most 3 in all) while the row
  above them has gaps or spanned cells (a group label such as a period over several columns)
  and they hold no number either;
- an upper header row's empty cell takes the nearest label on its right (period labels stand
  right-aligned over their number columns in spreadsheets and statements); cells spanned with
  colspan/rowspan repeat their text; an upper label that then covers every column but the first
  ("January–June 2023"), or stands alone in its row, is said once, after the title, instead of
  in every column name;
- a table whose first row does not read as labels has no header: its rows are kept as they
  are, `a | b | c`, under its sheet's title (when in doubt, a row as it is misleads no one); so are single-row tables, and layout tables (HTML rows of
  different widths, such as a form's cover page), which get no title.

Cell text is normalised: literal `\\n`/`\\t` escapes (spreadsheets exported to HTML keep
them) and line breaks become spaces, runs of whitespace collapse. Nothing here touches the
database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import lxml.html

COLUMN_SEPARATOR = "; "
LEVEL_SEPARATOR = " / "
RAW_CELL_SEPARATOR = " | "
TITLE_SEPARATOR = " — "
MAX_HEADER_ROWS = 3
MAX_SPAN = 1000
CAPTION_MAX_CHARS = 120
PREVIEW_ROWS = 20
PREVIEW_CELL_CHARS = 200

_ESCAPES = re.compile(r"\\[nrt]")
# A number as tables print them: signs, currency, thousands separators, decimals, per cent,
# accounting parentheses; a dash alone stands for nil.
_NUMBER = re.compile(r"^[(+\-−–]?\s*[$€£¥]?\s*\d[\d,.'\s]*%?\)?$|^[—–-]$")
# A label does not start with a quantity ("4 - 20 years", "12.5 kg"); a year may lead one.
_QUANTITY = re.compile(r"^[(+\-−–]?\s*[$€£¥]?\s*\d[\d,.]*(?:\s|%|$)")
_YEAR = re.compile(r"^(19|20)\d\d\b")
HEADER_CELL_MAX_CHARS = 80
# A bullet, check box or footnote/list marker ("•", "☐", "(1)", "a.", "iv)") in the first cell:
# a list laid out as a table.
_MARKER = re.compile(r"^(?:[^\w\s]|\(?[0-9a-zA-Z]{1,4}[.)])$")


@dataclass(frozen=True)
class TableGrid:
    """A table's cells, row by row, every row as wide as the widest, with what is known of it.

    `header_rows`: how many leading rows are the header (None: not said by the source, decided by
    `header_row_count`); `ragged`: the source's rows had different widths; `title`: what the
    rows are written under (`Sheet "…"`, `Table "…"`), empty when nothing names the table."""

    rows: list[list[str]]
    header_rows: int | None = None
    ragged: bool = False
    title: str = ""


def normalise_cell(text: str) -> str:
    return " ".join(_ESCAPES.sub(" ", text.replace("\x00", "")).split())


def grid_from_rows(rows: list[list[str]], *, title: str = "") -> TableGrid:
    """A grid of plain rows (CSV): cells normalised, empty rows and columns dropped, rows padded."""
    return TableGrid(rows=_compact([[normalise_cell(c) for c in row] for row in rows]), title=title)


def grid_from_html(html: str, *, title: str = "") -> TableGrid | None:
    """The grid of an HTML `<table>` (unstructured's `text_as_html`), spans expanded; None when
    it holds no text. A nested table's text stays inside its cell."""
    try:
        table = lxml.html.fragment_fromstring(html, create_parent=False)
    except Exception:  # lxml raises several types for markup it cannot read at all
        return None
    if table.tag != "table":
        found = table.find(".//table")
        if found is None:
            return None
        table = found
    trs = table.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr")
    rows, widths = _expand_spans(trs)
    compact = _compact(rows)
    if not compact:
        return None
    header = len(table.xpath("./thead/tr")) or _leading_th_rows(trs)
    return TableGrid(rows=compact, header_rows=header or None,
                     ragged=len({w for w, row in zip(widths, rows) if any(row)}) > 1, title=title)


def _expand_spans(trs: list[Any]) -> tuple[list[list[str]], list[int]]:
    pending: dict[tuple[int, int], str] = {}
    rows: list[list[str]] = []
    widths: list[int] = []
    for r, tr in enumerate(trs):
        row: list[str] = []
        for cell in tr.xpath("./td | ./th"):
            while (r, len(row)) in pending:
                row.append(pending.pop((r, len(row))))
            text = normalise_cell(cell.text_content())
            for _ in range(_span(cell.get("colspan"))):
                for below in range(1, _span(cell.get("rowspan"))):
                    pending[(r + below, len(row))] = text
                row.append(text)
        while (r, len(row)) in pending:
            row.append(pending.pop((r, len(row))))
        rows.append(row)
        widths.append(len(row))
    return rows, widths


def _span(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), MAX_SPAN))
    except ValueError:
        return 1


def _leading_th_rows(trs: list[Any]) -> int:
    count = 0
    for tr in trs:
        cells = tr.xpath("./td | ./th")
        if not cells or any(c.tag != "th" for c in cells):
            break
        count += 1
    return count


def _compact(rows: list[list[str]]) -> list[list[str]]:
    """Rows without empty rows and without columns empty in every row, padded to one width."""
    rows = [row for row in rows if any(row)]
    width = max((len(row) for row in rows), default=0)
    padded = [row + [""] * (width - len(row)) for row in rows]
    keep = [j for j in range(width) if any(row[j] for row in padded)]
    return [[row[j] for j in keep] for row in padded]


# -- header ----------------------------------------------------------------------------------


def _is_quantity(cell: str) -> bool:
    return bool(_NUMBER.match(cell) or _QUANTITY.match(cell)) and not _YEAR.match(cell)


def header_like(row: list[str]) -> bool:
    """A row of labels: no cell past the first starts with a number (years excepted), none is a
    sentence-long text, and the first is no list marker (a list laid out as a table)."""
    if not any(row) or _MARKER.match(row[0]):
        return False
    return not any(_is_quantity(cell) or len(cell) > HEADER_CELL_MAX_CHARS for cell in row[1:])


def _has_gaps_or_spans(row: list[str]) -> bool:
    rest = row[1:]
    return any(not cell for cell in rest) or any(a and a == b for a, b in zip(rest, rest[1:]))


def header_row_count(grid: TableGrid) -> int:
    """How many leading rows of `grid` are its header (0: none); at least one row is left below."""
    rows = grid.rows
    if len(rows) < 2 or len(rows[0]) < 2:
        return 0
    if grid.header_rows is not None:
        return min(grid.header_rows, len(rows) - 1)
    if grid.ragged or not header_like(rows[0]):
        return 0
    count = 1
    while count < min(MAX_HEADER_ROWS, len(rows) - 1) and _has_gaps_or_spans(rows[count - 1]) \
            and header_like(rows[count]):
        count += 1
    return count


def is_header_only(grid: TableGrid) -> bool:
    """A short table of labels only: the header that unstructured cut off a spreadsheet's table."""
    return not grid.ragged and len(grid.rows) <= MAX_HEADER_ROWS and all(header_like(r) for r in grid.rows)


def stack(header: TableGrid, body: TableGrid) -> TableGrid:
    """`header`'s rows on top of `body`'s, as one table whose header is `header`'s rows."""
    width = max(len(header.rows[0]), len(body.rows[0]))
    rows = [row + [""] * (width - len(row)) for row in header.rows + body.rows]
    return TableGrid(rows=_compact(rows), header_rows=len(header.rows), title=body.title or header.title)


def column_names(grid: TableGrid, header_rows: int) -> tuple[list[str], list[str]]:
    """Each column's label (its header cells top-down, upper rows' gaps filled from the right),
    and the labels said once, after the title, instead: an upper header row's label that covers
    every column but the first (a period over the whole table), or that is alone in its row."""
    upper = [_fill_from_right(row) for row in grid.rows[: header_rows - 1]]
    shared: list[str] = []
    levels: list[list[str]] = []
    for row in upper:
        if not any(row[1:]):  # a title row above the column names ("Stanley Cups")
            shared.append(row[0])
        elif row[1] and len(set(row[1:])) == 1:
            shared.append(row[1])
            # the first column keeps its own label from it ("In millions of CHF")
            levels.append([row[0]] + [""] * (len(row) - 1))
        else:
            levels.append(row)
    levels.append(grid.rows[header_rows - 1])
    names: list[str] = []
    for j in range(len(grid.rows[0])):
        parts: list[str] = []
        for row in levels:
            if row[j] and (not parts or parts[-1] != row[j]):
                parts.append(row[j])
        names.append(LEVEL_SEPARATOR.join(parts) if parts or j == 0 else f"Column {j + 1}")
    return names, shared


def _fill_from_right(row: list[str]) -> list[str]:
    filled = list(row)
    label = ""
    for j in range(len(row) - 1, 0, -1):  # the first column (the row headers' label) is not filled
        label = row[j] or label
        filled[j] = label
    return filled


# -- rendering -------------------------------------------------------------------------------


def caption(text: str) -> str:
    """`Table "…"` for a short line just above a table that reads as its caption, else ""."""
    line = " ".join(text.split()).rstrip(":")
    # A sentence, or a form's field label "(Address of …)", is no caption.
    if not 3 <= len(line) <= CAPTION_MAX_CHARS or line.endswith(".") or (line[0] == "(" and line[-1] == ")"):
        return ""
    return f'Table "{line}"'


def render(grid: TableGrid) -> str:
    """The table's lines in the parsed text: one per data row (see the module docstring)."""
    header_rows = header_row_count(grid)
    if header_rows == 0:
        prefix = f"{grid.title}{TITLE_SEPARATOR}" if grid.title and not grid.ragged else ""
        return "\n".join(prefix + RAW_CELL_SEPARATOR.join(_without_trailing_blanks(row)) for row in grid.rows)
    names, shared = column_names(grid, header_rows)
    prefix = "".join(f"{part}{TITLE_SEPARATOR}" for part in [grid.title, *shared] if part)
    lines = []
    for row in grid.rows[header_rows:]:
        cells = [f"{name}: {cell}" if name else cell for name, cell in zip(names, row) if cell]
        lines.append(prefix + COLUMN_SEPARATOR.join(cells))
    return "\n".join(lines)


def _without_trailing_blanks(row: list[str]) -> list[str]:
    end = len(row)
    while end > 1 and not row[end - 1]:
        end -= 1
    return row[:end]


def preview(grid: TableGrid) -> dict[str, Any]:
    """What the document page shows of a table: title, column names, the first rows."""
    header_rows = header_row_count(grid)
    names, shared = column_names(grid, header_rows) if header_rows else ([], [])
    body = grid.rows[header_rows:]
    return {
        "title": TITLE_SEPARATOR.join(part for part in [grid.title, *shared] if part),
        "columns": names,
        "rows": [[cell[:PREVIEW_CELL_CHARS] for cell in row] for row in body[:PREVIEW_ROWS]],
        "row_count": len(body),
    }


def with_title(grid: TableGrid, title: str) -> TableGrid:
    return grid if grid.title or not title else replace(grid, title=title)
