"""The analyte catalogue: what a printed lab-report line means, and how to read its value.

The data live in ``tables/analytes.toml`` (one cited entry per analyte: names as printed on Indian, UK and US
reports, LOINC codes, the canonical unit and the factors of the units accepted, reference and critical limits,
absurd-value bounds, troponin assay URLs and the ESC 0h/1h table). This module loads that file once, validates it
(any data mistake is a ``ConfigError`` naming the entry, so a bad edit fails at start-up, not on a patient's report)
and answers the questions the lab normaliser asks:

- which analyte is "S. Creatinine" / "Trop T hs" / "TLC"?  -> ``Catalogue.lookup`` (exact synonym first, then a
  conservative fuzzy match; ambiguous names such as "Troponin" or section headers such as "Lipid profile" give None)
- what is 1.2 mg/dL creatinine in umol/L?                   -> ``Catalogue.convert`` (typed ``UnitError`` if unknown)
- which range applies to a woman of 60?                     -> ``Catalogue.reference_range``
- is 45 mmol/L potassium a result or a typo?                -> ``Catalogue.is_plausible``
- the URL of this troponin assay, and its ESC 0h/1h cut-offs -> ``troponin_url`` / ``esc_0h_1h_cutoffs``
"""
from __future__ import annotations

import difflib
import math
import re
import tomllib
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from ..errors import ConfigError, InputError

__all__ = [
    "Analyte",
    "Catalogue",
    "Conversion",
    "CriticalLimits",
    "EscCutoffs",
    "RefRange",
    "Threshold",
    "TroponinAssay",
    "UnitError",
    "get_catalogue",
]

Sex = Literal["F", "M"]
Kind = Literal["quantitative", "qualitative"]

TABLE = "tables/analytes.toml"
TROPONIN_UNIT = "ng/L"

_ANALYTE_FIELDS = {
    "name", "category", "kind", "specimen", "loinc", "unit", "units", "synonyms", "ref", "critical", "plausible",
    "source", "assay", "variant_of", "assay_words", "alternates", "route", "normal", "notes",
}
_REF_FIELDS = {"sex", "age_min", "age_max", "low", "high", "source"}
_TOP_LEVEL = {"meta", "sources", "lookup", "units", "troponin_assay", "esc_0h_1h", "analyte"}
_ESC_FIELDS = ("very_low_0h", "low_0h", "delta_1h_no", "high_0h", "delta_1h_yes")
_URINE_WORDS = {"urine", "urinary", "urinalysis"}
_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"
_SUPERSCRIPT_MAP = str.maketrans(_SUPERSCRIPTS, "0123456789-")
_LOINC_RE = re.compile(r"^\d{1,7}-\d$")


class UnitError(InputError):
    """A printed unit that the catalogue does not know, or that does not fit the analyte (glucose in %)."""

    title = "Unit problem"


# ------------------------------------------------------------------------------------------------ record types
@dataclass(frozen=True)
class Conversion:
    """canonical = value * scale + offset (offset is 0 except for affine scales such as HbA1c mmol/mol -> %)."""

    scale: float
    offset: float = 0.0

    def to_canonical(self, value: float) -> float:
        return value * self.scale + self.offset

    def from_canonical(self, value: float) -> float:
        return (value - self.offset) / self.scale

    @property
    def affine(self) -> bool:
        return self.offset != 0.0


@dataclass(frozen=True)
class RefRange:
    """A reference interval in the canonical unit; ``low``/``high`` None = no limit on that side."""

    low: float | None
    high: float | None
    unit: str
    source: str
    sex: Sex | None = None
    age_min: float | None = None  # inclusive
    age_max: float | None = None  # exclusive

    @property
    def specificity(self) -> int:
        return (self.sex is not None) + (self.age_min is not None or self.age_max is not None)


@dataclass(frozen=True)
class CriticalLimits:
    """Values beyond which the result is called through at once (canonical unit)."""

    low: float | None
    high: float | None
    unit: str
    source: str


@dataclass(frozen=True)
class Threshold:
    """One cited decision limit, e.g. a troponin assay's 99th-percentile URL."""

    value: float
    unit: str
    source: str
    assay: str = ""
    sex: Sex | None = None


@dataclass(frozen=True)
class TroponinAssay:
    key: str
    name: str
    analyte: str
    url: float | None
    url_f: float | None
    url_m: float | None
    source: str


@dataclass(frozen=True)
class EscCutoffs:
    """ESC 0h/1h cut-offs (ng/L) of one assay. Rule-out: 0h < very_low_0h, or 0h < low_0h and delta < delta_1h_no;
    rule-in: 0h >= high_0h or delta >= delta_1h_yes; otherwise observe."""

    assay: str
    very_low_0h: float
    low_0h: float
    delta_1h_no: float
    high_0h: float
    delta_1h_yes: float
    unit: str
    source: str
    verify: bool


@dataclass(frozen=True, eq=False)
class Analyte:
    """One catalogue entry; values of ``units`` convert a printed unit (canonical spelling) to ``unit``."""

    key: str
    name: str
    category: str
    loinc: tuple[str, ...]
    unit: str
    units: Mapping[str, Conversion]
    synonyms: tuple[str, ...]
    source: str
    kind: Kind = "quantitative"
    specimen: str = "serum"
    refs: tuple[RefRange, ...] = ()
    critical: CriticalLimits | None = None
    plausible: tuple[float, float] | None = None
    assay: str | None = None
    variant_of: str | None = None
    assay_words: tuple[str, ...] = ()
    alternates: tuple[str, ...] = ()
    route: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    normal: tuple[str, ...] = ()
    notes: str = ""

    @property
    def primary_loinc(self) -> str:
        return self.loinc[0]

    @property
    def qualitative(self) -> bool:
        return self.kind == "qualitative"

    def accepts(self, unit: str) -> bool:
        """True when ``unit`` (a canonical spelling from ``Catalogue.normalise_unit``) converts to this analyte."""
        return unit in self.units

    def __repr__(self) -> str:
        return f"Analyte({self.key!r})"


# ------------------------------------------------------------------------------------------------ text helpers
def loinc_check_digit_ok(code: str) -> bool:
    """LOINC codes end in a mod-10 (Luhn) check digit: catches most mistyped codes."""
    if not _LOINC_RE.match(code):
        return False
    body, check = code.split("-")
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(check)


def _unit_key(text: str) -> str:
    """Mechanical clean-up of a unit string; aliases and inputs go through the same function."""
    s = re.sub(f"[{_SUPERSCRIPTS}]+", lambda m: "^" + m.group(0).translate(_SUPERSCRIPT_MAP), text)
    s = unicodedata.normalize("NFKC", s)
    s = s.lower().replace("μ", "u").replace("µ", "u").replace("×", "x")
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"[()\[\]{}]", "", s)
    s = s.strip(".,;:")
    s = s.replace("**", "^").replace("*", "^")
    s = re.sub(r"10e(\d)", r"10^\1", s)
    s = re.sub(r"^x(?=10)", "", s)
    s = re.sub(r"cu\.?mm|c\.mm|cmm|mm\^?3", "ul", s)
    s = s.replace("mcg", "ug").replace("mcmol", "umol")
    s = re.sub(r"litre|liter|ltr", "l", s)
    return s


def _is_blank_unit(text: str) -> bool:
    return not re.sub(r"[\s\-–—.:/]", "", text or "")


def _norm_sex(sex: str | None) -> Sex | None:
    if not sex:
        return None
    s = str(sex).strip().upper()[:1]
    return s if s in ("F", "M") else None  # type: ignore[return-value]


def _spell(token: str) -> str:
    """British/US spelling folded together so one synonym covers both."""
    token = token.replace("ae", "e")
    if token.startswith("leuco"):
        token = "leuko" + token[5:]
    if token.endswith("ised"):
        token = token[:-4] + "ized"
    return token.replace("sulph", "sulf")


def _tokens_similar(query: list[str], cand: list[str]) -> float | None:
    """Token-by-token similarity; short tokens, tokens with digits and one-letter suffixes must match exactly."""
    total = 0.0
    for a, b in zip(query, cand):
        if a == b:
            total += 1.0
            continue
        if len(a) < 5 or len(b) < 5 or any(ch.isdigit() for ch in a + b) or a[0] != b[0]:
            return None
        if len(a) == len(b) and a[:-1] == b[:-1]:
            return None  # "troponini" vs "troponint": the last letter is the whole meaning
        shorter, longer = sorted((a, b), key=len)
        if longer.startswith(shorter) and longer[len(shorter):] not in ("s", "es", "e"):
            return None
        ratio = difflib.SequenceMatcher(None, a, b).ratio()
        if ratio < 0.85:
            return None
        total += ratio
    return total / len(query)


# ------------------------------------------------------------------------------------------------ the catalogue
class Catalogue:
    """The validated analyte catalogue; build it with ``get_catalogue()`` (cached) or from a parsed TOML dict."""

    def __init__(self, data: Mapping[str, Any], *, origin: str = TABLE) -> None:
        self.origin = origin
        self._data = data
        unknown = set(data) - _TOP_LEVEL
        if unknown:
            self._fail(f"unknown top-level table(s) {sorted(unknown)}")
        meta = data.get("meta", {})
        self.categories: tuple[str, ...] = tuple(meta.get("categories", ()))
        if not self.categories:
            self._fail("[meta] categories is missing")
        self.adult_from_age: float = float(meta.get("adult_from_age", 18))
        self._sources: dict[str, str] = dict(data.get("sources", {}))
        self._load_units(data.get("units", {}))
        self._load_lookup_config(data.get("lookup", {}))
        self._assays = self._load_assays(data.get("troponin_assay", {}))
        raw = data.get("analyte", {})
        if not raw:
            self._fail("no [analyte.*] entries")
        self._analytes: dict[str, Analyte] = {key: self._load_analyte(key, entry) for key, entry in raw.items()}
        self._check_links()
        self._esc = self._load_esc(data.get("esc_0h_1h", []))
        self._build_indices()
        self._fuzzy_cache: dict[str, str | None] = {}

    @classmethod
    def from_toml(cls, path: str | Path) -> Catalogue:
        """Load a catalogue file (tests and site overrides); the packaged one is ``get_catalogue()``."""
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"Cannot read the analyte catalogue {path}: {exc}") from exc
        return cls(data, origin=str(path))

    # ------------------------------------------------------------------------------------------ basic access
    @property
    def analytes(self) -> tuple[Analyte, ...]:
        return tuple(self._analytes.values())

    @property
    def troponin_assays(self) -> Mapping[str, TroponinAssay]:
        return MappingProxyType(self._assays)

    @property
    def synonym_count(self) -> int:
        """Distinct normalised names that resolve exactly (printed synonyms after normalisation)."""
        return len(self._exact)

    def __len__(self) -> int:
        return len(self._analytes)

    def __iter__(self) -> Iterator[Analyte]:
        return iter(self._analytes.values())

    def __contains__(self, key: object) -> bool:
        return key in self._analytes

    def get(self, key: str) -> Analyte | None:
        """The analyte with this catalogue key ("hs_ctnt"), or None."""
        return self._analytes.get(key)

    def by_loinc(self, code: str) -> Analyte | None:
        """The analyte a LOINC code belongs to (FHIR bundles and coded CSV exports carry one)."""
        return self._by_loinc.get((code or "").strip())

    # ------------------------------------------------------------------------------------------ units
    def normalise_unit(self, text: str) -> str:
        """Canonical spelling of a printed unit ("mg %" -> "mg/dL", "thou/cumm" -> "10^9/L", "µmol/l" -> "umol/L");
        a unit the catalogue does not know comes back cleaned but otherwise as printed."""
        if _is_blank_unit(text):
            return ""
        known = self._unit_alias.get(_unit_key(text))
        return known if known is not None else " ".join(str(text).replace("µ", "u").replace("μ", "u").split())

    def is_known_unit(self, text: str) -> bool:
        """True when ``normalise_unit`` knows the unit (a blank unit is not a unit)."""
        return not _is_blank_unit(text) and _unit_key(text) in self._unit_alias

    def convert(self, value: float, from_unit: str, analyte: Analyte | str) -> tuple[float, str]:
        """(canonical value, canonical unit) of a value printed in ``from_unit``; ``UnitError`` when the unit is
        unknown, missing or not a unit of this analyte: a wrong factor would silently misread the result."""
        a = self._analyte(analyte)
        if a.qualitative:
            raise UnitError(f"{a.name} is reported as text (e.g. 'Negative'), not as a number with a unit.")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise InputError(f"The value of {a.name} is not a finite number ({value!r}).")
        conv = a.units.get(self._unit_for_conversion(from_unit, a))  # type: ignore[arg-type]
        assert conv is not None
        return conv.to_canonical(float(value)), a.unit

    def from_canonical(self, value: float, analyte: Analyte | str, to_unit: str) -> float:
        """Express a canonical value in another accepted unit (HbA1c % -> mmol/mol, glucose mmol/L -> mg/dL)."""
        a = self._analyte(analyte)
        conv = a.units.get(self._unit_for_conversion(to_unit, a))  # type: ignore[arg-type]
        assert conv is not None
        return conv.from_canonical(float(value))

    def _unit_for_conversion(self, text: str, a: Analyte) -> str:
        accepted = ", ".join(u for u in a.units if u != "ratio") or "no unit"
        if _is_blank_unit(text):
            if "ratio" in a.units:
                return "ratio"
            raise UnitError(f"No unit is printed for {a.name}, so its value cannot be read safely.",
                            hint=f"Expected one of: {accepted}.")
        unit = self._unit_alias.get(_unit_key(text))
        if unit is None:
            raise UnitError(f"Unknown unit '{text}' for {a.name}.", hint=f"Expected one of: {accepted}.")
        if unit not in a.units:
            raise UnitError(f"'{text}' is not a unit of {a.name}.", hint=f"Expected one of: {accepted}.")
        return unit

    # ------------------------------------------------------------------------------------------ limits
    def reference_range(self, analyte: Analyte | str, sex: str | None = None, age: float | None = None) -> RefRange | None:
        """The adult catalogue range that fits sex and age. With sex or age unknown where the ranges differ, the union
        of the candidates (flags only what is abnormal for all of them); None below the adult age or with no range.
        A range printed on the report itself takes precedence over this one."""
        a = self._analyte(analyte)
        if age is not None and age < self.adult_from_age:
            return None
        sx = _norm_sex(sex)

        def fits(r: RefRange, strict: bool) -> bool:
            if r.sex is not None and (r.sex != sx if sx is not None else strict):
                return False
            if r.age_min is not None or r.age_max is not None:
                if age is None:
                    return not strict
                if r.age_min is not None and age < r.age_min:
                    return False
                if r.age_max is not None and age >= r.age_max:
                    return False
            return True

        exact = [r for r in a.refs if fits(r, True)]
        if exact:
            return max(exact, key=lambda r: r.specificity)
        loose = [r for r in a.refs if fits(r, False)]
        if not loose:
            return None
        if len(loose) == 1:
            return loose[0]
        lows = [r.low for r in loose]
        highs = [r.high for r in loose]
        low = None if any(v is None for v in lows) else min(lows)  # type: ignore[type-var]
        high = None if any(v is None for v in highs) else max(highs)  # type: ignore[type-var]
        if low is None and high is None:
            return None
        sources = "; ".join(dict.fromkeys(r.source for r in loose))
        return RefRange(low, high, a.unit, f"{sources} (union of the ranges: sex or age not given)", sex=sx)

    def critical_limits(self, analyte: Analyte | str) -> CriticalLimits | None:
        """Critical (call-through) limits in the canonical unit, where a standard exists."""
        return self._analyte(analyte).critical

    def is_plausible(self, analyte: Analyte | str, canonical_value: float) -> bool:
        """False for a value no living patient has (a potassium of 45 mmol/L is a typo or a misread decimal)."""
        a = self._analyte(analyte)
        if a.qualitative or a.plausible is None:
            return True
        if not math.isfinite(canonical_value):
            return False
        lo, hi = a.plausible
        return lo <= canonical_value <= hi

    # ------------------------------------------------------------------------------------------ troponin
    def troponin_url(self, assay_key: str, sex: str | None = None) -> Threshold | None:
        """99th-percentile URL (ng/L) of a troponin assay (assay key or troponin analyte key), sex-specific where the
        criteria give one; None when the assay is not known (never borrow another assay's URL)."""
        assay = self._assay_of(assay_key)
        if assay is None:
            return None
        sx = _norm_sex(sex)
        specific = {"F": assay.url_f, "M": assay.url_m}.get(sx) if sx else None
        value = specific if specific is not None else assay.url
        if value is None:
            return None
        return Threshold(value, TROPONIN_UNIT, assay.source, assay.key, sx if specific is not None else None)

    def esc_0h_1h_cutoffs(self, assay_key: str) -> EscCutoffs | None:
        """ESC 0h/1h cut-offs of an assay (assay key or troponin analyte key); None where the table has no row."""
        assay = self._assay_of(assay_key)
        return self._esc.get(assay.key) if assay is not None else None

    def _assay_of(self, key: str) -> TroponinAssay | None:
        if key in self._assays:
            return self._assays[key]
        a = self._analytes.get(key)
        if a is None:
            raise KeyError(f"'{key}' is neither a troponin assay ({', '.join(self._assays)}) nor a catalogue analyte")
        return self._assays.get(a.assay) if a.assay else None

    # ------------------------------------------------------------------------------------------ name lookup
    def normalise_name(self, text: str) -> str:
        """The comparison form of a printed name: lower case, no punctuation, no "S."/"Serum" prefix, no method
        words ("(Photometry)"), British/US spelling folded ("Haemoglobin" and "Hemoglobin" meet)."""
        s = unicodedata.normalize("NFKC", str(text or ""))
        s = s.replace("γ", " gamma ").replace("µ", "u").replace("μ", "u").lower()
        s = re.sub(r"\b((?:[a-z]\.){2,}[a-z]?)\.?", lambda m: m.group(1).replace(".", ""), s)  # e.s.r. -> esr
        s = re.sub(r"[(\[{]([^)\]}]*)[)\]}]?", self._paren_sub, s)
        s = s.replace("%", " pct ").replace("#", " abs ")
        s = re.sub(r"[^a-z0-9]+", " ", s)
        tokens = [_spell(t) for t in s.split()]
        return " ".join(self._strip_affixes(tokens))

    def lookup(self, name: str, *, unit: str = "", section: str = "") -> Analyte | None:
        """The analyte a printed row name means, or None when it is not one analyte or is ambiguous.

        Exact synonym match first (also ignoring spacing and word order), then the section header ("Direct" under
        "Bilirubin"), then a conservative fuzzy match for typos. The unit settles ambiguities (a troponin I in ng/L is
        high-sensitivity; Neutrophils in 10^9/L is the absolute count) and vetoes nonsense (glucose in %: None).
        A row under a urine section maps only to urine analytes. "Troponin" alone, section headers, letterhead
        lines and column titles give None: a wrong mapping is worse than an unmapped row."""
        key = self.normalise_name(name)
        if not key or not re.search(r"[a-z]", key) or len(key.split()) > 10:
            return None
        if set(key.split()) & self._refuse_tokens:
            return None
        sec = self.normalise_name(section) if section and section.strip() else ""
        unit_c = None if _is_blank_unit(unit) else self._unit_alias.get(_unit_key(unit))
        if key.endswith(" pct") and self._exact_any(key) is None:
            key = key[: -len(" pct")]
            unit_c = unit_c or "%"
        hit = self._find(str(name), key, sec, unit_c)
        if hit is None:
            return None
        return self._route(hit, unit_c)

    def _find(self, raw: str, key: str, sec: str, unit_c: str | None) -> Analyte | None:
        tokens = key.split()
        urine = bool(_URINE_WORDS & set(tokens)) or bool(_URINE_WORDS & set(sec.split()))
        if urine:
            rest = [t for t in tokens if t not in _URINE_WORDS]
            for cand in (" ".join(["urine", *rest]), key):
                hit = self._exact_any(cand)
                if hit is not None and hit.specimen == "urine":
                    return hit
            return None  # a urine row never maps onto a blood analyte
        if key in self._ambiguous:
            return self._settle_ambiguous(key, sec, unit_c)
        parts = [p for p in re.split(r"[/:]", re.sub(r"[(\[{][^)\]}]*[)\]}]", " ", raw)) if p.strip()]
        if len(parts) > 1:
            owners = {self._exact_any(self.normalise_name(p), ordered=True) for p in parts} - {None}
            if len(owners) > 1:  # two analytes around a slash: a ratio ("LDL/HDL"), known by its exact name or not at all
                hit_key = self._exact_slash.get(key)
                return self._analytes[hit_key] if hit_key else None
        refused = key in self._refuse
        # "HDL/LDL" is not "LDL/HDL": around a slash, a colon or the word ratio the word order is kept
        ordered = bool(re.search(r"[/:]", raw)) or "ratio" in tokens
        hit = None if refused else self._exact_any(key, ordered=ordered)
        if hit is None and not refused:
            hit = self._by_parentheses(raw)
        if hit is None and not refused:
            hit = self._by_assay_words(tokens)
        if hit is None and sec:
            for cand in (f"{sec} {key}", f"{key} {sec}"):
                hit = self._exact_any(cand)
                if hit is not None:
                    break
        if hit is None and not refused:
            hit = self._fuzzy(key, ordered=ordered)
        if hit is not None and sec:
            hit = self._assay_from_section(hit, sec)
        return hit

    def _route(self, a: Analyte, unit_c: str | None) -> Analyte | None:
        if a.qualitative or unit_c is None:
            return a
        if unit_c in a.route:
            return self._analytes[a.route[unit_c]]
        if a.accepts(unit_c):
            return a
        for alt in a.alternates:
            if self._analytes[alt].accepts(unit_c):
                return self._analytes[alt]
        return None  # the printed unit contradicts the name (glucose in %)

    def _exact_any(self, key: str, *, ordered: bool = False) -> Analyte | None:
        """Exact match, ignoring spaces, then ignoring word order (unless the order carries meaning, as in a ratio)."""
        hit = self._exact.get(key) or self._compact.get(key.replace(" ", ""))
        if not hit and not ordered:
            hit = self._sorted.get(" ".join(sorted(key.split())))
        return self._analytes[hit] if hit else None

    def _by_parentheses(self, raw: str) -> Analyte | None:
        """"Packed Cell Volume (PCV)", "ALT (SGPT)": outside and every part inside name the same analyte."""
        inner = re.findall(r"[(\[{]([^)\]}]*)[)\]}]", raw)
        if not inner:
            return None
        outside = self._exact_any(self.normalise_name(re.sub(r"[(\[{][^)\]}]*[)\]}]", " ", raw)))
        if outside is None:
            return None
        for group in inner:
            for part in re.split(r"[/,;]| or ", group):
                part_key = self.normalise_name(part)
                if not part_key:
                    continue  # a method word or a unit
                if self._exact_any(part_key) is not outside:
                    return None
        return outside

    def _by_assay_words(self, tokens: list[str]) -> Analyte | None:
        """"Troponin I hs (Abbott Architect)": drop the analyser words, resolve the rest, keep the assay it names."""
        found: list[Analyte] = []
        rest = list(tokens)
        for a in self._assay_analytes:
            for phrase in a.assay_words:
                words = phrase.split()
                for i in range(len(tokens) - len(words) + 1):
                    if tokens[i : i + len(words)] == words:
                        found.append(a)
                        rest = [t for t in rest if t not in words]
        rest = [t for t in rest if t not in self._vendor_words]
        if len(rest) == len(tokens) or not rest:
            return None
        base = self._exact_any(" ".join(rest))
        if base is None:
            return None
        matching = {a.key for a in found if a.variant_of == base.key or a is base}
        if len(matching) == 1:
            return self._analytes[matching.pop()]
        return base

    def _assay_from_section(self, hit: Analyte, sec: str) -> Analyte:
        """hs-TnI under a "Cardiac markers (Abbott Architect)" header is the Architect assay."""
        variants = [a for a in self._assay_analytes if a.variant_of == hit.key]
        if not variants:
            return hit
        sec_tokens = sec.split()
        named = [
            a for a in variants
            if any(any(sec_tokens[i : i + len(p.split())] == p.split() for i in range(len(sec_tokens))) for p in a.assay_words)
        ]
        return named[0] if len(named) == 1 else hit

    def _settle_ambiguous(self, key: str, sec: str, unit_c: str | None) -> Analyte | None:
        cands = [self._analytes[k] for k in self._ambiguous[key]]
        if unit_c is not None:
            cands = [a for a in cands if a.accepts(unit_c)]
        if len(cands) > 1 and sec:
            cats = {cat for cat, words in self._section_categories.items() if any(re.search(rf"\b{re.escape(w)}\b", sec) for w in words)}
            cands = [a for a in cands if a.category in cats]
        return cands[0] if len(cands) == 1 else None

    def _fuzzy(self, key: str, *, ordered: bool = False) -> Analyte | None:
        """Typos only: same number of words, long words within a small edit distance, short words and digits exact,
        and one clear winner (two analytes about as close -> None)."""
        cache_key = f"{key}|{ordered}"
        if cache_key in self._fuzzy_cache:
            hit = self._fuzzy_cache[cache_key]
            return self._analytes[hit] if hit else None
        query = key.split()
        best: dict[str, float] = {}
        if len(key.replace(" ", "")) >= 5:
            for cand, akey in self._exact.items():
                ctoks = cand.split()
                if len(ctoks) != len(query):
                    continue
                score = _tokens_similar(query, ctoks)
                if score is None and len(query) > 1 and not ordered:
                    score = _tokens_similar(sorted(query), sorted(ctoks))
                if score is not None and score >= 0.9:
                    best[akey] = max(best.get(akey, 0.0), score)
        ranked = sorted(best.items(), key=lambda kv: -kv[1])
        result = None
        if ranked and (len(ranked) == 1 or ranked[1][1] < ranked[0][1] - 0.02):
            result = ranked[0][0]
        self._fuzzy_cache[cache_key] = result
        return self._analytes[result] if result else None

    # ------------------------------------------------------------------------------------------ loading
    def _fail(self, message: str) -> None:
        raise ConfigError(f"Analyte catalogue ({self.origin}): {message}.",
                          hint="Fix the entry in workbench/labs/tables/analytes.toml.")

    def _source(self, text: Any, where: str) -> str:
        """Expand source ids ("harmony", "loinc; conv (..)") into full citations; unknown ids are errors."""
        if not isinstance(text, str) or not text.strip():
            self._fail(f"{where}: missing source")
        out = []
        for segment in (s.strip() for s in text.split(";")):
            if not segment:
                continue
            head, _, tail = segment.partition(" ")
            if head in self._sources:
                out.append(self._sources[head] + (f" {tail}" if tail else ""))
            elif re.fullmatch(r"[a-z_]+", segment):
                self._fail(f"{where}: unknown source id '{segment}' (add it to [sources])")
            else:
                out.append(segment)
        return "; ".join(out)

    def _load_units(self, raw: Mapping[str, Any]) -> None:
        if not raw:
            self._fail("[units] is missing")
        self._unit_alias: dict[str, str] = {}
        self._unit_info: dict[str, tuple[str, float]] = {}
        for unit, spec in raw.items():
            if not isinstance(spec, Mapping) or "dim" not in spec or "scale" not in spec:
                self._fail(f"unit '{unit}' needs dim and scale")
            self._unit_info[unit] = (str(spec["dim"]), float(spec["scale"]))
            for alias in [unit, *spec.get("aliases", [])]:
                k = _unit_key(alias)
                other = self._unit_alias.get(k)
                if other is not None and other != unit:
                    self._fail(f"unit alias '{alias}' is claimed by both '{other}' and '{unit}'")
                self._unit_alias[k] = unit

    def _load_lookup_config(self, raw: Mapping[str, Any]) -> None:
        def phrases(name: str) -> list[list[str]]:
            out = []
            for p in raw.get(name, []):
                toks = [_spell(t) for t in re.sub(r"[^a-z0-9]+", " ", p.lower()).split()]
                if toks:
                    out.append(toks)
            return sorted(out, key=len, reverse=True)

        self._prefixes = phrases("prefixes")
        self._suffixes = phrases("suffixes") + phrases("methods")
        self._methods = {" ".join(p) for p in phrases("methods")}
        self._refuse_tokens = set(raw.get("refuse_tokens", []))
        self._vendor_words = {w for p in raw.get("vendors", {}).get("words", []) for w in p.split()}
        self._section_categories = {c: [w.lower() for w in ws] for c, ws in raw.get("section_categories", {}).items()}
        # these need normalise_name, which needs the affixes above
        self._refuse = {self.normalise_name(p) for p in raw.get("refuse", [])}
        self._ambiguous = {self.normalise_name(k): tuple(v) for k, v in raw.get("ambiguous", {}).items()}

    def _paren_sub(self, match: re.Match[str]) -> str:
        inner = match.group(1)
        if _unit_key(inner) in getattr(self, "_unit_alias", {}) and inner.strip():
            return " "
        words = " ".join(_spell(t) for t in re.sub(r"[^a-z0-9]+", " ", inner.lower()).split())
        if words in getattr(self, "_methods", set()):
            return " "
        return f" {inner} "

    def _strip_affixes(self, tokens: list[str]) -> list[str]:
        changed = True
        while changed and len(tokens) > 1:
            changed = False
            for p in self._prefixes:
                if len(tokens) > len(p) and tokens[: len(p)] == p:
                    tokens, changed = tokens[len(p):], True
                    break
            for p in self._suffixes:
                if len(tokens) > len(p) and tokens[-len(p):] == p:
                    tokens, changed = tokens[: -len(p)], True
                    break
        return tokens

    def _load_assays(self, raw: Mapping[str, Any]) -> dict[str, TroponinAssay]:
        out = {}
        for key, spec in raw.items():
            where = f"[troponin_assay.{key}]"

            def num(name: str) -> float | None:
                v = spec.get(name)
                if v is None:
                    return None
                if not isinstance(v, (int, float)) or v <= 0:
                    self._fail(f"{where}: {name} must be a positive number")
                return float(v)

            out[key] = TroponinAssay(key, str(spec.get("name", key)), str(spec.get("analyte", "")), num("url"),
                                     num("url_f"), num("url_m"), self._source(spec.get("source"), where))
        return out

    def _load_esc(self, rows: list[Mapping[str, Any]]) -> dict[str, EscCutoffs]:
        out: dict[str, EscCutoffs] = {}
        for i, row in enumerate(rows):
            assay = row.get("assay", "")
            where = f"[[esc_0h_1h]] #{i + 1} ({assay})"
            if assay not in self._assays:
                self._fail(f"{where}: unknown assay (not in [troponin_assay])")
            if assay in out:
                self._fail(f"{where}: duplicate row")
            vals = {}
            for name in _ESC_FIELDS:
                v = row.get(name)
                if not isinstance(v, (int, float)) or v < 0:
                    self._fail(f"{where}: {name} must be a number >= 0")
                vals[name] = float(v)
            if not (vals["very_low_0h"] <= vals["low_0h"] < vals["high_0h"] and vals["delta_1h_no"] <= vals["delta_1h_yes"]):
                self._fail(f"{where}: cut-offs out of order")
            out[assay] = EscCutoffs(assay, **vals, unit=TROPONIN_UNIT, source=self._source(row.get("source"), where),
                                    verify=bool(row.get("verify", False)))
        return out

    def _load_analyte(self, key: str, e: Mapping[str, Any]) -> Analyte:
        where = f"[analyte.{key}]"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            self._fail(f"{where}: the key must be snake_case")
        unknown = set(e) - _ANALYTE_FIELDS
        if unknown:
            self._fail(f"{where}: unknown field(s) {sorted(unknown)}")
        for required in ("name", "category", "loinc", "synonyms", "source"):
            if not e.get(required):
                self._fail(f"{where}: '{required}' is missing")
        if e["category"] not in self.categories:
            self._fail(f"{where}: unknown category '{e['category']}'")
        kind = e.get("kind", "quantitative")
        if kind not in ("quantitative", "qualitative"):
            self._fail(f"{where}: kind must be quantitative or qualitative")
        loinc = tuple(e["loinc"])
        for code in loinc:
            if not loinc_check_digit_ok(code):
                self._fail(f"{where}: LOINC '{code}' is malformed or fails its check digit")
        synonyms = tuple(e["synonyms"])
        source = self._source(e["source"], where)
        unit = str(e.get("unit", ""))
        units: dict[str, Conversion] = {}
        refs: list[RefRange] = []
        critical = None
        plausible = None
        if kind == "qualitative":
            if e.get("units") or e.get("ref") or e.get("critical"):
                self._fail(f"{where}: a qualitative analyte has no units, ranges or critical limits")
            if not e.get("normal"):
                self._fail(f"{where}: a qualitative analyte needs its normal answers ('normal')")
        else:
            units = self._load_conversions(where, unit, e.get("units"))
            p = e.get("plausible")
            if not (isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p) and p[0] < p[1]):
                self._fail(f"{where}: 'plausible' must be [low, high] with low < high")
            plausible = (float(p[0]), float(p[1]))
            refs = [self._load_ref(where, unit, r) for r in e.get("ref", [])]
            self._check_refs(where, refs, plausible)
            critical = self._load_critical(where, unit, e.get("critical"), refs, plausible)
        route = dict(e.get("route", {}))
        for u in route:
            if u not in self._unit_info:
                self._fail(f"{where}: route unit '{u}' is not a canonical unit spelling")
        return Analyte(
            key=key, name=str(e["name"]), category=str(e["category"]), loinc=loinc, unit=unit,
            units=MappingProxyType(units), synonyms=synonyms, source=source, kind=kind,
            specimen=str(e.get("specimen", "serum")), refs=tuple(refs), critical=critical, plausible=plausible,
            assay=e.get("assay"), variant_of=e.get("variant_of"),
            assay_words=tuple(" ".join(re.sub(r"[^a-z0-9]+", " ", w.lower()).split()) for w in e.get("assay_words", [])),
            alternates=tuple(e.get("alternates", [])), route=MappingProxyType(route),
            normal=tuple(str(v).lower() for v in e.get("normal", [])), notes=str(e.get("notes", "")),
        )

    def _load_conversions(self, where: str, unit: str, raw: Any) -> dict[str, Conversion]:
        if unit not in self._unit_info:
            hint = self._unit_alias.get(_unit_key(unit))
            self._fail(f"{where}: canonical unit '{unit}' is not a canonical spelling in [units]"
                       + (f" (write '{hint}')" if hint else ""))
        if not isinstance(raw, Mapping) or not raw:
            self._fail(f"{where}: 'units' is missing")
        out: dict[str, Conversion] = {}
        for u, f in raw.items():
            if u not in self._unit_info:
                hint = self._unit_alias.get(_unit_key(u))
                self._fail(f"{where}: unknown unit '{u}'" + (f" (write the canonical spelling '{hint}')" if hint else ""))
            if isinstance(f, Mapping):
                if set(f) - {"scale", "offset"} or "scale" not in f:
                    self._fail(f"{where}: unit '{u}' needs {{ scale, offset }}")
                conv = Conversion(float(f["scale"]), float(f.get("offset", 0.0)))
            elif isinstance(f, (int, float)) and not isinstance(f, bool):
                conv = Conversion(float(f))
            else:
                self._fail(f"{where}: factor of '{u}' must be a number")
            if not (math.isfinite(conv.scale) and conv.scale > 0 and math.isfinite(conv.offset)):
                self._fail(f"{where}: factor of '{u}' must be a positive finite number")
            out[u] = conv
        if unit not in out or out[unit] != Conversion(1.0):
            self._fail(f"{where}: the canonical unit '{unit}' must be listed in 'units' with factor 1")
        linear = [(u, c) for u, c in out.items() if not c.affine]
        for i, (u1, c1) in enumerate(linear):
            for u2, c2 in linear[i + 1:]:
                (d1, s1), (d2, s2) = self._unit_info[u1], self._unit_info[u2]
                if d1 == d2 and not math.isclose(c1.scale / c2.scale, s1 / s2, rel_tol=2e-3):
                    self._fail(f"{where}: factors of '{u1}' ({c1.scale}) and '{u2}' ({c2.scale}) disagree with the "
                               f"units themselves (expected a ratio of {s1 / s2:g})")
        return out

    def _load_ref(self, where: str, unit: str, r: Mapping[str, Any]) -> RefRange:
        if not isinstance(r, Mapping) or set(r) - _REF_FIELDS:
            self._fail(f"{where}: a reference range may only have {sorted(_REF_FIELDS)}")
        low, high = r.get("low"), r.get("high")
        if low is None and high is None:
            self._fail(f"{where}: a reference range needs low and/or high")
        if low is not None and high is not None and not low < high:
            self._fail(f"{where}: reference low {low} is not below high {high}")
        sex = r.get("sex")
        if sex not in (None, "F", "M"):
            self._fail(f"{where}: reference sex must be 'F' or 'M'")
        a0, a1 = r.get("age_min"), r.get("age_max")
        if a0 is not None and a1 is not None and not a0 < a1:
            self._fail(f"{where}: age_min must be below age_max")
        return RefRange(None if low is None else float(low), None if high is None else float(high), unit,
                        self._source(r.get("source"), f"{where} reference range"), sex,
                        None if a0 is None else float(a0), None if a1 is None else float(a1))

    def _check_refs(self, where: str, refs: list[RefRange], plausible: tuple[float, float]) -> None:
        for r in refs:
            for v in (r.low, r.high):
                if v is not None and not plausible[0] <= v <= plausible[1]:
                    self._fail(f"{where}: reference limit {v} lies outside the plausible bounds {list(plausible)}")
        for i, r1 in enumerate(refs):
            for r2 in refs[i + 1:]:
                if r1.sex != r2.sex:
                    continue
                lo1, hi1 = r1.age_min or -math.inf, r1.age_max or math.inf
                lo2, hi2 = r2.age_min or -math.inf, r2.age_max or math.inf
                both_bounded = r1.specificity == r2.specificity
                if both_bounded and lo1 < hi2 and lo2 < hi1:
                    self._fail(f"{where}: two reference ranges apply to the same patients (sex {r1.sex}, overlapping ages)")

    def _load_critical(self, where: str, unit: str, c: Any, refs: list[RefRange], plausible: tuple[float, float]) -> CriticalLimits | None:
        if c is None:
            return None
        if not isinstance(c, Mapping) or set(c) - {"low", "high", "source"} or ("low" not in c and "high" not in c):
            self._fail(f"{where}: critical = {{ low and/or high, source }}")
        low = None if c.get("low") is None else float(c["low"])
        high = None if c.get("high") is None else float(c["high"])
        for r in refs:
            if low is not None and r.low is not None and low > r.low:
                self._fail(f"{where}: critical low {low} is inside the reference range (low {r.low})")
            if high is not None and r.high is not None and high < r.high:
                self._fail(f"{where}: critical high {high} is inside the reference range (high {r.high})")
        for v in (low, high):
            if v is not None and not plausible[0] <= v <= plausible[1]:
                self._fail(f"{where}: critical limit {v} lies outside the plausible bounds")
        return CriticalLimits(low, high, unit, self._source(c.get("source"), f"{where} critical"))

    def _check_links(self) -> None:
        """Cross-references between entries: variants, assays, routes and alternates point at real entries."""
        for a in self._analytes.values():
            where = f"[analyte.{a.key}]"
            if a.variant_of is not None and a.variant_of not in self._analytes:
                self._fail(f"{where}: variant_of '{a.variant_of}' is not an analyte")
            if a.assay is not None:
                assay = self._assays.get(a.assay)
                if assay is None:
                    self._fail(f"{where}: assay '{a.assay}' is not in [troponin_assay]")
                if assay.analyte != a.key:
                    self._fail(f"{where}: [troponin_assay.{a.assay}] names analyte '{assay.analyte}', not '{a.key}'")
                if a.refs:
                    self._fail(f"{where}: a troponin assay's range comes from [troponin_assay.{a.assay}], not 'ref'")
                refs = [RefRange(None, v, a.unit, assay.source, sex) for sex, v in
                        ((None, assay.url), ("F", assay.url_f), ("M", assay.url_m)) if v is not None]
                object.__setattr__(a, "refs", tuple(refs))
            elif a.assay_words:
                self._fail(f"{where}: assay_words without an assay")
            for alt in a.alternates:
                if alt not in self._analytes or alt == a.key:
                    self._fail(f"{where}: alternate '{alt}' is not another analyte")
            for u, target in a.route.items():
                t = self._analytes.get(target)
                if t is None or not t.accepts(u):
                    self._fail(f"{where}: route '{u}' -> '{target}': no such analyte accepting that unit")
        for key, assay in self._assays.items():
            if assay.analyte not in self._analytes or self._analytes[assay.analyte].assay != key:
                self._fail(f"[troponin_assay.{key}]: analyte '{assay.analyte}' does not name this assay")
        for k, cands in self._ambiguous.items():
            for c in cands:
                if c not in self._analytes:
                    self._fail(f"[lookup.ambiguous] '{k}': unknown analyte '{c}'")
        self._assay_analytes = [a for a in self._analytes.values() if a.assay and a.assay_words]

    def _build_indices(self) -> None:
        self._exact: dict[str, str] = {}
        self._compact: dict[str, str] = {}
        self._sorted: dict[str, str] = {}
        self._exact_slash: dict[str, str] = {}  # names written as "A/B": ratios ("LDL/HDL") and pairs ("ALT/SGPT")
        self._by_loinc: dict[str, Analyte] = {}
        slash_owned: set[tuple[int, str]] = set()
        sorted_clash: set[str] = set()
        for a in self._analytes.values():
            for syn in [*a.synonyms, a.name]:
                norm = self.normalise_name(syn)
                where = f"[analyte.{a.key}] synonym '{syn}'"
                if not norm:
                    self._fail(f"{where} normalises to nothing")
                if norm in self._refuse or set(norm.split()) & self._refuse_tokens:
                    if syn != a.name:
                        self._fail(f"{where} is refused by [lookup] refuse/refuse_tokens")
                    continue
                if norm in self._ambiguous:
                    self._fail(f"{where} is listed in [lookup.ambiguous]")
                slashy = bool(re.search(r"[/:]", re.sub(r"[(\[{][^)\]}]*[)\]}]", " ", syn)))
                if slashy:
                    other = self._exact_slash.get(norm)
                    if other is not None and other != a.key:
                        self._fail(f"{where} collides with a synonym of '{other}' (normalised '{norm}')")
                    self._exact_slash[norm] = a.key
                for index, k in ((self._exact, norm), (self._compact, norm.replace(" ", ""))):
                    other = index.get(k)
                    if other is not None and other != a.key:
                        other_slashy = (id(index), k) in slash_owned
                        if slashy and not other_slashy:
                            continue  # "Cholesterol/HDL" (ratio) stays out of the plain index of "Cholesterol HDL"
                        if other_slashy and not slashy:
                            slash_owned.discard((id(index), k))
                        else:
                            self._fail(f"{where} collides with a synonym of '{other}' (normalised '{k}')")
                    elif other is None and slashy:
                        slash_owned.add((id(index), k))
                    index[k] = a.key
                # word order is only a convenience ("Bilirubin Direct" = "Direct Bilirubin"); where it carries meaning
                # ("HDL Cholesterol" vs "Cholesterol/HDL") the reordered form is dropped, not guessed
                k = " ".join(sorted(norm.split()))
                if self._sorted.get(k, a.key) != a.key:
                    sorted_clash.add(k)
                self._sorted[k] = a.key
            if a.variant_of is None:
                for code in a.loinc:
                    other_a = self._by_loinc.get(code)
                    if other_a is not None:
                        self._fail(f"[analyte.{a.key}]: LOINC {code} already belongs to '{other_a.key}'")
                    self._by_loinc[code] = a
        for k in sorted_clash:
            del self._sorted[k]
        for a in self._analytes.values():
            if a.variant_of is not None and a.primary_loinc not in self._by_loinc:
                self._by_loinc[a.primary_loinc] = a

    def _analyte(self, analyte: Analyte | str) -> Analyte:
        if isinstance(analyte, Analyte):
            return analyte
        a = self._analytes.get(analyte)
        if a is None:
            raise KeyError(f"'{analyte}' is not an analyte of the catalogue")
        return a


@lru_cache(maxsize=1)
def get_catalogue() -> Catalogue:
    """The packaged catalogue, parsed and validated once per process."""
    with resources.files(__package__).joinpath(TABLE).open("rb") as handle:
        try:
            data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"The analyte catalogue {TABLE} is not valid TOML: {exc}.") from exc
    return Catalogue(data)
