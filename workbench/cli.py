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


if __name__ == "__main__":  # pragma: no cover
    main()
