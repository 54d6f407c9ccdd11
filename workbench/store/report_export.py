"""One self-contained HTML file and one PDF per run: ECG picture, heatmap, labs with flags, impressions with
evidence, recommendations, checked model claims, disclaimer and model versions. Pictures are embedded, so
the file can be mailed or archived and still shows everything offline."""
from __future__ import annotations

import base64
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape
from PIL import Image

from .. import DISCLAIMER, __version__

_TEMPLATES = Path(__file__).parent / "templates"
KEY_MEASUREMENTS = [("heart_rate", "HR", "bpm"), ("pr_interval", "PR", "ms"), ("qrs_duration", "QRS", "ms"),
                    ("qt_interval", "QT", "ms"), ("qtc_bazett", "QTc (Bazett)", "ms"), ("qrs_axis", "QRS axis", "deg")]


def _jpeg_b64(image: np.ndarray, max_side: int = 1600) -> str:
    """JPEG, not PNG: 5 ms and ~0.5 MB for a 1600 px ECG page (PNG: 150 ms and 1 MB; with optimize 1.3 s), and
    reportlab embeds JPEG data as it is instead of recompressing it."""
    picture = Image.fromarray(image)
    picture.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=90)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def ecg_picture_for_report(ecg_path: str | None) -> np.ndarray | None:
    """The original picture for photos and scans; a signal file drawn on standard ECG paper."""
    if not ecg_path:
        return None
    from ..models.image_input import ecg_picture

    return ecg_picture(ecg_path)


def _evidence_text(evidence: dict[str, Any]) -> str:
    parts = []
    leads = evidence.get("leads")
    if leads:
        parts.append(", ".join(map(str, leads)))
    for key, value in evidence.items():
        if key != "leads" and isinstance(value, (int, float, str)) and not isinstance(value, bool):
            parts.append(f"{key.replace('_', ' ')} {round(value, 1) if isinstance(value, float) else value}")
    return "; ".join(parts)


def report_context(state: dict[str, Any], *, created: datetime | None = None) -> dict[str, Any]:
    """Everything the HTML and PDF show, as plain values (also handy for tests)."""
    fusion = state.get("fusion") or {}
    recommendations = state.get("recommendations") or []
    ecg = state.get("ecg") or {}
    measurements = ecg.get("measurements", {})
    labs = (state.get("labs") or {})
    heatmap = state.get("heatmap") or {}
    models = dict((state.get("vlm") or {}).get("models") or {})
    picture = ecg_picture_for_report(state.get("ecg_path")) if state.get("ecg_path") and ecg else None
    overlay = heatmap.get("overlay_path")
    attribution = heatmap.get("attribution") or {}
    impressions = fusion.get("impressions", [])
    return {
        "disclaimer": DISCLAIMER, "version": __version__, "case_id": state.get("case_id", ""), "run_id": state.get("run_id", ""),
        "created": (created or datetime.now()).strftime("%Y-%m-%d %H:%M"), "patient": state.get("patient", {}),
        "urgency": fusion.get("urgency", "routine"), "urgency_reason": impressions[0]["urgency_reason"] if impressions else "",
        "impressions": impressions, "fusion_notes": fusion.get("notes", []),
        "narrative": state.get("narrative") or {"text": "", "author": ""},
        "next_steps": [r for r in recommendations if r["kind"] == "next_step"],
        "lifestyle": [r for r in recommendations if r["kind"] == "lifestyle"],
        "ecg_jpeg": _jpeg_b64(picture) if picture is not None else "",
        "ecg_measurements": [(label, f"{measurements[key]['value']:.0f} {unit}") for key, label, unit in KEY_MEASUREMENTS
                             if measurements.get(key, {}).get("value") is not None],
        "ecg_findings": [{"label": f["label"], "evidence_text": _evidence_text(f.get("evidence", {})), "citation": f.get("citation", "")}
                         for f in ecg.get("findings", [])],
        "heatmap_jpeg": _jpeg_b64(np.asarray(Image.open(overlay).convert("RGB"))) if overlay and Path(overlay).is_file() else "",
        "heatmap_attribution": ", ".join(f"{lead} {share * 100:.0f}%" for lead, share in
                                         sorted(attribution.items(), key=lambda kv: -kv[1]) if lead != "outside"),
        "claims": state.get("claims") or [], "claim_summary": (state.get("claim_summary") or {}).get("summary", ""),
        "labs": [{"name": r["name"], "value_text": r["value_text"], "unit": r["unit"], "flag": r.get("flag"),
                  "reference": _reference(r), "collected_at": (r.get("collected_at") or "")[:16].replace("T", " "),
                  "source": Path(r.get("source_file") or "").name} for r in labs.get("results", [])],
        "unparsed": labs.get("unparsed", []),
        "problems": state.get("errors", []), "skipped": state.get("skipped", []), "signoff": state.get("signoff"),
        "models": models,
    }


def _reference(row: dict[str, Any]) -> str:
    low, high = row.get("ref_low"), row.get("ref_high")
    if low is None and high is None:
        return ""
    unit = row.get("canonical_unit", "")
    if low is None:
        return f"<= {high:.4g} {unit}"
    if high is None:
        return f">= {low:.4g} {unit}"
    return f"{low:.4g}-{high:.4g} {unit}"


def render_html(context: dict[str, Any]) -> str:
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("report.html.j2").render(**context)


def render_pdf(context: dict[str, Any], path: Path) -> Path:
    """The same content as the HTML, laid out by reportlab (no browser needed)."""
    from reportlab import rl_config
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Image as PdfImage
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from xml.sax.saxutils import escape

    # Binary (zlib) streams instead of ASCII85 text: reportlab's pure-Python ASCII85 encoder took ~1 s per
    # embedded picture, and every PDF reader takes binary streams.
    rl_config.useA85 = 0
    styles = getSampleStyleSheet()
    body, small = styles["BodyText"], styles["BodyText"].clone("small", fontSize=7.5, leading=9)
    urgency_colour = {"emergency": colors.HexColor("#b00020"), "urgent": colors.HexColor("#d9822b"),
                      "routine": colors.HexColor("#2e7d32")}[context["urgency"]]
    banner = styles["Heading2"].clone("banner", textColor=colors.white, backColor=urgency_colour, borderPadding=4)
    p = lambda text, style=body: Paragraph(escape(str(text)), style)  # noqa: E731
    story: list[Any] = [p(context["disclaimer"], styles["Heading4"]), p("Case report", styles["Title"])]
    patient = context["patient"]
    story.append(p(f"Patient {patient.get('patient_id', '')}, age {patient.get('age') or '?'}, sex {patient.get('sex') or '?'}; "
                   f"case {context['case_id']}, run {context['run_id']}, {context['created']}"))
    story += [Spacer(1, 3 * mm), p(f"Urgency: {context['urgency'].upper()} - {context['urgency_reason']}", banner), Spacer(1, 3 * mm)]
    story.append(p("Signed off by " + context["signoff"]["who"] if context["signoff"] else "Not yet signed off by a clinician."))
    story.append(p("Impressions", styles["Heading2"]))
    for item in context["impressions"]:
        story.append(p(f"{item['label']} ({item['urgency']})", styles["Heading4"]))
        for e in item["evidence"]:
            story.append(p(f"- {e['text']}"))
        story.append(p(f"{item['rule']}: {item['citation']}", small))
    if not context["impressions"]:
        story.append(p("No impression was reached from the inputs given."))
    for note in context["fusion_notes"]:
        story.append(p(f"Note: {note}", small))
    story += [p("Narrative", styles["Heading2"]), p(context["narrative"]["text"]), p(f"Written by: {context['narrative']['author']}", small)]
    for title, items in (("Next steps", context["next_steps"]), ("Lifestyle advice", context["lifestyle"])):
        story.append(p(title, styles["Heading2"]))
        story += [p(f"- {r['text']} ({r['citation']})") for r in items] or [p("None suggested.")]
    width = A4[0] - 40 * mm
    for title, key in (("ECG", "ecg_jpeg"), ("Where the model looked", "heatmap_jpeg")):
        if context[key]:
            picture = Image.open(io.BytesIO(base64.b64decode(context[key])))
            story += [p(title, styles["Heading2"]),
                      PdfImage(io.BytesIO(base64.b64decode(context[key])), width=width, height=width * picture.height / picture.width)]
    if context["ecg_measurements"]:
        story.append(p(" | ".join(f"{k}: {v}" for k, v in context["ecg_measurements"])))
    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                       ("FONTSIZE", (0, 0), (-1, -1), 7.5), ("VALIGN", (0, 0), (-1, -1), "TOP")])
    if context["claims"]:
        story += [p("Model claims checked against the measurements", styles["Heading2"]), p(context["claim_summary"])]
        rows = [["Claim", "Status", "Why"]] + [[p(c["text"], small), c["status"], p(c["reason"], small)] for c in context["claims"]]
        story.append(Table(rows, colWidths=[60 * mm, 25 * mm, 85 * mm], style=grid))
    story.append(p("Laboratory results", styles["Heading2"]))
    if context["labs"]:
        rows = [["Test", "Result", "Unit", "Reference", "Flag", "Collected"]] + [
            [p(r["name"], small), r["value_text"], r["unit"], r["reference"], r["flag"] or "", r["collected_at"]] for r in context["labs"]]
        story.append(Table(rows, colWidths=[55 * mm, 20 * mm, 20 * mm, 35 * mm, 12 * mm, 28 * mm], style=grid, repeatRows=1))
    else:
        story.append(p("No laboratory results."))
    for u in context["unparsed"]:
        story.append(p(f"Not used: {u['text']} - {u['reason']}", small))
    for problem in context["problems"]:
        story.append(p(f"Could not complete {problem['node']}: {problem['message']}", small))
    models = ", ".join(f"{k} ({v[:12]})" for k, v in context["models"].items()) or "none"
    story += [p("Provenance", styles["Heading2"]), p(f"Workbench {context['version']}; models: {models}", small),
              Spacer(1, 4 * mm), p(context["disclaimer"], styles["Heading4"])]

    def footer(canvas: Any, doc: Any) -> None:
        canvas.setFont("Helvetica", 7)
        canvas.drawString(20 * mm, 10 * mm, f"{DISCLAIMER}  Page {doc.page}")

    SimpleDocTemplate(str(path), pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=15 * mm,
                      bottomMargin=18 * mm, title="AI4Cardio case report").build(story, onFirstPage=footer, onLaterPages=footer)
    return path


def write_reports(state: dict[str, Any], out_dir: Path) -> dict[str, str]:
    """Write report.html and report.pdf for a finished run; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    context = report_context(state)
    html = out_dir / "report.html"
    html.write_text(render_html(context), encoding="utf-8")
    pdf = render_pdf(context, out_dir / "report.pdf")
    return {"html": str(html), "pdf": str(pdf)}
