"""What a piece of printed text is, cell by cell: a header word, a flag, a footer line.

Shared by every reader through `rows`: the header spellings ("Test", "Investigation", "Observed value",
"Biological reference interval"...), flags as labs print them (H, L, *, High, Critical, arrows) alone or
attached to a value ("7.2 H", "*7.2"), and the lines that never hold results (signatures, page numbers,
"End of report", disclaimers), also when a reader cut a word in two or OCR dropped the spaces.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

__all__ = ["Role", "clean_text", "has_number", "header_roles", "is_end", "is_flag", "is_footer",
           "split_attached_flag"]

Role = Literal["name", "value", "unit", "ref", "flag", "skip"]  # skip: a column read by nobody (method, previous)


def clean_text(text: str | None) -> str:
    """One line of single-spaced text; a line broken after a hyphen is joined without a space."""
    if not text:
        return ""
    text = text.replace("\u00a0", " ").replace("\u2212", "-").replace("\u2013", "-").replace("\u2014", "-")
    text = re.sub(r"(?<=\w-)\s*\n\s*(?=\w)", "", text)
    return re.sub(r"\s+", " ", text).strip()


_FLAG_WORDS = {"h", "l", "hh", "ll", "high", "low", "critical", "crit", "critical high", "critical low",
               "abnormal", "abn", "*", "**", "***", "!", "!!", "↑", "↓", "↑↑", "↓↓", "(h)", "(l)", "[h]", "[l]",
               "(hh)", "(ll)", "h*", "l*"}


def is_flag(text: str) -> bool:
    """True for a flag as labs print it: H, L, HH, LL, High, Low, Critical, *, arrows, (H)."""
    t = clean_text(text)
    if not t:
        return False
    if len(t) <= 2 and t.isalpha():  # single letters are flags only in capitals ("h" is an hour, "a" a prefix)
        return t in {"H", "L", "HH", "LL"}
    return t.lower() in _FLAG_WORDS


_NUMBER = re.compile(r"(?<![A-Za-z])\d+(?:[.,]\d+)*")


def has_number(text: str) -> bool:
    """True when the text holds a number (not a digit inside a word like "HbA1c")."""
    return bool(_NUMBER.search(text))


_FLAG_PREFIX = re.compile(r"^(?P<flag>\*{1,3}|!{1,2}|[↑↓]{1,2}|(?:HH|LL|H|L|High|Low|HIGH|LOW|Critical|CRITICAL)(?=\s))"
                          r"\s*(?P<rest>[<>≤≥=]?\s*[-+]?\d.*)$")
_FLAG_SUFFIX = re.compile(r"^(?P<rest>.*?\d.*?)\s*(?P<flag>\*{1,3}|!{1,2}|[↑↓]{1,2}|\((?:HH|LL|H|L)\)|\[(?:H|L)\])$"
                          r"|^(?P<rest2>.*?\d.*?)\s+(?P<flag2>HH|LL|H|L|High|Low|HIGH|LOW|Critical|CRITICAL"
                          r"|Critical High|Critical Low|Abnormal)$")


def split_attached_flag(text: str) -> tuple[str, str]:
    """("7.2 H" | "*7.2" | "H 7.2" | "1850 pg/mL High") -> (value, flag); (text, "") when no flag is attached."""
    t = clean_text(text)
    m = _FLAG_PREFIX.match(t)
    if m:
        return m.group("rest").strip(), m.group("flag")
    m = _FLAG_SUFFIX.match(t)
    if m:
        if m.group("rest") is not None:
            return m.group("rest").strip(), m.group("flag")
        return m.group("rest2").strip(), m.group("flag2")
    return t, ""


_FOOTER = re.compile(
    r"end of (the )?report|^\W*page \d+( of \d+)?\W*$|\bpage \d+ of \d+\b|signature|\bsigned\b|verified by"
    r"|authori[sz]ed by|approved by|pathologist|lab(oratory)? (technician|technologist|incharge|in-charge|director)"
    r"|\bprinted (on|at|by)\b|^printed\b|generated on|computer generated|electronically (signed|verified)"
    r"|thanks? (you )?for (the )?reference|please correlate|not valid for|medico[- ]?legal|work ?timings?"
    r"|^\W*(instruments?|method|methods|note|notes|comments?|remarks?|interpretation|disclaimer)\s*:"
    r"|^\W*dr\.?\s+[a-z]|\b(mbbs|dmlt|bmlt|frcpath)\b|^\W*\(?md\b", re.I)
_FOOTER_COMPACT = ("endofreport", "endofthereport", "verifiedby", "authorisedby", "authorizedby", "approvedby",
                   "electronicallyverified", "electronicallysigned", "computergenerated", "pleasecorrelate",
                   "notvalidfor", "medicolegal", "thanksforreference", "printedon", "generatedon", "pathologist",
                   "signature", "worktiming")
_END = re.compile(r"end of (the )?report", re.I)


def _compact(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


_FOOTER_DIGITS = re.compile(r"page\d+of\d+|^printed(on)?\d|^generated(on)?\d")


def is_end(text: str) -> bool:
    """True for the report's closing line ("*** End of report ***"): nothing below it is a result."""
    return bool(_END.search(text)) or "endofreport" in _compact(text) or "endofthereport" in _compact(text)


def is_footer(text: str) -> bool:
    """Signatures, page numbers, "End of report", disclaimers: lines that are never results (also when a
    reader cut a word in two or OCR dropped the spaces: "End of rep ort", "Generatedon:")."""
    t = clean_text(text)
    squeezed = re.sub(r"[^a-z0-9]", "", t.lower())
    return (bool(_FOOTER.search(t)) or any(k in _compact(t) for k in _FOOTER_COMPACT)
            or bool(_FOOTER_DIGITS.search(squeezed)))


# ====================================================================== header row
_HEADER_RULES: list[tuple[Role, re.Pattern[str]]] = [
    ("skip", re.compile(r"^(method(ology)?|specimen|sample( type)?|comments?|remarks?|notes?|loinc|code"
                        r"|(previous|prior|last|earlier) .*|.* (previous|prior|last|earlier))$")),
    ("ref", re.compile(r"\b(ref(erence)?s?|normal|biological|bio|interval|intervals|range|ranges|expected|limits?"
                       r"|desirable)\b")),
    ("unit", re.compile(r"^(units?|uom|u\.?o\.?m|unit of measure(ment)?)$")),
    ("flag", re.compile(r"^(flags?|status|h ?/ ?l|abn(ormal)?|alert|indicator)$")),
    ("value", re.compile(r"\b(results?|values?|observ\w*|reading|readings|your (result|value)|findings?|outcome)\b")),
    ("name", re.compile(r"^(tests?|test (name|description|parameters?)|investigations?|parameters?|analytes?"
                        r"|examinations?|descriptions?|particulars|components?|lab tests?|determinations?"
                        r"|tests? performed|name of (the )?tests?)\b")),
]


def _header_role(text: str) -> Role | None:
    t = re.sub(r"[:.*#]+$", "", clean_text(text).lower()).strip()
    t = re.sub(r"\s+", " ", t.replace(".", ". ")).replace(" .", ".").strip()
    if not t or len(t) > 40 or has_number(t):
        return None
    for role, pattern in _HEADER_RULES:
        if pattern.search(t):
            return role
    return None


def header_roles(texts: Sequence[str]) -> list[Role | None] | None:
    """Roles of the cells of a header row, or None when the cells are no header.

    A header names at least the test and the result column, and most of its cells are header words. A
    blank cell over the leftmost column counts as the test column when result and unit/range are named.
    """
    roles = [_header_role(t) for t in texts]
    filled = [i for i, t in enumerate(texts) if clean_text(t)]
    known = [i for i in filled if roles[i] is not None]
    if not filled or any(has_number(texts[i]) for i in filled):
        return None
    if len(known) < 2 or len(known) < len(filled) - 1:
        return None
    if "value" not in roles:
        return None
    if "name" not in roles:
        if clean_text(texts[0]) or not {"unit", "ref"} & set(roles):
            return None
        roles[0] = "name"
    return roles
