"""Accuracy of the ECG engine on the real public records in ../shared/data/ecg.

Measures, without tuning anything: R-peak detection (MIT-BIH 100, against neurokit2 too), per-label findings
on 25 CinC 2021 records, AF on CPSC 2021 (record and per-second episode level) and the infarction findings of
PTB s0010_re. Prints Markdown and replaces its section of docs/BENCHMARKS.md.

    .venv/bin/python benchmarks/ecg_accuracy.py
"""
from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt, ratio, run_info, shared_data, table, update_section  # noqa: E402

from workbench.ecg import analyze, find_r_peaks, read_ecg  # noqa: E402
from workbench.ecg.annotations import read_annotations  # noqa: E402

SECTION = "ECG accuracy (benchmarks/ecg_accuracy.py)"
TOLERANCE_S = 0.150

#: truth SNOMED code(s) of the CinC 2021 header -> workbench rule that should state it
LABELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "NSR": ("sinus_rhythm", ("426783006",)),
    "SB": ("sinus_bradycardia", ("426177001",)),
    "STach": ("sinus_tachycardia", ("427084000",)),
    "AF": ("atrial_fibrillation", ("164889003",)),
    "PAC": ("premature_atrial", ("284470004", "63593006")),
    "PVC": ("premature_ventricular", ("427172004", "17338001")),
    "IAVB": ("first_degree_av_block", ("270492004",)),
    "RBBB": ("complete_rbbb", ("59118001", "713427006")),
    "IRBBB": ("incomplete_rbbb", ("713426002",)),
    "LBBB": ("complete_lbbb", ("164909002", "733534002")),
    "NSIVCB": ("ivcd", ("698252002",)),
    "LAD": ("left_axis_deviation", ("39732003",)),
    "RAD": ("right_axis_deviation", ("47665007",)),
    "LVH": ("lvh", ("164873001", "55827005")),
    "LQT": ("long_qt", ("111975006",)),
    "TAb": ("t_abnormal", ("164934002",)),
    "TInv": ("t_inversion", ("59931005",)),
    "LQRSV": ("low_voltage", ("251146004",)),
    "STD": ("st_depression", ("429622005",)),
    "STE": ("st_elevation", ("164931005",)),
    "QAb": ("pathological_q", ("164917005",)),
}

#: the issue's targets (sensitivity, specificity), printed next to the measured figures
TARGETS: dict[str, tuple[float, float]] = {
    "NSR": (0.97, 0.97), "SB": (0.97, 0.97), "STach": (0.97, 0.97), "AF": (0.95, 0.95),
    "RBBB": (0.85, 0.90), "LVH": (0.85, 0.90), "LQT": (0.85, 0.90), "TAb": (0.85, 0.90),
}

ISCHAEMIA_RULES = ("st_elevation", "st_depression", "pathological_q", "t_inversion", "avr_elevation_diffuse_depression")


# --------------------------------------------------------------------------- R peaks

def match_beats(reference: np.ndarray, detected: np.ndarray, tolerance: int) -> int:
    """Number of one-to-one matches within ``tolerance`` samples (each reference beat takes its nearest free detection).

    Both arrays sorted; a detection used once cannot match a second beat, so double detections count as FP.
    """
    detected = np.sort(detected)
    used = np.zeros(detected.size, dtype=bool)
    tp = 0
    for r in np.sort(reference):
        lo, hi = np.searchsorted(detected, [r - tolerance, r + tolerance + 1])
        free = [i for i in range(lo, hi) if not used[i]]
        if free:
            used[min(free, key=lambda i: abs(detected[i] - r))] = True
            tp += 1
    return tp


def rpeak_row(name: str, reference: np.ndarray, detected: np.ndarray, fs: float) -> list[object]:
    """One table row: counts and Se / PPV / F1, the usual beat-detection figures (ANSI/AAMI EC57 style)."""
    tp = match_beats(reference, detected, int(round(TOLERANCE_S * fs)))
    fp, fn = detected.size - tp, reference.size - tp
    se, ppv = ratio(tp, tp + fn), ratio(tp, tp + fp)
    f1 = ratio(2 * tp, 2 * tp + fp + fn)
    return [name, reference.size, detected.size, tp, fp, fn, fmt(se, 4), fmt(ppv, 4), fmt(f1, 4)]


def rpeak_benchmark(data: Path) -> str:
    """MIT-BIH 100: the workbench detector (all leads) and neurokit2 on MLII, scored the same way."""
    import neurokit2 as nk

    stem = data / "ecg" / "mitdb" / "100"
    record = read_ecg(stem.with_suffix(".hea"))
    reference = read_annotations(stem, "atr").samples
    fs = record.fs
    ours = find_r_peaks(record)
    lead = record.signals[:, 0]  # MLII (read as lead II)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, info = nk.ecg_peaks(nk.ecg_clean(lead, sampling_rate=fs), sampling_rate=fs)
    theirs = np.asarray(info["ECG_R_Peaks"], dtype=int)
    rows = [rpeak_row("workbench `find_r_peaks` (2 leads)", reference, ours, fs),
            rpeak_row(f"neurokit2 {nk.__version__} `ecg_peaks(ecg_clean)` (MLII)", reference, theirs, fs)]
    header = ["detector", "reference beats", "detected", "TP", "FP", "FN", "sensitivity", "PPV", "F1"]
    return (f"### R-peak detection: MIT-BIH 100 (30 min, {fs:.0f} Hz)\n\n"
            f"Reference: the beat annotations of `100.atr` (beat symbols only); one-to-one matching, tolerance "
            f"{TOLERANCE_S * 1000:.0f} ms.\n\n" + table(header, rows))


# --------------------------------------------------------------------------- CinC 2021 labels

@dataclass
class CincResult:
    record: str
    truth: set[str]                 # SNOMED codes of the header
    found: set[str]                 # rule names stated as findings
    scores: dict[str, float | None]


def run_cinc(data: Path) -> list[CincResult]:
    """Analyse every CinC record once; the label table and the per-record table both read these results."""
    results = []
    for header in sorted((data / "ecg" / "cinc2021").glob("*.hea")):
        record = read_ecg(header)
        result = analyze(record)  # age/sex come from the header
        results.append(CincResult(header.stem, set(record.labels), {f.rule for f in result.findings}, result.scores))
    return results


def abbreviations(data: Path) -> dict[str, str]:
    """SNOMED code -> Challenge abbreviation, to print the truth labels readably."""
    import csv

    names = {}
    for path in sorted((data / "ecg" / "dx_mapping").glob("*.csv")):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                code = row.get("SNOMEDCTCode") or row.get("SNOMED CT Code")
                if code:
                    names[code.strip()] = (row.get("Abbreviation") or code).strip()
    return names


def judge(se: float | None, sp: float | None, target: tuple[float, float]) -> str:
    """'met' / 'NOT met', judged on what is defined: with no positive case only specificity can fail."""
    misses = [name for name, value, limit in (("sens", se, target[0]), ("spec", sp, target[1])) if value is not None and value < limit]
    undefined = [name for name, value in (("sens", se), ("spec", sp)) if value is None]
    verdict = f"NOT met ({', '.join(misses)})" if misses else "met" if not undefined else "not judged"
    return verdict + (f"; {', '.join(undefined)} n/a" if undefined else "")


def label_table(results: list[CincResult]) -> str:
    """Per-label confusion counts, sensitivity/specificity at the 0.5 finding threshold and AUC of the rule score."""
    from sklearn.metrics import roc_auc_score

    rows = []
    for label, (rule, codes) in LABELS.items():
        truth = np.array([bool(r.truth & set(codes)) for r in results])
        found = np.array([rule in r.found for r in results])
        scores = np.array([r.scores.get(rule) if r.scores.get(rule) is not None else 0.0 for r in results])
        not_assessed = sum(r.scores.get(rule) is None for r in results)
        tp, fn = int((truth & found).sum()), int((truth & ~found).sum())
        fp, tn = int((~truth & found).sum()), int((~truth & ~found).sum())
        se, sp = ratio(tp, tp + fn), ratio(tn, tn + fp)
        auc = roc_auc_score(truth, scores) if 0 < truth.sum() < truth.size else None
        verdict = f"{target[0]:.2f} / {target[1]:.2f} {judge(se, sp, target)}" if (target := TARGETS.get(label)) else ""
        rows.append([label, f"`{rule}`", int(truth.sum()), tp, fn, fp, tn, fmt(se, 2), fmt(sp, 2), fmt(auc, 2),
                     not_assessed or "", verdict])
    header = ["label", "rule", "n truth", "TP", "FN", "FP", "TN", "sens", "spec", "AUC", "not assessed", "target sens / spec"]
    return table(header, rows)


def cinc_benchmark(data: Path) -> str:
    """Label table plus the per-record listing, to see which records the errors come from."""
    results = run_cinc(data)
    names = abbreviations(data)
    labels = label_table(results)
    rule_to_label = {rule: label for label, (rule, _) in LABELS.items()}
    per_record = []
    for r in results:
        truth = ", ".join(sorted(names.get(c, c) for c in r.truth))
        found = ", ".join(sorted(f"{f}" + (f" ({rule_to_label[f]})" if f in rule_to_label else "") for f in r.found))
        per_record.append([r.record, truth, found or "(none)"])
    return ("### Findings vs SNOMED Dx: 25 CinC 2021 records (10 s, 12 leads)\n\n"
            "Truth = the `# Dx:` codes of the header; a finding is positive when its rule is in `.findings` "
            "(score >= 0.5). AUC from `.scores` (a rule that could not be assessed scores 0); only where both "
            "classes occur. With 0-12 positives per label these are rough figures.\n\n"
            + labels + "\n\nPer record:\n\n" + table(["record", "truth (Dx)", "found (rule, label)"], per_record))


# --------------------------------------------------------------------------- CPSC 2021 AF

def seconds_in(episodes: list[tuple[float, float]], n_seconds: int) -> np.ndarray:
    """Per-second mask: the midpoint of second k lies inside one of the episodes."""
    mid = np.arange(n_seconds) + 0.5
    mask = np.zeros(n_seconds, dtype=bool)
    for start, end in episodes:
        mask |= (mid >= start) & (mid < end)
    return mask


def af_benchmark(data: Path) -> str:
    """Record-level AF (class in the header) and per-second agreement with the .atr AFIB episodes."""
    rows, truth_s, pred_s = [], [], []
    rec_tp = rec_fn = rec_fp = rec_tn = 0
    for header in sorted((data / "ecg" / "cpsc2021").glob("data_*.hea")):
        record = read_ecg(header)
        result = analyze(record)
        comment = " ".join(record.metadata.get("comments", [])).lower()
        positive = "non atrial" not in comment and "atrial fibrillation" in comment
        found = result.finding("atrial_fibrillation") is not None
        rec_tp += positive and found
        rec_fn += positive and not found
        rec_fp += (not positive) and found
        rec_tn += (not positive) and not found
        ann = read_annotations(header.with_suffix(""), "atr")
        n_seconds = int(record.signals.shape[0] / record.fs)
        truth = seconds_in(ann.episodes("AFIB"), n_seconds)
        pred = seconds_in([(e.start_s, e.end_s) for e in result.episodes or [] if e.rhythm == "atrial fibrillation"], n_seconds)
        truth_s.append(truth)
        pred_s.append(pred)
        agree = float((truth == pred).mean())
        rows.append([header.stem, comment, f"{n_seconds}", f"{truth.mean():.2f}", f"{pred.mean():.2f}", f"{agree:.2f}",
                     "yes" if found else "no", fmt(result.scores.get("atrial_fibrillation"), 2)])
    t, p = np.concatenate(truth_s), np.concatenate(pred_s)
    rec_se, rec_sp = ratio(rec_tp, rec_tp + rec_fn), ratio(rec_tn, rec_tn + rec_fp)
    sec_se, sec_sp = ratio(int((t & p).sum()), int(t.sum())), ratio(int((~t & ~p).sum()), int((~t).sum()))
    summary = table(["level", "TP", "FN", "FP", "TN", "sensitivity", "specificity", "target"], [
        ["record (header class)", rec_tp, rec_fn, rec_fp, rec_tn, fmt(rec_se, 2), fmt(rec_sp, 2),
         f"0.95 / 0.95 {judge(rec_se, rec_sp, TARGETS['AF'])}"],
        ["second (pooled, .atr AFIB)", int((t & p).sum()), int((t & ~p).sum()), int((~t & p).sum()), int((~t & ~p).sum()),
         fmt(sec_se, 3), fmt(sec_sp, 3), ""],
    ])
    per_record = table(["record", "class", "seconds", "AF burden truth", "AF burden found", "per-second agreement",
                        "AF finding", "AF score"], rows)
    return ("### Atrial fibrillation: 9 CPSC 2021 records (2 leads, 200 Hz, 2-9 min)\n\n"
            "Record level: paroxysmal/persistent AF = positive, non AF = negative, vs `atrial_fibrillation` in `.findings`. "
            "Second level: a second is AF in truth when its midpoint lies in an `.atr` AFIB episode, and found when it lies "
            "in an `.episodes` span whose rhythm is `atrial fibrillation` (the engine works in 10 s windows).\n\n"
            + summary + "\n\n" + per_record)


# --------------------------------------------------------------------------- PTB s0010_re

def mi_benchmark(data: Path) -> str:
    """s0010_re, acute infero-lateral MI: do the ischaemia/infarction findings point at that territory?"""
    record = read_ecg(data / "ecg" / "ptbdb" / "s0010_re.hea")
    result = analyze(record)
    rows, territories = [], set()
    for name in ISCHAEMIA_RULES:
        f = result.finding(name)
        score = result.scores.get(name)
        if f is None:
            rows.append([f"`{name}`", fmt(score, 2), "not stated", "", ""])
            continue
        territory = f.evidence.get("territory") or []
        territories |= set(territory)
        leads = f.evidence.get("leads") or f.evidence.get("depressed_leads") or []
        rows.append([f"`{name}`", fmt(f.score, 2), "stated", ", ".join(territory) or "-", ", ".join(leads)])
    qrs, fid = result.measurements["qrs_duration"].value, result.info.get("fiducials_ms", {})
    verdict = "PASS" if territories & {"inferior", "lateral"} else "FAIL"
    others = ", ".join(f"`{f.rule}` ({f.score:.2f})" for f in result.findings if f.rule not in ISCHAEMIA_RULES)
    return ("### Infarction: PTB s0010_re (acute infero-lateral MI, 81 y female, 15 leads, 1 kHz, 38 s)\n\n"
            + table(["rule", "score", "finding", "territory", "leads"], rows)
            + f"\n\n**{verdict}**: a finding names {', '.join(sorted(territories)) or 'no territory'} "
              f"(expected inferior or lateral). Other findings: {others or 'none'}. "
              f"Where ST is read: QRS {fmt(qrs, 0)} ms, J point (QRS end) {fmt(fid.get('qrs_off'), 0)} ms after the R peak of the median beat.")


def main() -> None:
    data = shared_data()
    parts = [run_info(), rpeak_benchmark(data), cinc_benchmark(data), af_benchmark(data), mi_benchmark(data)]
    body = "\n\n".join(parts)
    print(f"## {SECTION}\n\n{body}")
    update_section(SECTION, body)


if __name__ == "__main__":
    main()
