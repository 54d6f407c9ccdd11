"""Who and when: the patient name, patient ID and collection time printed in a report's header block.

Only labelled fields are trusted ("Patient Name:", "Patient ID", "PID", "MRN", "Reg. no.", "Collected on",
"Sample Date"...), plus a name that starts with a title (Mr., Mrs., Ms.) when no name label exists. A value
ends where the next label starts, or at a column gap (three spaces, as OCR lines are joined). Dates are
read day first (12/03/2025 = 12 March) unless the numbers say otherwise; an ambiguous or unreadable
collection time is reported in ``notes`` so that nobody relies on a guessed sampling time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["HeaderFields", "parse_datetime", "read_header_fields"]


@dataclass
class HeaderFields:
    """The fields found; empty strings / None when not printed."""

    patient: str = ""
    patient_id: str = ""
    collected_at: datetime | None = None
    collected_text: str = ""
    notes: list[str] = field(default_factory=list)


_LABELS: list[tuple[str, str]] = [
    ("name", r"patient'?s?\s*name|name\s+of\s+(?:the\s+)?patient|patient(?=\s*:)|(?<![\w.] )(?<!\w)name"),
    ("id", r"patient\s*(?:id|no\.?|number)|\bp\.?\s?id\b|\bmrn\b|\buhid\b|\bcr\s*no\b|hospital\s*(?:no|number|id)\.?"
           r"|medical\s+record\s+(?:no|number)\.?"),
    # a registration number is the patient's only when no ID above is printed ("Regd. No." is the lab's own)
    ("reg", r"reg(?:d|istration)?\.?\s*(?:no|number|id)\.?"),
    ("collected", r"(?:sample\s+|specimen\s+)?collect(?:ed|ion)(?:\s+(?:on|at|date|time|date\s*/\s*time|date\s*&\s*"
                  r"time))?|sample\s+(?:date|drawn(?:\s+on)?|taken(?:\s+on)?)|date\s+of\s+(?:collection|sampling)"
                  r"|drawn\s+(?:on|at)"),
    ("other", r"age\s*/\s*sex|age\s*/\s*gender|\bage\b|\bsex\b|gender|d\.?o\.?b\.?|date\s+of\s+birth"
              r"|ref(?:erred|\.)?\s*by|referring\s+(?:doctor|physician)|consultant|reported(?:\s+on)?"
              r"|report\s+(?:date|time)|registered(?:\s+on)?|received(?:\s+on)?|printed(?:\s+on)?|ward|bed"
              r"|sample\s+(?:type|id|no\.?)|specimen(?:\s+type)?|lab\s*(?:no|id)\.?|accession|phone|address"
              r"|visit\s*(?:no|id)|barcode|location|client"),
]
_FIELD = re.compile("(?:" + "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _LABELS) + r")\s*[:：]", re.I)
_TITLED = re.compile(r"(?:^|\s{3,})((?:Mr|Mrs|Ms|Miss|Mx|Master|Baby|Smt|Shri)\.?\s+[A-Z][\w.'-]*"
                     r"(?:\s[A-Z][\w.'-]*){0,4})")
_MONTHS = {m: i + 1 for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                             "nov", "dec"])}


def read_header_fields(lines: list[str]) -> HeaderFields:
    """Patient name, ID and collection time from the report's header text (one string per printed line)."""
    out = HeaderFields()
    strong_id = False
    for line in lines:
        matches = list(_FIELD.finditer(line))
        for k, m in enumerate(matches):
            end = matches[k + 1].start() if k + 1 < len(matches) else len(line)
            value = re.split(r"\s{3,}", line[m.end():end].strip(), maxsplit=1)[0].strip(" :|,;")
            kind = m.lastgroup
            if kind == "name" and not out.patient and value and not _has_digits(value):
                out.patient = value
            elif kind == "id" and value and not strong_id:
                out.patient_id, strong_id = value, True
            elif kind == "reg" and value and not out.patient_id and not m.group(0).lower().startswith("regd"):
                out.patient_id = value
            elif kind == "collected" and out.collected_at is None and value:
                when, note = parse_datetime(value)
                if when is not None:
                    out.collected_at, out.collected_text = when, value
                    if note:
                        out.notes.append(f"Collection time '{value}' {note}.")
                elif _has_digits(value) and not out.collected_text:
                    out.collected_text = value
                    out.notes.append(f"The collection time is printed as '{value}', which is not a readable "
                                     "date: results carry no collection time.")
    if not out.patient:
        for line in lines:
            m = _TITLED.search(line)
            if m:
                out.patient = m.group(1).strip()
                break
    return out


def _has_digits(text: str) -> bool:
    return any(c.isdigit() for c in text)


_DATE_PATTERNS = [
    ("iso", re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")),
    ("num", re.compile(r"(?<!\d)(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2}(?!\d))")),
    ("dmy", re.compile(r"(?<!\d)(\d{1,2})[\s\-/.]*([A-Za-z]{3,9})[\s,\-/.]*(\d{4}|\d{2}(?!\d))")),
    ("mdy", re.compile(r"\b([A-Za-z]{3,9})[\s.]+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b")),
]
_TIME = re.compile(r"(?<!\d)(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?\s*([AaPp])?\.?\s*(?:[Mm]\.?)?(?![\w])")


def parse_datetime(text: str) -> tuple[datetime | None, str]:
    """(datetime, note) from a printed date-time; (None, "") when no date can be read.

    The note says when a day/month order was assumed or no time was printed.
    """
    for kind, pattern in _DATE_PATTERNS:
        m = pattern.search(text)
        if not m:
            continue
        note = ""
        a, b, c = m.groups()
        if kind == "iso":
            year, month, day = int(a), int(b), int(c)
        elif kind == "num":
            first, second, year = int(a), int(b), int(c)
            if first > 12 or second > 12:
                day, month = (first, second) if first > 12 else (second, first)
            else:
                day, month = first, second
                if first != second:
                    note = f"was read day first ({first} {_month_name(second)} {_year(year)})"
        elif kind == "dmy":
            month = _MONTHS.get(b[:3].lower(), 0)
            day, year = int(a), int(c)
        else:
            month = _MONTHS.get(a[:3].lower(), 0)
            day, year = int(b), int(c)
        try:
            date = datetime(_year(year), month, day)
        except ValueError:
            continue
        rest = text[:m.start()] + " " + text[m.end():]
        t = _TIME.search(rest)
        if t:
            hour, minute, second = int(t.group(1)), int(t.group(2)), int(t.group(3) or 0)
            if t.group(4):
                hour = hour % 12 + (12 if t.group(4).lower() == "p" else 0)
            if hour < 24 and minute < 60 and second < 60:
                return date.replace(hour=hour, minute=minute, second=second), note
        return date, (note + "; " if note else "") + "has a date but no time (taken as 00:00)"
    return None, ""


def _year(year: int) -> int:
    return year + 2000 if year < 100 else year


def _month_name(month: int) -> str:
    return ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
            "November", "December"][month - 1]
