"""Plain-text summary of an `ECGAnalysis` for the terminal (the JSON is the machine interface)."""
from __future__ import annotations

from .. import DISCLAIMER
from .analysis import ECGAnalysis
from .leads import STANDARD_LEADS

_GLOBAL = (("heart_rate", "Heart rate"), ("dominant_rate", "Underlying rate"), ("rr_sd", "RR SD"), ("p_duration", "P duration"), ("pr_interval", "PR interval"),
           ("qrs_duration", "QRS duration"), ("qt_interval", "QT interval"), ("qtc_bazett", "QTc Bazett"),
           ("qtc_fridericia", "QTc Fridericia"), ("p_axis", "P axis"), ("qrs_axis", "QRS axis"), ("t_axis", "T axis"))


def _fmt(m: dict) -> str:
    if m["value"] is None:
        return f"not measured ({m.get('reason', 'unknown')})"
    return f"{m['value']:.0f} {m['unit']}" if m["unit"] in ("ms", "bpm", "deg") else f"{m['value']:.2f} {m['unit']}"


def _evidence_text(evidence: dict) -> str:
    parts = []
    for key, value in evidence.items():
        if key in ("thresholds", "limits_mm") or value in (None, [], {}):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def format_summary(analysis: ECGAnalysis) -> str:
    d = analysis.to_dict()
    rec, q = d["record"], d["quality"]
    who = ", ".join(str(x) for x in (analysis.info.get("age"), analysis.info.get("sex")) if x is not None) or "age/sex unknown"
    lines = [
        "AI4Cardio Workbench - ECG measurements",
        f"** {DISCLAIMER} **",
        "",
        f"Record:  {rec['path'] or rec['source']}  ({len(rec['original_leads'])} leads recorded, {rec['duration_s']:.1f} s, "
        f"analysed at {rec['fs']:.0f} Hz; patient: {who})",
        f"Quality: {q['overall']}; usable leads {len(q['usable_leads'])}/{len(rec['leads'])}",
    ]
    lines += [f"  ! {w}" for w in q["warnings"]]
    if d.get("image"):
        lines += _image_lines(d["image"])
    lines += ["", "Measurements (median beat):"]
    lines += [f"  {label:<16}{_fmt(d['measurements'][key])}" for key, label in _GLOBAL if key in d["measurements"]]
    lines += ["", "Findings:"]
    if not d["findings"]:
        lines.append("  none of the rule criteria met")
    for f in d["findings"]:
        lines.append(f"  [{f['score']:.2f}] {f['label']}  (SNOMED CT {f['code']})")
        lines.append(f"         evidence: {_evidence_text(f['evidence'])}")
        lines.append(f"         source: {f['citation']}")
    if analysis.episodes:
        lines += ["", "Rhythm episodes:"]
        lines += [f"  {e.start_s:7.1f}-{e.end_s:7.1f} s  {e.rhythm}" for e in analysis.episodes]
    leads = [lead for lead in STANDARD_LEADS if d["leads"].get(lead, {}).get("st_j_mm")]
    if leads:
        lines += ["", "ST level (mm at J / J+60 ms) and T amplitude (mV):"]
        for lead in leads:
            v = d["leads"][lead]
            j60 = v["st_j60_mm"]["value"]
            t = v["t_amplitude"]["value"]
            lines.append(f"  {lead:<4} {v['st_j_mm']['value']:+5.1f} / {'  n/a' if j60 is None else f'{j60:+5.1f}'}   T {'n/a' if t is None else f'{t:+.2f}'}")
    if analysis.not_assessed:
        lines += ["", "Not assessed: " + "; ".join(f"{k.replace('_', ' ')} ({v})" for k, v in analysis.not_assessed.items())]
    return "\n".join(lines)


def _image_lines(image: dict) -> list[str]:
    """How a picture was read: layout, scale, per-lead confidence, and the device's own printed values."""
    cal = image["calibration"]
    confidence = ", ".join(f"{lead} {value:.2f}" for lead, value in image["lead_confidence"].items())
    lines = ["", f"Digitized from an image: layout {image['layout']['name']}, {cal['px_per_mm']:.2f} px/mm, "
                 f"{cal['speed_mm_s']:.0f} mm/s ({cal['speed_source']}), {cal['gain_mm_mv']:.0f} mm/mV ({cal['gain_source']})",
             f"  lead confidence: {confidence}"]
    lines += [f"  note: {note}" for note in image.get("warnings", [])[1:]]
    rows = image.get("device_comparison") or []
    if rows:
        lines += ["  Printed by the recording device vs measured here:"]
        for row in rows:
            verdict = "agrees" if row["agrees"] else "n/a" if row["agrees"] is None else "DISAGREES"
            measured = "n/a" if row["workbench"] is None else f"{row['workbench']:.0f}"
            lines.append(f"    {row['label']:<16}{row['device']:>7.0f} vs {measured:>5} {row['unit']:<4} {verdict}")
    statements = (image.get("device_printed") or {}).get("statements") or []
    if statements:
        lines.append("  Device statements: " + "; ".join(statements))
    return lines
