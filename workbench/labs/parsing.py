"""Pure text parsers for what lab reports print in their value, reference-range, flag and date cells.

Every reader (PDF tables, OCR, CSV/XLSX, FHIR) hands over text exactly as printed; these functions turn that
text into numbers, comparators, qualitative results, units and flags in one consistent way, so a "7.2 H" means
the same thing whichever document it came from. They never raise on odd input: what they cannot read comes
back with ``kind``/``problem`` set, and the caller decides what to do with it.

Number conventions (documented because they are ambiguous on paper):
- "1,234" and "1,234,567" are thousands separators; "1,50,000" (Indian lakh grouping) too.
- "5,6", "12,50" and "0,123" are decimal commas (European); "1.234,5" is European thousands + decimal.
- "1.234" is always a decimal point (1.234), never a thousands separator; "1.234.567" is thousands.
Dates are day-first by default (05/03/2024 = 5 March 2024, as printed in India and the UK); pass
``dayfirst=False`` for US month-first exports. A date impossible in the preferred order (13/05 month-first)
falls back to the other order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Literal

from .records import Comparator, Flag

ValueKind = Literal["number", "qualitative", "missing", "range", "unreadable"]

# ====================================================================== shared text clean-up
_SPACES = re.compile(r"[\u00a0\u2000-\u200b\u202f\u205f\u3000\t]+")
_CHAR_MAP = str.maketrans({
    "\u2212": "-", "\u2010": "-", "\u2011": "-",  # minus sign, hyphens
    "\u2264": "<=", "\u2265": ">=", "\uff1c": "<", "\uff1e": ">", "\u2266": "<=", "\u2267": ">=",
})


def _clean(text: object) -> str:
    """One spelling for the many spaces, minus signs and comparison symbols that PDFs and spreadsheets use."""
    if text is None:
        return ""
    out = _SPACES.sub(" ", str(text).translate(_CHAR_MAP))
    return out.strip()


# ====================================================================== numbers
_NUM = r"[-+]?(?:\d+(?:[.,]\d+)*|[.,]\d+)(?:[eE][-+]?\d+)?"
_THOUSANDS_COMMA = re.compile(r"^\d{1,3}(?:,\d{3})+$")
_LAKH = re.compile(r"^\d{1,2}(?:,\d{2})+,\d{3}$")
_THOUSANDS_DOT = re.compile(r"^\d{1,3}(?:\.\d{3}){2,}$")


def parse_number(text: str) -> float | None:
    """A printed number as float, resolving thousands separators vs decimal commas (see module notes).

    Returns None for anything that is not exactly one number ("1,2,3", "1.2.3", "abc").
    """
    s = _clean(text).replace(" ", "")
    m = re.fullmatch(r"([-+]?)(.*?)([eE][-+]?\d+)?", s)
    if not m or not m.group(2):
        return None
    sign, body, exp = m.group(1), m.group(2), m.group(3) or ""
    if not re.fullmatch(r"(?:\d+(?:[.,]\d+)*|[.,]\d+)", body):
        return None
    if "," in body and "." in body:
        decimal = "," if body.rfind(",") > body.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        whole, _, frac = body.rpartition(decimal)
        if thousands in frac or not re.fullmatch(rf"\d{{1,3}}(?:\{thousands}\d{{2,3}})*", whole):
            return None
        body = whole.replace(thousands, "") + "." + frac
    elif "," in body:
        if not body.startswith("0,") and (_THOUSANDS_COMMA.match(body) or _LAKH.match(body)):
            body = body.replace(",", "")
        elif body.count(",") == 1:
            body = body.replace(",", ".")
        else:
            return None
    elif body.count(".") > 1:
        if not _THOUSANDS_DOT.match(body):
            return None
        body = body.replace(".", "")
    try:
        return float(sign + body + exp)
    except ValueError:
        return None


# ====================================================================== flags
@dataclass(frozen=True)
class ParsedFlag:
    """A flag as the lab printed it, reduced to a direction (L/H, LL/HH beyond critical) and markers."""

    text: str
    flag: Flag | None = None
    abnormal: bool = False  # any abnormal marker (H, L, *, A, Critical...)
    critical: bool = False  # critical / panic / HH / LL / AA
    recognised: bool = True  # False when the text had words this parser does not know


_UP_WORDS = {"H", "HI", "HIGH", "HU", "RAISED", "ELEVATED", "INCREASED", "\u2191", "^"}
_DOWN_WORDS = {"L", "LO", "LOW", "LU", "DECREASED", "REDUCED", "\u2193"}
_CRITICAL_WORDS = {"CRITICAL", "CRIT", "PANIC", "AA", "!!"}
_ABNORMAL_WORDS = {"A", "ABN", "ABNORMAL", "!"}
_NORMAL_WORDS = {"N", "NORMAL", "WNL", "NL"}
_FLAG_TOKEN = re.compile(r"[A-Za-z]+|[\u2191\u2193^]|\*+|!+")


def parse_flag(text: str | None) -> ParsedFlag:
    """Read a flag cell ("H", "Low", "*", "Critical High", "↑↑", "A") into a direction and markers.

    Critical words or doubled letters/arrows give LL/HH when the direction is known; "Critical" alone is
    critical and abnormal but has no direction. Contradictory flags ("H L") give no direction.
    """
    raw = _clean(text)
    ups = downs = 0
    abnormal = critical = False
    recognised = True
    for token in _FLAG_TOKEN.findall(raw):
        word = token.upper()
        if word in ("HH", "\u2191\u2191"):
            ups += 2
        elif word == "LL":
            downs += 2
        elif word in _UP_WORDS:
            ups += 1
        elif word in _DOWN_WORDS:
            downs += 1
        elif word in _CRITICAL_WORDS:
            critical = True
        elif word.startswith("*") or word in _ABNORMAL_WORDS:
            abnormal = True
        elif word in _NORMAL_WORDS:
            pass
        else:
            recognised = False
    flag: Flag | None = None
    if ups and not downs:
        flag = "HH" if (ups >= 2 or critical) else "H"
    elif downs and not ups:
        flag = "LL" if (downs >= 2 or critical) else "L"
    critical = critical or flag in ("HH", "LL")
    abnormal = abnormal or critical or bool(ups or downs)
    return ParsedFlag(text=raw, flag=flag, abnormal=abnormal, critical=critical, recognised=recognised)


# ====================================================================== values
@dataclass(frozen=True)
class ParsedValue:
    """A value cell split into its parts; ``kind`` says what was found, ``problem`` why there is no value."""

    text: str
    kind: ValueKind
    value: float | None = None
    comparator: Comparator | None = None
    qualitative: str | None = None  # canonical spelling: "Positive", "Non-reactive", "Not detected", "++"...
    unit: str = ""  # unit printed inside the value cell ("5.6 mmol/L")
    flag: Flag | None = None
    abnormal: bool = False
    note: str = ""  # leftover text that is neither unit nor flag ("(repeat)", "1:80")
    problem: str = ""

    @property
    def missing(self) -> bool:
        """True when the cell holds no result at all (blank, "NA", "----", "Pending")."""
        return self.kind == "missing"


_QUALITATIVE = {
    "positive": "Positive", "pos": "Positive", "+ve": "Positive", "weakly positive": "Weakly positive",
    "weak positive": "Weakly positive", "negative": "Negative", "neg": "Negative", "-ve": "Negative",
    "reactive": "Reactive", "non reactive": "Non-reactive", "nonreactive": "Non-reactive",
    "weakly reactive": "Weakly reactive", "detected": "Detected", "not detected": "Not detected",
    "undetected": "Not detected", "none detected": "Not detected", "nil": "Nil", "trace": "Trace",
    "traces": "Trace", "absent": "Absent", "present": "Present", "equivocal": "Equivocal",
    "borderline": "Borderline", "indeterminate": "Indeterminate",
}
_QUAL_RE = re.compile(
    r"^(?P<q>"
    + "|".join(r"[\s-]+".join(map(re.escape, k.split())) for k in sorted(_QUALITATIVE, key=len, reverse=True))
    + r")(?![A-Za-z])(?P<rest>.*)$", re.IGNORECASE)
_PLUS_RE = re.compile(r"^(?:(?P<plus>\+{1,4})|(?P<n>[1-4])\s*\+)(?P<rest>(?:\s.*)?)$")
_PLACEHOLDERS = {
    "na", "n/a", "n.a", "n.a.", "not available", "not applicable", "not done", "pending", "awaited",
    "result awaited", "to follow", "cancelled", "canceled", "qns", "quantity not sufficient", "see note",
    "see comment", "see comments", "see below", "see remarks", "?", "null", "nan",
    "#n/a", "#value!", "#ref!", "#div/0!", "#num!", "#name?", "#null!",  # spreadsheet errors
}
_PLACEHOLDER_MARKS = re.compile(r"^[-\u2013\u2014_.*/\\ ]*$")
_CMP_WORDS: dict[str, Comparator] = {
    "<=": "<=", "=<": "<=", ">=": ">=", "=>": ">=", "<": "<", ">": ">", "less than": "<", "below": "<",
    "lt": "<", "greater than": ">", "more than": ">", "above": ">", "gt": ">", "up to": "<=", "upto": "<=",
    "till": "<=", "max": "<=", "maximum": "<=", "min": ">=", "minimum": ">=",
}
_CMP = (r"(?P<cmp><\s*=|>\s*=|=<|=>|<|>|\b(?:less\s+than|greater\s+than|more\s+than|below|above|up\s*to|lt|gt"
        r"|till|max(?:imum)?|min(?:imum)?)(?![A-Za-z]))")
_VALUE_RE = re.compile(r"^(?P<pre>(?:[*!]+|[\u2191\u2193]+|(?:HH|LL|H|L)(?=\s))\s*)?(?:" + _CMP
                       + r"\s*)?(?P<num>" + _NUM
                       + r")(?P<rest>.*)$", re.IGNORECASE)
_RANGE_REST = re.compile(r"^\s*(?:-|\u2013|\u2014|~|to\s)\s*[-+]?\d")
_BRACKET_FLAG = re.compile(r"[(\[]\s*(?P<f>(?:critical|crit|panic)?\s*(?:HH|LL|H|L|high|low|A|\*+)?\s*"
                           r"(?:critical|crit|panic)?)\s*[)\]]", re.IGNORECASE)
_FLAG_WORDS = {"H", "L", "HH", "LL", "A", "HIGH", "LOW", "CRITICAL", "CRIT", "PANIC", "ABNORMAL"}
_UNIT_WORDS = {  # unit words without "/", "%" or "^" (those always count as units)
    "g", "gm", "gms", "grams", "mg", "ug", "\u00b5g", "\u03bcg", "mcg", "ng", "pg", "kg", "fl", "l", "dl", "ml",
    "u", "iu", "miu", "uiu", "\u00b5iu", "\u03bciu", "ku", "mu", "eq", "meq", "mmol", "umol", "\u00b5mol",
    "\u03bcmol", "nmol", "pmol", "mol", "mosm", "s", "sec", "secs", "seconds", "min", "mins", "minutes", "h", "hr",
    "hrs", "hours", "mm", "cm", "mmhg", "kpa", "cells", "copies", "units", "unit", "ratio", "index", "cumm",
    "lakh", "lakhs", "lac", "million", "mill", "thou", "titre", "titer", "hpf", "lpf", "x", "\u00d7", "au", "coi",
    "ai", "ru", "inr",
}


def _strip_flags(text: str) -> tuple[str, ParsedFlag]:
    """Remove flag markers ("(H)", "H", "*", "↑", "High") from the text around a value; return the rest."""
    pieces: list[str] = []

    def grab(match: re.Match[str]) -> str:
        inner = match.group("f").strip()
        if not inner:
            return match.group(0)
        pieces.append(inner)
        return " "

    rest = _BRACKET_FLAG.sub(grab, text)
    kept: list[str] = []
    for token in rest.split():
        core = token.strip("*!")
        if token != core:
            pieces.append(token.replace(core, "") if core else token)
        if not core:
            continue
        arrows = core.strip("\u2191\u2193")
        if arrows != core:
            pieces.append(core.replace(arrows, "") if arrows else core)
            if not arrows:
                continue
            core = arrows
        if core.upper() in _FLAG_WORDS and (core.isupper() or len(core) > 2):
            pieces.append(core)
        else:
            kept.append(core)
    flag = parse_flag(" ".join(pieces)) if pieces else ParsedFlag(text="")
    return " ".join(kept), flag


def _looks_like_unit(text: str) -> bool:
    tokens = text.split()
    if not tokens or len(tokens) > 3 or len(text) > 25:
        return False
    for token in tokens:
        low = token.lower()
        if any(c in token for c in "/%^\u00b0\u00b3") or re.match(r"^[x\u00d7*]\s*10", low) or low in _UNIT_WORDS:
            continue
        if not re.fullmatch(r"10\^?\d*|10[\u00b3\u2076\u2079]", token):
            return False
    return True


def _qualitative(text: str) -> tuple[str, str] | None:
    m = _QUAL_RE.match(text)
    if m:
        key = m.group("q").lower()
        key = key if key in _QUALITATIVE else re.sub(r"[\s-]+", " ", key)
        return _QUALITATIVE.get(key, m.group("q")), m.group("rest").strip(" :,;")
    m = _PLUS_RE.match(text)
    if m:
        plus = m.group("plus") or "+" * int(m.group("n"))
        return plus, m.group("rest").strip()
    return None


def parse_value(text: str | None) -> ParsedValue:
    """Split a printed value cell into number/comparator/qualitative/unit/flag, saying why when it has no value.

    Handles "7.2 H", "*7.2", "7.2 (H)", "↑7.2", "<0.01", "> 5000", "1,234", "5,6", "5.6 mmol/L", "Positive",
    "++", "Non-reactive"; "----", "NA", "-", "Pending" are *missing*; "3.5-5.1" is a *range*, not a value.
    """
    raw = "" if text is None else str(text)
    s = _clean(raw)
    if not s or _PLACEHOLDER_MARKS.match(s) or s.lower().strip(" .") in _PLACEHOLDERS or s.lower() in _PLACEHOLDERS:
        what = "blank" if not s else f"'{s}'"
        return ParsedValue(raw, "missing", problem=f"no result ({what})")
    plus = _PLUS_RE.match(s)
    if plus and plus.group("n"):  # "2+" is a grade (++), not the number 2
        return ParsedValue(raw, "qualitative", qualitative="+" * int(plus.group("n")), note=plus.group("rest").strip())
    m = _VALUE_RE.match(s)
    if m and not m.group("num").lstrip("+-").startswith(","):
        num_text = m.group("num").rstrip(".,")
        rest = m.group("num")[len(num_text):] + m.group("rest")
        if _RANGE_REST.match(rest) and not m.group("cmp"):
            return ParsedValue(raw, "range", problem=f"'{s}' looks like a range, not a single result")
        if re.match(r"^[:/]\s*\d", rest) or re.match(r"^[.,]\d", rest):
            return ParsedValue(raw, "unreadable", problem=f"'{s}' is not a single number")
        number = parse_number(num_text)
        if number is None:
            return ParsedValue(raw, "unreadable", problem=f"'{num_text}' is not a number")
        leftover, flag = _strip_flags((m.group("pre") or "") + " " + rest)
        unit, note = (leftover, "") if _looks_like_unit(leftover) else ("", leftover)
        cmp_key = re.sub(r"\s+", " ", (m.group("cmp") or "").lower()).replace("< =", "<=").replace("> =", ">=")
        return ParsedValue(raw, "number", value=number, comparator=_CMP_WORDS.get(cmp_key), unit=unit,
                           flag=flag.flag, abnormal=flag.abnormal, note=note)
    leftover, flag = _strip_flags(s)
    qual = _qualitative(leftover) or _qualitative(s)
    if qual is not None:
        return ParsedValue(raw, "qualitative", qualitative=qual[0], flag=flag.flag, abnormal=flag.abnormal,
                           note=qual[1])
    return ParsedValue(raw, "unreadable", flag=flag.flag, abnormal=flag.abnormal,
                       problem=f"'{s}' is neither a number nor a known result word")


# ====================================================================== reference ranges
@dataclass(frozen=True)
class RefInterval:
    """One interval of a reference range; a missing bound is open. Bounds are inclusive unless printed < / >."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    label: str = ""  # "Male", "Desirable", "Optimal"...
    unit: str = ""

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside the interval (open ends count as unbounded)."""
        if self.low is not None and (value < self.low or (value == self.low and not self.low_inclusive)):
            return False
        return not (self.high is not None and (value > self.high or (value == self.high and not self.high_inclusive)))


Sex = Literal["M", "F"]


@dataclass(frozen=True)
class ParsedRange:
    """A printed reference range: the interval to use (``low``/``high``), every interval found, and sex-specific
    ones. When the range differs by sex, ``low``/``high`` stay None until `for_sex` picks one, so a caller
    that does not know the sex cannot apply the wrong one by accident."""

    text: str
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    unit: str = ""
    label: str = ""
    qualitative: str | None = None  # expected qualitative result ("Negative", "Non-reactive")
    intervals: tuple[RefInterval, ...] = ()
    by_sex: dict[str, RefInterval] = field(default_factory=dict)
    problem: str = ""

    @property
    def has_bounds(self) -> bool:
        return self.low is not None or self.high is not None

    @property
    def sex_specific(self) -> bool:
        return bool(self.by_sex)

    def for_sex(self, sex: str | None) -> ParsedRange:
        """The range for a patient of this sex ("M"/"F"/"male"/"female"/"man"/"woman"); itself when the range
        does not depend on sex or the sex is unknown."""
        key = _sex_of(sex or "")
        chosen = self.by_sex.get(key) if key else None
        if chosen is None:
            return self
        return replace(self, low=chosen.low, high=chosen.high, low_inclusive=chosen.low_inclusive,
                       high_inclusive=chosen.high_inclusive, unit=chosen.unit or self.unit, label=chosen.label)

    def contains(self, value: float) -> bool | None:
        """Whether ``value`` is inside the chosen interval; None when there is no numeric interval."""
        if not self.has_bounds:
            return None
        return RefInterval(self.low, self.high, self.low_inclusive, self.high_inclusive).contains(value)


_INTERVAL_RE = re.compile(
    r"(?<![\w.,])(?P<lo>" + _NUM + r")\s*(?:-|\u2013|\u2014|~|to\b)\s*(?P<hi>" + _NUM + r")(?![\d])"
    r"|" + _CMP + r"\s*:?\s*(?P<one>"
    + _NUM + r")(?![\d])", re.IGNORECASE)
_SEX_WORDS = {"m": "M", "male": "M", "males": "M", "men": "M", "man": "M", "boys": "M", "boy": "M",
              "f": "F", "female": "F", "females": "F", "women": "F", "woman": "F", "girls": "F", "girl": "F"}
_PREFERRED_LABELS = ("normal", "reference", "desirable", "optimal", "non diabetic", "nondiabetic",
                     "non-diabetic", "healthy", "adult", "adults", "negative")
_LABEL_STRIP = " \t\r\n:;,/|()[]-=\u2013\u2014."


def _sex_of(label: str) -> Sex | None:
    for word in re.findall(r"[A-Za-z]+", label.lower()):
        if word in _SEX_WORDS:
            return _SEX_WORDS[word]  # type: ignore[return-value]
    return None


def _split_unit(gap: str) -> tuple[str, str]:
    """Text after an interval: the unit it starts with (if any) and what follows (the next label)."""
    tokens = gap.strip().split(None, 1)
    first = tokens[0].rstrip(";,|") if tokens else ""
    if (re.search(r"[A-Za-z%\u00b5\u03bc]", first) and _looks_like_unit(first)
            and first.lower() not in _SEX_WORDS and first.lower() not in ("and", "or")):
        return first, tokens[1] if len(tokens) > 1 else ""
    return "", gap.strip()


def _interval(match: re.Match[str], label: str, unit: str) -> RefInterval | None:
    if match.group("lo") is not None:
        low, high = parse_number(match.group("lo")), parse_number(match.group("hi"))
        if low is None or high is None:
            return None
        return RefInterval(low=low, high=high, label=label, unit=unit)
    bound = parse_number(match.group("one"))
    if bound is None:
        return None
    word = re.sub(r"\s+", " ", match.group("cmp").lower()).replace("< =", "<=").replace("> =", ">=")
    cmp = _CMP_WORDS.get(word, word)
    if cmp in ("<", "<="):
        return RefInterval(high=bound, high_inclusive=cmp == "<=", label=label, unit=unit)
    return RefInterval(low=bound, low_inclusive=cmp == ">=", label=label, unit=unit)


def parse_reference_range(text: str | None) -> ParsedRange:
    """Read a printed reference range ("3.5-5.1 mmol/L", "< 14", "Up to 5.0", "M: 13-17 F: 12-15",
    "Desirable < 200", "Negative", "Optimal: <100 / Near optimal: 100-129 / ...") into bounds.

    With several labelled intervals, the one labelled normal / reference / desirable / optimal (else the
    first) is used and all are kept in ``intervals``; sex-labelled intervals go to ``by_sex``.
    """
    raw = "" if text is None else str(text)
    s = _clean(raw).replace("\r", "\n")
    if not s:
        return ParsedRange(raw, problem="no reference range printed")
    matches = list(_INTERVAL_RE.finditer(s))
    found: list[tuple[re.Match[str], str, str]] = []  # (match, label printed before it, unit after it)
    label = s[:matches[0].start()] if matches else ""
    for i, match in enumerate(matches):
        nxt = matches[i + 1].start() if i + 1 < len(matches) else len(s)
        unit, tail = _split_unit(s[match.end():nxt])
        found.append((match, label, unit))
        label = tail
    labels = [before for _, before, _ in found]
    if found and not labels[0].strip(_LABEL_STRIP) and label.strip(_LABEL_STRIP):
        labels = labels[1:] + [label]  # "< 200 Desirable, 200-239 Borderline": labels follow their interval
    intervals: list[RefInterval] = []
    for (match, _, unit), text_label in zip(found, labels):
        interval = _interval(match, re.sub(r"\s+", " ", text_label.strip(_LABEL_STRIP)), unit)
        if interval is not None:
            intervals.append(interval)
    qual = _qualitative(s.strip(" ()[]"))
    qualitative = qual[0] if qual else None
    if not intervals:
        if qualitative:
            return ParsedRange(raw, qualitative=qualitative)
        return ParsedRange(raw, problem=f"'{s}' has no numeric range")
    units = [iv.unit for iv in intervals if iv.unit]
    by_sex: dict[str, RefInterval] = {}
    for iv in intervals:
        sex = _sex_of(iv.label)
        if sex and sex not in by_sex:
            by_sex[sex] = replace(iv, unit=iv.unit or (units[0] if units else ""))
    base = ParsedRange(raw, unit=units[0] if units else "", qualitative=qualitative, intervals=tuple(intervals),
                       by_sex=by_sex)
    if by_sex:
        return base
    chosen = intervals[0]
    for preferred in _PREFERRED_LABELS:
        hit = next((iv for iv in intervals if iv.label.lower().startswith(preferred)), None)
        if hit is not None:
            chosen = hit
            break
    return replace(base, low=chosen.low, high=chosen.high, low_inclusive=chosen.low_inclusive,
                   high_inclusive=chosen.high_inclusive, unit=chosen.unit or base.unit, label=chosen.label)


# ====================================================================== dates
_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                "november", "december")
_TIME = r"(?:[ T,]+(?P<hh>\d{1,2}):(?P<mi>\d{2})(?::(?P<ss>\d{2})(?:\.\d+)?)?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?"
_NUMERIC_DATE = re.compile(r"^(?P<a>\d{1,4})[/.\-](?P<b>\d{1,2})[/.\-](?P<c>\d{2,4})" + _TIME + r"$")
_NAMED_DATE = re.compile(r"^(?P<d>\d{1,2})(?:st|nd|rd|th)?[\s\-/.]*(?P<mon>[A-Za-z]{3,9})\.?[\s\-/.,]*(?P<y>\d{2,4})"
                         + _TIME + r"$")
_NAMED_DATE_US = re.compile(r"^(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})"
                            + _TIME + r"$")


def _year(text: str) -> int:
    year = int(text)
    if len(text) <= 2:
        year += 2000 if year < 70 else 1900
    return year


def _clock(m: re.Match[str]) -> time | None:
    if m.group("hh") is None:
        return time()
    hour, minute, second = int(m.group("hh")), int(m.group("mi")), int(m.group("ss") or 0)
    ampm = (m.group("ampm") or "").lower().replace(".", "")
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return time(hour, minute, second)


def _build(year: int, month: int, day: int, clock: time | None) -> datetime | None:
    if clock is None:
        return None
    try:
        return datetime(year, month, day, clock.hour, clock.minute, clock.second)
    except ValueError:
        return None


def parse_date(text: str | None, *, dayfirst: bool = True) -> datetime | None:
    """A printed collection date/time as a datetime (None when unreadable).

    Accepts ISO 8601 (with or without time/offset; kept timezone-aware when an offset is printed),
    dd/mm/yyyy, dd-mm-yy, dd.mm.yyyy (day-first by default, see module notes), yyyy/mm/dd,
    "05-Mar-2024", "5 March 2024", "Mar 5, 2024", each optionally followed by "10:30", "10:30:15" or "10:30 PM".
    """
    s = _clean(text)
    if not s:
        return None
    iso = s[:-1] + "+00:00" if s.endswith("Z") else s
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    m = _NUMERIC_DATE.match(s)
    if m:
        a, b, c = m.group("a"), m.group("b"), m.group("c")
        clock = _clock(m)
        if len(a) == 4:
            return _build(int(a), int(b), int(c), clock)
        if len(a) == 3 or len(c) == 3:
            return None
        first, second = (int(a), int(b)) if dayfirst else (int(b), int(a))  # (day, month)
        return _build(_year(c), second, first, clock) or _build(_year(c), first, second, clock)
    for pattern in (_NAMED_DATE, _NAMED_DATE_US):
        m = pattern.match(s)
        if m:
            name = m.group("mon").lower()
            month = _MONTHS.get(name[:3])
            if month is None or not (len(name) == 3 or name == "sept" or _MONTH_NAMES[month - 1].startswith(name)):
                return None
            return _build(_year(m.group("y")), month, int(m.group("d")), _clock(m))
    return None
