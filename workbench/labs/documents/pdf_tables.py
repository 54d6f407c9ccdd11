"""Result tables of PDF pages that have a text layer: camelot first, pdfplumber as the second reader.

Per page, the readers are tried in this order until one gives at least one result row: camelot lattice
(ruled tables; ``backend="pdfium"``, the only one that works without ghostscript/poppler), camelot stream
(borderless tables; it also returns title lines, which the header search skips), pdfplumber with ruling
lines, pdfplumber with text alignment. Each table becomes a grid of `Cell` whose box is the tight box of
the words inside the reader's cell (pdfplumber's word positions), else the reader's cell; `rows.parse_grid`
does the rest. Coordinates are PDF points with the origin at the top left of the page.
"""
from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..records import RawLabRow, Reader, UnparsedRow
from .rows import BBox, Cell, GridState, Origin, parse_grid

__all__ = ["PdfPageRows", "read_pdf_page", "reading_order"]

log = logging.getLogger(__name__)

Grid = list[list[Cell]]


@dataclass
class PdfPageRows:
    """One page's rows and which reader gave them (None: no reader found a results table)."""

    rows: list[RawLabRow] = field(default_factory=list)
    unparsed: list[UnparsedRow] = field(default_factory=list)
    reader: Reader | None = None
    tables_with_header: int = 0


class _Words:
    """The page's words (pdfplumber), to give each cell the tight box of its text."""

    def __init__(self, words: Sequence[dict[str, Any]]) -> None:
        self.text = [str(w["text"]) for w in words]
        self.box = np.array([[w["x0"], w["top"], w["x1"], w["bottom"]] for w in words], dtype=float).reshape(-1, 4)
        self.cx = (self.box[:, 0] + self.box[:, 2]) / 2
        self.cy = (self.box[:, 1] + self.box[:, 3]) / 2

    def _inside(self, cell: BBox) -> np.ndarray:
        x0, top, x1, bottom = cell
        return np.flatnonzero((self.cx >= x0) & (self.cx <= x1) & (self.cy >= top) & (self.cy <= bottom))

    def tight(self, cell: BBox) -> BBox | None:
        """The box around the words whose centre lies in ``cell``."""
        inside = self._inside(cell)
        if not inside.size:
            return None
        b = self.box[inside]
        return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())

    def text_in(self, cell: BBox) -> str:
        """Whole words whose centre lies in ``cell``, line by line (pdfplumber's own cell text cuts words
        that straddle a column guessed from text alignment: "End of rep" | "ort")."""
        inside = sorted(self._inside(cell), key=lambda i: (self.box[i, 1], self.box[i, 0]))
        lines: list[list[int]] = []
        for i in inside:
            if lines and abs(self.box[i, 1] - self.box[lines[-1][0], 1]) <= 2.0:
                lines[-1].append(i)
            else:
                lines.append([i])
        return "\n".join(" ".join(self.text[i] for i in sorted(line, key=lambda i: self.box[i, 0])) for line in lines)


def reading_order(boxes: Sequence[BBox]) -> list[int]:
    """Indices of tables in reading order: top to bottom, and left before right for tables side by side."""
    order = sorted(range(len(boxes)), key=lambda i: boxes[i][1])
    bands: list[list[int]] = []
    for i in order:
        top, bottom = boxes[i][1], boxes[i][3]
        if bands and any(top < boxes[j][3] and bottom > boxes[j][1] for j in bands[-1]):
            bands[-1].append(i)
        else:
            bands.append([i])
    return [i for band in bands for i in sorted(band, key=lambda j: boxes[j][0])]


# ====================================================================== camelot
def _camelot_grids(path: Path, page_no: int, flavor: str, words: _Words, height: float) -> list[Grid]:
    import camelot

    kwargs: dict[str, Any] = {"backend": "pdfium"} if flavor == "lattice" else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tables = camelot.read_pdf(str(path), pages=str(page_no + 1), flavor=flavor, **kwargs)
    except Exception as exc:  # a reader failing on one page must not lose the others: the next reader tries
        log.info("camelot %s failed on page %d of %s: %s", flavor, page_no + 1, path.name, exc)
        return []
    grids, boxes = [], []
    for table in tables:
        df = table.df
        grid: Grid = []
        for r, row in enumerate(table.cells):
            cells = []
            for c, cell in enumerate(row):
                text = str(df.iat[r, c]) if r < df.shape[0] and c < df.shape[1] else ""
                outer = (float(cell.x1), height - float(cell.y2), float(cell.x2), height - float(cell.y1))
                cells.append(Cell(text, (words.tight(outer) or outer) if text.strip() else None))
            grid.append(cells)
        if not grid or not grid[0]:
            continue
        first, last = table.cells[0][0], table.cells[-1][-1]  # PDF coordinates, origin bottom left
        boxes.append((float(first.x1), height - float(first.y2), float(last.x2), height - float(last.y1)))
        grids.append(grid)
    return [grids[i] for i in reading_order(boxes)]


# ====================================================================== pdfplumber
_PLUMBER_SETTINGS = {
    "lines": {"vertical_strategy": "lines", "horizontal_strategy": "lines"},
    "text": {"vertical_strategy": "text", "horizontal_strategy": "text"},
}


def _plumber_grids(page: Any, strategy: str, words: _Words) -> list[Grid]:
    try:
        tables = page.find_tables(table_settings=_PLUMBER_SETTINGS[strategy])
    except Exception as exc:
        log.info("pdfplumber (%s) failed on page %d: %s", strategy, page.page_number, exc)
        return []
    grids, boxes = [], []
    for table in tables:
        grid: Grid = []
        for row in table.rows:
            cells = []
            for bbox in row.cells:
                outer = (float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3])) if bbox is not None else None
                text = words.text_in(outer) if outer else ""
                cells.append(Cell(text, (words.tight(outer) or outer) if outer and text.strip() else None))
            grid.append(cells)
        grids.append(grid)
        boxes.append(tuple(float(v) for v in table.bbox))
    return [grids[i] for i in reading_order(boxes)]


# ====================================================================== page
def read_pdf_page(path: Path, page_no: int, plumber_page: Any, state: GridState) -> PdfPageRows:
    """Rows of one PDF page with a text layer; ``state`` (section, end of report) is updated only by the
    reader whose rows are kept."""
    words = _Words(plumber_page.extract_words())
    height = float(plumber_page.height)
    readers: list[tuple[Reader, Callable[[], list[Grid]]]] = [
        ("camelot-lattice", lambda: _camelot_grids(path, page_no, "lattice", words, height)),
        ("camelot-stream", lambda: _camelot_grids(path, page_no, "stream", words, height)),
        ("pdfplumber", lambda: _plumber_grids(plumber_page, "lines", words)),
        ("pdfplumber", lambda: _plumber_grids(plumber_page, "text", words)),
    ]
    best = PdfPageRows()
    for reader, grids_of in readers:
        trial = copy.copy(state)
        out = PdfPageRows(reader=reader)
        for index, grid in enumerate(grids_of()):
            parsed = parse_grid(grid, Origin(str(path), reader, page_no, index), trial)
            out.rows += parsed.rows
            out.unparsed += parsed.unparsed
            out.tables_with_header += parsed.has_header
        if out.rows:
            state.section, state.ended = trial.section, trial.ended
            return out
        if out.tables_with_header and not best.tables_with_header:
            best = out
    best.reader = None
    return best
