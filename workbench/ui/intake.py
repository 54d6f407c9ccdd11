"""The intake form: who the patient is (pseudonymous id, age, sex, symptoms, chest-pain onset, HEART history
suspicion, risk factors) and the files of the case (one ECG, any number of lab reports).

Uploads are written into a private temporary folder (mode 0700, removed when the form is discarded or Python
exits); a WFDB record's header and signal files are kept together in one folder so the reader finds them.
The form only collects and checks what was typed; every clinical decision happens in the pipeline."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..config import get_settings
from ..errors import InputError
from ..pipeline.rule_tables import risk_factor_vocabulary
from ..pipeline.types import PatientContext
from .common import esc, note

#: (shown, stored) common presenting symptoms; stored words are those the pipeline tables recognise
COMMON_SYMPTOMS: tuple[tuple[str, str], ...] = (
    ("Chest pain", "chest pain"), ("Chest pressure", "chest pressure"), ("Chest tightness", "chest tightness"),
    ("Shortness of breath (dyspnoea)", "dyspnoea"), ("Palpitations", "palpitations"), ("Syncope (fainting)", "syncope"),
    ("Dizziness", "dizziness"), ("Sweating", "sweating"), ("Nausea", "nausea"), ("Jaw pain", "jaw pain"),
    ("Arm pain", "arm pain"), ("Epigastric discomfort", "epigastric discomfort"), ("Fatigue", "fatigue"),
)
HISTORY_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("Not assessed", None), ("Slightly suspicious (low)", "low"), ("Moderately suspicious", "moderate"),
    ("Highly suspicious (high)", "high"))
#: any file for the ECG: a WFDB header may name signal files with any extension (PTB's .xyz); the content decides
ECG_ACCEPT = ""
LABS_ACCEPT = ".pdf,.png,.jpg,.jpeg,.bmp,.tif,.tiff,.webp,.heic,.csv,.tsv,.txt,.xlsx,.xls,.json"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_WFDB_SIGNAL_SUFFIXES = (".dat", ".mat")
MAX_ID_LENGTH = 64


@dataclass
class CaseRequest:
    """What the form hands to the pipeline: the intake answers and the staged files."""

    patient: PatientContext
    ecg: Path | None = None
    labs: list[Path] = field(default_factory=list)


@dataclass
class UploadedFile:
    """One file as ipywidgets' FileUpload gives it (name and bytes)."""

    name: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)


def uploaded_files(value: Iterable[Mapping[str, Any]]) -> list[UploadedFile]:
    """FileUpload.value (ipywidgets 8: a tuple of dicts with name and content) as `UploadedFile`s."""
    return [UploadedFile(str(item.get("name", "")), bytes(item.get("content", b""))) for item in value or ()]


def safe_file_name(name: str) -> str:
    """A file name that cannot leave its folder or confuse a shell: the last path part, odd characters folded."""
    base = Path(str(name).replace("\\", "/")).name
    cleaned = _SAFE_NAME.sub("_", base).lstrip(".")
    return cleaned[:120] or "upload"


def _size_text(n_bytes: int) -> str:
    mb = n_bytes / 1024**2
    return f"{mb:.1f} MB" if mb >= 0.1 else f"{n_bytes / 1024:.0f} kB"


def wfdb_signal_files(header: Path) -> list[str]:
    """The signal file names a WFDB header lists (its signal lines' first word), to check they came with it."""
    try:
        lines = [ln.strip() for ln in header.read_text(encoding="latin-1").splitlines()]
    except OSError:
        return []
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        return []
    parts = lines[0].split()
    try:
        n_signals = int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return []
    names = [ln.split()[0] for ln in lines[1:1 + n_signals] if ln.split()]
    return sorted({n for n in names if n and n != "~" and not n.startswith("-")})


class IntakePanel:
    """The intake form. ``build()`` returns a `CaseRequest` or raises `InputError` listing every problem in plain
    words. ``on_error`` (set by the app) receives rejection messages; standalone, they show under the form."""

    def __init__(self, *, example: bool = False, max_file_mb: int | None = None,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.max_file_mb = int(max_file_mb or get_settings().max_file_mb)
        self.on_error = on_error
        self.folder = Path(tempfile.mkdtemp(prefix="workbench-intake-"))  # mkdtemp: mode 0700
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.folder), True)
        self._uploads = 0
        self.ecg_path: Path | None = None
        self.ecg_files: list[Path] = []
        self.lab_paths: list[Path] = []
        self.messages: list[str] = []

        wide = widgets.Layout(width="470px")
        style = {"description_width": "190px"}
        self.patient_id = widgets.Text(description="Patient ID", placeholder="pseudonym, e.g. P-0042 (no names)",
                                       layout=wide, style=style)
        self.age = widgets.Text(description="Age (years)", placeholder="e.g. 64", layout=wide, style=style)
        self.sex = widgets.Dropdown(description="Sex", options=(("Not stated", None), ("Female", "F"), ("Male", "M")),
                                    value=None, layout=wide, style=style)
        self.symptoms = widgets.SelectMultiple(description="Symptoms", options=COMMON_SYMPTOMS, rows=6, layout=wide,
                                               style=style)
        self.other_symptoms = widgets.Text(description="Other symptoms", placeholder="comma-separated", layout=wide,
                                           style=style)
        self.onset_hours = widgets.Text(description="Chest-pain onset (h)",
                                        placeholder="hours from onset to the first blood sample", layout=wide,
                                        style=style)
        self.history = widgets.Dropdown(description="History (HEART)", options=HISTORY_CHOICES, value=None, layout=wide,
                                        style=style)
        vocabulary = risk_factor_vocabulary()
        self.risk_factors: dict[str, widgets.Checkbox] = {
            name: widgets.Checkbox(description=factor.label, value=False, indent=False,
                                   layout=widgets.Layout(width="430px"))
            for name, factor in vocabulary.items()}
        self.ecg_upload = widgets.FileUpload(description="ECG file", accept=ECG_ACCEPT, multiple=True,
                                             layout=widgets.Layout(width="260px"))
        self.labs_upload = widgets.FileUpload(description="Lab reports", accept=LABS_ACCEPT, multiple=True,
                                              layout=widgets.Layout(width="260px"))
        self.ecg_status = widgets.HTML(value="<i>No ECG yet.</i>")
        self.labs_status = widgets.HTML(value="<i>No lab report yet.</i>")
        self.clear_button = widgets.Button(description="Remove files", icon="trash",
                                           tooltip="Remove the ECG and lab files added so far")
        self.analyse_button = widgets.Button(description="Analyse", button_style="primary", icon="play",
                                             layout=widgets.Layout(width="200px", height="44px"))
        self.analyse_button.add_class("wb-analyse")
        self.example_button = widgets.Button(description="Use example case", icon="flask",
                                             layout=widgets.Layout(width="220px", height="44px",
                                                                   display=None if example else "none"))
        self.message = widgets.HTML(value="")
        self.message.add_class("wb-intake-message")

        self.ecg_upload.observe(self._on_ecg_upload, names="value")
        self.labs_upload.observe(self._on_labs_upload, names="value")
        self.clear_button.on_click(lambda _: self.clear_files())
        self.example_button.on_click(lambda _: self.use_example())

        left = widgets.VBox([self.patient_id, self.age, self.sex, self.onset_hours, self.history])
        right = widgets.VBox([self.symptoms, self.other_symptoms])
        risk = widgets.VBox([widgets.HTML("<b>Risk factors</b>"),
                             widgets.Box(list(self.risk_factors.values()),
                                         layout=widgets.Layout(display="flex", flex_flow="row wrap"))])
        files = widgets.VBox([
            widgets.HTML("<b>Files</b> <span class='wb-note'>(ECG: one picture, PDF or signal file; a WFDB record: "
                         f"select its .hea and .dat/.mat together. Up to {self.max_file_mb} MB per file.)</span>"),
            widgets.HBox([self.ecg_upload, self.ecg_status], layout=widgets.Layout(align_items="center")),
            widgets.HBox([self.labs_upload, self.labs_status], layout=widgets.Layout(align_items="center")),
            self.clear_button])
        self.widget = widgets.VBox([
            widgets.HTML("<h3 style='margin:4px 0'>New case</h3>"),
            widgets.Box([left, right], layout=widgets.Layout(display="flex", flex_flow="row wrap")),
            risk, files, self.message,
            widgets.HBox([self.analyse_button, self.example_button])])
        self.widget.add_class("wb-intake")
        self.widget.add_class("wb-panel")

    # ------------------------------------------------------------------ messages
    def _report(self, text: str, *, error: bool) -> None:
        if error:
            self.messages.append(text)
            if self.on_error is not None:
                self.on_error(text)
        colour = "#611a15" if error else "#1b5e20"
        self.message.value = f"<div style='color:{colour}'>{esc(text)}</div>"

    # ------------------------------------------------------------------ files
    def _write(self, folder: Path, item: UploadedFile) -> Path:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = safe_file_name(item.name)
        target = folder / name
        stem, suffix, n = target.stem, target.suffix, 1
        while target.exists():
            n += 1
            target = folder / f"{stem}-{n}{suffix}"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(item.content)
        return target

    def _too_large(self, items: list[UploadedFile]) -> list[str]:
        limit = self.max_file_mb * 1024**2
        return [f"{safe_file_name(i.name)} is {_size_text(i.size)}; files up to {self.max_file_mb} MB are accepted, "
                "so it was not added." for i in items if i.size > limit]

    def add_ecg_files(self, items: list[UploadedFile]) -> Path | None:
        """Stage one ECG (a picture/PDF/signal file, or a WFDB header with its signal files) in a fresh folder of
        its own, replacing any earlier ECG; returns the file the reader should open, None when refused."""
        if not items:
            return None
        rejected = self._too_large(items)
        empty = [f"{safe_file_name(i.name)} is empty, so it was not added." for i in items if i.size == 0]
        if rejected or empty:
            self._report(" ".join(rejected + empty), error=True)
            return None
        names = [safe_file_name(i.name) for i in items]
        headers = [n for n in names if n.lower().endswith(".hea")]
        signals = [n for n in names if n.lower().endswith(_WFDB_SIGNAL_SUFFIXES)]
        if len(headers) > 1:
            self._report("Several WFDB headers (.hea) were selected; add one ECG record at a time.", error=True)
            return None
        if not headers and signals:
            self._report(f"{signals[0]} is the signal part of a WFDB record: select its .hea header together with it.",
                         error=True)
            return None
        if not headers and len(items) > 1:
            self._report("Several ECG files were selected; add one ECG at a time (a WFDB record: its .hea and "
                         ".dat/.mat together).", error=True)
            return None
        self._uploads += 1
        folder = self.folder / f"ecg-{self._uploads}"
        written = [self._write(folder, item) for item in items]
        primary = next((p for p in written if p.suffix.lower() == ".hea"), written[0])
        if primary.suffix.lower() == ".hea":
            missing = [n for n in wfdb_signal_files(primary) if not (folder / n).is_file()]
            if missing:
                shutil.rmtree(folder, ignore_errors=True)
                self._report(f"The WFDB header {primary.name} needs its signal file {', '.join(missing)}: select "
                             "the .hea and the signal file together.", error=True)
                return None
        self._set_ecg(primary, written)
        return primary

    def _set_ecg(self, primary: Path, files: list[Path]) -> None:
        self.ecg_path, self.ecg_files = primary, files
        extra = [p.name for p in files if p != primary]
        self.ecg_status.value = (f"<span>ECG: <b>{esc(primary.name)}</b>"
                                 + (f" (with {esc(', '.join(extra))})" if extra else "") + "</span>")
        self._report(f"ECG {primary.name} added.", error=False)

    def add_lab_files(self, items: list[UploadedFile]) -> list[Path]:
        """Stage lab reports (any number; files over the size limit are refused by name, the others kept)."""
        rejected = self._too_large(items)
        ok = [i for i in items if i.size <= self.max_file_mb * 1024**2 and i.size > 0]
        empty = [f"{safe_file_name(i.name)} is empty, so it was not added." for i in items if i.size == 0]
        added = [self._write(self.folder / "labs", item) for item in ok]
        self.lab_paths.extend(added)
        self._show_labs()
        if rejected or empty:
            self._report(" ".join(rejected + empty), error=True)
        elif added:
            self._report(f"{len(added)} lab report(s) added.", error=False)
        return added

    def _show_labs(self) -> None:
        if self.lab_paths:
            self.labs_status.value = "Lab reports: " + ", ".join(f"<b>{esc(p.name)}</b>" for p in self.lab_paths)
        else:
            self.labs_status.value = "<i>No lab report yet.</i>"

    def add_lab_paths(self, paths: Iterable[Path]) -> None:
        """Stage lab files that already exist on this machine (the example case, notebooks)."""
        self.lab_paths.extend(Path(p) for p in paths)
        self._show_labs()

    def set_ecg_path(self, path: Path, files: list[Path] | None = None) -> None:
        """Stage an ECG that already exists on this machine (the example case, notebooks)."""
        self._set_ecg(Path(path), [Path(p) for p in (files or [path])])

    def clear_files(self) -> None:
        """Forget every staged file and delete the copies."""
        for child in self.folder.iterdir():
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
        self.ecg_path, self.ecg_files, self.lab_paths = None, [], []
        self.ecg_status.value = "<i>No ECG yet.</i>"
        self._show_labs()
        self.message.value = ""

    def _on_ecg_upload(self, change: Mapping[str, Any]) -> None:
        items = uploaded_files(change.get("new") or ())
        if items:
            self.add_ecg_files(items)
            self.ecg_upload.value = ()  # the same file can be chosen again; the bytes are not kept in the widget

    def _on_labs_upload(self, change: Mapping[str, Any]) -> None:
        items = uploaded_files(change.get("new") or ())
        if items:
            self.add_lab_files(items)
            self.labs_upload.value = ()

    # ------------------------------------------------------------------ the example
    def use_example(self) -> None:
        """Fill the form with the bundled example: the simulated 12-lead ECG and two generated troponin reports."""
        from ..ecg.examples import EXAMPLE_SPEC, write_example
        from ..labs.documents.sample_reports import troponin_series_specs, write_report_pdf

        self.clear_files()
        folder = self.folder / "example"
        header, _csv = write_example(folder)
        files = sorted(p for p in folder.glob(header.stem + ".*") if p.suffix in (".hea", ".dat"))
        self.set_ecg_path(header, files)
        labs = []
        for i, spec in enumerate(troponin_series_specs(("20", "58"))):
            path = self.folder / "labs" / f"example_troponin_{i}h.pdf"
            path.parent.mkdir(mode=0o700, exist_ok=True)
            write_report_pdf(path, spec)
            labs.append(path)
        self.add_lab_paths(labs)
        self.patient_id.value = "EXAMPLE-001"
        self.age.value = f"{EXAMPLE_SPEC.age:g}" if EXAMPLE_SPEC.age is not None else ""
        self.sex.value = EXAMPLE_SPEC.sex
        self.symptoms.value = ("chest pain",)
        self.other_symptoms.value = ""
        self.onset_hours.value = "3"
        self.history.value = "moderate"
        for name, box in self.risk_factors.items():
            box.value = name in ("hypertension", "smoking")
        self._report("Example case loaded: a simulated ECG and two troponin reports taken one hour apart.", error=False)

    # ------------------------------------------------------------------ validation
    def problems(self, *, need_files: bool = True) -> list[str]:
        """Everything wrong with the form, in plain words (empty when it can be analysed)."""
        problems = []
        pid = self.patient_id.value
        if not pid.strip():
            problems.append("Enter a patient ID (a pseudonym such as P-0042, not the patient's name).")
        elif len(pid.strip()) > MAX_ID_LENGTH:
            problems.append(f"The patient ID is longer than {MAX_ID_LENGTH} characters.")
        elif any(ord(ch) < 32 or ord(ch) == 127 for ch in pid):
            problems.append("The patient ID contains control characters; use letters, digits and dashes.")
        for label, widget, low, high in (("Age", self.age, 0.0, 130.0), ("Chest-pain onset", self.onset_hours, 0.0, 720.0)):
            text = widget.value.strip().replace(",", ".")
            if not text:
                continue
            try:
                number = float(text)
            except ValueError:
                problems.append(f"{label} must be a number ('{widget.value.strip()}' is not).")
                continue
            if not low <= number <= high:
                problems.append(f"{label} must be between {low:g} and {high:g}.")
        if need_files and self.ecg_path is None and not self.lab_paths:
            problems.append("Add an ECG file or at least one lab report.")
        return problems

    def patient_context(self) -> PatientContext:
        """The form as a `PatientContext` (call `problems()` first; blank numbers mean 'not recorded')."""
        def number(text: str) -> float | None:
            text = text.strip().replace(",", ".")
            return float(text) if text else None

        symptoms = list(self.symptoms.value)
        for word in re.split(r"[,;\n]", self.other_symptoms.value):
            if word.strip() and word.strip() not in symptoms:
                symptoms.append(word.strip())
        return PatientContext(patient_id=self.patient_id.value.strip(), age=number(self.age.value), sex=self.sex.value,
                              symptoms=symptoms, chest_pain_onset_hours=number(self.onset_hours.value),
                              history_suspicion=self.history.value,
                              risk_factors=[name for name, box in self.risk_factors.items() if box.value])

    def build(self) -> CaseRequest:
        """The checked request, or `InputError` with every problem of the form in one plain message."""
        problems = self.problems()
        if problems:
            raise InputError(" ".join(problems))
        return CaseRequest(self.patient_context(), self.ecg_path, list(self.lab_paths))

    def close(self) -> None:
        """Delete the uploaded copies now (also done when the form is garbage-collected or Python exits)."""
        self._finalizer()
