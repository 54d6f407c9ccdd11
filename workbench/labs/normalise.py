"""Raw rows -> coded, unit-normalised results with reference range and flag, or an unparsed row with the
reason. The one place where a printed lab line gets its clinical meaning, so every rule about what to trust
(the report's own range over the catalogue's, the value over the printed flag) is written here once."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from .catalogue import Analyte, Catalogue, UnitError, get_catalogue
from .parsing import ParsedRange, ParsedValue, parse_flag, parse_reference_range, parse_value
from .records import Flag, LabResult, RawLabRow, UnparsedRow

#: a printed range whose upper limit differs from the catalogue's by more than this factor was printed in
#: another unit than the value's (e.g. troponin "0-14" next to "ng/mL"): the unit cannot be trusted
UNIT_MISMATCH_FACTOR = 20.0
#: when no unit is printed, the unit whose reading of the printed range lies within this factor of the
#: catalogue's range is taken as the unit of the row
UNIT_INFERENCE_FACTOR = 3.0


@dataclass(frozen=True)
class Patient:
    """What the normaliser needs about the patient: sex and age pick the reference range."""

    sex: str | None = None  # "F" / "M"
    age: float | None = None


def normalise_rows(rows: list[RawLabRow], patient: Patient = Patient(),
                   catalogue: Catalogue | None = None) -> tuple[list[LabResult], list[UnparsedRow]]:
    """Every raw row becomes exactly one result or one unparsed row (nothing is dropped)."""
    catalogue = catalogue or get_catalogue()
    results: list[LabResult] = []
    unparsed: list[UnparsedRow] = []
    for raw in rows:
        outcome = normalise_row(raw, patient, catalogue)
        (results if isinstance(outcome, LabResult) else unparsed).append(outcome)
    return results, unparsed


def _describe(raw: RawLabRow) -> str:
    return " | ".join(part for part in (raw.name, raw.value_text, raw.unit_text, raw.ref_text, raw.flag_text) if part)


def normalise_row(raw: RawLabRow, patient: Patient = Patient(), catalogue: Catalogue | None = None) -> LabResult | UnparsedRow:
    catalogue = catalogue or get_catalogue()

    def refuse(reason: str) -> UnparsedRow:
        return UnparsedRow(_describe(raw), reason, raw.source)

    value = parse_value(raw.value_text)
    printed_range = parse_reference_range(raw.ref_text).for_sex(patient.sex) if raw.ref_text.strip() else None
    unit_text = raw.unit_text.strip() or value.unit or (printed_range.unit if printed_range else "")
    analyte = _find_analyte(raw, unit_text, catalogue)
    if analyte is None:
        return refuse(f"'{raw.name}' is not an analyte the catalogue knows (or is ambiguous without its assay or unit)")
    if value.missing:
        return refuse(f"no result printed for {analyte.name} ('{raw.value_text.strip()}')")
    if value.kind in ("range", "unreadable"):
        return refuse(f"the result of {analyte.name} cannot be read: {value.problem or raw.value_text!r}")
    if value.kind == "qualitative" or analyte.qualitative:
        return _qualitative(raw, analyte, value, printed_range)

    assert value.value is not None
    notes: list[str] = []
    if not unit_text:
        unit_text, why = _infer_unit(analyte, value.value, printed_range, catalogue)
        if not unit_text:
            return refuse(f"no unit printed for {analyte.name} and {why}")
        notes.append(why)
    try:
        canonical, canonical_unit = catalogue.convert(value.value, unit_text, analyte)
    except UnitError as err:
        return refuse(f"unit problem for {analyte.name}: {err}")
    if not catalogue.is_plausible(analyte, canonical):
        low, high = analyte.plausible or (math.nan, math.nan)
        return refuse(f"impossible value: {analyte.name} {raw.value_text.strip()} {unit_text} = {canonical:g} {canonical_unit} "
                      f"(no patient has a value outside {low:g}-{high:g} {canonical_unit}); check for a typing or decimal error")

    ref_low, ref_high, ref_source, problem = _reference(analyte, unit_text, printed_range, patient, catalogue)
    if problem:
        return refuse(problem)
    flag = _flag(analyte, canonical, value, ref_low, ref_high, catalogue)
    printed_flag = parse_flag(raw.flag_text) if raw.flag_text.strip() else None
    if printed_flag and printed_flag.recognised and (ref_low is not None or ref_high is not None):
        printed = printed_flag.flag or (value.flag if value.flag else None)
        if printed and (printed[0] != (flag or " ")[0]):
            notes.append(f"the report flags '{raw.flag_text.strip()}' but the value is "
                         f"{'inside' if flag is None else 'flagged ' + flag} by the reference range used")
    elif flag is None and ref_low is None and ref_high is None:
        flag = (printed_flag.flag if printed_flag else None) or value.flag
        if flag:
            notes.append("flag as printed (no reference range available)")
    return LabResult(
        analyte=analyte.key, name=analyte.name, loinc=raw.loinc or analyte.primary_loinc, value_text=raw.value_text.strip(),
        value=value.value, comparator=value.comparator, unit=unit_text, canonical_value=canonical,
        canonical_unit=canonical_unit, ref_low=ref_low, ref_high=ref_high, ref_source=ref_source, flag=flag,
        source=raw.source, patient=raw.patient, collected_at=_naive(raw.collected_at), printed_name=raw.name, notes=notes)


def _find_analyte(raw: RawLabRow, unit_text: str, catalogue: Catalogue) -> Analyte | None:
    """A coded row (FHIR, some exports) is trusted by its LOINC code; a printed name goes through the lookup."""
    if raw.loinc:
        coded = catalogue.by_loinc(raw.loinc)
        if coded is not None:
            # a shared LOINC code (hs-cTnI assays) is refined by the printed name when that names an assay
            named = catalogue.lookup(raw.name, unit=unit_text, section=raw.section) if raw.name else None
            return named if named is not None and named.primary_loinc == coded.primary_loinc else coded
    found = catalogue.lookup(raw.name, unit=unit_text, section=raw.section)
    return found if found is not None else _by_abbreviation(raw, unit_text, catalogue)


def _by_abbreviation(raw: RawLabRow, unit_text: str, catalogue: Catalogue) -> Analyte | None:
    """'MEAN CELL HAEMOGLOBIN CON, MCHC' (a name cut short by the column) is known by its abbreviation; only
    short single-word parts are tried, so 'Bilirubin, Direct' is never read as plain bilirubin."""
    parts = [p.strip() for p in re.split(r"[,()\[\]]", raw.name) if p.strip()]
    hits = {catalogue.lookup(p, unit=unit_text, section=raw.section) for p in parts[1:] if _ABBREVIATION.fullmatch(p)}
    hits.discard(None)
    return hits.pop() if len(hits) == 1 else None


_ABBREVIATION = re.compile(r"[A-Za-z][A-Za-z0-9.\-]{1,7}")


def _qualitative(raw: RawLabRow, analyte: Analyte, value: ParsedValue, printed_range: ParsedRange | None) -> LabResult | UnparsedRow:
    text = value.qualitative or raw.value_text.strip()
    notes = []
    expected = printed_range.qualitative if printed_range else None
    if expected and text.lower() != expected.lower():
        notes.append(f"expected '{expected}'")
    return LabResult(analyte=analyte.key, name=analyte.name, loinc=raw.loinc or analyte.primary_loinc, value_text=raw.value_text.strip(),
                     value=None, comparator=None, unit="", canonical_value=None, canonical_unit=analyte.unit, ref_low=None,
                     ref_high=None, ref_source="report" if expected else None, flag=None, source=raw.source, patient=raw.patient,
                     collected_at=_naive(raw.collected_at), printed_name=raw.name, notes=notes)


def _infer_unit(analyte: Analyte, value: float, printed_range: ParsedRange | None,
                catalogue: Catalogue) -> tuple[str, str]:
    """The unit of a row printed without one: the unit in which the printed range matches the catalogue's
    range, else the canonical unit when the value is plausible in it; ('', why not) when neither holds."""
    reference = catalogue.reference_range(analyte)
    if printed_range is not None and printed_range.high and reference is not None and reference.high:
        fits = [unit for unit in analyte.units
                if _factor_apart(catalogue.convert(printed_range.high, unit, analyte)[0], reference.high) <= UNIT_INFERENCE_FACTOR]
        if len(fits) == 1:
            return fits[0], f"unit not printed: {fits[0]} inferred from the printed reference range"
        if len(fits) > 1:
            return "", f"the printed range fits several units ({', '.join(fits)})"
    if catalogue.is_plausible(analyte, catalogue.convert(value, analyte.unit, analyte)[0]):
        return analyte.unit, f"unit not printed: assumed {analyte.unit}"
    return "", f"the value is not plausible in {analyte.unit}"


def _factor_apart(a: float, b: float) -> float:
    if a <= 0 or b <= 0:
        return math.inf
    return max(a / b, b / a)


def _reference(analyte: Analyte, unit: str, printed: ParsedRange | None, patient: Patient,
               catalogue: Catalogue) -> tuple[float | None, float | None, str | None, str]:
    """(low, high, 'report'|'catalogue'|None, problem) in the canonical unit. The report's printed range wins
    (it belongs to the lab's method); a printed range that contradicts the row's unit is a problem."""
    catalogue_range = catalogue.reference_range(analyte, patient.sex, patient.age)
    if printed is not None and printed.has_bounds:
        range_unit = printed.unit or unit
        try:
            low = catalogue.convert(printed.low, range_unit, analyte)[0] if printed.low is not None else None
            high = catalogue.convert(printed.high, range_unit, analyte)[0] if printed.high is not None else None
        except UnitError:
            low = high = None
        else:
            if high and catalogue_range is not None and catalogue_range.high and \
                    _factor_apart(high, catalogue_range.high) > UNIT_MISMATCH_FACTOR:
                return None, None, None, (
                    f"unit mismatch for {analyte.name}: read in {unit}, the printed range '{printed.text}' would end at "
                    f"{high:g} {analyte.unit}, but this analyte's range ends near {catalogue_range.high:g} {analyte.unit}; "
                    f"the unit or the range is misprinted (check the report)")
            return low, high, "report", ""
    if catalogue_range is not None:
        return catalogue_range.low, catalogue_range.high, "catalogue", ""
    return None, None, None, ""


def _flag(analyte: Analyte, value: float, parsed: ParsedValue, low: float | None, high: float | None,
          catalogue: Catalogue) -> Flag | None:
    """L/H against the reference range, LL/HH beyond the critical limits. A censored value ('< 3') is only
    flagged when the whole censored interval lies outside the range."""
    below = parsed.comparator in ("<", "<=")
    above = parsed.comparator in (">", ">=")
    critical = catalogue.critical_limits(analyte)
    if critical is not None:
        if critical.high is not None and value >= critical.high and not below:
            return "HH"
        if critical.low is not None and value <= critical.low and not above:
            return "LL"
    if high is not None and not below and (value > high or (above and value >= high)):
        return "H"
    if low is not None and not above and (value < low or (below and value <= low)):
        return "L"
    return None


def _naive(moment: datetime | None) -> datetime | None:
    """Wall-clock time as printed: FHIR and ISO offsets are dropped so that times from one lab compare with its
    CSV and PDF reports, which carry none."""
    return moment.replace(tzinfo=None) if moment is not None and moment.tzinfo is not None else moment
