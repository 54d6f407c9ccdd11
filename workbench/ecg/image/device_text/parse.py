"""OCR boxes -> `DevicePrinted`: measurements by their printed labels, paper settings, lead names, statements."""
from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from .statements import find_statements
from .tokens import UNITS, Tok, compact, fix_digits, tokens
from .types import Box, DevicePrinted, to_box

#: plausible printed values; numbers outside are OCR misreads and are dropped (with a note)
_PLAUSIBLE = {
    "heart_rate": (15, 350), "pr_interval": (40, 600), "qrs_duration": (30, 300), "qt_interval": (150, 800),
    "qtc": (150, 800), "p_axis": (-180, 360), "qrs_axis": (-180, 360), "t_axis": (-180, 360),
}
_SPEEDS = (5.0, 6.25, 10.0, 12.5, 25.0, 50.0, 100.0)
_GAINS = (2.5, 5.0, 10.0, 20.0, 40.0)

#: QTc correction names as printed -> canonical
_QTC_CORRECTIONS = {"b": "bazett", "baz": "bazett", "bazett": "bazett", "f": "fridericia", "fri": "fridericia",
                    "frid": "fridericia", "fridericia": "fridericia", "h": "hodges", "hod": "hodges", "hodges": "hodges",
                    "fr": "framingham", "fram": "framingham", "framingham": "framingham"}


#: label (lowercase, spaces and punctuation removed) -> the quantities the following numbers fill, in order
_LABELS: list[tuple[re.Pattern, tuple[str, ...]]] = [
    (re.compile(r"^(vent|ventr|ventricular|v)(rate|rat)$|^(heart)?rate$|^hr$"), ("heart_rate",)),
    (re.compile(r"^(pr|pq)(int|interval|intervai|inteval|interv|intv|i|dur|duration)?$"), ("pr_interval",)),
    (re.compile(r"^qrs(d|dur|duration|durat|int|interval)?$"), ("qrs_duration",)),
    (re.compile(r"^qtqtc[a-z]*$|^qtcqt$"), ("qt_interval", "qtc")),
    (re.compile(r"^qt(int|interval|dur)?$"), ("qt_interval",)),
    (re.compile(r"^qtc(b|f|h|baz|bazett|fri|frid|fridericia|hod|hodges|fram|framingham)?$"), ("qtc",)),
    (re.compile(r"^(prt|pqrst)(axes|axis|ax|axs|axe)?$|^(axes|axis)(prt|pqrst)?$"), ("p_axis", "qrs_axis", "t_axis")),
    (re.compile(r"^pax(is)?$"), ("p_axis",)),
    (re.compile(r"^(qrs|r)ax(is)?$"), ("qrs_axis",)),
    (re.compile(r"^tax(is)?$"), ("t_axis",)),
]


def _label_keys(words: str) -> tuple[str, ...] | None:
    c = compact(words)
    if not c:
        return None
    for pat, keys in _LABELS:
        if pat.match(c):
            return keys
    return None


def _qtc_correction(text: str) -> str | None:
    c = text.lower()
    m = re.search(r"qtc\s*[:\-_(]?\s*(bazett|baz|fridericia|frid|fri|hodges|hod|framingham|fram|b|f|h)(?![a-z])", c)
    if m:
        return _QTC_CORRECTIONS[m.group(1)]
    m = re.search(r"\b(bazett|fridericia|hodges|framingham)\b", c)
    return m.group(1) if m else None


def parse_device_text(items: Sequence[tuple[str, Any, float]]) -> DevicePrinted:
    """Parse OCR boxes ``(text, box, score)`` into a `DevicePrinted` (no timing, no regions).

    ``box`` is (x0, y0, x1, y1) or four corner points. Boxes are grouped into text lines; along a line a
    recognised label ("Vent. rate", "PR interval", "QT/QTc", "P-R-T axes", ...) takes the numbers that
    follow it, in the same box or in boxes to its right. Text left over is a statement when it matches a
    known interpretive statement or uses ECG vocabulary.
    """
    boxes: list[tuple[str, Box, float]] = []
    for text, box, score in items:
        arr = np.asarray(box, dtype=float)
        b = tuple(int(round(v)) for v in arr) if arr.ndim == 1 and arr.size == 4 else to_box(arr)
        boxes.append((str(text), b, float(score)))
    out = DevicePrinted(raw=list(boxes))
    lines = _group_lines(boxes)
    toks_by_line = [tokens(line, boxes) for line in lines]
    for toks in toks_by_line:
        _parse_line(toks, out)
    corr = _qtc_correction("  ".join(t for t, _, _ in boxes))
    qtc = out.measurements.pop("qtc", None)
    if qtc is not None:
        out.measurements["qtc_bazett" if corr in (None, "bazett") else f"qtc_{corr}"] = qtc
    out.qtc_correction = corr
    out.qtc_correction_source = "printed" if corr else ("not printed: assumed Bazett" if qtc is not None else "not printed")
    used_boxes: set[int] = set()
    _paper_settings(boxes, out, used_boxes)
    for i, (t, b, _) in enumerate(boxes):
        lead = lead_name(t)
        if lead is not None:
            out.lead_labels.append((lead, b))
            used_boxes.add(i)
    out.statements = find_statements(lines, toks_by_line, boxes, used_boxes)
    return out


def _group_lines(boxes: list[tuple[str, Box, float]]) -> list[list[int]]:
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i][1][1] + boxes[i][1][3]) / 2)
    lines: list[list[int]] = []
    centers: list[float] = []
    heights: list[float] = []
    for i in order:
        _, (x0, y0, x1, y1), _ = boxes[i]
        yc, h = (y0 + y1) / 2, max(1, y1 - y0)
        for k in range(len(lines) - 1, max(-1, len(lines) - 4), -1):
            if abs(yc - centers[k]) < 0.45 * min(h, heights[k]) + 1:
                lines[k].append(i)
                n = len(lines[k])
                centers[k] = (centers[k] * (n - 1) + yc) / n
                heights[k] = max(heights[k], h)
                break
        else:
            lines.append([i])
            centers.append(yc)
            heights.append(h)
    return [sorted(line, key=lambda i: boxes[i][1][0]) for line in lines]


_NOT_VENTRICULAR = {"atrial", "atr", "a", "p"}


def _parse_line(toks: list[Tok], out: DevicePrinted) -> None:
    """Walk a line's tokens: a label takes the numbers after it (and the units after those).

    The label is the longest run of recent words that names a quantity, so 'QRS duration', 'QT/QTc' and
    'P/QRS/T' win over the 'QRS' or 'QT' inside them. Up to two unknown words may stand between a label
    and its numbers ('QRS dur.', a misread word).
    """
    words: list[Tok] = []  # recent words (and '/', ':') since the last number or break
    label: list[Tok] = []
    keys: tuple[str, ...] | None = None
    values: list[Tok] = []
    stray = 0  # unknown words since the label
    last_commit: list[Tok] | None = None  # the values just committed: units after them belong to them

    def commit() -> None:
        nonlocal keys, values, label
        assert keys is not None
        if len(values) != len(keys):
            out.notes.append(f"{'/'.join(keys)}: {len(values)} of {len(keys)} values read after "
                             f"'{' '.join(t.text for t in label)}', ignored")
        else:
            for k, t in zip(keys, values):
                v = float(t.text.replace(",", "."))
                lo, hi = _PLAUSIBLE[k]
                if not lo <= v <= hi:
                    out.notes.append(f"{k}: printed value {v:g} is implausible (OCR misread?), ignored")
                    continue
                if k.endswith("_axis") and v > 180:
                    v -= 360
                out.measurements.setdefault(k, float(v))
            for t in label + values:
                t.used = True
        keys, values, label = None, [], []

    for tok in toks:
        if tok.kind == "num":
            if keys is not None and len(values) < len(keys):
                values.append(tok)
                if len(values) == len(keys):
                    commit()
                    last_commit = [tok]
            else:
                last_commit = None
            words = []
            continue
        if tok.kind == "sep":
            if tok.text == "/" and keys is not None and values:
                continue  # '380/410'
            if tok.text == "/" and last_commit:
                last_commit.append(tok)  # rate written '/min'
            if tok.text in "/:":
                words.append(tok)  # 'QT/QTc', 'P/QRS/T', 'HR:'
            else:
                words = []
            continue
        low = tok.text.lower().strip(".")
        if last_commit is not None and low in UNITS:
            for t in last_commit + [tok]:
                t.used = True
            continue
        last_commit = None
        if keys is not None and values:
            commit()
        if keys is not None and low in UNITS:
            continue  # 'HR (bpm) 72'
        words.append(tok)
        for start in range(len(words)):
            run = words[start:]
            if run[0].kind != "word":
                continue
            found = _label_keys(" ".join(t.text for t in run if t.kind == "word"))
            if found == ("heart_rate",) and start > 0 and compact(words[start - 1].text) in _NOT_VENTRICULAR:
                found = None  # 'Atrial rate': not the ventricular rate the workbench reports
                keys, label = None, []
                break
            if found is not None:
                keys, label, values, stray = found, run, [], 0
                break
        else:
            if keys is not None:
                stray += 1
                if stray > 2:
                    keys, label = None, []
    if keys is not None and values:
        commit()


def _paper_settings(boxes: list[tuple[str, Box, float]], out: DevicePrinted, used_boxes: set[int]) -> None:
    for i, (text, _, _) in enumerate(boxes):
        t = fix_digits(text).lower().replace(" ", "").replace(",", ".")
        for m in re.finditer(r"(\d+(?:\.\d+)?)mm/(mv|sec|s)", t):
            v = float(m.group(1))
            if m.group(2) == "mv":
                if v in _GAINS and out.gain_mm_mv is None:
                    out.gain_mm_mv = v
                    used_boxes.add(i)
            elif v in _SPEEDS and out.speed_mm_s is None:
                out.speed_mm_s = v
                used_boxes.add(i)


def lead_name(text: str) -> str | None:
    t = text.strip(" .:,;'\"|_-")
    if not t or len(t) > 4:
        return None
    if t in ("I", "II", "III"):
        return t
    u = t.upper()
    if u in ("AVR", "AVL", "AVF"):
        return "aV" + u[2]
    if u in ("AVI",):
        return "aVL"
    m = re.fullmatch(r"V([1-6SGO])", u)
    if m:
        return "V" + {"S": "5", "G": "6"}.get(m.group(1), m.group(1))
    return None
