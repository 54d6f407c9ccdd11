"""Interpretation statements: the vocabulary of interpretive programs, and repair of OCR'd statements."""
from __future__ import annotations

import math
import re
from difflib import SequenceMatcher

from .tokens import UNITS, Tok, compact
from .types import Box

#: Common statements of interpretive programs (GE 12SL / Philips / Mortara wording), used to repair OCR
#: output ("Abnommal ECG", "NonspecificST and Twave abnormality") by fuzzy matching.
CANONICAL_STATEMENTS: tuple[str, ...] = (
    "Normal sinus rhythm", "Sinus rhythm", "Sinus bradycardia", "Marked sinus bradycardia", "Sinus tachycardia",
    "Sinus arrhythmia", "Sinus rhythm with sinus arrhythmia", "Sinus bradycardia with sinus arrhythmia",
    "Atrial fibrillation", "Atrial flutter", "Atrial fibrillation with rapid ventricular response",
    "Atrial fibrillation with slow ventricular response", "Atrial flutter with variable A-V block",
    "Junctional rhythm", "Accelerated junctional rhythm", "Ectopic atrial rhythm", "Supraventricular tachycardia",
    "Ventricular tachycardia", "Atrial-sensed ventricular-paced rhythm", "Atrial-paced rhythm",
    "Ventricular-paced rhythm", "AV dual-paced rhythm", "Electronic ventricular pacemaker",
    "Electronic atrial pacemaker", "with premature ventricular or aberrantly conducted complexes",
    "with premature atrial complexes", "with occasional premature ventricular complexes",
    "with frequent premature ventricular complexes", "with 1st degree A-V block", "First degree AV block",
    "Second degree AV block, Mobitz I (Wenckebach)", "Second degree AV block, Mobitz II",
    "Complete heart block", "Left axis deviation", "Right axis deviation", "Indeterminate axis",
    "Left anterior fascicular block", "Left posterior fascicular block", "Right bundle branch block",
    "Left bundle branch block", "Incomplete right bundle branch block", "Incomplete left bundle branch block",
    "Right bundle branch block and left anterior fascicular block", "Bifascicular block",
    "Nonspecific intraventricular conduction delay", "Intraventricular conduction delay",
    "Left ventricular hypertrophy", "Left ventricular hypertrophy with repolarization abnormality",
    "Minimal voltage criteria for LVH, may be normal variant", "Voltage criteria for left ventricular hypertrophy",
    "Right ventricular hypertrophy", "Left atrial enlargement", "Right atrial enlargement",
    "Biatrial enlargement", "Possible left atrial enlargement", "Low voltage QRS", "Pulmonary disease pattern",
    "Inferior infarct, age undetermined", "Anterior infarct, age undetermined", "Septal infarct, age undetermined",
    "Anteroseptal infarct, age undetermined", "Lateral infarct, age undetermined", "Inferior infarct, possibly acute",
    "Anterior infarct, possibly acute", "Anterolateral infarct, possibly acute", "Cannot rule out anterior infarct",
    "Cannot rule out inferior infarct", "Acute MI / STEMI", "Nonspecific ST abnormality",
    "Nonspecific T wave abnormality", "Nonspecific ST and T wave abnormality",
    "ST elevation, consider early repolarization, pericarditis, or injury",
    "ST & T wave abnormality, consider inferior ischemia", "ST & T wave abnormality, consider anterior ischemia",
    "ST & T wave abnormality, consider lateral ischemia", "Prolonged QT", "Early repolarization",
    "Normal ECG", "Abnormal ECG", "Borderline ECG", "Otherwise normal ECG", "Normal sinus rhythm, normal ECG",
    "No previous ECGs available", "When compared with ECG of", "No significant change was found",
    "Poor data quality, interpretation may be adversely affected", "Artifact", "Wolff-Parkinson-White",
    "Unconfirmed analysis", "Unconfirmed report",
)

#: words that make an unmatched line an ECG statement rather than patient/administrative text
_STATEMENT_WORDS = frozenset("""
rhythm sinus ecg ekg block axis deviation infarct infarction ischemia ischaemia hypertrophy enlargement
abnormal abnormality normal borderline bradycardia tachycardia fibrillation flutter atrial ventricular
junctional paced pacemaker premature complexes repolarization repolarisation conduction delay bundle branch
fascicular voltage qrs qt st wave elevation depression lvh rvh lbbb rbbb stemi mi previous ecgs artifact
arrhythmia undetermined acute anterior inferior lateral septal anteroseptal possible probable consider
""".split())

#: extra vocabulary for restoring the spaces OCR drops between words
_EXTRA_WORDS = """
a an and or of the with may be is was in on to for by no not age data quality interpretation adversely affected
compared significant change found unconfirmed confirmed report analysis ms bpm p r t av a-v
""".split()

#: patient/administrative words: lines carrying them are not statements
_ADMIN_WORDS = frozenset("""
name id dob age sex male female room loc location technician referred confirmed order account page
test ind indication hz mm mv date time birth years yrs height weight race patient physician md dept
""".split())


def _vocabulary() -> dict[str, float]:
    words: set[str] = set(_EXTRA_WORDS) | set(_STATEMENT_WORDS)
    for s in CANONICAL_STATEMENTS:
        words.update(w for w in re.split(r"[^a-z0-9\-]+", s.lower()) if w)
    return {w: 1.0 for w in words}


_VOCAB = _vocabulary()
_CANON_COMPACT = [(compact(s), s) for s in CANONICAL_STATEMENTS]


def _segment(text: str) -> str:
    """Restore spaces the OCR dropped: 'NonspecificST and Twave' -> 'Nonspecific ST and T wave'."""

    def cost(piece: str) -> float:
        # known words are cheap, short ones less so (so that 'st' or 'in' is not carved out of any word);
        # an unknown run costs more than any split that finds a real word of 3+ letters in it
        if piece.lower() in _VOCAB:
            return 3.0 if len(piece) <= 2 else (2.0 if len(piece) == 3 else 1.0)
        if not any(c.isalpha() for c in piece):
            return 1.0
        return len(piece) + 3.0

    words: list[str] = []
    for chunk in text.split():
        n = len(chunk)
        best = [0.0] + [math.inf] * n
        back = [0] * (n + 1)
        for j in range(1, n + 1):
            for i in range(max(0, j - 30), j):
                c = best[i] + cost(chunk[i:j])
                if c < best[j]:
                    best[j], back[j] = c, i
        cuts, j = [], n
        while j > 0:
            cuts.append((back[j], j))
            j = back[j]
        pieces: list[str] = []
        for i, j in reversed(cuts):
            piece = chunk[i:j]
            if pieces and not any(c.isalnum() for c in piece):
                pieces[-1] += piece  # punctuation stays on its word
            else:
                pieces.append(piece)
        words.append(" ".join(pieces))
    return " ".join(words)


def normalize_statement(text: str) -> tuple[str, bool]:
    """(statement, is_known): OCR text repaired to a known statement when close enough, else re-spaced.

    'Close enough' is a few misread characters (at most 3, or 12% of the statement), never a missing
    word: 'Sinus rhythm with marked sinus arrhythmia' must not become 'Sinus rhythm with sinus arrhythmia'.
    """
    c = compact(text)
    if not c:
        return "", False
    best, best_d = None, math.inf
    for cc, s in _CANON_COMPACT:
        if abs(len(cc) - len(c)) > max(3, 0.12 * len(cc)):
            continue
        matched = sum(m.size for m in SequenceMatcher(None, c, cc, autojunk=False).get_matching_blocks())
        d = len(c) + len(cc) - 2 * matched  # characters inserted + deleted (a substitution counts 2)
        if d <= max(3, 0.12 * len(cc)) and d < best_d:
            best, best_d = s, d
    if best is not None:
        return best, True
    cleaned = re.sub(r"^[*\s#>-]+|[*\s#<-]+$", "", text).strip()
    return _segment(cleaned), False


def find_statements(lines: list[list[int]], toks_by_line: list[list[Tok]], boxes: list[tuple[str, Box, float]],
                used_boxes: set[int]) -> list[str]:
    """Interpretation statements: the text of each line that the measurement parse did not use."""
    found: list[str] = []
    for line, toks in zip(lines, toks_by_line):
        # text left in each box: the whole box when none of it was used, else its unused tokens
        left: dict[int, str] = {}
        for i in line:
            mine = [t for t in toks if t.item == i]
            if i in used_boxes or not mine:
                continue
            if not any(t.used for t in mine):
                left[i] = boxes[i][0]
            else:
                left[i] = re.sub(r"\s+([,.;:])", r"\1", " ".join(t.text for t in mine if not t.used))
        groups: list[list[int]] = []
        for i in line:
            text = left.get(i, "")
            if not re.search(r"[A-Za-z]{2}", text):
                groups.append([])  # a used box or a bare number ends a phrase
                continue
            x0, y0, _, y1 = boxes[i][1]
            if groups and groups[-1]:
                prev = boxes[groups[-1][-1]][1]
                if x0 - prev[2] > 2.0 * max(y1 - y0, prev[3] - prev[1]):
                    groups.append([])
            if not groups:
                groups.append([])
            groups[-1].append(i)
        for g in groups:
            if not g:
                continue
            text = " ".join(left[i] for i in g).strip()
            statement, known = normalize_statement(text)
            if not statement:
                continue
            if not known:
                words = {w.lower().strip(".,:;()*") for w in (statement + " " + text).split()}
                if (":" in text or words & (_ADMIN_WORDS | UNITS) or not (words & _STATEMENT_WORDS)
                        or len(compact(statement)) < 4):
                    continue
            if statement not in found:
                found.append(statement)
    return found
