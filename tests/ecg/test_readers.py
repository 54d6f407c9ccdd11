"""Reading the real PhysioNet records, format detection by content, writer round trips, annotations."""
from __future__ import annotations

from pathlib import Path

import edfio
import numpy as np
import pytest
import wfdb

from workbench.ecg.annotations import Annotations, read_annotations
from workbench.ecg.leads import STANDARD_LEADS
from workbench.ecg.readers import SUPPORTED_FORMATS, detect_format, read_ecg, write_csv, write_wfdb
from workbench.ecg.record import ECGRecord

pytestmark = pytest.mark.timeout(60)

# age, sex of the shared CinC 2021 records (from ../shared/data/README.md)
CINC2021 = {
    "E07500": (78, "M"), "E07502": (65, "M"), "E07504": (69, "M"), "E07506": (66, "F"), "E07508": (37, "F"),
    "E07510": (71, "M"), "E07512": (74, "M"), "E07514": (29, "M"), "E07516": (57, "F"), "E07518": (37, "F"),
    "HR06000": (59, "F"), "HR06002": (29, "M"), "HR06004": (28, "M"), "HR06006": (54, "F"), "HR06008": (47, "F"),
    "JS20000": (84, "F"), "JS20002": (65, "M"), "JS20004": (89, "M"), "JS20006": (61, "M"), "JS20008": (5, "M"),
    "JS20010": (81, "F"), "JS20012": (72, "F"), "JS20014": (87, "F"), "JS20016": (74, "M"), "JS20018": (86, "M"),
}
CPSC2021 = ["data_101_6", "data_101_8", "data_101_9", "data_21_7", "data_21_8", "data_21_9",
            "data_84_1", "data_84_2", "data_84_3"]


def lead_ii_ptp(record: ECGRecord) -> float:
    return float(np.nanmax(record.lead("II")) - np.nanmin(record.lead("II")))


def make_record(n: int = 5000, fs: float = 500.0, leads: list[str] | None = None, **kw: object) -> ECGRecord:
    """A deterministic synthetic ECG-like signal (mV)."""
    leads = leads or list(STANDARD_LEADS)
    t = np.arange(n) / fs
    base = 1.2 * np.exp(-(((t % 0.8) - 0.3) ** 2) / 0.0005) + 0.1 * np.sin(2 * np.pi * 0.3 * t)
    sig = np.column_stack([base * (0.5 + 0.1 * i) - 0.05 * i for i in range(len(leads))])
    return ECGRecord(signals=sig, fs=fs, leads=leads, **kw)


# ============================================================ real records
@pytest.mark.parametrize("name", sorted(CINC2021))
def test_cinc2021_records(ecg_data: Path, name: str) -> None:
    rec = read_ecg(ecg_data / "cinc2021" / f"{name}.hea")
    assert rec.source == "challenge"
    assert rec.leads == list(STANDARD_LEADS)
    assert rec.fs == 500 and rec.n_samples == 5000 and rec.duration_s == pytest.approx(10.0)
    assert (rec.age, rec.sex) == CINC2021[name]
    assert rec.labels and all(code.isdigit() for code in rec.labels)
    assert 0.3 < lead_ii_ptp(rec) < 10
    assert np.isfinite(rec.signals).all()
    assert rec.path == str(ecg_data / "cinc2021" / f"{name}.hea")


def test_cinc2021_header_details(ecg_data: Path) -> None:
    rec = read_ecg(ecg_data / "cinc2021" / "E07500")
    assert rec.age == 78 and rec.sex == "M"
    assert rec.labels == ["67741000119109", "426177001"]
    assert "Rx: Unknown" in rec.metadata["comments"]
    # lowercase 'mv' unit of the HR (PTB-XL) headers is still millivolts
    hr = read_ecg(ecg_data / "cinc2021" / "HR06000.hea")
    assert hr.labels == ["164934002", "426783006"] and 0.3 < lead_ii_ptp(hr) < 10


@pytest.mark.parametrize("name", CPSC2021)
def test_cpsc2021_records(ecg_data: Path, name: str) -> None:
    rec = read_ecg(ecg_data / "cpsc2021" / name)
    header = wfdb.rdheader(str(ecg_data / "cpsc2021" / name))
    assert rec.source == "wfdb"
    assert rec.leads == ["I", "II"] and rec.fs == 200
    assert rec.n_samples == header.sig_len
    assert rec.duration_s == pytest.approx(header.sig_len / 200)
    assert rec.age is None and rec.sex is None and rec.labels == []
    assert any("atrial fibrillation" in c for c in rec.metadata["comments"])
    assert 0.3 < lead_ii_ptp(rec) < 10


def test_ptb_record_with_frank_leads(ecg_data: Path) -> None:
    rec = read_ecg(ecg_data / "ptbdb" / "s0010_re.hea")
    assert rec.leads == list(STANDARD_LEADS) + ["X", "Y", "Z"]
    assert rec.fs == 1000 and rec.n_samples == 38400 and rec.duration_s == pytest.approx(38.4)
    assert rec.age == 81 and rec.sex == "F"
    assert "Reason for admission: Myocardial infarction" in rec.metadata["comments"]
    assert 0.3 < lead_ii_ptp(rec) < 10
    assert 0.05 < float(np.ptp(rec.lead("X"))) < 10


def test_mitbih_record(ecg_data: Path) -> None:
    rec = read_ecg(ecg_data / "mitdb" / "100")
    assert rec.leads == ["II", "V5"]  # MLII normalised
    assert rec.fs == 360 and rec.n_samples == 650000
    assert rec.duration_s == pytest.approx(1805.56, abs=0.01)
    assert rec.age == 69 and rec.sex == "M"  # MIT-BIH comment "69 M 1085 1629 x1"
    assert 0.3 < lead_ii_ptp(rec) < 10


def test_ptbxl_record(ecg_data: Path) -> None:
    rec = read_ecg(ecg_data / "ptbxl" / "00001_lr.dat")
    assert rec.leads == list(STANDARD_LEADS)  # AVR/AVL/AVF normalised
    assert rec.fs == 100 and rec.n_samples == 1000
    assert rec.age is None and rec.sex is None  # this header has no comments
    assert 0.3 < lead_ii_ptp(rec) < 10


@pytest.mark.parametrize(
    "folder, names",
    [
        ("cinc2021", ["E07500.hea", "E07500.mat", "E07500"]),
        ("ptbdb", ["s0010_re.hea", "s0010_re.dat", "s0010_re.xyz", "s0010_re"]),
        ("mitdb", ["100.hea", "100.dat", "100"]),
        ("cpsc2021", ["data_101_6.hea", "data_101_6.dat", "data_101_6"]),
        ("ptbxl", ["00001_lr.hea", "00001_lr.dat", "00001_lr"]),
    ],
)
def test_header_signal_file_or_stem_give_the_same_record(ecg_data: Path, folder: str, names: list[str]) -> None:
    records = [read_ecg(ecg_data / folder / n) for n in names]
    assert all(detect_format(ecg_data / folder / n) == "wfdb" for n in names)
    first = records[0]
    for other in records[1:]:
        assert other.leads == first.leads and other.fs == first.fs and other.age == first.age
        np.testing.assert_array_equal(other.signals, first.signals)


def test_real_record_survives_csv_and_wfdb_round_trip(ecg_data: Path, tmp_path: Path) -> None:
    rec = read_ecg(ecg_data / "cinc2021" / "JS20000.hea")
    back_csv = read_ecg(write_csv(rec, tmp_path / "js.csv"))
    back_wfdb = read_ecg(write_wfdb(rec, tmp_path / "js"))
    for back in (back_csv, back_wfdb):
        fields = (back.age, back.sex, back.labels, back.leads, back.fs)
        assert fields == (rec.age, rec.sex, rec.labels, rec.leads, rec.fs)
        np.testing.assert_allclose(back.signals, rec.signals, atol=1e-3)


# ============================================================ writers and round trips
def test_csv_round_trip(tmp_path: Path) -> None:
    rec = make_record(age=63, sex="F", labels=["426783006"])
    path = write_csv(rec, tmp_path / "ecg.csv")
    assert path.read_text().startswith("# fs=500")
    back = read_ecg(path)
    assert back.source == "csv" and back.fs == 500 and back.leads == rec.leads
    assert (back.age, back.sex, back.labels) == (63, "F", ["426783006"])
    np.testing.assert_allclose(back.signals, rec.signals, rtol=1e-5, atol=1e-6)


def test_wfdb_round_trip_keeps_nan(tmp_path: Path) -> None:
    rec = make_record(leads=["I", "II", "V1"], age=70, sex="M")
    sig = rec.signals.copy()
    sig[100:110, 1] = np.nan
    rec = ECGRecord(signals=sig, fs=rec.fs, leads=rec.leads, age=70, sex="M")
    header = write_wfdb(rec, tmp_path / "rt")
    assert header == tmp_path / "rt.hea" and (tmp_path / "rt.dat").is_file()
    assert "# Age: 70" in header.read_text() and "# Sex: Male" in header.read_text()
    back = read_ecg(tmp_path / "rt")
    assert back.source == "wfdb" and back.leads == ["I", "II", "V1"] and (back.age, back.sex) == (70, "M")
    assert np.isnan(back.signals[100:110, 1]).all() and np.isfinite(back.signals[:100]).all()
    np.testing.assert_allclose(back.signals[:100], rec.signals[:100], atol=1e-3)


def test_npy_round_trip_needs_fs(tmp_path: Path) -> None:
    rec = make_record()
    np.save(tmp_path / "ecg.npy", rec.signals)
    back = read_ecg(tmp_path / "ecg.npy", fs=500)
    assert back.source == "npy" and back.leads == list(STANDARD_LEADS) and back.fs == 500
    np.testing.assert_array_equal(back.signals, rec.signals)


def test_npy_leads_by_samples_is_transposed(tmp_path: Path) -> None:
    rec = make_record()
    np.save(tmp_path / "ecg.npy", rec.signals.T.astype(np.float32))
    back = read_ecg(tmp_path / "ecg.npy", fs=500)
    assert back.n_samples == 5000 and back.metadata["transposed"] is True
    np.testing.assert_allclose(back.signals, rec.signals, rtol=1e-6, atol=1e-7)


def test_npy_with_lead_names(tmp_path: Path) -> None:
    np.save(tmp_path / "two.npy", np.ones((1000, 2)) * [0.5, -0.5])
    back = read_ecg(tmp_path / "two.npy", fs=250, leads=["MLII", "v5"])
    assert back.leads == ["II", "V5"] and back.duration_s == 4


def test_npz_round_trip_with_fs_and_leads(tmp_path: Path) -> None:
    rec = make_record(leads=["I", "II", "V2"], fs=250, n=2500)
    np.savez_compressed(tmp_path / "ecg.npz", signals=rec.signals, fs=250.0, leads=np.array(["i", "ii", "v2"]))
    back = read_ecg(tmp_path / "ecg.npz")
    assert back.source == "npz" and back.fs == 250 and back.leads == ["I", "II", "V2"]
    np.testing.assert_array_equal(back.signals, rec.signals)


def test_npz_key_ecg_and_fs_argument(tmp_path: Path) -> None:
    np.savez(tmp_path / "x.npz", ecg=make_record().signals)
    back = read_ecg(tmp_path / "x.npz", fs=500)
    assert back.leads == list(STANDARD_LEADS) and back.metadata["npz_key"] == "ecg"


def test_edf_in_microvolts_is_read_in_millivolts(tmp_path: Path) -> None:
    rec = make_record(leads=["I", "II", "V1"])
    signals = [
        edfio.EdfSignal(rec.signals[:, i] * 1000.0, sampling_frequency=500, label=f"ECG {lead}",
                        physical_dimension="uV")
        for i, lead in enumerate(rec.leads)
    ]
    signals.append(edfio.EdfSignal(np.full(50, 97.0), sampling_frequency=5, label="SpO2", physical_dimension="%"))
    edfio.Edf(signals, patient=edfio.Patient(sex="F")).write(tmp_path / "ecg.edf")
    back = read_ecg(tmp_path / "ecg.edf")
    assert back.source == "edf" and back.leads == ["I", "II", "V1"] and back.fs == 500 and back.sex == "F"
    assert back.metadata["skipped_signals"] == ["SpO2 (%, 5 Hz)"]
    np.testing.assert_allclose(back.signals, rec.signals, atol=1e-3)


def test_edf_in_volts(tmp_path: Path) -> None:
    data = np.sin(np.arange(1000) / 20) * 1e-3  # 1 mV amplitude, stored in V
    signal = edfio.EdfSignal(data, sampling_frequency=250, label="II", physical_dimension="V")
    edfio.Edf([signal]).write(tmp_path / "v.edf")
    back = read_ecg(tmp_path / "v.edf")
    assert back.leads == ["II"] and float(np.max(back.signals)) == pytest.approx(1.0, abs=1e-3)


# ============================================================ CSV variants
def test_tsv_with_sampling_rate_comment(tmp_path: Path) -> None:
    rows = "\n".join(f"{0.1 * i:.3f}\t{-0.1 * i:.3f}" for i in range(500))
    (tmp_path / "ecg.tsv").write_text(f"# sampling_rate: 250 Hz\n# Age: 55\n# sex: female\nlead_II\tV5\n{rows}\n")
    rec = read_ecg(tmp_path / "ecg.tsv")
    assert rec.fs == 250 and rec.leads == ["II", "V5"] and rec.age == 55 and rec.sex == "F"
    assert rec.duration_s == 2


@pytest.mark.parametrize(
    "column, step, fs", [("time_ms", 2.0, 500.0), ("Time (s)", 0.004, 250.0), ("t", 0.001, 1000.0)]
)
def test_csv_rate_from_time_column(tmp_path: Path, column: str, step: float, fs: float) -> None:
    rows = "\n".join(f"{i * step:.6f},{np.sin(i / 10):.4f},{np.cos(i / 10):.4f}" for i in range(300))
    (tmp_path / "t.csv").write_text(f"{column},I,II\n{rows}\n")
    rec = read_ecg(tmp_path / "t.csv")
    assert rec.fs == fs and rec.leads == ["I", "II"]


def test_csv_units_in_column_names_and_decimal_comma(tmp_path: Path) -> None:
    rows = "\n".join(f"{i};{500 + i},5;{0.5 + i / 1000:.3f}".replace(".", ",") for i in range(100))
    (tmp_path / "eu.csv").write_text(f"sample;II (uV);V1 [mV]\n{rows}\n")
    rec = read_ecg(tmp_path / "eu.csv", fs=100)
    assert rec.leads == ["II", "V1"]
    assert rec.lead("II")[0] == pytest.approx(0.5005) and rec.lead("V1")[0] == pytest.approx(0.5)


def test_csv_needs_no_header_when_it_has_12_columns(tmp_path: Path) -> None:
    np.savetxt(tmp_path / "plain.csv", make_record().signals, delimiter=",")
    rec = read_ecg(tmp_path / "plain.csv", fs=500)
    assert rec.leads == list(STANDARD_LEADS) and rec.n_samples == 5000


def test_one_second_record_is_read(tmp_path: Path) -> None:
    rec = read_ecg(write_csv(make_record(n=500), tmp_path / "short.csv"))
    assert rec.duration_s == 1.0


# ============================================================ content detection, misleading names
def test_detect_format_by_content_not_extension(tmp_path: Path) -> None:
    rec = make_record(leads=["I", "II"])
    edfio.Edf([edfio.EdfSignal(rec.signals[:, 0], sampling_frequency=500, label="I", physical_dimension="mV")]).write(
        tmp_path / "real.edf"
    )
    (tmp_path / "edf.bin").write_bytes((tmp_path / "real.edf").read_bytes())
    write_csv(rec, tmp_path / "ecg.txt")
    with open(tmp_path / "array.dat", "wb") as fh:  # .npy named .dat, no header next to it
        np.save(fh, make_record().signals)
    with open(tmp_path / "archive.data", "wb") as fh:
        np.savez(fh, signals=rec.signals, fs=500, leads=np.array(["I", "II"]))
    expected = {"edf.bin": "edf", "ecg.txt": "csv", "array.dat": "npy", "archive.data": "npz"}
    for name, kind in expected.items():
        assert detect_format(tmp_path / name) == kind, name
    assert read_ecg(tmp_path / "edf.bin").source == "edf"
    assert read_ecg(tmp_path / "ecg.txt").leads == ["I", "II"]
    assert read_ecg(tmp_path / "array.dat", fs=500).source == "npy"
    assert read_ecg(tmp_path / "archive.data").leads == ["I", "II"]
    assert set(expected.values()) <= set(SUPPORTED_FORMATS)


def test_explicit_format_argument(tmp_path: Path) -> None:
    write_csv(make_record(), tmp_path / "ecg.dump")
    assert read_ecg(tmp_path / "ecg.dump", fmt="csv").source == "csv"
    assert read_ecg(tmp_path / "ecg.dump", fmt="TSV").source == "csv"


# ============================================================ annotations
def test_mitbih_100_annotations(ecg_data: Path) -> None:
    ann = read_annotations(ecg_data / "mitdb" / "100")
    assert isinstance(ann, Annotations)
    assert ann.fs == 360 and ann.n_samples == 650000
    assert {s: ann.symbols.count(s) for s in set(ann.symbols)} == {"N": 2239, "A": 33, "V": 1}
    assert len(ann.samples) == len(ann.symbols) == 2273
    assert np.all(np.diff(ann.samples) > 0) and ann.beat_times_s[-1] < 1805.6
    assert ann.rhythm_episodes == [(pytest.approx(18 / 360), pytest.approx(650000 / 360), "N")]


def test_cpsc_af_episodes(ecg_data: Path) -> None:
    ann = read_annotations(ecg_data / "cpsc2021" / "data_101_6.hea")
    af = ann.episodes("AFIB")
    assert len(af) == 4 and af[0] == (pytest.approx(3132 / 200), pytest.approx(5639 / 200))
    assert all(end <= ann.n_samples / ann.fs for _, end, _ in ann.rhythm_episodes)
    persistent = read_annotations(ecg_data / "cpsc2021" / "data_84_1")
    assert [name for _, _, name in persistent.rhythm_episodes] == ["AFIB"]
    assert persistent.rhythm_episodes[0][0] == 0.0
    assert read_annotations(ecg_data / "cpsc2021" / "data_21_7").episodes("AFIB") == []


def test_annotations_missing_or_damaged(ecg_data: Path, tmp_path: Path) -> None:
    from workbench.errors import CorruptFileError, InputError

    with pytest.raises(InputError, match="data_x.atr"):
        read_annotations(tmp_path / "data_x")
    write_wfdb(make_record(), tmp_path / "rec")
    (tmp_path / "rec.atr").write_bytes(b"\xff\xfe" * 7 + b"garbage")
    with pytest.raises(CorruptFileError) as info:
        read_annotations(tmp_path / "rec")
    assert info.type is CorruptFileError and "rec.atr" in str(info.value) and info.value.__cause__ is not None
