"""The intake form: validation messages in plain words, upload size limit, WFDB files kept together in a private
folder, and the PatientContext it builds."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from workbench.errors import InputError
from workbench.ui.intake import IntakePanel, UploadedFile, safe_file_name

from .conftest import upload_value


def test_patient_id_age_and_files_are_checked_in_plain_words():
    form = IntakePanel()
    assert any("Enter a patient ID" in p for p in form.problems())
    assert any("Add an ECG file or at least one lab report" in p for p in form.problems())
    form.patient_id.value = "   "  # spaces only is not an id
    form.age.value = "sixty"
    form.onset_hours.value = "-2"
    problems = " ".join(form.problems())
    assert "Enter a patient ID" in problems and "Age must be a number ('sixty' is not)" in problems
    assert "Chest-pain onset must be between 0 and 720" in problems
    with pytest.raises(InputError) as info:
        form.build()
    assert "Traceback" not in str(info.value) and "Enter a patient ID" in str(info.value)
    form.close()


def test_the_form_builds_the_patient_context(tmp_path):
    form = IntakePanel()
    form.patient_id.value = " P-0042 "
    form.age.value = "64,5"
    form.sex.value = "M"
    form.symptoms.value = ("chest pain", "dyspnoea")
    form.other_symptoms.value = "sweating; left arm pain"
    form.onset_hours.value = "3"
    form.history.value = "high"
    form.risk_factors["diabetes"].value = True
    form.risk_factors["smoking"].value = True
    form.add_lab_files([UploadedFile("lab.csv", b"a,b\n1,2\n")])
    request = form.build()
    patient = request.patient
    assert patient.patient_id == "P-0042" and patient.age == 64.5 and patient.sex == "M"
    assert patient.symptoms == ["chest pain", "dyspnoea", "sweating", "left arm pain"]
    assert patient.chest_pain_onset_hours == 3.0 and patient.history_suspicion == "high"
    assert patient.risk_factors == ["diabetes", "smoking"]
    assert request.ecg is None and [p.name for p in request.labs] == ["lab.csv"]
    form.close()


def test_files_over_the_size_limit_are_refused_by_name(monkeypatch):
    from workbench.config import get_settings

    monkeypatch.setenv("WORKBENCH_MAX_FILE_MB", "1")
    get_settings.cache_clear()
    errors: list[str] = []
    form = IntakePanel(on_error=errors.append)
    big = b"0" * (2 * 1024**2)
    form.ecg_upload.value = (upload_value("huge_scan.png", big),)
    assert form.ecg_path is None
    assert errors and "huge_scan.png is 2.0 MB; files up to 1 MB are accepted" in errors[-1]
    form.labs_upload.value = (upload_value("big.pdf", big), upload_value("ok.csv", b"test,value\nNa,140\n"))
    assert [p.name for p in form.lab_paths] == ["ok.csv"]  # the small one is kept
    assert "big.pdf is 2.0 MB" in errors[-1] and "ok.csv" not in errors[-1]
    assert form.ecg_upload.value == () and form.labs_upload.value == ()  # the bytes are not kept in the widgets
    form.close()


def test_a_wfdb_record_is_kept_together_in_a_private_folder(ecg_data):
    form = IntakePanel()
    header = ecg_data / "ptbdb" / "s0010_re.hea"
    files = [header, header.with_suffix(".dat"), header.with_suffix(".xyz")]  # PTB keeps the Frank leads in .xyz
    form.ecg_upload.value = tuple(upload_value(p.name, p.read_bytes()) for p in files)
    assert form.ecg_path is not None and form.ecg_path.name == "s0010_re.hea"
    assert (form.ecg_path.parent / "s0010_re.dat").read_bytes() == files[1].read_bytes()
    assert stat.S_IMODE(form.folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(form.ecg_path.stat().st_mode) == 0o600
    assert "s0010_re.hea" in form.ecg_status.value and "s0010_re.dat" in form.ecg_status.value
    folder = form.folder
    form.close()
    assert not folder.exists()  # uploads do not outlive the form


def test_a_header_alone_or_a_signal_file_alone_is_refused(ecg_data):
    errors: list[str] = []
    form = IntakePanel(on_error=errors.append)
    header = ecg_data / "ptbdb" / "s0010_re.hea"
    form.ecg_upload.value = (upload_value(header.name, header.read_bytes()),)
    assert form.ecg_path is None and "needs its signal file s0010_re.dat, s0010_re.xyz" in errors[-1]
    form.ecg_upload.value = (upload_value("s0010_re.dat", b"\x00" * 64),)
    assert form.ecg_path is None and "select its .hea header together with it" in errors[-1]
    form.close()


def test_upload_names_cannot_leave_the_folder():
    assert safe_file_name("../../etc/passwd") == "passwd"
    assert safe_file_name("C:\\Users\\me\\ecg scan (1).png") == "ecg_scan_1_.png"
    assert safe_file_name("...") == "upload"


def test_the_example_fills_the_form_with_the_bundled_ecg_and_generated_reports():
    form = IntakePanel(example=True)
    form.example_button.click()
    request = form.build()
    assert request.patient.patient_id == "EXAMPLE-001" and request.patient.sex == "M"
    assert request.ecg is not None and request.ecg.suffix == ".hea" and request.ecg.with_suffix(".dat").is_file()
    assert len(request.labs) == 2 and all(Path(p).read_bytes().startswith(b"%PDF") for p in request.labs)
    form.close()
