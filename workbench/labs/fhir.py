"""FHIR R4 JSON lab results (Bundle, DiagnosticReport, Observation) -> `RawLabRow`, one row per result.

Hospital systems and national health-record apps hand out results as FHIR. Each Observation is validated on
its own with the fhir.resources R4B models (wire-compatible with R4 for Observation and DiagnosticReport), so
one malformed Observation becomes an `UnparsedRow` with the reason in plain words and never costs the others.
Values keep their printed text (JSON decimals are read exactly: 4.10 stays "4.10"); units, reference ranges and
interpretation codes are turned into the same text the table and PDF readers produce ("<= 14",
"Male 13-17; Female 12-15", "H"), so one normaliser handles every source.

What becomes what:
- valueQuantity -> value_text (comparator + value) and unit_text (unit, else UCUM code); valueString,
  valueCodeableConcept, valueInteger, valueBoolean, valueRange, valueRatio -> value_text;
- each component of a panel Observation -> its own row, with the panel name as section;
- dataAbsentReason, cancelled / entered-in-error status, other value types, DiagnosticReport results that the
  file does not contain -> `UnparsedRow`;
- ``SourceRef.row`` is the Bundle entry index (for a lone DiagnosticReport: the index in ``contained``).
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import CorruptFileError, InputError, UnsupportedFormatError
from .parsing import parse_date, parse_value
from .records import RawLabRow, SourceRef, UnparsedRow
from ..input_files import check_input_file
from .structured import StructuredRows, decode_text

LOINC_SYSTEMS = ("http://loinc.org", "urn:oid:2.16.840.1.113883.6.1")
_SEX_CODES = {"248153007": "Male", "248152002": "Female", "male": "Male", "female": "Female"}
_BUNDLE_TYPES = {"collection", "searchset", "transaction", "transaction-response", "batch", "batch-response",
                 "document", "message", "history"}
_VOID_STATUS = {"entered-in-error": "was entered in error", "cancelled": "was cancelled"}
_UNREADABLE_VALUES = ("valueTime", "valueDateTime", "valuePeriod", "valueSampledData", "valueAttachment")


@dataclass(frozen=True)
class _Context:
    """What an Observation inherits from the report or panel that lists it."""

    section: str = ""
    subject: Any = None
    when: str | None = None


# ====================================================================== public entry point
def read_fhir(source: str | Path | Mapping[str, Any], *, name: str | None = None) -> StructuredRows:
    """Read FHIR R4 JSON (a file path or an already-parsed dict) into raw lab rows plus unusable results.

    Accepts a Bundle of any type, a DiagnosticReport (with contained or referenced Observations), a single
    Observation, or NDJSON (one resource per line). ``name`` labels the rows' source when a dict is given.
    Raises `UnsupportedFormatError` for non-FHIR JSON, FHIR XML or non-lab resources, `CorruptFileError` for
    damaged JSON, `InputError` when the file holds no Observation or DiagnosticReport.
    """
    if isinstance(source, Mapping):
        label = name or "FHIR resource"
        document: Any = _jsonable(dict(source))
    else:
        file = check_input_file(source, holds="results", smaller="Export only the results needed")
        label = name or file.name
        text = decode_text(file, file.read_bytes(), hint="Export the results again as FHIR JSON.")
        document = _load_json(label, text)
    return _BundleReader(label).read(_entries(label, document))


# ====================================================================== loading
def _load_json(label: str, text: str) -> Any:
    stripped = text.strip()
    if not stripped:
        raise CorruptFileError(f"{label} holds only blank space: there are no results in it.")
    try:
        return json.loads(stripped, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        if stripped.startswith("<"):
            raise UnsupportedFormatError(f"{label} is XML; the workbench reads FHIR as JSON only.",
                                         hint="Export the results as FHIR JSON.") from exc
        lines = [line for line in stripped.splitlines() if line.strip()]
        if len(lines) > 1:
            try:
                return [json.loads(line, parse_float=Decimal) for line in lines]  # NDJSON bulk export
            except json.JSONDecodeError:
                pass
        raise CorruptFileError(f"{label} is not valid JSON (line {exc.lineno}, column {exc.colno}): it is damaged "
                               "or not a FHIR export.", hint="Export the results again as FHIR JSON.") from exc


def _jsonable(value: Any) -> Any:
    """Floats in a dict given by the caller become Decimals, as if read from a file (so text stays exact)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _entries(label: str, document: Any) -> list[tuple[int, dict[str, Any], str | None]]:
    """(row, resource, fullUrl) for every resource in the document, after checking that it is lab FHIR."""
    if isinstance(document, list):
        resources = [r for r in document if isinstance(r, dict) and "resourceType" in r]
        if not resources or len(resources) != len(document):
            raise UnsupportedFormatError(f"{label} is JSON but not FHIR: its items have no 'resourceType'.",
                                         hint="Export the results as a FHIR Bundle, DiagnosticReport or Observation.")
        return [(i, r, None) for i, r in enumerate(resources)]
    if not isinstance(document, dict) or "resourceType" not in document:
        raise UnsupportedFormatError(f"{label} is JSON but not FHIR: it has no 'resourceType'.",
                                     hint="Export the results as a FHIR Bundle, DiagnosticReport or Observation.")
    kind = document["resourceType"]
    if kind == "Bundle":
        entries = document.get("entry") or []
        if not isinstance(entries, list):
            raise CorruptFileError(f"{label} is a FHIR Bundle whose 'entry' is not a list: it is damaged.")
        return [(i, e["resource"], e.get("fullUrl")) for i, e in enumerate(entries)
                if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    if kind in ("Observation", "DiagnosticReport"):
        return [(0, document, None)]
    raise UnsupportedFormatError(f"{label} is a FHIR {kind} resource, not lab results.",
                                 hint="Give a Bundle, DiagnosticReport or Observation.")


# ====================================================================== validation in plain words
def _problems(model: type, resource: dict[str, Any]) -> str:
    """'' when ``resource`` is valid for ``model``; else its validation errors in plain words."""
    from pydantic import ValidationError

    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return "; ".join(_plain(err) for err in exc.errors()[:3]) + (
            f" (and {len(exc.errors()) - 3} more)" if len(exc.errors()) > 3 else "")
    except (TypeError, ValueError) as exc:
        return str(exc)
    return ""


def _plain(err: Mapping[str, Any]) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.get("loc", ())).lstrip(".") or "it"
    kind, message = str(err.get("type", "")), str(err.get("msg", "")).removeprefix("Value error, ")
    shown = repr(err.get("input"))[:40]
    if kind.endswith("missing"):
        return f"the required field '{where}' is missing"
    if kind == "extra_forbidden":
        return f"'{where}' is not a field FHIR allows here"
    if "does not match spec regex" in message:
        return f"'{where}' has an invalid value {shown}"
    if "Any of one field value is expected" in message:
        return "it has more than one value (e.g. both valueQuantity and valueString)"
    if kind.endswith(("_type", "json_invalid")):
        return f"'{where}' has the wrong structure (got {shown})"
    return f"'{where}': {message.rstrip('.')}"


# ====================================================================== reading
class _BundleReader:
    """Walks the resources once, resolving references, so each Observation is read exactly once."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.out = StructuredRows()
        self.index: dict[str, dict[str, Any]] = {}
        self.context: dict[int, _Context] = {}
        self.done: set[int] = set()
        self.lone = False  # a lone DiagnosticReport: rows number its contained Observations

    def read(self, entries: list[tuple[int, dict[str, Any], str | None]]) -> StructuredRows:
        if not any(r.get("resourceType") in ("Observation", "DiagnosticReport") for _, r, _ in entries):
            raise InputError(f"{self.label} contains no lab results (no Observation or DiagnosticReport).",
                             hint="Export the laboratory results, not only patient or visit records.")
        self.lone = len(entries) == 1 and entries[0][1].get("resourceType") == "DiagnosticReport"
        for _, resource, full_url in entries:
            self._index(resource, full_url)
        for _, resource, _ in entries:
            self._collect_context(resource)
        for row, resource, _ in entries:
            kind = resource.get("resourceType")
            if kind == "DiagnosticReport":
                self._report(resource, row)
            elif kind == "Observation" and id(resource) not in self.done:
                self._observation(resource, row, self.context.get(id(resource), _Context()))
        return self.out

    # ---------------------------------------------------------------- references
    def _index(self, resource: dict[str, Any], full_url: str | None) -> None:
        kind, rid = resource.get("resourceType"), resource.get("id")
        if full_url:
            self.index[full_url] = resource
        if kind and rid:
            self.index[f"{kind}/{rid}"] = resource

    def _resolve(self, ref: Any, holder: dict[str, Any] | None = None) -> dict[str, Any] | None:
        target = ref.get("reference") if isinstance(ref, dict) else None
        if not isinstance(target, str):
            return None
        if target.startswith("#") and holder is not None:
            return next((c for c in holder.get("contained") or [] if isinstance(c, dict)
                         and c.get("id") == target[1:]), None)
        if target in self.index:
            return self.index[target]
        tail = re.search(r"([A-Za-z]+/[^/]+)(?:/_history/[^/]+)?$", target)
        return self.index.get(tail.group(1)) if tail else None

    def _collect_context(self, resource: dict[str, Any]) -> None:
        kind = resource.get("resourceType")
        if kind == "DiagnosticReport":
            ctx = _Context(_concept_name(resource.get("code")), resource.get("subject"), _when(resource))
            for ref in resource.get("result") or []:
                target = self._resolve(ref, resource)
                if target is not None:
                    self.context.setdefault(id(target), ctx)
        if kind in ("DiagnosticReport", "Observation"):
            for contained in resource.get("contained") or []:
                if isinstance(contained, dict) and contained.get("resourceType") == "Observation":
                    self._collect_context(contained)
        if kind == "Observation" and resource.get("hasMember"):
            parent = self.context.get(id(resource), _Context())
            ctx = _Context(_concept_name(resource.get("code")), resource.get("subject") or parent.subject,
                           _when(resource) or parent.when)
            for ref in resource["hasMember"]:
                target = self._resolve(ref, resource)
                if target is not None:
                    self.context.setdefault(id(target), ctx)

    # ---------------------------------------------------------------- reports
    def _report(self, report: dict[str, Any], row: int) -> None:
        from fhir.resources.R4B.diagnosticreport import DiagnosticReport

        name = _concept_name(report.get("code")) or "report"
        shell = {k: v for k, v in report.items() if k != "contained"}
        problems = _problems(DiagnosticReport, shell)
        if problems:
            self.out.notes.append(f"{self.label}: the report '{name}' is not fully valid FHIR ({problems}); its "
                                  "results were still read one by one.")
        ctx = _Context(_concept_name(report.get("code")), report.get("subject"), _when(report))
        contained = [c for c in report.get("contained") or [] if isinstance(c, dict)]
        position = {id(c): i for i, c in enumerate(contained)}
        for ref in report.get("result") or []:
            target = self._resolve(ref, report)
            if target is None:
                shown = ref.get("display") or ref.get("reference") if isinstance(ref, dict) else str(ref)
                self.out.unparsed.append(UnparsedRow(
                    str(shown), f"The report '{name}' lists this result ({shown}) but the file does not contain it.",
                    SourceRef(self.label, "fhir", row=row)))
            elif id(target) in position and id(target) not in self.done:
                self._observation(target, position[id(target)] if self.lone else row,
                                  self.context.get(id(target), ctx), holder=report)
        for resource in contained:
            if resource.get("resourceType") == "Observation" and id(resource) not in self.done:
                self._observation(resource, position[id(resource)] if self.lone else row,
                                  self.context.get(id(resource), ctx), holder=report)

    # ---------------------------------------------------------------- observations
    def _observation(self, obs: dict[str, Any], row: int, ctx: _Context,
                     holder: dict[str, Any] | None = None) -> None:
        from fhir.resources.R4B.observation import Observation

        self.done.add(id(obs))
        source = SourceRef(self.label, "fhir", row=row)
        name = _concept_name(obs.get("code"))
        problems = _problems(Observation, obs)
        if problems:
            self._skip(obs, source, f"{name or 'This observation'} is not valid FHIR ({problems}); it was not read.")
            return
        status = str(obs.get("status", ""))
        if status in _VOID_STATUS:
            self._skip(obs, source, f"{name} {_VOID_STATUS[status]} (status '{status}'); not a result.")
            return
        subject = obs.get("subject") or ctx.subject
        base = {"patient": self._patient(subject, holder or obs), "collected_at": _parse_when(_when(obs) or ctx.when),
                "source": source}
        components = [c for c in obs.get("component") or [] if isinstance(c, dict)]
        has_value = any(k.startswith("value") for k in obs)
        if has_value or not (components or obs.get("hasMember")):
            self._result(obs, name, ctx.section, base)
        for component in components:
            self._result(component, _concept_name(component.get("code")), name, base)

    def _result(self, element: dict[str, Any], name: str, section: str, base: dict[str, Any]) -> None:
        """One Observation or component with its value -> a `RawLabRow`, or an `UnparsedRow` saying why not."""
        source = base["source"]
        absent = element.get("dataAbsentReason")
        value, unit, problem = _value(element)
        if absent and value is None:
            why = _concept_name(absent) or "no reason given"
            self._skip(element, source, f"{name}: no result ({why}).")
            return
        if problem or value is None:
            self._skip(element, source, f"{name}: {problem or 'the observation has no value'}.")
            return
        parsed = parse_value(value)
        if parsed.missing:
            self._skip(element, source, f"{name}: {parsed.problem}.")
            return
        self.out.rows.append(RawLabRow(
            name=name or "(unnamed test)", value_text=value, source=source, unit_text=unit,
            ref_text=_ranges(element.get("referenceRange") or [], unit), flag_text=_interpretation(element),
            section=section, loinc=_loinc(element.get("code")), collected_at=base["collected_at"],
            patient=base["patient"]))

    def _skip(self, element: dict[str, Any], source: SourceRef, reason: str) -> None:
        self.out.unparsed.append(UnparsedRow(_summary(element), reason, source))

    def _patient(self, subject: Any, holder: dict[str, Any]) -> str:
        if not isinstance(subject, dict):
            return ""
        ident = subject.get("identifier")
        if isinstance(ident, dict) and ident.get("value"):
            return str(ident["value"])
        patient = self._resolve(subject, holder)
        if patient is not None:
            for identifier in patient.get("identifier") or []:
                if isinstance(identifier, dict) and identifier.get("value"):
                    return str(identifier["value"])
            if patient.get("id"):
                return str(patient["id"])
        ref = subject.get("reference")
        if isinstance(ref, str) and ref:
            return re.sub(r"^urn:(?:uuid|oid):", "", ref).rsplit("/", 1)[-1].lstrip("#")
        return str(subject.get("display") or "")


# ====================================================================== element helpers
def _num(value: Any) -> str:
    """A FHIR decimal as printed: Decimal("4.10") -> "4.10", never "4.1" or "1E+3"."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return "" if value is None else str(value)


def _concept_name(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"]).strip()
    codings = [c for c in concept.get("coding") or [] if isinstance(c, dict)]
    codings.sort(key=lambda c: c.get("system") not in LOINC_SYSTEMS)
    for coding in codings:
        if coding.get("display"):
            return str(coding["display"]).strip()
    return str(codings[0].get("code", "")) if codings else ""


def _loinc(concept: Any) -> str:
    if isinstance(concept, dict):
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and coding.get("system") in LOINC_SYSTEMS and coding.get("code"):
                return str(coding["code"]).strip()
    return ""


def _value(element: dict[str, Any]) -> tuple[str | None, str, str]:
    """(value text, unit text, problem) for an Observation or component's value[x]."""
    if isinstance(quantity := element.get("valueQuantity"), dict):
        if quantity.get("value") is None:
            return None, "", "the quantity has no number"
        unit = str(quantity.get("unit") or quantity.get("code") or "")
        return f"{quantity.get('comparator', '')}{_num(quantity['value'])}", unit, ""
    if isinstance(text := element.get("valueString"), str):
        return text.strip(), "", ""
    if "valueCodeableConcept" in element:
        return _concept_name(element["valueCodeableConcept"]) or None, "", ""
    if "valueInteger" in element:
        return str(element["valueInteger"]), "", ""
    if "valueBoolean" in element:
        return "true" if element["valueBoolean"] else "false", "", ""
    if isinstance(span := element.get("valueRange"), dict):
        low, high = (span.get(k) or {} for k in ("low", "high"))
        return f"{_num(low.get('value'))}-{_num(high.get('value'))}", str(low.get("unit") or high.get("unit") or ""), ""
    if isinstance(ratio := element.get("valueRatio"), dict):
        num, den = (ratio.get(k) or {} for k in ("numerator", "denominator"))
        return f"{_num(num.get('value'))}:{_num(den.get('value'))}", "", ""
    for key in _UNREADABLE_VALUES:
        if key in element:
            return None, "", f"a {key[5:]} value is not a lab result that can be read"
    return None, "", ""


def _ranges(ranges: list[Any], value_unit: str) -> str:
    """FHIR referenceRange(s) as one printed range: "3.5-5.1", "<= 14", "Male 13-17; Female 12-15"."""
    parts: list[str] = []
    for rr in (r for r in ranges if isinstance(r, dict)):
        low, high = (rr.get(k) if isinstance(rr.get(k), dict) else {} for k in ("low", "high"))
        lo, hi = _num(low.get("value")), _num(high.get("value"))
        if lo and hi:
            text = f"{lo} to {hi}" if lo.startswith("-") or hi.startswith("-") else f"{lo}-{hi}"
        elif hi:
            text = f"<= {hi}"
        elif lo:
            text = f">= {lo}"
        else:
            text = str(rr.get("text") or "").strip()
        unit = str(low.get("unit") or high.get("unit") or low.get("code") or high.get("code") or "")
        if text and unit and unit != value_unit and (lo or hi):
            text = f"{text} {unit}"
        labels = [_SEX_CODES.get(str(c.get("code", "")).lower()) or c.get("display") or ""
                  for a in rr.get("appliesTo") or [] if isinstance(a, dict)
                  for c in (a.get("coding") or [{"display": a.get("text")}]) if isinstance(c, dict)]
        label = " ".join(x for x in labels if x)
        if text:
            parts.append(f"{label} {text}".strip())
    return "; ".join(parts)


def _interpretation(element: dict[str, Any]) -> str:
    for concept in element.get("interpretation") or []:
        if not isinstance(concept, dict):
            continue
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and coding.get("code"):
                return str(coding["code"])
        if concept.get("text"):
            return str(concept["text"])
    return ""


def _when(resource: dict[str, Any]) -> str | None:
    period = resource.get("effectivePeriod")
    for value in (resource.get("effectiveDateTime"), resource.get("effectiveInstant"),
                  period.get("start") if isinstance(period, dict) else None, resource.get("issued")):
        if isinstance(value, str) and value:
            return value
    return None


def _parse_when(text: str | None) -> datetime | None:
    """FHIR dateTime ("2024", "2024-03", "2024-03-05", "2024-03-05T10:30:00+05:30") as datetime."""
    if not text:
        return None
    if re.fullmatch(r"\d{4}", text):
        return datetime(int(text), 1, 1)
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return datetime(int(text[:4]), int(text[5:]), 1)
    return parse_date(text)


def _summary(element: dict[str, Any]) -> str:
    """A short text for an unusable Observation: its name and value if any, else compact JSON."""
    name = _concept_name(element.get("code"))
    try:
        value, unit, _ = _value(element)
    except (AttributeError, TypeError, ValueError):  # the element failed validation: any shape is possible
        value, unit = None, ""
    if name:
        return " ".join(x for x in (name, value or "", unit) if x)
    return json.dumps(element, default=str, separators=(",", ":"))[:200]
