"""Text metrics of generated ECG reports against reference reports: BLEU, ROUGE-L, and finding-level recall /
precision through the claim extractor (what matters clinically: were the right findings stated?).

Why our own BLEU and ROUGE-L: sacrebleu and rouge-score are not installed (offline project, no new
dependencies), and both metrics are a few lines. BLEU is corpus BLEU of Papineni et al. (2002): clipped n-gram
precisions up to 4, geometric mean, brevity penalty over the corpus; ``smooth=True`` adds one to the numerator and
denominator of n >= 2 (Lin & Och 2004), for sentence-level use. ROUGE-L is the LCS F-measure of Lin (2004) with
beta = 1, as rouge-score reports it. Tokens: lower case; BLEU keeps punctuation marks as tokens (like sacrebleu's
13a), ROUGE-L uses words only (like rouge-score). Scores are in [0, 1]; tests/eval/test_text_metrics.py checks
them on hand-computed examples.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_BLEU_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"[a-z0-9]+")


def bleu_tokens(text: str) -> list[str]:
    return _BLEU_TOKEN.findall((text or "").lower())


def words(text: str) -> list[str]:
    return _WORD.findall((text or "").lower())


def _ngrams(tokens: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def bleu(candidates: Sequence[str], references: Sequence[str | Sequence[str]], *, max_n: int = 4,
         smooth: bool = False) -> float:
    """Corpus BLEU of candidates against one reference (or a list of references) each."""
    if len(candidates) != len(references):
        raise ValueError("BLEU needs one reference (or list of references) per candidate.")
    matches, totals = [0] * max_n, [0] * max_n
    cand_len = ref_len = 0
    for cand, refs in zip(candidates, references):
        refs = [refs] if isinstance(refs, str) else list(refs)
        c_tok, r_toks = bleu_tokens(cand), [bleu_tokens(r) for r in refs]
        cand_len += len(c_tok)
        ref_len += min((len(r) for r in r_toks), key=lambda length: (abs(length - len(c_tok)), length))
        for n in range(1, max_n + 1):
            counts = _ngrams(c_tok, n)
            best: Counter[tuple[str, ...]] = Counter()
            for r in r_toks:
                best |= _ngrams(r, n)  # max count over references
            matches[n - 1] += sum(min(count, best[gram]) for gram, count in counts.items())
            totals[n - 1] += sum(counts.values())
    if cand_len == 0:
        return 0.0
    logs = []
    for n in range(max_n):
        num, den = matches[n], totals[n]
        if smooth and n > 0:
            num, den = num + 1, den + 1
        if num == 0 or den == 0:
            return 0.0
        logs.append(math.log(num / den))
    brevity = 1.0 if cand_len > ref_len else math.exp(1 - ref_len / cand_len)
    return brevity * math.exp(sum(logs) / max_n)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Longest common subsequence length (dynamic programming, one row at a time)."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(candidate: str, reference: str, beta: float = 1.0) -> dict[str, float]:
    """ROUGE-L precision, recall and F-measure of one candidate against one reference."""
    c, r = words(candidate), words(reference)
    lcs = lcs_length(c, r)
    if not c or not r or lcs == 0:
        return {"precision": 0.0, "recall": 0.0, "f": 0.0}
    p, rec = lcs / len(c), lcs / len(r)
    return {"precision": p, "recall": rec, "f": (1 + beta**2) * p * rec / (rec + beta**2 * p)}


def mean_rouge_l(candidates: Sequence[str], references: Sequence[str]) -> float:
    """Average ROUGE-L F over pairs (how rouge-score results are usually summarised)."""
    scores = [rouge_l(c, r)["f"] for c, r in zip(candidates, references)]
    return sum(scores) / len(scores) if scores else math.nan


def finding_codes(text: str) -> set[str]:
    """Finding codes a text states, through the claim extractor (negated and numeric claims left out)."""
    from .datasets.text import reference_codes

    return reference_codes(text)


@dataclass(frozen=True)
class FindingAgreement:
    """Micro-averaged over reports: of the findings generated, how many the reference states (precision), and of
    those the reference states, how many were generated (recall)."""

    true_positive: int
    generated: int
    referenced: int

    @property
    def precision(self) -> float:
        return self.true_positive / self.generated if self.generated else math.nan

    @property
    def recall(self) -> float:
        return self.true_positive / self.referenced if self.referenced else math.nan


def finding_agreement(candidates: Sequence[str], references: Sequence[str]) -> FindingAgreement:
    tp = gen = ref = 0
    for cand, reference in zip(candidates, references):
        g, r = finding_codes(cand), finding_codes(reference)
        tp, gen, ref = tp + len(g & r), gen + len(g), ref + len(r)
    return FindingAgreement(tp, gen, ref)


def text_metrics(candidates: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Everything the report shows for generated text, in one dict."""
    agreement = finding_agreement(candidates, references)
    return {"n": len(candidates), "bleu4": bleu(candidates, references), "bleu4_smoothed": bleu(candidates, references, smooth=True),
            "rouge_l": mean_rouge_l(candidates, references), "finding_precision": agreement.precision,
            "finding_recall": agreement.recall, "findings_generated": agreement.generated,
            "findings_referenced": agreement.referenced}
