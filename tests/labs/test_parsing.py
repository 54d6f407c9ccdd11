"""Value, reference-range, flag, number and date parsers: table-driven cases plus a few properties."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from workbench.labs.parsing import (
    parse_date,
    parse_flag,
    parse_number,
    parse_reference_range,
    parse_value,
)

# ====================================================================== values
# text -> (kind, value, comparator, qualitative, unit, flag)
VALUES = [
    ("7.2", ("number", 7.2, None, None, "", None)),
    ("7.2 H", ("number", 7.2, None, None, "", "H")),
    ("7.2H", ("number", 7.2, None, None, "", "H")),
    ("*7.2", ("number", 7.2, None, None, "", None)),
    ("7.2 (H)", ("number", 7.2, None, None, "", "H")),
    ("7.2 [L]", ("number", 7.2, None, None, "", "L")),
    ("\u21917.2", ("number", 7.2, None, None, "", "H")),
    ("3.1 \u2193", ("number", 3.1, None, None, "", "L")),
    ("7.2 H*", ("number", 7.2, None, None, "", "H")),
    ("H 7.2", ("number", 7.2, None, None, "", "H")),
    ("6.9 HH", ("number", 6.9, None, None, "", "HH")),
    ("2.1 LL", ("number", 2.1, None, None, "", "LL")),
    ("15.2 (Critical High)", ("number", 15.2, None, None, "", "HH")),
    ("5.6 high", ("number", 5.6, None, None, "", "H")),
    ("<0.01", ("number", 0.01, "<", None, "", None)),
    ("> 5000", ("number", 5000.0, ">", None, "", None)),
    ("<= 3", ("number", 3.0, "<=", None, "", None)),
    ("\u2265 90", ("number", 90.0, ">=", None, "", None)),
    ("< = 5", ("number", 5.0, "<=", None, "", None)),
    ("less than 5", ("number", 5.0, "<", None, "", None)),
    ("1,234", ("number", 1234.0, None, None, "", None)),
    ("1,234,567", ("number", 1234567.0, None, None, "", None)),
    ("1,50,000", ("number", 150000.0, None, None, "", None)),
    ("5,6", ("number", 5.6, None, None, "", None)),
    ("0,123", ("number", 0.123, None, None, "", None)),
    ("1.234,5", ("number", 1234.5, None, None, "", None)),
    ("1,234.50", ("number", 1234.5, None, None, "", None)),
    (".5", ("number", 0.5, None, None, "", None)),
    ("-2.5", ("number", -2.5, None, None, "", None)),
    ("\u22122.5", ("number", -2.5, None, None, "", None)),
    ("5.6 mmol/L", ("number", 5.6, None, None, "mmol/L", None)),
    ("0.01 ng/mL", ("number", 0.01, None, None, "ng/mL", None)),
    ("5.6mg/dL", ("number", 5.6, None, None, "mg/dL", None)),
    ("6.5%", ("number", 6.5, None, None, "%", None)),
    ("7.5 x10^3/uL", ("number", 7.5, None, None, "x10^3/uL", None)),
    ("4.5 mill/cumm", ("number", 4.5, None, None, "mill/cumm", None)),
    ("9.8 g/dL L", ("number", 9.8, None, None, "g/dL", "L")),
    ("< 3 ng/L", ("number", 3.0, "<", None, "ng/L", None)),
    ("1.2E+03", ("number", 1200.0, None, None, "", None)),
    ("\u00a012.0\u00a0", ("number", 12.0, None, None, "", None)),
    ("Positive", ("qualitative", None, None, "Positive", "", None)),
    ("POSITIVE", ("qualitative", None, None, "Positive", "", None)),
    ("Negative", ("qualitative", None, None, "Negative", "", None)),
    ("-ve", ("qualitative", None, None, "Negative", "", None)),
    ("Reactive", ("qualitative", None, None, "Reactive", "", None)),
    ("Non-reactive", ("qualitative", None, None, "Non-reactive", "", None)),
    ("NON REACTIVE", ("qualitative", None, None, "Non-reactive", "", None)),
    ("Detected", ("qualitative", None, None, "Detected", "", None)),
    ("Not Detected", ("qualitative", None, None, "Not detected", "", None)),
    ("Nil", ("qualitative", None, None, "Nil", "", None)),
    ("Trace", ("qualitative", None, None, "Trace", "", None)),
    ("+", ("qualitative", None, None, "+", "", None)),
    ("++", ("qualitative", None, None, "++", "", None)),
    ("2+", ("qualitative", None, None, "++", "", None)),
    ("Positive (H)", ("qualitative", None, None, "Positive", "", "H")),
    ("----", ("missing", None, None, None, "", None)),
    ("-", ("missing", None, None, None, "", None)),
    ("", ("missing", None, None, None, "", None)),
    ("NA", ("missing", None, None, None, "", None)),
    ("N/A", ("missing", None, None, None, "", None)),
    ("Pending", ("missing", None, None, None, "", None)),
    ("#N/A", ("missing", None, None, None, "", None)),
    ("3.5-5.1", ("range", None, None, None, "", None)),
    ("10 - 20", ("range", None, None, None, "", None)),
    ("0.5 \u2013 1.2", ("range", None, None, None, "", None)),
    ("1:80", ("unreadable", None, None, None, "", None)),
    ("12:30", ("unreadable", None, None, None, "", None)),
    ("1,2,3", ("unreadable", None, None, None, "", None)),
    ("haemolysed", ("unreadable", None, None, None, "", None)),
]


@pytest.mark.parametrize(("text", "expected"), VALUES, ids=[repr(t) for t, _ in VALUES])
def test_parse_value(text, expected):
    p = parse_value(text)
    kind, value, comparator, qualitative, unit, flag = expected
    assert (p.kind, p.comparator, p.qualitative, p.unit, p.flag) == (kind, comparator, qualitative, unit, flag), p
    assert p.value == pytest.approx(value) if value is not None else p.value is None
    assert p.text == text
    assert (p.problem != "") == (kind in ("missing", "range", "unreadable"))
    assert p.missing == (kind == "missing")


@pytest.mark.parametrize("text", ["*7.2", "7.2 *", "**7.2", "7.2 H", "7.2 (A)"])
def test_value_abnormal_markers(text):
    assert parse_value(text).abnormal


def test_value_keeps_leftover_text_as_note():
    p = parse_value("12 (repeat)")
    assert (p.value, p.unit, p.note) == (12.0, "", "(repeat)")
    assert parse_value("Positive (1:80)").note == "(1:80)"


def test_value_never_raises_on_random_text():
    rng = random.Random(7)
    alphabet = "0123456789.,<>=-+ HLhl*()[]/%^\u2191\u2193\u2013abcmgdLNA:"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        p = parse_value(text)
        assert p.kind in ("number", "qualitative", "missing", "range", "unreadable")
        assert (p.value is not None) == (p.kind == "number")


@pytest.mark.parametrize("x", [0.0, 0.01, 1.5, 7.25, 14.0, 123.456, 5000.0, 98765.4321])
def test_value_round_trip_of_printed_numbers(x):
    for text in (f"{x}", f"{x:.2f}", f"{x:,.2f}", f"< {x}", f"{x} H", f"{x} mmol/L"):
        assert parse_value(text).value == pytest.approx(x, abs=0.006), text  # 2-decimal prints round


# ====================================================================== numbers
@pytest.mark.parametrize(("text", "expected"), [
    ("1,234", 1234.0), ("12,345", 12345.0), ("5,6", 5.6), ("12,50", 12.5), ("1,23", 1.23), ("0,5", 0.5),
    ("1.234", 1.234), ("1.234.567", 1234567.0), ("1.234,56", 1234.56), ("10,00,000", 1000000.0),
    ("+3", 3.0), ("-0.5", -0.5), ("1e3", 1000.0), ("abc", None), ("1..2", None), ("", None), ("1,2,3", None),
])
def test_parse_number(text, expected):
    assert parse_number(text) == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize("n", [0, 7, 999, 1000, 1234, 99999, 123456, 7654321])
def test_thousands_separator_round_trip(n):
    assert parse_number(f"{n:,}") == n
    assert parse_number(f"{n:,.2f}") == pytest.approx(n)
    european = f"{n:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    assert parse_number(european) == pytest.approx(n)


# ====================================================================== reference ranges
# text -> (low, high, low_inclusive, high_inclusive, unit, qualitative)
RANGES = [
    ("0-14", (0.0, 14.0, True, True, "", None)),
    ("0 - 14", (0.0, 14.0, True, True, "", None)),
    ("0.5 \u2013 1.2", (0.5, 1.2, True, True, "", None)),
    ("0.5 to 1.2", (0.5, 1.2, True, True, "", None)),
    ("(3.5-5.1)", (3.5, 5.1, True, True, "", None)),
    ("< 14", (None, 14.0, True, False, "", None)),
    ("<= 14", (None, 14.0, True, True, "", None)),
    ("\u2264 14", (None, 14.0, True, True, "", None)),
    ("Up to 5.0", (None, 5.0, True, True, "", None)),
    ("upto 5", (None, 5.0, True, True, "", None)),
    ("Less than 200", (None, 200.0, True, False, "", None)),
    ("> 60", (60.0, None, False, True, "", None)),
    (">= 60", (60.0, None, True, True, "", None)),
    ("14 - 52 ng/L", (14.0, 52.0, True, True, "ng/L", None)),
    ("3.5-5.1 mmol/L", (3.5, 5.1, True, True, "mmol/L", None)),
    ("150,000 - 410,000", (150000.0, 410000.0, True, True, "", None)),
    ("1,50,000-4,10,000 /cumm", (150000.0, 410000.0, True, True, "/cumm", None)),
    ("3,5-5,1", (3.5, 5.1, True, True, "", None)),
    ("-2 to +2", (-2.0, 2.0, True, True, "", None)),
    ("Desirable < 200", (None, 200.0, True, False, "", None)),
    ("Desirable: < 200 mg/dL", (None, 200.0, True, False, "mg/dL", None)),
    ("Negative", (None, None, True, True, "", "Negative")),
    ("Non Reactive", (None, None, True, True, "", "Non-reactive")),
    ("Optimal: <100 / Near optimal: 100-129 / Borderline high: 130-159 / High: 160-189 / Very high: >=190",
     (None, 100.0, True, False, "", None)),
    ("Normal: < 5.7 %\nPrediabetes: 5.7 - 6.4\nDiabetes: >= 6.5", (None, 5.7, True, False, "%", None)),
    ("< 200 Desirable, 200-239 Borderline, >= 240 High", (None, 200.0, True, False, "", None)),
    ("Adult: 0.6-1.2 Child: 0.3-0.7", (0.6, 1.2, True, True, "", None)),
    ("< 14 ng/L (99th percentile)", (None, 14.0, True, False, "ng/L", None)),
]


@pytest.mark.parametrize(("text", "expected"), RANGES, ids=[repr(t) for t, _ in RANGES])
def test_parse_reference_range(text, expected):
    r = parse_reference_range(text)
    assert (r.low, r.high, r.low_inclusive, r.high_inclusive, r.unit, r.qualitative) == expected, r
    assert r.text == text and not r.sex_specific


@pytest.mark.parametrize(("text", "male", "female", "unit"), [
    ("M: 13-17 F: 12-15", (13.0, 17.0), (12.0, 15.0), ""),
    ("Male 13.0-17.0; Female 12.0-15.5", (13.0, 17.0), (12.0, 15.5), ""),
    ("Men: 13-17, Women: 12-15", (13.0, 17.0), (12.0, 15.0), ""),
    ("M: 13-17 g/dL F: 12-15 g/dL", (13.0, 17.0), (12.0, 15.0), "g/dL"),
    ("Female: 0 - 15.6\nMale: 0 - 34.2 ng/L", (0.0, 34.2), (0.0, 15.6), "ng/L"),
    ("Male: < 34.2 Female: < 15.6 ng/L", (None, 34.2), (None, 15.6), "ng/L"),
])
def test_sex_specific_ranges(text, male, female, unit):
    r = parse_reference_range(text)
    assert r.sex_specific and r.low is None and r.high is None  # nothing applied until the sex is known
    for sex, (low, high) in (("M", male), ("male", male), ("Man", male), ("F", female), ("female", female)):
        chosen = r.for_sex(sex)
        assert (chosen.low, chosen.high, chosen.unit) == (low, high, unit), (sex, chosen)
    assert r.for_sex(None) is r and r.for_sex("unknown") is r


def test_multiline_range_keeps_every_interval():
    r = parse_reference_range("Optimal: <100 / Near optimal: 100-129 / Borderline high: 130-159 / "
                              "High: 160-189 / Very high: >=190")
    assert [(i.label, i.low, i.high) for i in r.intervals] == [
        ("Optimal", None, 100.0), ("Near optimal", 100.0, 129.0), ("Borderline high", 130.0, 159.0),
        ("High", 160.0, 189.0), ("Very high", 190.0, None)]
    assert r.label == "Optimal" and r.contains(99) and not r.contains(100)


@pytest.mark.parametrize("text", ["", "14", "See comment", "As per clinical context"])
def test_range_without_bounds_says_why(text):
    r = parse_reference_range(text)
    assert not r.has_bounds and r.problem and r.contains(5) is None


@pytest.mark.parametrize(("low", "high"), [(0, 14), (3.5, 5.1), (0.01, 0.04), (13.5, 17.5), (150, 450)])
def test_range_contains_property(low, high):
    r = parse_reference_range(f"{low} - {high}")
    for x in (low, high, (low + high) / 2):
        assert r.contains(x)
    assert not r.contains(low - 0.001) and not r.contains(high + 0.001)
    assert parse_reference_range(f"< {high}").contains(high) is False


# ====================================================================== flags
# text -> (flag, abnormal, critical)
FLAGS = [
    ("H", ("H", True, False)), ("h", ("H", True, False)), ("High", ("H", True, False)),
    ("L", ("L", True, False)), ("LOW", ("L", True, False)), ("(L)", ("L", True, False)),
    ("HH", ("HH", True, True)), ("LL", ("LL", True, True)), ("\u2191", ("H", True, False)),
    ("\u2193", ("L", True, False)), ("\u2191\u2191", ("HH", True, True)), ("*", (None, True, False)),
    ("**", (None, True, False)), ("H*", ("H", True, False)), ("A", (None, True, False)),
    ("AA", (None, True, True)), ("Abnormal", (None, True, False)), ("Critical", (None, True, True)),
    ("Crit", (None, True, True)), ("Panic", (None, True, True)), ("Critical High", ("HH", True, True)),
    ("Panic Low", ("LL", True, True)), ("Crit L", ("LL", True, True)), ("High (Critical)", ("HH", True, True)),
    ("N", (None, False, False)), ("Normal", (None, False, False)), ("", (None, False, False)),
    ("H L", (None, True, False)),
]


@pytest.mark.parametrize(("text", "expected"), FLAGS, ids=[repr(t) for t, _ in FLAGS])
def test_parse_flag(text, expected):
    f = parse_flag(text)
    assert (f.flag, f.abnormal, f.critical) == expected and f.recognised


def test_flag_unknown_words_are_reported():
    f = parse_flag("see remark")
    assert f.flag is None and not f.recognised
    assert parse_flag(None).flag is None


# ====================================================================== dates
@pytest.mark.parametrize(("text", "dayfirst", "expected"), [
    ("2024-03-05", True, datetime(2024, 3, 5)),
    ("2024-03-05", False, datetime(2024, 3, 5)),
    ("2024-03-05 10:30", True, datetime(2024, 3, 5, 10, 30)),
    ("2024/03/05", True, datetime(2024, 3, 5)),
    ("05/03/2024", True, datetime(2024, 3, 5)),
    ("05/03/2024", False, datetime(2024, 5, 3)),
    ("5/3/24", True, datetime(2024, 3, 5)),
    ("13/05/2024", False, datetime(2024, 5, 13)),  # impossible month-first: falls back to day-first
    ("05.03.2024 10:30 PM", True, datetime(2024, 3, 5, 22, 30)),
    ("05-03-2024 08:15:30", True, datetime(2024, 3, 5, 8, 15, 30)),
    ("05-Mar-2024", True, datetime(2024, 3, 5)),
    ("5 March 2024", False, datetime(2024, 3, 5)),
    ("Mar 5, 2024 7:05 am", True, datetime(2024, 3, 5, 7, 5)),
    ("5th Sept 2024", True, datetime(2024, 9, 5)),
    ("31/02/2024", True, None), ("05-Foo-2024", True, None), ("yesterday", True, None), ("", True, None),
])
def test_parse_date(text, dayfirst, expected):
    assert parse_date(text, dayfirst=dayfirst) == expected


def test_iso_dates_keep_their_offset():
    assert parse_date("2024-03-05T10:30:00+05:30") == datetime(2024, 3, 5, 10, 30,
                                                               tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert parse_date("2024-03-05T10:30:00Z").utcoffset() == timedelta(0)


def test_day_first_round_trip():
    day = datetime(2023, 1, 1)
    for _ in range(400):
        text_uk, text_us = day.strftime("%d/%m/%Y"), day.strftime("%m/%d/%Y")
        assert parse_date(text_uk) == day and parse_date(text_us, dayfirst=False) == day
        day += timedelta(days=1)
