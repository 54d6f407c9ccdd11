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
def analyze_cmd(path: Path, as_json: bool, age: float | None, sex: str | None, fs: float | None) -> None:
    """Measure the ECG in PATH and state the findings with their evidence."""
    from .ecg import analyze, read_ecg
    from .ecg.summary import format_summary

    record = read_ecg(path, fs=fs)
    result = analyze(record, age=age, sex=sex.upper() if sex else None)
    click.echo(result.to_json() if as_json else format_summary(result))


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


if __name__ == "__main__":  # pragma: no cover
    main()
