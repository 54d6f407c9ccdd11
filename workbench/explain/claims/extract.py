"""Claims out of the model's answer: its JSON findings and its free-text report, mapped onto the finding codes
the measurement engine uses, with negation ("no ST elevation" is not a claim) and hedges ("possible AF" is a
claim, marked hedged) resolved per clause."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ...ecg.leads import STANDARD_LEADS, normalize_lead_name, standard_order
from .vocabulary import LEAD_AWARE, Entry, Vocabulary, load_vocabulary

Source = Literal["findings", "text"]


@dataclass(frozen=True)
class RawClaim:
    """One statement of the model before checking: what it claims (code), where (leads) and how sure it sounds."""

    text: str  # the phrase as the model wrote it (a compact JSON object for a structured finding)
    code: str  # SNOMED CT / workbench code, "" when the finding could not be mapped
    label: str
    kind: str  # vocabulary id ("st_elevation", "rate", ...) or "unmapped"
    source: Source = "text"
    leads: tuple[str, ...] = ()  # explicit leads, or those of the named territory
    territories: tuple[str, ...] = ()
    value: float | None = None  # numeric claims: the stated value (ms, bpm, degrees)
    value_high: float | None = None  # upper end of a stated range ("rate 60-70")
    unit: str = ""
    hedged: bool = False
    hedge: str = ""  # the hedge cue ("possible", "cannot exclude", "confidence 0.3")
    negated: bool = False  # only returned with include_negated=True; never checked
    qualifiers: tuple[str, ...] = ()  # e.g. "otherwise" ("otherwise normal ECG")
    confidence: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def numeric(self) -> bool:
        return self.value is not None


# ------------------------------------------------------------------------------------------------ text helpers
_DASHES = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2011": "-", "\u2010": "-", "\u00a0": " ", "\u2009": " ", "\u202f": " "})
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'\d-])|\n\s*(?:[-*\u2022]|\d+[.)])?\s*|\n{2,}")
_CLAUSE = re.compile(r";")
_LEAD_RANGE = re.compile(r"(?<![\w])V(\d)\s*(?:-|to|through|thru)\s*V?(\d)(?!\d)", re.IGNORECASE)
_LEAD_TOKEN = re.compile(r"(?<![\w])((?i:aV[RLF]|V\d{1,2}R?)|III|II|I)(?![\w])")
_LIST_GAP = re.compile(r"^[\s,/&+]*(?:(?:and|or)\b)?[\s,/&+]*$", re.IGNORECASE)
_LEADS_WORD = re.compile(r"\bleads?\s*$", re.IGNORECASE)
_OTHERWISE = re.compile(r"\botherwise\s*$", re.IGNORECASE)
_IN_TERRITORY = re.compile(r"^\s*(?:in|involving|across|over|of)\s+(?:the\s+)?$", re.IGNORECASE)
_SECONDS = re.compile(r"^(?:s|sec|seconds?)$", re.IGNORECASE)


def normalise_text(text: str) -> str:
    """One spelling of dashes, minus signs and spaces, so regexes need only "-" and " "."""
    return (text or "").translate(_DASHES)


def split_sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) pieces: full stops followed by a capital, bullets and blank lines end a sentence
    ("0.21 s" and "approx. 70" do not)."""
    out, start = [], 0
    for m in _SENTENCE.finditer(text):
        if text[start:m.start()].strip():
            out.append((start, text[start:m.start()]))
        start = m.end()
    if text[start:].strip():
        out.append((start, text[start:]))
    return out


def parse_leads(text: str) -> list[str]:
    """Lead names in ``text`` in standard order: 'V1-V4', 'V1 to 4', 'II, III and aVF', 'I/aVL'. A bare 'I'
    counts only inside a list of leads or after the word 'lead'."""
    found: list[tuple[int, int, str]] = []
    covered: list[tuple[int, int]] = []
    for m in _LEAD_RANGE.finditer(text):
        a, b = int(m.group(1)), int(m.group(2))
        if 1 <= a <= b <= 9:
            found.extend((m.start(), m.end(), f"V{i}") for i in range(a, b + 1))
            covered.append((m.start(), m.end()))
    tokens = [(m.start(), m.end(), m.group(1)) for m in _LEAD_TOKEN.finditer(text)
              if not any(a <= m.start() < b for a, b in covered)]
    spans = sorted([(a, b, "range") for a, b in covered] + [(a, b, t) for a, b, t in tokens])
    for i, (a, b, token) in enumerate(spans):
        if token == "range":
            continue
        if token == "I":
            prev_ok = i > 0 and _LIST_GAP.match(text[spans[i - 1][1]:a])
            next_ok = i + 1 < len(spans) and _LIST_GAP.match(text[b:spans[i + 1][0]])
            if not (prev_ok or next_ok or _LEADS_WORD.search(text[:a])):
                continue
        found.append((a, b, normalize_lead_name(token)))
    leads = list(dict.fromkeys(lead for _, _, lead in found))
    return standard_order(leads)


def _lead_list(value: Any) -> list[str]:
    """JSON 'leads': a list of names, ranges ('V1-V4') or one comma-separated string."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else []
    leads: list[str] = []
    for item in items:
        text = str(item).strip()
        single = normalize_lead_name(text)
        if single in STANDARD_LEADS or re.fullmatch(r"V\d{1,2}R?", single):
            leads.append(single)
        else:
            leads.extend(parse_leads(text if re.search(r"[,/ ]|and|-", text) else f"lead {text}"))
    return standard_order(list(dict.fromkeys(leads)))


# ------------------------------------------------------------------------------------------------ cues
@dataclass
class _Clause:
    start: int
    end: int


def _clauses(sentence: str, vocab: Vocabulary) -> list[_Clause]:
    cuts = sorted({0, len(sentence)} | {m.start() for m in _CLAUSE.finditer(sentence)} | {m.start() for m in vocab.terminators.finditer(sentence)})
    return [_Clause(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _clause_of(clauses: list[_Clause], pos: int) -> _Clause:
    return next((c for c in clauses if c.start <= pos < c.end), clauses[-1])


def _blank(text: str, pattern: re.Pattern[str]) -> tuple[str, list[re.Match[str]]]:
    """``text`` with the matches of ``pattern`` blanked out (same length), and those matches."""
    hits = list(pattern.finditer(text))
    for m in hits:
        text = text[:m.start()] + " " * (m.end() - m.start()) + text[m.end():]
    return text, hits


def _negated(pre: str, post: str, vocab: Vocabulary) -> tuple[bool, str]:
    """Whether a phrase is denied or only asked about, given its clause before (``pre``) and after (``post``)."""
    if vocab.hedge_after.match(post):
        return False, ""
    if vocab.negation_after.match(post):
        return True, vocab.negation_after.match(post).group(0).strip(" ,")
    window, _ = _blank(pre, vocab.hedge_before)
    window, _ = _blank(window, vocab.pseudo_negation)
    cues = [m for p in (vocab.negation_before, vocab.not_a_claim_before) for m in p.finditer(window)]
    if not cues:
        return False, ""
    cue = max(cues, key=lambda m: m.end())
    between = window[cue.end():]
    if "," in between:  # "No ST elevation, T inversion in V1": the comma ends the denial unless a list goes on
        chunk = between[between.rfind(",") + 1:] + post[:60].split(",")[0]
        if not re.search(r"\b(?:or|nor)\b", chunk, re.IGNORECASE):
            return False, ""
    return True, cue.group(0)


def _hedge(pre: str, post: str, vocab: Vocabulary) -> str:
    after = vocab.hedge_after.match(post)
    if after:
        return after.group(0).strip(" ,")
    hits = list(vocab.hedge_before.finditer(pre))
    return hits[-1].group(0) if hits else ""


# ------------------------------------------------------------------------------------------------ scanning
@dataclass
class _Hit:
    start: int
    end: int
    entry: Entry


def _categorical_hits(sentence: str, clauses: list[_Clause], vocab: Vocabulary) -> list[_Hit]:
    hits = []
    for entry in vocab.entries:
        for pattern in entry.patterns:
            for m in pattern.finditer(sentence):
                if m.end() == m.start():
                    continue
                if entry.exclude_before is not None:
                    clause = _clause_of(clauses, m.start())
                    if entry.exclude_before.search(sentence[clause.start:m.start()]):
                        continue
                hits.append(_Hit(m.start(), m.end(), entry))
    hits.sort(key=lambda h: (-(h.end - h.start), h.start))
    accepted: list[_Hit] = []
    for h in hits:  # longest first: "incomplete RBBB" wins over "RBBB"
        if all(h.end <= a.start or h.start >= a.end for a in accepted):
            accepted.append(h)
    return sorted(accepted, key=lambda h: h.start)


def _territories(text: str, vocab: Vocabulary) -> list[tuple[int, int, str]]:
    hits = [(m.start(), m.end(), name) for name, p in vocab.territory_patterns for m in p.finditer(text)]
    hits.sort(key=lambda h: (-(h[1] - h[0]), h[0]))
    accepted: list[tuple[int, int, str]] = []
    for h in hits:
        if all(h[1] <= a[0] or h[0] >= a[1] for a in accepted):
            accepted.append(h)
    return sorted(accepted)


def _scan(text: str, source: Source, vocab: Vocabulary, *, numeric_only: bool = False) -> list[RawClaim]:
    text = normalise_text(text)
    claims: list[RawClaim] = []
    for offset, sentence in split_sentences(text):
        clauses = _clauses(sentence, vocab)
        if not numeric_only:
            claims.extend(_scan_categorical(sentence, clauses, source, vocab))
        claims.extend(_scan_numeric(sentence, clauses, source, vocab))
    return claims


def _scan_categorical(sentence: str, clauses: list[_Clause], source: Source, vocab: Vocabulary) -> list[RawClaim]:
    hits = _categorical_hits(sentence, clauses, vocab)
    out = []
    for i, hit in enumerate(hits):
        clause = _clause_of(clauses, hit.start)
        prev_end = max([clause.start] + [h.end for h in hits[:i] if h.end <= hit.start])
        next_start = min([clause.end] + [h.start for h in hits[i + 1:] if h.start >= hit.end])
        pre, post = sentence[clause.start:hit.start], sentence[hit.end:clause.end]
        negated, _ = _negated(pre, post, vocab)
        hedge = _hedge(pre, post, vocab)
        # leads: after the phrase up to the next claim in the clause ("ST elevation in II, III and aVF"), else
        # before it when the clause names them ("Leads V1-V3 show T inversion")
        after = sentence[hit.end:next_start]
        lead_aware = hit.entry.check in LEAD_AWARE
        leads = parse_leads(after) if lead_aware else []
        end = hit.end
        if leads:
            last = max((m.end() for m in re.finditer(r"(?i:aV[RLF]|V\d{1,2}R?)|\bI{1,3}\b|\d", after)), default=0)
            end = hit.end + last
        elif lead_aware and re.search(r"\bleads?\b", sentence[prev_end:hit.start], re.IGNORECASE):
            leads = parse_leads(sentence[prev_end:hit.start])
        # territory: just before or inside the phrase ("inferior STEMI", "old inferior MI"), or "in the inferior leads"
        start = hit.start
        near_before = sentence[max(prev_end, hit.start - 40):hit.start]
        base = max(prev_end, hit.start - 40)
        terr = [t for t in _territories(near_before, vocab) if lead_aware and not re.search(r"[,;]", near_before[t[1]:])]
        if terr:
            start = base + terr[0][0]
        terr += _territories(sentence[hit.start:hit.end], vocab) if lead_aware else []
        if not terr and lead_aware:
            terr = [t for t in _territories(after, vocab) if _IN_TERRITORY.match(after[:t[0]])]
            if terr:
                end = max(end, hit.end + terr[-1][1])
        names = tuple(dict.fromkeys(t[2] for t in terr))
        if not leads and names:
            leads = standard_order(list(dict.fromkeys(lead for n in names for lead in vocab.territories[n])))
        if hedge and hedge in pre:
            start = min(start, clause.start + pre.rfind(hedge))
        qualifiers = ("otherwise",) if _OTHERWISE.search(pre) else ()
        out.append(RawClaim(sentence[start:end].strip(), hit.entry.code, hit.entry.label, hit.entry.id, source, tuple(leads), names,
                            hedged=bool(hedge), hedge=hedge, negated=negated, qualifiers=qualifiers))
    return out


def _scan_numeric(sentence: str, clauses: list[_Clause], source: Source, vocab: Vocabulary) -> list[RawClaim]:
    out: list[RawClaim] = []
    seen: set[int] = set()  # start of each number already read: the longest pattern names it ("QT/QTc 400/480")
    matches = [(m, np_) for np_ in vocab.numeric_patterns for m in np_.regex.finditer(sentence)]
    for m, np_ in sorted(matches, key=lambda x: (-(x[0].end() - x[0].start()), x[0].start())):
        clause = _clause_of(clauses, m.start())
        if np_.exclude_before is not None and np_.exclude_before.search(sentence[clause.start:m.start()]):
            continue
        for nid, spec in vocab.numeric.items():
            if nid not in np_.regex.groupindex or m.group(nid) is None:
                continue
            key = m.start(nid)
            if key in seen:
                continue
            value = _number(m.group(nid), _group(m, f"{nid}_unit"), spec.unit)
            high = _number(_group(m, f"{nid}_hi"), _group(m, f"{nid}_unit"), spec.unit) if _group(m, f"{nid}_hi") else None
            if value is None or not spec.plausible[0] <= value <= spec.plausible[1]:
                continue
            if spec.circular:
                value = _wrap(value)
            if high is not None and high < value:
                value, high = high, value
            seen.add(key)
            pre, post = sentence[clause.start:m.start()], sentence[m.end():clause.end]
            negated, _ = _negated(pre, post, vocab)
            hedge = _hedge(pre, post, vocab)
            shown = f"{value:g}" if high is None else f"{value:g}-{high:g}"
            out.append(RawClaim(m.group(0).strip(), spec.code, f"{spec.label} {shown} {spec.unit}", nid, source, value=value,
                                value_high=high, unit=spec.unit, hedged=bool(hedge), hedge=hedge, negated=negated,
                                extra={"start": m.start(nid)}))
    out.sort(key=lambda c: c.extra["start"])
    return out


def _group(m: re.Match[str], name: str) -> str | None:
    return m.group(name) if name in m.re.groupindex else None


def _number(text: str | None, unit: str | None, target: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text.replace(" ", ""))
    except ValueError:
        return None
    if target == "ms" and ((unit and _SECONDS.match(unit)) or (not unit and value < 3)):
        value *= 1000.0
    return value


def _wrap(angle: float) -> float:
    """Degrees into (-180, 180]."""
    a = (angle + 180.0) % 360.0 - 180.0
    return 180.0 if a == -180.0 else a


# ------------------------------------------------------------------------------------------------ JSON findings
def _from_finding(item: dict[str, Any], vocab: Vocabulary) -> list[RawClaim]:
    label = str(item.get("label") or "").strip()
    code = str(item.get("code") or "").strip()
    leads = tuple(_lead_list(item.get("leads")))
    try:
        confidence = float(item["confidence"]) if item.get("confidence") is not None else None
    except (TypeError, ValueError):
        confidence = None
    shown = json.dumps({k: item[k] for k in ("code", "label", "leads") if k in item}, ensure_ascii=False)
    low = confidence is not None and confidence < float(vocab.raw["cues"]["hedged_confidence"])
    found = [c for c in _scan(label, "findings", vocab)]
    claims = []
    for c in found:
        hedge = c.hedge or (f"confidence {confidence:g}" if low else "")
        claims.append(replace(c, text=shown, leads=leads or c.leads, hedged=bool(hedge), hedge=hedge, confidence=confidence))
    if not found:
        entry = vocab.by_code.get(code)
        if entry is not None:
            claims.append(RawClaim(shown, entry.code, entry.label, entry.id, "findings", leads, hedged=low,
                                   hedge=f"confidence {confidence:g}" if low else "", confidence=confidence))
        elif label or code:
            claims.append(RawClaim(shown, code, label or code, "unmapped", "findings", leads, hedged=low,
                                   hedge=f"confidence {confidence:g}" if low else "", confidence=confidence))
    # numbers stated in the rationale ("PR 240 ms") are claims too
    for c in _scan(str(item.get("rationale") or ""), "findings", vocab, numeric_only=True):
        claims.append(replace(c, text=c.text, confidence=confidence))
    return claims


# ------------------------------------------------------------------------------------------------ duplicates
def _same(a: RawClaim, b: RawClaim) -> bool:
    if a.kind != b.kind or a.kind == "unmapped" and a.label.lower() != b.label.lower():
        return False
    if a.numeric or b.numeric:
        return a.value is not None and b.value is not None and abs(a.value - b.value) < 0.5 and (a.value_high or 0) == (b.value_high or 0)
    return not a.leads or not b.leads or bool(set(a.leads) & set(b.leads))


def _dedupe(claims: list[RawClaim]) -> list[RawClaim]:
    """One claim per finding: a structured finding wins over the same finding in the text (whose leads fill a
    finding that named none); a claim stated unhedged anywhere is unhedged."""
    out: list[RawClaim] = []
    for c in sorted(claims, key=lambda c: c.source != "findings"):  # stable: findings first, then text order
        twin = next((i for i, o in enumerate(out) if o.negated == c.negated and _same(o, c)), None)
        if twin is None:
            out.append(c)
            continue
        o = out[twin]
        hedged = o.hedged and c.hedged
        out[twin] = replace(o, leads=o.leads or c.leads, territories=o.territories or c.territories, hedged=hedged,
                            hedge=o.hedge if hedged else "", qualifiers=tuple(dict.fromkeys(o.qualifiers + c.qualifiers)))
    return out


def extract_claims(findings: list[dict[str, Any]] | None, text: str, *, include_negated: bool = False) -> list[RawClaim]:
    """Every checkable statement of the model's answer (structured findings first, then the report text), so no
    claim escapes the check. Denied or merely asked-about findings are not claims (``include_negated`` returns
    them too, flagged, for auditing)."""
    vocab = load_vocabulary()
    claims: list[RawClaim] = []
    for item in findings or []:
        if isinstance(item, dict):
            claims.extend(_from_finding(item, vocab))
    claims.extend(_scan(text or "", "text", vocab))
    claims = _dedupe(claims)
    return claims if include_negated else [c for c in claims if not c.negated]
