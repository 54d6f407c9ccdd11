"""From a grid of cell strings to raw lab rows: the part every document reader shares.

A reader (camelot, pdfplumber, OCR) only has to cut a page into rows and columns of text; this module then
finds the header row ("Test | Result | Unit | Reference range | Flag" and their many spellings, see `cells`), splits
two result tables printed side by side (the header repeated on one line), and walks the rows: section titles
("CARDIAC MARKERS") set `RawLabRow.section` for the rows below, wrapped analyte names are joined to the row
above, flags attached to the value ("7.2 H", "*7.2") go to the flag field, repeated headers and footers are
skipped, and a line that carries a number but is no result becomes an `UnparsedRow` with the reason.

Nothing here knows analytes: a row is a result because of where its text sits, not because of its name.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median

from ..records import RawLabRow, Reader, SourceRef, UnparsedRow
from .cells import Role, clean_text, has_number, header_roles, is_end, is_flag, is_footer, split_attached_flag

__all__ = ["BBox", "Cell", "GridState", "Origin", "ParsedGrid", "Role", "clean_text", "header_roles", "is_flag",
           "is_footer", "parse_grid", "split_attached_flag"]

BBox = tuple[float, float, float, float]  # x0, top, x1, bottom: page points (PDF) or pixels (image), y downwards


@dataclass
class Cell:
    """One cell of a grid: its text and, when the reader knows it, where the text is."""

    text: str
    bbox: BBox | None = None


@dataclass(frozen=True)
class Origin:
    """Where a grid comes from, copied into each row's `SourceRef`."""

    file: str
    reader: Reader
    page: int | None = None
    table: int | None = None


@dataclass
class GridState:
    """What carries over from one grid to the next of the same document (tables split over pages)."""

    section: str = ""
    ended: bool = False  # "End of report" seen: nothing below is read


@dataclass
class ParsedGrid:
    """The rows of one grid; ``has_header`` is False when no header row was found (not a results table)."""

    rows: list[RawLabRow] = field(default_factory=list)
    unparsed: list[UnparsedRow] = field(default_factory=list)
    has_header: bool = False


# ====================================================================== body rows
@dataclass
class _Line:
    """One grid row cut to one result table's columns, with text per role."""

    index: int
    texts: dict[str, str]
    boxes: list[BBox]
    name_box: BBox | None

    def get(self, role: str) -> str:
        return self.texts.get(role, "")


def _union(boxes: Sequence[BBox]) -> BBox | None:
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _groups(roles: list[Role | None]) -> list[list[int]]:
    """Column indices of each result table in a row: a new table starts at each repeated test column."""
    starts = [i for i, r in enumerate(roles) if r == "name"]
    groups = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(roles)
        groups.append(list(range(start if k else 0, end)))
    return groups


def _column_roles(grid: Sequence[Sequence[Cell]], header_row: int, cols: list[int],
                  roles: list[Role | None]) -> dict[int, str]:
    """Role of every column of a table; unnamed columns holding flags become the flag column, others join
    the column on their left (a value split in two by the reader)."""
    out: dict[int, str] = {}
    for c in cols:
        role = roles[c]
        if role is not None:
            out[c] = role
            continue
        texts = [clean_text(row[c].text) for row in grid[header_row + 1:] if c < len(row)]
        texts = [t for t in texts if t]
        flags = sum(is_flag(t) for t in texts)
        if texts and flags >= 0.6 * len(texts) and "flag" not in [roles[k] for k in cols]:
            out[c] = "flag"
        else:
            out[c] = "extra"
    return out


def _cut_line(grid_row: Sequence[Cell], index: int, cols: list[int], col_roles: dict[int, str]) -> _Line:
    """The row's text per role (several columns of one role are joined) and the boxes it came from."""
    texts: dict[str, str] = {}
    boxes: list[BBox] = []
    name_box = None
    last_role = "name"
    for c in cols:
        cell = grid_row[c] if c < len(grid_row) else Cell("")
        text = clean_text(cell.text)
        role = col_roles[c]
        if role == "skip":
            continue
        if role == "extra":
            role = "flag" if is_flag(text) else last_role
        else:
            last_role = role
        if not text:
            continue
        texts[role] = f"{texts[role]} {text}" if texts.get(role) else text
        if cell.bbox is not None:
            boxes.append(cell.bbox)
            if role == "name":
                name_box = cell.bbox if name_box is None else _union([name_box, cell.bbox])
    return _Line(index, texts, boxes, name_box)


def _is_continuation(line: _Line, prev: RawLabRow, prev_box: BBox | None, typical_gap: float | None) -> bool:
    """A name-only line right below a result continues that result's name (the name wrapped in its cell)."""
    text = line.get("name")
    lexical = (text[:1].islower() or text.startswith(("(", "[", "&", "/", "-", "+"))
               or prev.name.count("(") > prev.name.count(")") or prev.name.endswith(("-", ",", "/", "&", "(", " and",
                                                                                      " of", " with")))
    if prev_box is not None and line.name_box is not None:
        height = max(1e-6, min(prev_box[3] - prev_box[1], line.name_box[3] - line.name_box[1]))
        gap = (line.name_box[1] - prev_box[3]) / height
        limit = 0.35 if typical_gap is None else min(0.35, 0.6 * typical_gap)
        if gap < limit:
            return True
        return lexical and gap < max(0.6, 0.8 * (typical_gap or 0.0))
    return lexical


def _close_below(line: _Line, above: list[BBox], typical_gap: float | None) -> bool:
    """True when ``line`` sits right under the boxes ``above`` (or when positions are unknown)."""
    box, prev = _union(line.boxes), _union(above)
    if box is None or prev is None:
        return True
    height = max(1e-6, min(box[3] - box[1], prev[3] - prev[1]))
    return (box[1] - prev[3]) / height < max(0.5, 0.8 * (typical_gap or 0.0))


def _typical_gap(lines: list[_Line]) -> float | None:
    """Median vertical gap (in text heights) between consecutive result rows of a table."""
    gaps = []
    for a, b in zip(lines, lines[1:]):
        if a.name_box and b.name_box and a.get("value") and b.get("value") and b.get("name"):
            height = max(1e-6, min(a.name_box[3] - a.name_box[1], b.name_box[3] - b.name_box[1]))
            gaps.append((b.name_box[1] - a.name_box[3]) / height)
    return median(gaps) if gaps else None


def _looks_like_section(text: str) -> bool:
    words = text.split()
    return (0 < len(words) <= 7 and len(text) <= 60 and not text.endswith((":", ".", ";"))
            and not has_number(re.sub(r"\b[A-Za-z]+\d+[A-Za-z]*\b", "", text)))


def parse_grid(grid: Sequence[Sequence[Cell]], origin: Origin, state: GridState | None = None) -> ParsedGrid:
    """Raw rows of one table grid (rows of cells, the header row somewhere near the top).

    Rows above the header (titles, the patient block) are not read. ``state`` carries the current section
    and the "End of report" mark from grid to grid of one document.
    """
    state = state if state is not None else GridState()
    out = ParsedGrid()
    header_at, roles = -1, None
    for r, row in enumerate(grid):
        roles = header_roles([c.text for c in row])
        if roles is not None:
            header_at = r
            break
    if roles is None or state.ended:
        return out
    out.has_header = True
    # two tables side by side: the left one is read first, the right one continues its last section
    for cols in _groups(roles):
        col_roles = _column_roles(grid, header_at, cols, roles)
        lines = [_cut_line(grid[r], r, cols, col_roles) for r in range(header_at + 1, len(grid))]
        _parse_lines([ln for ln in lines if ln.texts], origin, state, out)
    return out


def _height(box: BBox | None) -> float | None:
    return None if box is None else box[3] - box[1]


class _Sections:
    """Section titles, including the indented kind: "DIFFERENTIAL COUNT" over indented rows ends at the first
    row printed flush with the title again."""

    def __init__(self, state: GridState) -> None:
        self.state = state
        self.x0: float | None = None
        self.indented: bool | None = None
        self.outer = state.section

    def title(self, name: str, box: BBox | None) -> None:
        if not self.indented:
            self.outer = self.state.section
        self.state.section = name
        self.x0 = box[0] if box is not None else None
        self.indented = None

    def result_at(self, box: BBox | None) -> None:
        if self.x0 is None or box is None:
            return
        h = box[3] - box[1]
        if self.indented is None:
            self.indented = box[0] > self.x0 + 0.8 * h
        elif self.indented and box[0] < self.x0 + 0.4 * h:
            self.state.section = self.outer
            self.x0 = self.indented = None


def _parse_lines(lines: list[_Line], origin: Origin, state: GridState, out: ParsedGrid) -> None:
    typical = _typical_gap(lines)
    name_heights = [h for ln in lines if ln.get("value") and (h := _height(ln.name_box))]
    usual_height = median(name_heights) if name_heights else None
    sections = _Sections(state)
    prev: RawLabRow | None = None
    prev_box: BBox | None = None
    row_boxes: list[BBox] = []

    def finish() -> None:
        if prev is not None and row_boxes:
            src = prev.source
            prev.source = SourceRef(src.file, src.reader, src.page, src.row, src.table, _union(row_boxes))

    for line in lines:
        joined = " ".join(line.texts.values())
        if header_roles(list(line.texts.values())) is not None and line.get("name") and line.get("value"):
            finish()
            prev = None
            continue  # the header repeated (next page, or a second header row)
        if is_footer(joined):
            if is_end(joined):
                state.ended = True
                break
            continue
        _join_split_phrase(line)
        name, value = line.get("name"), line.get("value")
        others = any(line.get(k) for k in ("value", "unit", "ref", "flag"))
        if name and not others:
            height = _height(line.name_box)
            if usual_height and height and height < 0.78 * usual_height and not has_number(name):
                continue  # small print under a name ("Calculated", a method): a note, neither name nor section
            if prev is not None and _is_continuation(line, prev, prev_box, typical):
                prev.name = clean_text(f"{prev.name}\n{name}" if prev.name.endswith("-") else f"{prev.name} {name}")
                row_boxes += line.boxes
                prev_box = line.name_box or prev_box
                continue
            finish()
            prev = None
            if _looks_like_section(name):
                sections.title(name, line.name_box)
            elif has_number(name):
                out.unparsed.append(UnparsedRow(name, "a line with a number but no result column",
                                                _ref(origin, line)))
            continue
        if not name and not value and prev is not None and others and _close_below(line, row_boxes, typical):
            # a reference range or unit wrapped onto a second line of its cell
            for role, attr in (("unit", "unit_text"), ("ref", "ref_text"), ("flag", "flag_text")):
                if line.get(role):
                    setattr(prev, attr, clean_text(f"{getattr(prev, attr)} {line.get(role)}"))
            row_boxes += line.boxes
            continue
        finish()
        prev, prev_box, row_boxes = None, None, []
        if not name:
            if has_number(joined):
                out.unparsed.append(UnparsedRow(joined, "a value without a test name", _ref(origin, line)))
            continue
        if not has_number(value) and len(value.split()) > 4:
            out.unparsed.append(UnparsedRow(joined, "the result column holds a sentence, not a value",
                                            _ref(origin, line)))
            continue
        if name.endswith(":") or not value:
            if has_number(joined):
                reason = "a label line, not a result" if name.endswith(":") else "a test name without a value"
                out.unparsed.append(UnparsedRow(joined, reason, _ref(origin, line)))
            continue
        sections.result_at(line.name_box)
        prev = _result(line, origin, state)
        out.rows.append(prev)
        prev_box = line.name_box
        row_boxes = list(line.boxes)
    finish()


def _join_split_phrase(line: _Line) -> None:
    """A title printed across the columns ("Complete blood | count"): words, no number, and the value
    starting a word space after the name ends, with nothing else on the line -> all of it is the name."""
    name, value = line.get("name"), line.get("value")
    if not name or not value or has_number(value) or any(line.get(k) for k in ("unit", "ref", "flag")):
        return
    value_boxes = [b for b in line.boxes if line.name_box is None or b != line.name_box]
    if line.name_box is None or not value_boxes:
        return
    start = min(b[0] for b in value_boxes)
    height = line.name_box[3] - line.name_box[1]
    if 0 <= start - line.name_box[2] < 0.8 * height:
        line.texts = {"name": f"{name} {value}"}


def _ref(origin: Origin, line: _Line) -> SourceRef:
    return SourceRef(origin.file, origin.reader, origin.page, line.index, origin.table, _union(line.boxes))


def _result(line: _Line, origin: Origin, state: GridState) -> RawLabRow:
    name, value = line.get("name"), line.get("value")
    unit, ref, flag = line.get("unit"), line.get("ref"), line.get("flag")
    value, attached = split_attached_flag(value)
    if attached:
        flag = f"{flag} {attached}".strip()
    if not flag and ref:  # OCR joins a flag printed just left of the range to it: "Low 13.0 - 17.0"
        ref, flag = split_attached_flag(ref)
    if not flag:  # ... or to the name: "MCHC H"
        parts = name.rsplit(" ", 1)
        if len(parts) == 2 and parts[1] in {"H", "L", "HH", "LL", "*", "High", "Low", "HIGH", "LOW"}:
            name, flag = parts
    return RawLabRow(name=name, value_text=value, unit_text=unit, ref_text=ref, flag_text=flag,
                     section=state.section, source=_ref(origin, line))
