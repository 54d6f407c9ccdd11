"""BLEU and ROUGE-L on examples computed by hand (no reference implementation is installed), and the
finding-level agreement through the claim extractor."""
from __future__ import annotations

import math

import pytest

from workbench.eval.text_metrics import bleu, finding_agreement, finding_codes, lcs_length, rouge_l, text_metrics

CAND = "the cat sat on the mat"
REF = "the cat is on the mat"


def test_bleu_by_hand():
    # clipped n-gram precisions: 1-grams 5/6, 2-grams 3/5 (the cat, on the, the mat), 3-grams 1/4 (on the mat),
    # 4-grams 0/3; lengths equal so the brevity penalty is 1
    assert bleu([CAND], [REF], max_n=1) == pytest.approx(5 / 6)
    assert bleu([CAND], [REF], max_n=2) == pytest.approx(math.sqrt(5 / 6 * 3 / 5))  # 0.7071
    assert bleu([CAND], [REF], max_n=3) == pytest.approx((5 / 6 * 3 / 5 * 1 / 4) ** (1 / 3))  # 0.5
    assert bleu([CAND], [REF]) == 0.0  # no 4-gram match, unsmoothed
    # add-one smoothing for n >= 2: 5/6, 4/6, 2/5, 1/4 -> (1/18) ** (1/4)
    assert bleu([CAND], [REF], smooth=True) == pytest.approx((1 / 18) ** 0.25)
    assert bleu([REF], [REF]) == pytest.approx(1.0)


def test_bleu_brevity_penalty_and_clipping():
    # "the cat" vs a 6-token reference: precisions 1 and 1, brevity exp(1 - 6/2) = exp(-2)
    assert bleu(["the cat"], [REF], max_n=2) == pytest.approx(math.exp(-2))
    # clipping: "the the the" against "the cat": 'the' counts once -> 1/3
    assert bleu(["the the the"], ["the cat"], max_n=1) == pytest.approx(1 / 3)


def test_bleu_is_a_corpus_score_not_a_mean():
    # corpus: 1-grams (5 + 2) / (6 + 2), lengths c = 8, r = 12 -> exp(1 - 12/8)
    value = bleu([CAND, "the cat"], [REF, REF], max_n=1)
    assert value == pytest.approx(math.exp(1 - 12 / 8) * 7 / 8)


def test_bleu_with_several_references_takes_the_closest_length_and_max_counts():
    assert bleu(["the cat"], [["the cat", REF]], max_n=2) == pytest.approx(1.0)


def test_rouge_l_by_hand():
    # Lin (2004): "police killed the gunman" vs "police kill the gunman": LCS 3 of 4 -> 0.75;
    # vs "the gunman kill police": LCS "the gunman" 2 of 4 -> 0.5
    assert rouge_l("police kill the gunman", "police killed the gunman")["f"] == pytest.approx(0.75)
    assert rouge_l("the gunman kill police", "police killed the gunman")["f"] == pytest.approx(0.5)
    r = rouge_l(CAND, "the cat is on the mat today")  # LCS 5; P 5/6, R 5/7
    assert (r["precision"], r["recall"]) == (pytest.approx(5 / 6), pytest.approx(5 / 7))
    assert r["f"] == pytest.approx(2 * (5 / 6) * (5 / 7) / (5 / 6 + 5 / 7))
    assert rouge_l("", REF)["f"] == 0.0
    assert lcs_length("abcbdab", "bdcaba") == 4


def test_finding_agreement_through_the_claim_extractor():
    generated = ["Sinus rhythm. Right bundle branch block. No ST elevation.", "Atrial fibrillation with LVH."]
    reference = ["Sinus rhythm with right bundle branch block and first degree AV block.", "Atrial fibrillation."]
    assert finding_codes(generated[0]) == {"426783006", "59118001"}  # the denied ST elevation is not a claim
    agreement = finding_agreement(generated, reference)
    # report 1: 2 generated, 3 referenced, 2 shared; report 2: 2 generated (AF, LVH), 1 referenced, 1 shared
    assert (agreement.true_positive, agreement.generated, agreement.referenced) == (3, 4, 4)
    assert agreement.precision == pytest.approx(0.75) and agreement.recall == pytest.approx(0.75)
    summary = text_metrics(generated, reference)
    assert summary["n"] == 2 and 0 < summary["rouge_l"] < 1
