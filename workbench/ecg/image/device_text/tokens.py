"""OCR strings made usable: look-alike letters repaired in numbers, and each text line cut into tokens."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .types import Box

_LOOKALIKE = {"O": "0", "o": "0", "Q": "0", "D": "0", "l": "1", "I": "1", "|": "1", "S": "5", "B": "8", "Z": "2"}
_UNIT_AFTER = r"(?=(?:ms|msec|bpm|BPM|mm|/min|deg)\b)"


def fix_digits(text: str) -> str:
    """Repair O/0, l/1, S/5 confusions in numbers ('1O0' -> '100', 'l60' -> '160', '6Oms' -> '60ms').

    A letter becomes a digit only inside a run of digits and look-alikes that holds a real digit, between
    two digits, or between a digit and a unit; words ('V5', 'aVL', 'II', 'BPM') are left alone.
    """
    text = text.replace("\u2212", "-").replace("\u2013", "-").replace("\u2014", "-").replace("\uff0f", "/")

    def whole(m: re.Match) -> str:
        s = m.group(0)
        if any(c.isdigit() for c in s) and all(c.isdigit() or c in _LOOKALIKE for c in s):
            return "".join(_LOOKALIKE.get(c, c) for c in s)
        return s

    text = re.sub(r"[A-Za-z0-9|]+", whole, text)
    text = re.sub(r"(?<=\d)[OoQDlI|SBZ](?=\d)", lambda m: _LOOKALIKE[m.group(0)], text)
    text = re.sub(r"(?<=\d)[OoQD]" + _UNIT_AFTER, "0", text)
    text = re.sub(r"(?<![A-Za-z0-9])[lI|Oo](?=\d+" + _UNIT_AFTER[3:], lambda m: _LOOKALIKE[m.group(0)], text)
    return text


_TOKEN = re.compile(r"[-+]?\d+(?:[.,]\d+)?|[A-Za-z][A-Za-z.'\-]*|/|:|\S")


@dataclass
class Tok:
    """One token of a text line; ``used`` marks it as taken by a measurement, so it is no statement."""

    text: str
    kind: str  # "num", "word", "sep"
    item: int  # index of the OCR box it came from
    used: bool = False


def compact(s: str) -> str:
    """Lowercase letters and digits only: the form labels and statements are compared in."""
    return re.sub(r"[^a-z0-9]", "", s.lower())


def tokens(line: list[int], boxes: list[tuple[str, Box, float]]) -> list[Tok]:
    """Numbers, words and separators of a text line (box indices, left to right), digits repaired."""
    toks: list[Tok] = []
    for i in line:
        fixed = fix_digits(boxes[i][0])
        # OCR drops spaces: '160ms' -> '160 ms', 'QRS104' -> 'QRS 104', 'msQRS' -> 'ms QRS'
        fixed = re.sub(r"(?<=\d)(?=[A-Za-z])|(?<=[A-Za-z])(?=\d)|(?<=[a-z])(?=[A-Z])", " ", fixed)
        for m in _TOKEN.finditer(fixed):
            s = m.group(0)
            kind = "num" if re.match(r"^[-+]?\d", s) else ("word" if s[0].isalpha() else "sep")
            toks.append(Tok(s, kind, i))
    return toks


#: units printed after values (lowercase): they belong to the number before them, not to a statement
UNITS = {"ms", "msec", "bpm", "min", "deg", "degrees", "mm", "sec", "mv", "hz", "/min", "°"}
