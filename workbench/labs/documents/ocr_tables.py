"""Result tables in pictures (photos, scans, image-only PDF pages): OCR boxes -> lines -> columns -> rows.

The boxes come from `ocr_text`. Boxes whose vertical centres agree within half a text height form a line.
The header line ("Test | Result | Unit | Reference range") gives the columns: a box goes to the column
whose header spans its centre, else to the column whose header starts left of it (tables are left-aligned);
a box that reaches into the next column with a number or flag ("Low 13.0-17.0") is cut at its spaces.
Flags printed in a column without a header get a column of their own. A sentence across the columns
("Clinical notes: ...") ends the table. Without any header line, columns are guessed from where boxes
start (x-gap clustering) and named from their content. The grid then goes through the same row logic as
the PDF readers (`rows.parse_grid`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from statistics import median
from typing import Any

import numpy as np

from ...ecg.image.device_text.tokens import fix_digits
from .ocr_text import PageText, TextBox, read_marks, read_text
from .rows import BBox, Cell, GridState, Origin, ParsedGrid, header_roles, is_flag, is_footer, parse_grid

__all__ = ["ImageRows", "group_lines", "read_image_rows"]

_LAZY = True  # read boxes alone on their line only where the tables need them (`_settle`)


@dataclass
class ImageRows:
    """What one picture gave: rows, the text lines above the first table (the report header), notes."""

    parsed: ParsedGrid = field(default_factory=ParsedGrid)
    header_lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    boxes: int = 0


# ====================================================================== lines and columns
def group_lines(boxes: list[TextBox]) -> list[list[TextBox]]:
    """Boxes grouped into text lines (top to bottom), each line left to right."""
    lines: list[list[TextBox]] = []
    for box in sorted(boxes, key=lambda b: b.yc):
        if lines:
            line = lines[-1]
            yc = median(b.yc for b in line)
            h = median(b.height for b in line)
            if abs(box.yc - yc) <= 0.5 * min(box.height, h):
                line.append(box)
                continue
        lines.append([box])
    return [sorted(line, key=lambda b: b.x0) for line in lines]


@dataclass
class _Column:
    x0: float
    x1: float
    header: str  # header text ("" for a column found without a header word)


def _tokens(box: TextBox) -> list[tuple[str, float, float]]:
    """The box's words with their estimated x-range (characters are taken as equally wide)."""
    text = box.text
    n = max(1, len(text))
    width = box.x1 - box.x0
    out = []
    for m in re.finditer(r"\S+", text):
        out.append((m.group(0), box.x0 + width * m.start() / n, box.x0 + width * m.end() / n))
    return out


def _column_of(xc: float, columns: list[_Column]) -> int:
    for k, col in enumerate(columns):
        if col.x0 <= xc <= col.x1:
            return k
    left = [k for k, col in enumerate(columns) if col.x0 <= xc]
    return left[-1] if left else 0


def _is_prose(line: list[TextBox], columns: list[_Column]) -> bool:
    """A sentence across the table (notes, instruments, disclaimers): the table has ended."""
    for box in line:
        wide = sum(box.x0 < col.x0 < box.x1 for col in columns) >= 2
        if wide and (len(box.text.split()) >= 6 or box.text.rstrip().endswith((".", ":"))):
            return True
    text = " ".join(b.text for b in line)
    return len(line) == 1 and text.rstrip().endswith(":") and not header_roles([text])


def _line_cells(line: list[TextBox], columns: list[_Column]) -> dict[tuple[int, int], list[tuple[str, BBox]]]:
    """Texts per column slot: (k, 0) is header column k, (k, -1) the headerless gap left of column k."""
    slots: dict[tuple[int, int], list[tuple[str, BBox]]] = {}
    for box in line:
        # a box reaching into the next column is cut at its spaces when the part there is a number or a
        # flag ("Low 13.0-17.0", "mL/min/1.73m2 > 90"); words only ("Complete blood count") stay together
        pieces = _tokens(box)
        cols = [_column_of((a + b) / 2, columns) for _, a, b in pieces]
        later = [t for (t, _, _), c in zip(pieces, cols) if c != cols[0]]
        if any(re.search(r"\d", t) or is_flag(t) for t in later) or (len(pieces) > 1 and is_flag(pieces[0][0])):
            parts = [(t, (a + b) / 2) for t, a, b in pieces]
        else:
            parts = [(box.text, (box.x0 + box.x1) / 2)]
        for text, xc in parts:
            if is_flag(text) and not any(col.x0 <= xc <= col.x1 for col in columns):
                slot = (sum(col.x0 <= xc for col in columns), -1)
            else:
                slot = (_column_of(xc, columns), 0)
            slots.setdefault(slot, []).append((text, box.bbox))
    return slots


def _grid(columns: list[_Column], body: list[list[TextBox]], scale: float) -> list[list[Cell]]:
    """Header row (the column names) and one row per body line; boxes scaled to `SourceRef` units."""
    rows = [_line_cells(line, columns) for line in body]
    roles = header_roles([c.header for c in columns]) or [None] * len(columns)
    gaps = sorted({k for row in rows for (k, kind) in row if kind == -1})
    order: list[tuple[int, int]] = []
    for k in range(len(columns) + 1):
        if k in gaps:
            order.append((k, -1))
        if k < len(columns):
            order.append((k, 0))
    grid = [[Cell(columns[k].header if kind == 0 else "") for k, kind in order]]
    for row in rows:
        cells = []
        for slot in order:
            parts = row.get(slot, [])
            text = " ".join(t for t, _ in parts)
            if slot[1] == 0 and roles[slot[0]] in ("value", "ref"):
                text = fix_digits(text)  # O/0, l/1 look-alikes in numbers
            elif slot[1] == 0 and roles[slot[0]] == "unit":
                text = re.sub(r"(?<=10)[~\-*](?=\d)", "^", text)  # "x10~9/L": a raised "^" read as "~"
            boxes = [b for _, b in parts]
            bbox = None
            if boxes:
                bbox = (min(b[0] for b in boxes) * scale, min(b[1] for b in boxes) * scale,
                        max(b[2] for b in boxes) * scale, max(b[3] for b in boxes) * scale)
            cells.append(Cell(text, bbox))
        grid.append(cells)
    return grid


def _guess_columns(lines: list[list[TextBox]]) -> tuple[list[_Column], int] | None:
    """Columns from where boxes start, for a table printed without a header line, named from their content;
    with the index of the first table line (lines of three boxes or more)."""
    multi = [line for line in lines if len(line) >= 3]
    if len(multi) < 3:
        return None
    h = median(b.height for line in multi for b in line)
    starts = sorted(b.x0 for line in multi for b in line)
    clusters: list[list[float]] = [[starts[0]]]
    for x in starts[1:]:
        if x - clusters[-1][-1] > 1.5 * h:
            clusters.append([x])
        else:
            clusters[-1].append(x)
    clusters = [c for c in clusters if len(c) >= max(3, 0.3 * len(multi))]
    if len(clusters) < 2:
        return None
    columns = [_Column(min(c), min(c) + 2 * h, "") for c in clusters]
    texts: list[list[str]] = [[] for _ in columns]
    for line in multi:
        for box in line:
            texts[_column_of(box.xc, columns)].append(box.text)
    names = ["Test"] + [""] * (len(columns) - 1)
    for k in range(1, len(columns)):
        t = texts[k]
        if not t:
            continue
        numeric = sum(bool(re.fullmatch(r"[<>]?\s*[-+]?\d+(?:[.,]\d+)*", x)) for x in t) / len(t)
        ranged = sum(bool(re.search(r"\d\s*-\s*\d|^[<>]|up to", x, re.I)) for x in t) / len(t)
        flags = sum(is_flag(x) for x in t) / len(t)
        if flags > 0.6:
            names[k] = "Flag"
        elif ranged > 0.5 and "Reference range" not in names:
            names[k] = "Reference range"
        elif numeric > 0.5 and "Result" not in names:
            names[k] = "Result"
        elif "Unit" not in names and numeric < 0.2:
            names[k] = "Unit"
    if "Result" not in names:
        return None
    for col, name in zip(columns, names):
        col.header = name
    return columns, next(i for i, line in enumerate(lines) if len(line) >= 3)


# ====================================================================== page
def read_image_rows(image: np.ndarray, origin: Origin, state: GridState | None = None, *, scale: float = 1.0,
                    engine: Any = None) -> ImageRows:
    """Raw rows of one page picture. ``scale`` converts pixels to the unit of `SourceRef.bbox` (72/dpi for a
    rendered PDF page, 1 for an image file)."""
    state = state if state is not None else GridState()
    out = ImageRows()
    page = read_text(image, engine=engine, lazy=_LAZY)
    page.read([b for line in group_lines(page.pending) if len(line) > 1 for b in line])  # header rows are among these
    lines, headers, guessed = _settle(page, [])
    out.boxes = len(page.boxes) + len(page.pending)
    start = headers[0] + 1 if headers else guessed[1] if guessed else None
    if start is not None:  # table lines: look for short texts the detector missed (flags, one-digit values)
        marks = read_marks(image, page, lines[start:], engine=engine)
        if marks:
            lines, headers, guessed = _settle(page, marks)
    first = headers[0] if headers else len(lines)
    segments: list[tuple[list[_Column], list[list[TextBox]]]] = []
    for n, at in enumerate(headers):
        end = headers[n + 1] if n + 1 < len(headers) else len(lines)
        columns = [_Column(b.x0, b.x1, b.text) for b in lines[at]]
        segments.append((columns, _table_body(lines[at + 1:end], columns)))
    if guessed is not None:
        columns, first = guessed
        out.warnings.append("no header row (Test / Result / Unit ...) was found: columns were guessed from the "
                            "positions of the text")
        segments.append((columns, _table_body(lines[first:], columns)))
    out.header_lines = ["   ".join(b.text for b in line) for line in lines[:first]]
    for table, (columns, body) in enumerate(segments):
        grid = _grid(columns, body, scale)
        parsed = parse_grid(grid, Origin(origin.file, origin.reader, origin.page, table), state)
        out.parsed.rows += parsed.rows
        out.parsed.unparsed += parsed.unparsed
        out.parsed.has_header = out.parsed.has_header or parsed.has_header
    return out


def _settle(page: PageText, marks: list[TextBox]) -> tuple[list[list[TextBox]], list[int], tuple | None]:
    """Lines, header lines and guessed columns, after reading every pending box the tables need.

    Boxes alone on their line are read only where they count: above the first table (the report header) and
    in a table's body up to the sentence that ends it. Below that (notes, disclaimers, signatures) they stay
    unread unless another table starts (a header row has two boxes or more, and those are all read). The
    result is the same as with every box read, in fewer recogniser calls.
    """
    while True:
        lines = group_lines(page.boxes + marks + page.pending)
        headers = _header_lines(lines)
        guessed = None if headers else _guess_columns(lines)
        first = headers[0] if headers else guessed[1] if guessed else len(lines)
        need = [line for line in lines[:first] if any(b.pending for b in line)]
        need += [line for line in lines if len(line) > 1 and any(b.pending for b in line)]
        segments = [(at + 1, headers[n + 1] if n + 1 < len(headers) else len(lines),
                     [_Column(b.x0, b.x1, b.text) for b in lines[at]]) for n, at in enumerate(headers)]
        if guessed is not None:
            segments.append((first, len(lines), guessed[0]))
        for begin, end, columns in segments:
            for line in lines[begin:end]:
                if any(b.pending for b in line):
                    need.append(line)
                    break
                if _is_prose(line, columns) and not is_footer(" ".join(b.text for b in line)):
                    break
        if not need:
            return lines, headers, guessed
        page.read([b for line in need for b in line if b.pending])


def _header_lines(lines: list[list[TextBox]]) -> list[int]:
    return [i for i, line in enumerate(lines) if header_roles([b.text for b in line]) is not None]


def _table_body(lines: list[list[TextBox]], columns: list[_Column]) -> list[list[TextBox]]:
    """The lines of a table up to its end: a sentence across the columns, or the report's closing line."""
    body = []
    for line in lines:
        if _is_prose(line, columns) and not is_footer(" ".join(b.text for b in line)):
            break
        body.append(line)
    return body
