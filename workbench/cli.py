"""The ``workbench`` command."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from . import DISCLAIMER, __version__
from .errors import WorkbenchError

log = logging.getLogger(__name__)


class _Group(click.Group):
    """Turns workbench errors into one plain sentence and exit code 2 (no traceback for users)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except WorkbenchError as err:
            click.echo(f"{err.title}: {err}", err=True)
            sys.exit(2)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as err:  # a bug: say so plainly, details only with -v
            log.exception("unexpected error")
            click.echo(f"Internal error ({type(err).__name__}: {err}). Please report it; rerun with -v for details.", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="workbench")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """AI4Cardio Workbench: offline ECG and blood-report decision support (not a diagnosis)."""
    if verbose:
        from .config import configure_logging

        configure_logging("INFO")


@main.group(cls=_Group)
def ecg() -> None:
    """Read, measure and interpret ECG recordings."""


@ecg.command("analyze")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON (docs/ECG_JSON.md).")
@click.option("--age", type=click.FloatRange(0, 130), help="Patient age in years (overrides the file).")
@click.option("--sex", type=click.Choice(["F", "M"], case_sensitive=False), help="Patient sex (overrides the file).")
@click.option("--fs", type=click.FloatRange(min=1.0), help="Sampling rate in Hz, for files that do not state it (CSV, NPY).")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True, help="Page of a PDF or multi-page image.")
def analyze_cmd(path: Path, as_json: bool, age: float | None, sex: str | None, fs: float | None, page: int) -> None:
    """Measure the ECG in PATH (signal file, image or PDF) and state the findings with their evidence."""
    from .ecg.inputs import analyze_file
    from .ecg.summary import format_summary

    result = analyze_file(path, age=age, sex=sex.upper() if sex else None, fs=fs, page=page - 1)
    click.echo(result.to_json() if as_json else format_summary(result))


@ecg.command("digitize")
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output: FILE.csv or FILE.hea / FILE (WFDB), chosen by the extension.")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
def digitize_cmd(image: Path, out: Path, page: int) -> None:
    """Recover the 12-lead signal from an ECG picture or PDF page and write it as CSV or WFDB."""
    from .ecg.image import digitize_file
    from .ecg.readers import write_csv, write_wfdb

    result = digitize_file(image, page=page - 1)
    record = result.record.resample(500)
    written = write_csv(record, out) if out.suffix.lower() in (".csv", ".txt") else write_wfdb(record, out.with_suffix(""))
    click.echo(f"{written}  ({result.layout.name}, {len(record.leads)} leads, {result.calibration.px_per_mm:.2f} px/mm)")
    for note in result.warnings:
        click.echo(f"  note: {note}")


@ecg.command("render")
@click.argument("record_path", metavar="RECORD", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--layout", default="3x4+1", show_default=True, type=click.Choice(["3x4", "3x4+1", "3x4+3", "6x2", "12x1"]))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="FILE.png (or .jpg, .pdf)")
@click.option("--augment", multiple=True, help="rotation, perspective, blur, noise, jpeg, crease, lighting, handwriting, photo")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--dpi", default=200, show_default=True, type=click.IntRange(50, 600))
@click.option("--fs", type=click.FloatRange(min=1.0), help="Sampling rate for files that do not state it.")
def render_cmd(record_path: Path, layout: str, out: Path, augment: tuple[str, ...], seed: int, dpi: int, fs: float | None) -> None:
    """Draw an ECG record as a realistic paper printout (to test the digitizer with a known truth)."""
    from PIL import Image

    from .ecg.image.render import render_ecg
    from .ecg.readers import read_ecg

    rendered = render_ecg(read_ecg(record_path, fs=fs), layout=layout, dpi=dpi, seed=seed, augment=list(augment))
    page = Image.fromarray(rendered.image)
    if out.suffix.lower() == ".pdf":
        page.save(out, resolution=dpi)
    else:
        page.save(out, dpi=(dpi, dpi))
    click.echo(f"{out}  ({rendered.layout.name}, {rendered.image.shape[1]}x{rendered.image.shape[0]} px at {dpi} dpi)")


@ecg.command("example")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Folder (default: DATA_DIR/example).")
def example_cmd(out: Path | None) -> None:
    """Write the bundled example 12-lead ECG (simulated, known truth) as WFDB and CSV; print the paths."""
    from .ecg.examples import write_example

    for written in write_example(out):
        click.echo(str(written))


@main.command("demo")
def demo_cmd() -> None:
    """The main job for now: write the example ECG and print its analysis."""
    from .ecg import analyze, read_ecg
    from .ecg.examples import write_example
    from .ecg.summary import format_summary

    header = write_example(None)[0]
    click.echo(format_summary(analyze(read_ecg(header))))
    click.echo(f"\n{DISCLAIMER}\nJSON: workbench ecg analyze {header} --json")


@main.group(cls=_Group)
def models() -> None:
    """Model files: what is installed, and whether each file is the right one."""


def _model_rows(hash_files: bool) -> list:
    from .models.manifest import check, load_manifest

    return [check(entry, hash_file=hash_files) for entry in load_manifest()]


@models.command("list")
@click.option("--json", "as_json", is_flag=True)
def models_list(as_json: bool) -> None:
    """Show every model of the manifest and whether its file is installed (no hashing)."""
    rows = _model_rows(hash_files=False)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    for r in rows:
        state = "installed" if r.installed else "missing" + (" (optional)" if r.entry.optional else "")
        click.echo(f"{r.entry.name:<34} {r.entry.role:<15} {state:<20} {r.entry.file}")


@models.command("verify")
@click.option("--json", "as_json", is_flag=True)
def models_verify(as_json: bool) -> None:
    """Check presence, size and SHA-256 of every model file; exit code 2 when an installed file is wrong
    or a required (non-optional) model is missing."""
    rows = _model_rows(hash_files=True)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2))
    else:
        for r in rows:
            click.echo(f"{'OK ' if r.ok else '-- ' if not r.installed else 'BAD'} {r.entry.name}: {r.message}")
            if r.sha256 and not r.entry.sha256:
                click.echo(f"    sha256 = \"{r.sha256}\"  (paste into models/models.toml to pin it)")
    failed = [r for r in rows if (r.installed and not r.ok) or (not r.installed and not r.entry.optional)]
    if failed:
        sys.exit(2)


@models.command("export-encoder")
@click.argument("checkpoint", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--quantize", type=click.Choice(["none", "int8", "int4"]), default="int8", show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output .onnx (default: MODELS_DIR/<checkpoint name>-<quantize>.onnx).")
@click.option("--image-size", type=click.IntRange(min=32), default=None, help="Input size (default: the checkpoint's).")
def models_export_encoder(checkpoint: Path, quantize: str, out: Path | None, image_size: int | None) -> None:
    """Export the vision encoder of a local SigLIP / MedSigLIP checkpoint to ONNX (with per-layer and
    attention-pool attentions for heatmaps), optionally quantised. Runs offline from the folder given."""
    from .config import get_settings
    from .models.encoder_export import export_encoder

    suffix = "" if quantize == "none" else f"-{quantize}"
    target = out or get_settings().models_dir / f"{checkpoint.name}{suffix}.onnx"
    report = export_encoder(checkpoint, target, quantize=quantize, image_size=image_size)
    for path in report.paths:
        click.echo(str(path))
    click.echo("Add it to models/models.toml (role = \"vision_encoder\") and run `workbench models verify`.")


@models.command("build-test-models")
@click.option("--install", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also install them in this folder with a pinned manifest (then set WORKBENCH_MODELS_DIR to it).")
def models_build_test(folder: Path | None) -> None:
    """Build the small real test models once (Gemma 3 270M GGUF, a tiny Gemma 3 projector, a tiny SigLIP
    ONNX encoder). Random or tiny weights: they test the runtimes, their answers mean nothing."""
    from .models.test_encoders import tiny_siglip_onnx
    from .models.test_models import gemma3_270m, install_test_models, tiny_gemma3_mmproj

    for build in (gemma3_270m, tiny_gemma3_mmproj, tiny_siglip_onnx):
        click.echo(str(build()))
    if folder is not None:
        click.echo(f"installed: {install_test_models(folder)}")


@main.command("heatmap")
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="FILE.png for the overlay.")
@click.option("--method", type=click.Choice(["map", "rollout"]), default="map", show_default=True,
              help="map: the attention-pooling head's weights; rollout: attention rollout through all layers.")
@click.option("--model", "name", default=None, help="Encoder name from models/models.toml.")
@click.option("--opacity", type=click.FloatRange(0, 1), default=0.45, show_default=True)
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def heatmap_cmd(image: Path, out: Path, method: str, name: str | None, opacity: float, page: int, as_json: bool) -> None:
    """Where the vision encoder looked on the ECG in IMAGE: writes the overlay and, when the lead layout can be
    found, prints each lead's share of the attention."""
    from .explain.heatmap import explain_image
    from .explain.layout_for_heatmap import picture_and_layout
    from .models.encoder import VisionEncoder

    picture, layout, note = picture_and_layout(image, page=page - 1)
    result = explain_image(VisionEncoder.from_manifest(name=name), picture, method=method, layout=layout, opacity=opacity)
    result.save(out)
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "out": str(out), "layout": layout.name if layout else None,
                               "note": note}, indent=2))
        return
    click.echo(f"{out}  ({method}, {result.provider}, {result.timings.get('total_s', 0):.2f} s)")
    if result.attribution:
        for lead, share in sorted(result.attribution.items(), key=lambda item: -item[1]):
            click.echo(f"  {lead:<8} {share * 100:5.1f} %")
    else:
        click.echo(f"  per-lead attribution: not available ({note})")
    click.echo(DISCLAIMER)


@main.group(cls=_Group)
def labs() -> None:
    """Blood reports: extract, normalise and follow lab results."""


@labs.command("extract")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--patient", "patient_id", default=None, help="Pseudonymous patient id for every result (overrides the reports).")
@click.option("--sex", type=click.Choice(["F", "M"], case_sensitive=False), help="Picks sex-specific reference ranges.")
@click.option("--age", type=click.FloatRange(0, 130), help="Picks age-specific reference ranges.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the results here; rows that could not be read go to OUT.unparsed.csv.")
@click.option("--json", "as_json", is_flag=True, help="Print results, unparsed rows and per-file notes as JSON.")
def labs_extract(files: tuple[Path, ...], patient_id: str | None, sex: str | None, age: float | None,
                 csv_out: Path | None, as_json: bool) -> None:
    """Read lab reports (PDF, scan or photo, CSV/TSV/XLSX, FHIR JSON) into coded, unit-normalised results.
    A file that cannot be read is reported and the others are still read (exit code 2 if none could be)."""
    from .labs.extract import extract_labs
    from .labs.trends import esc_0h_1h

    extraction = extract_labs(files, patient_id=patient_id, sex=sex, age=age)
    frame, unparsed = extraction.frame, extraction.unparsed_frame
    if csv_out is not None:
        frame.to_csv(csv_out, index=False)
        unparsed.to_csv(csv_out.with_suffix(".unparsed.csv"), index=False)
    verdicts = {str(who): esc_0h_1h(frame, patient=who) for who in frame["patient"].unique()}
    if as_json:
        click.echo(json.dumps({
            "results": json.loads(frame.to_json(orient="records", date_format="iso")),
            "unparsed": json.loads(unparsed.to_json(orient="records")),
            "files": [{**f.__dict__, "collected_at": f.collected_at.isoformat() if f.collected_at else None}
                      for f in extraction.files],
            "esc_0h_1h": {who: {"category": v.category, "reason": v.reason, "notes": list(v.notes)}
                          for who, v in verdicts.items() if v.category != "not applicable"},
            "disclaimer": DISCLAIMER}, indent=2))
    else:
        for f in extraction.files:
            click.echo(f"{f.file}: " + (f"NOT READ - {f.error}" if f.error else
                                         f"{f.results} results, {f.unparsed} not usable ({', '.join(f.readers)})"))
            for note in f.warnings:
                click.echo(f"  note: {note}")
        for row in frame.itertuples():
            value = f"{row.comparator or ''}{row.canonical_value:.4g}" if row.canonical_value == row.canonical_value else row.value_text
            low = "" if row.ref_low != row.ref_low else f"{row.ref_low:.4g}"
            high = "" if row.ref_high != row.ref_high else f"{row.ref_high:.4g}"
            click.echo(f"  {row.name[:44]:<44} {value:>10} {row.canonical_unit:<14} [{low}-{high}] {row.flag or ''}")
        for item in extraction.unparsed:
            click.echo(f"  NOT USED: {item.text[:60]} - {item.reason}")
        for who, verdict in verdicts.items():
            if verdict.category != "not applicable":
                click.echo(f"{who or 'patient'}: {verdict.describe()}")
        if csv_out is not None:
            click.echo(f"written: {csv_out} and {csv_out.with_suffix('.unparsed.csv')}")
        click.echo(DISCLAIMER)
    if extraction.failed and len(extraction.failed) == len(extraction.files):
        sys.exit(2)


@main.group(cls=_Group)
def case() -> None:
    """Cases: ECG + labs + the intake form -> impressions, next steps and a report (stored in SQLite)."""


def _case_json(result: object) -> dict:
    """The documented, stable case JSON (docs/CASE_JSON.md)."""
    state = result.state
    fusion = state.get("fusion") or {}
    recommendations = state.get("recommendations") or []
    return {
        "case_id": result.case_id, "run_id": result.run_id, "status": result.status,
        "urgency": fusion.get("urgency", "routine"),
        "impressions": [{k: item[k] for k in ("code", "label", "urgency", "urgency_reason", "evidence", "citation", "rule")}
                        for item in fusion.get("impressions", [])],
        "next_steps": [{"text": r["text"], "citation": r["citation"]} for r in recommendations if r["kind"] == "next_step"],
        "lifestyle": [{"text": r["text"], "citation": r["citation"]} for r in recommendations if r["kind"] == "lifestyle"],
        "claims": [{"text": c["text"], "code": c["code"], "status": c["status"], "reason": c["reason"]}
                   for c in state.get("claims") or []],
        "errors": state.get("errors", []), "skipped": state.get("skipped", []),
        "narrative": (state.get("narrative") or {}).get("text", ""),
        "report": state.get("report") or {"html": None, "pdf": None},
        "waiting_for": result.waiting_for, "disclaimer": DISCLAIMER,
    }


def _print_case(result: object) -> None:
    data = _case_json(result)
    click.echo(f"case {data['case_id']}  run {data['run_id']}  ({data['status']})")
    click.echo(f"URGENCY: {data['urgency'].upper()}")
    for item in data["impressions"]:
        click.echo(f"- {item['label']} [{item['urgency']}]")
        for evidence in item["evidence"]:
            click.echo(f"    * {evidence['text']}")
    for title, key in (("Next steps", "next_steps"), ("Lifestyle", "lifestyle")):
        if data[key]:
            click.echo(f"{title}:")
            for r in data[key]:
                click.echo(f"  - {r['text']}")
    for c in data["claims"]:
        click.echo(f"  claim [{c['status']}]: {c['text']}")
    for problem in data["errors"]:
        click.echo(f"  could not complete {problem['node']}: {problem['message']}")
    if data["waiting_for"] is not None:
        click.echo(f"Waiting for sign-off: workbench case resume {data['run_id']} --signoff-by NAME")
    if data["report"].get("html"):
        click.echo(f"report: {data['report']['html']}\n        {data['report']['pdf']}")
    click.echo(DISCLAIMER)


@case.command("run")
@click.option("--patient", "patient_id", required=True, help="Pseudonymous patient id.")
@click.option("--ecg", type=click.Path(dir_okay=False, path_type=Path), default=None, help="ECG: signal file, picture or PDF.")
@click.option("--labs", "labs_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path), help="Lab report (repeat for several).")
@click.option("--age", type=click.FloatRange(0, 130))
@click.option("--sex", type=click.Choice(["F", "M"], case_sensitive=False))
@click.option("--symptoms", default="", help="Comma-separated, e.g. 'chest pain, dyspnoea'.")
@click.option("--risk-factors", default="", help="Comma-separated, e.g. 'smoking, diabetes, hypertension'.")
@click.option("--onset-hours", type=click.FloatRange(0), default=None, help="Hours from chest-pain onset to the first blood sample.")
@click.option("--history", type=click.Choice(["low", "moderate", "high"]), default=None, help="HEART history: suspicion level.")
@click.option("--no-vlm", is_flag=True, help="Do not run the vision-language model even when installed.")
@click.option("--no-heatmap", is_flag=True)
@click.option("--signoff", "require_signoff", is_flag=True, help="Pause before the final report for a clinician's sign-off.")
@click.option("--max-tokens", type=click.IntRange(8, 4096), default=512, show_default=True,
              help="Longest model answer (image reading; the narrative uses at most 320).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Case database (default: settings).")
def case_run(patient_id: str, ecg: Path | None, labs_files: tuple[Path, ...], age: float | None, sex: str | None, symptoms: str,
             risk_factors: str, onset_hours: float | None, history: str | None, no_vlm: bool, no_heatmap: bool,
             require_signoff: bool, max_tokens: int, as_json: bool, db: Path | None) -> None:
    """Run one case end to end and store it; prints the impressions (or the documented JSON)."""
    from .pipeline.rule_tables import normalise_risk_factors
    from .pipeline.runner import CaseRunner, RunOptions
    from .pipeline.types import PatientContext

    factors, unknown = normalise_risk_factors([w.strip() for w in risk_factors.split(",") if w.strip()])
    if unknown:
        raise click.BadParameter(f"unknown risk factor(s): {', '.join(unknown)}", param_hint="--risk-factors")
    patient = PatientContext(patient_id, age=age, sex=sex.upper() if sex else None,
                             symptoms=[w.strip() for w in symptoms.split(",") if w.strip()], risk_factors=factors,
                             chest_pain_onset_hours=onset_hours, history_suspicion=history)
    options = RunOptions(use_vlm=not no_vlm, use_heatmap=not no_heatmap, require_signoff=require_signoff,
                         vlm_max_tokens=max_tokens, narrative_max_tokens=min(max_tokens, 320))
    echo = None if as_json else (lambda e: click.echo(f"  [{e.node}] {e.kind.replace('node_', '')}"
                                                      + (f": {e.text}" if e.text and e.kind != "token" else ""), err=True)
                                 if e.kind != "token" else None)
    result = CaseRunner(db).start(patient, ecg=ecg, labs=list(labs_files), options=options, on_event=echo)
    click.echo(json.dumps(_case_json(result), indent=2)) if as_json else _print_case(result)


@case.command("resume")
@click.argument("run_id")
@click.option("--signoff-by", default=None, help="Clinician signing the report off (for a run waiting for sign-off).")
@click.option("--note", default="")
@click.option("--json", "as_json", is_flag=True)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None)
def case_resume(run_id: str, signoff_by: str | None, note: str, as_json: bool, db: Path | None) -> None:
    """Continue a run from its last checkpoint (after a crash), or sign it off."""
    from .pipeline.runner import CaseRunner

    signoff = {"who": signoff_by, "note": note, "approved": True} if signoff_by else None
    result = CaseRunner(db).resume(run_id, signoff=signoff)
    click.echo(json.dumps(_case_json(result), indent=2)) if as_json else _print_case(result)


@case.command("show")
@click.argument("case_id")
@click.option("--json", "as_json", is_flag=True)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None)
def case_show(case_id: str, as_json: bool, db: Path | None) -> None:
    """Show a stored case: the form, inputs, runs with their status, outputs and clinician validations."""
    from .store import CaseStore

    view = CaseStore(db).get_case(case_id)
    if as_json:
        import dataclasses

        click.echo(json.dumps(dataclasses.asdict(view), indent=2, default=str))
        return
    click.echo(f"case {view.case_id}  patient {view.patient_id}  created {view.created_at}")
    for item in view.inputs:
        click.echo(f"  input {item.kind}: {item.original_name}  sha256 {item.sha256[:12]}")
    for run in view.runs:
        fusion = run.outputs["fusion"].data.get("value", {}) if "fusion" in run.outputs else {}
        click.echo(f"  run {run.id}  {run.status}  urgency {fusion.get('urgency', '-')}")
        for item in fusion.get("impressions", []):
            click.echo(f"    - {item['label']} [{item['urgency']}]")
        if "report" in run.outputs:
            click.echo(f"    report {run.outputs['report'].data.get('value', {}).get('html')}")
        for v in run.latest_validations.values():
            click.echo(f"    validation {v.finding_code}: {v.verdict} by {v.who} ({v.created_at})")
    click.echo(DISCLAIMER)


@main.group("eval", cls=_Group)
def eval_group() -> None:
    """Validation studies: run the engine over labelled data sets, then report metrics with intervals."""


@eval_group.command("run")
@click.option("--dataset", "datasets", multiple=True, required=True, metavar="KIND:PATH",
              help="Data set (repeat for several): cinc2021, cpsc2021, ptbdb, ptbxl, ecginstruct (JSONL), images, store.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Results folder (resumed if it exists).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT", help="Existing Dask scheduler (default: a local cluster).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Local worker processes (default: one per core).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many records (in data set order).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Records per task and per result file.")
@click.option("--predictor", type=click.Choice(["engine", "vlm"]), default="engine", show_default=True,
              help="engine: the measurement engine; vlm: the installed vision-language model.")
@click.option("--json", "as_json", is_flag=True)
def eval_run(datasets: tuple[str, ...], out: Path, scheduler: str | None, workers: int | None, limit: int | None,
             batch_size: int | None, predictor: str, as_json: bool) -> None:
    """Analyse every record not yet in OUT and append the results (one Parquet file per finished batch)."""
    from .eval.batch import run_study

    run = run_study(list(datasets), out, scheduler=scheduler, workers=workers, limit=limit, batch_size=batch_size,
                    predictor=predictor, progress=not as_json)
    if as_json:
        click.echo(json.dumps(run.to_dict(), indent=2, default=str))
        return
    rate = f", {run.records_per_s:.2f} records/s on {run.workers} workers" if run.done else ""
    click.echo(f"{out}: {run.done} analysed now ({run.errors} with an error), {run.skipped} already done, "
               f"{run.total} in all{rate}.")
    if run.failed_batches:
        click.echo(f"{run.failed_batches} batch(es) were lost with their worker; run the same command again to retry them.", err=True)


@eval_group.command("report")
@click.argument("out", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: OUT/report.html.")
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=0), default=1000, show_default=True, help="Bootstrap resamples for the 95% CIs.")
@click.option("--seed", type=int, default=0, show_default=True)
def eval_report(out: Path, html_path: Path | None, n_boot: int, seed: int) -> None:
    """Metrics, tables and figures of a results folder: report.html (offline), metrics.json, summary.md."""
    from .eval.report import write_report

    paths = write_report(out, html_path=html_path, n_boot=n_boot, seed=seed)
    for kind, path in paths.items():
        click.echo(f"{kind}: {path}")


@eval_group.command("study")
@click.option("--shared-data", type=click.Path(file_okay=False, exists=True, path_type=Path), required=True,
              help="The shared data folder (with ecg/cinc2021, ecg/cpsc2021, ecg/ptbdb, ecg/ptbxl).")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder (default: a new temporary folder).")
@click.option("--doc", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the validation doc here (e.g. docs/VALIDATION.md).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT")
@click.option("--workers", type=click.IntRange(min=1), default=None)
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=0), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def eval_study(shared_data: Path, out: Path | None, doc: Path | None, scheduler: str | None, workers: int | None,
               n_boot: int, seed: int) -> None:
    """The reference study on every labelled public record, its report and (with --doc) the validation doc."""
    import tempfile

    from .eval.study import run_shared_study

    out = out or Path(tempfile.mkdtemp(prefix="workbench-study-"))
    result = run_shared_study(shared_data, out, doc=doc, workers=workers, scheduler=scheduler, n_boot=n_boot, seed=seed)
    run = result["run"]
    click.echo(f"{out}: {run.total} records ({run.done} analysed now, {run.skipped} already done, {run.errors} errors).")
    for kind, path in result["paths"].items():
        click.echo(f"{kind}: {path}")


@main.group(cls=_Group)
def vlm() -> None:
    """The ECG vision-language model (llama.cpp)."""


@vlm.command("run")
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--prompt", default=None, help="Instruction (default: the model card's ECG interpretation prompt).")
@click.option("--json", "as_json", is_flag=True, help="Answer as schema-checked findings JSON, printed with the timings.")
@click.option("--model", "name", default=None, help="Model name from models/models.toml (default: the first installed).")
@click.option("--max-tokens", default=512, show_default=True, type=click.IntRange(1, 8192))
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
def vlm_run(image: Path, prompt: str | None, as_json: bool, name: str | None, max_tokens: int, page: int) -> None:
    """Let the model read the ECG in IMAGE (picture, PDF page, or a signal file drawn on paper); the answer
    streams as it is generated, then the timings are printed."""
    from .models.image_input import ecg_picture, to_png
    from .models.prompts import FINDINGS_PROMPT, REPORT_PROMPT
    from .models.vlm import load_vlm

    png = to_png(ecg_picture(image, page=page - 1))
    runtime = load_vlm(name)
    instruction = prompt or (FINDINGS_PROMPT if as_json else REPORT_PROMPT)
    echo = None if as_json else (lambda piece: click.echo(piece, nl=False))
    result = runtime.generate_image(png, instruction, max_tokens=max_tokens, json_schema=as_json, on_piece=echo)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    t = result.timings
    rate = f"{t.decode_tok_s:.1f} tok/s" if t.decode_tok_s else "n/a"
    ttft = f"{t.ttft_s:.2f} s" if t.ttft_s is not None else "n/a"
    click.echo(f"\n\n[{result.backend}] load {t.load_s:.2f} s, prompt {t.prompt_tokens} tokens, first token {ttft}, "
               f"{t.completion_tokens} tokens at {rate}")
    click.echo(DISCLAIMER)


@main.command("kiosk")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port to serve on (default 8866, or a free one when 8866 is taken).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Keep 127.0.0.1 unless other machines must reach the kiosk.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser; only print the address.")
def kiosk_cmd(port: int | None, host: str, no_browser: bool) -> None:
    """Start the clinic kiosk (intake -> report in a browser page) and print its address with the access token.
    The token is created on first start and kept in ~/.config/workbench/kiosk_token. Stop with Ctrl-C."""
    from .kiosk.launcher import run_kiosk

    code = run_kiosk(port=port, host=host, open_browser=not no_browser, echo=click.echo)
    if code:
        sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
