"""Damaged, hostile or unusable input: each is refused with the exact error class and a readable message."""
from __future__ import annotations

import os
import time
from pathlib import Path

import edfio
import numpy as np
import pytest

from tests.helpers import assert_refused
from workbench.config import get_settings
from workbench.ecg.leads import STANDARD_LEADS
from workbench.ecg.readers import detect_format, read_ecg, write_wfdb
from workbench.ecg.record import ECGRecord
from workbench.errors import (
    CorruptFileError,
    FileTooLargeError,
    InputError,
    SignalError,
    UnsupportedFormatError,
    WorkbenchError,
)

pytestmark = pytest.mark.timeout(20)

RNG = np.random.default_rng(7)


def refused(exc_type: type[WorkbenchError], path: Path, *words: str, **kwargs: object) -> WorkbenchError:
    """Read ``path``; assert exactly ``exc_type`` whose message names the file (or its stem) and contains ``words``."""
    return assert_refused(read_ecg, exc_type, path, *words, names=(path.name, path.stem), **kwargs)


def wfdb_header(tmp: Path, name: str, n_sig: int, fs: float, n_samples: int | None, *, fmt: str = "16",
                n_lines: int | None = None, dat: str | None = None) -> Path:
    """Hand-written WFDB header (no data written), so that the header itself can be wrong."""
    record_line = f"{name} {n_sig} {fs:.0f}" + (f" {n_samples}" if n_samples is not None else "")
    signals = [f"{dat or name + '.dat'} {fmt} 200/mV 16 0 0 0 0 {lead}" for lead in STANDARD_LEADS[: n_lines or n_sig]]
    path = tmp / f"{name}.hea"
    path.write_text("\n".join([record_line, *signals, "# Age: 60", "# Sex: Male"]) + "\n")
    return path


def small_record(tmp: Path, name: str = "rec", n: int = 1000) -> Path:
    t = np.arange(n) / 500
    sig = np.column_stack([np.sin(2 * np.pi * t * (i + 1)) for i in range(3)])
    return write_wfdb(ECGRecord(signals=sig, fs=500, leads=["I", "II", "V1"]), tmp / name)


# ============================================================ WFDB
def test_truncated_dat(tmp_path: Path) -> None:
    header = small_record(tmp_path)
    dat = tmp_path / "rec.dat"
    dat.write_bytes(dat.read_bytes()[:2500])
    err = refused(CorruptFileError, dat, "truncated", "6,000")
    assert "rec.hea" in str(err)
    refused(CorruptFileError, header, "truncated")


def test_header_promises_more_signals_than_data_holds(tmp_path: Path) -> None:
    header = wfdb_header(tmp_path, "mis", 12, 500, 5000)
    (tmp_path / "mis.dat").write_bytes(np.zeros((5000, 3), dtype="<i2").tobytes())  # only 3 leads of data
    refused(CorruptFileError, header, "120,000", "does not belong")


def test_header_signal_count_disagrees_with_its_signal_lines(tmp_path: Path) -> None:
    header = wfdb_header(tmp_path, "cnt", 12, 500, 100, n_lines=11)
    (tmp_path / "cnt.dat").write_bytes(bytes(2400))
    refused(CorruptFileError, header, "12 signals but describes 11")


def test_header_with_unknown_signal_format(tmp_path: Path) -> None:
    header = wfdb_header(tmp_path, "fmt", 2, 500, 100, fmt="17")
    (tmp_path / "fmt.dat").write_bytes(bytes(400))
    refused(CorruptFileError, header, "format 17", "not a WFDB format")


@pytest.mark.parametrize("fs, shown", [(0, "0 Hz"), (1e9, "1e+09 Hz"), (5, "5 Hz")])
def test_absurd_sampling_rate_in_header(tmp_path: Path, fs: float, shown: str) -> None:
    header = wfdb_header(tmp_path, "rate", 2, fs, 100)
    (tmp_path / "rate.dat").write_bytes(bytes(400))
    refused(CorruptFileError, header, shown, "impossible")


def test_missing_dat_next_to_header(tmp_path: Path) -> None:
    header = wfdb_header(tmp_path, "alone", 2, 500, 100)
    err = refused(InputError, header, "alone.dat", "missing")
    assert err.hint and "same folder" in err.hint


def test_dat_without_its_header(tmp_path: Path) -> None:
    path = tmp_path / "orphan.dat"
    path.write_bytes(RNG.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    refused(InputError, path, "orphan.hea", "missing")


def test_two_hour_record_is_refused_from_its_header(tmp_path: Path) -> None:
    n = 2 * 3600 * 500
    header = wfdb_header(tmp_path, "long", 12, 500, n)
    with open(tmp_path / "long.dat", "wb") as fh:  # right size (86 MB) but sparse: costs no disk, never read
        fh.truncate(n * 12 * 2)
    start = time.perf_counter()
    refused(SignalError, header, "120 minutes", "at most 60")
    assert time.perf_counter() - start < 2.0


def test_text_file_renamed_hea(tmp_path: Path) -> None:
    path = tmp_path / "notes.hea"
    path.write_text("Patient seen on Monday.\nECG looked fine, repeat in 6 months.\n")
    refused(CorruptFileError, path, "not a valid WFDB header")


def test_binary_garbage_named_hea(tmp_path: Path) -> None:
    path = tmp_path / "junk.hea"
    path.write_bytes(RNG.integers(0, 256, 2048, dtype=np.uint8).tobytes())
    refused(CorruptFileError, path, "binary")


def test_wfdb_header_named_txt_asks_for_rename(tmp_path: Path) -> None:
    small_record(tmp_path, "renamed")
    (tmp_path / "renamed.hea").rename(tmp_path / "renamed.txt")
    err = refused(InputError, tmp_path / "renamed.txt", "WFDB header")
    assert err.hint and "renamed.hea" in err.hint


# ============================================================ empty, garbage, unknown
@pytest.mark.parametrize("name", ["empty.csv", "empty.hea", "empty.npy", "empty.edf", "empty"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.touch()
    refused(CorruptFileError, path, "empty", "0 bytes")


@pytest.mark.parametrize(
    "name, words", [("junk.csv", ["extension .csv", "CSV"]), ("junk.edf", ["extension .edf", "EDF"])]
)
def test_binary_garbage_with_known_extension(tmp_path: Path, name: str, words: list[str]) -> None:
    path = tmp_path / name
    path.write_bytes(RNG.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    refused(CorruptFileError, path, *words)


def test_unknown_extension_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "mystery.xyz123"
    path.write_bytes(RNG.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    err = refused(UnsupportedFormatError, path, "not a recognised")
    assert err.hint and "EDF" in err.hint
    with pytest.raises(UnsupportedFormatError):
        detect_format(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    refused(InputError, tmp_path / "nowhere.csv", "does not exist")
    refused(InputError, tmp_path, "folder")


def test_unknown_format_argument(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("I\n1\n")
    with pytest.raises(UnsupportedFormatError, match="Unknown format 'dicom'"):
        read_ecg(path, fmt="dicom")


# ============================================================ CSV
def test_csv_with_non_numeric_cells(tmp_path: Path) -> None:
    path = tmp_path / "cells.csv"
    path.write_text("# fs=500\nI,II\n0.1,0.2\n0.1,abc\n0.3,0.4\n")
    refused(CorruptFileError, path, "'abc'", "row 2, column 2", "not a number")


def test_csv_with_one_column_of_text(tmp_path: Path) -> None:
    path = tmp_path / "words.csv"
    path.write_text("diagnosis\nnormal\nsinus\nrhythm\n")
    refused(CorruptFileError, path, "'normal'", "not a number", fs=500)


def test_csv_with_ragged_rows(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("# fs=500\nI,II\n0.1,0.2\n0.1,0.2,0.3,0.4\n")
    refused(CorruptFileError, path, "regular table", "different numbers of values")


def test_csv_without_sampling_rate_asks_for_fs(tmp_path: Path) -> None:
    path = tmp_path / "norate.csv"
    path.write_text("I,II\n" + "0.1,0.2\n" * 50)
    err = refused(InputError, path, "sampling rate")
    assert err.hint and "--fs" in err.hint


def test_csv_rate_conflicts_with_argument(tmp_path: Path) -> None:
    path = tmp_path / "conflict.csv"
    path.write_text("# fs=500\nI,II\n" + "0.1,0.2\n" * 50)
    refused(InputError, path, "500 Hz", "250 Hz", fs=250)


def test_csv_with_absurd_rate_comment(tmp_path: Path) -> None:
    path = tmp_path / "zero.csv"
    path.write_text("# fs=0\nI,II\n" + "0.1,0.2\n" * 50)
    refused(CorruptFileError, path, "0 Hz")


def test_csv_all_nan(tmp_path: Path) -> None:
    path = tmp_path / "nan.csv"
    path.write_text("# fs=500\nI,II\n" + "nan,inf\n,-inf\n" * 20)
    refused(SignalError, path, "no valid samples")


def test_csv_longer_than_the_configured_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_MAX_RECORD_MINUTES", "0.01")  # 0.6 s
    get_settings.cache_clear()
    path = tmp_path / "long.csv"
    path.write_text("# fs=100\nI\n" + "0.1\n" * 100)
    refused(SignalError, path, "1.0 seconds long", "at most 0.01 minutes")


# ============================================================ NumPy
def test_npy_with_nan_and_inf_keeps_them_as_nan(tmp_path: Path) -> None:
    sig = np.ones((1000, 12))
    sig[10:20, 3] = np.nan
    sig[50, 0] = np.inf
    np.save(tmp_path / "gaps.npy", sig)
    rec = read_ecg(tmp_path / "gaps.npy", fs=500)
    assert np.isnan(rec.signals[10:20, 3]).all() and np.isnan(rec.signals[50, 0])
    assert np.isfinite(rec.signals).sum() == sig.size - 11


def test_npy_all_nan(tmp_path: Path) -> None:
    np.save(tmp_path / "allnan.npy", np.full((1000, 12), np.nan))
    refused(SignalError, tmp_path / "allnan.npy", "no valid samples", fs=500)


def test_npy_three_dimensional(tmp_path: Path) -> None:
    np.save(tmp_path / "cube.npy", np.zeros((10, 500, 12)))
    refused(SignalError, tmp_path / "cube.npy", "3-dimensional", "samples x leads", fs=500)


def test_npy_zero_length(tmp_path: Path) -> None:
    np.save(tmp_path / "nothing.npy", np.zeros((0, 12)))
    refused(SignalError, tmp_path / "nothing.npy", "no samples", fs=500)


def test_npy_needs_fs(tmp_path: Path) -> None:
    np.save(tmp_path / "nofs.npy", np.zeros((1000, 12)))
    err = refused(InputError, tmp_path / "nofs.npy", "sampling rate")
    assert err.hint and "--fs" in err.hint


def test_npy_unnamed_leads(tmp_path: Path) -> None:
    np.save(tmp_path / "five.npy", np.zeros((1000, 5)))
    refused(InputError, tmp_path / "five.npy", "5 leads", "no lead names", fs=500)


def test_npy_object_array(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    refused(CorruptFileError, tmp_path / "obj.npy", "python objects", fs=500)


def test_npy_text_array(tmp_path: Path) -> None:
    np.save(tmp_path / "text.npy", np.array([["a", "b"], ["c", "d"]]))
    refused(SignalError, tmp_path / "text.npy", "holds text", "not numeric", fs=500)


def test_fs_argument_out_of_range(tmp_path: Path) -> None:
    np.save(tmp_path / "ok.npy", np.zeros((1000, 12)))
    with pytest.raises(InputError, match="not plausible"):
        read_ecg(tmp_path / "ok.npy", fs=0)


def test_npz_without_signal_array(tmp_path: Path) -> None:
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    refused(InputError, tmp_path / "other.npz", "'signals'", "weights")


def test_npz_damaged(tmp_path: Path) -> None:
    path = tmp_path / "broken.npz"
    path.write_bytes(b"PK\x03\x04" + RNG.integers(0, 256, 500, dtype=np.uint8).tobytes())
    refused(CorruptFileError, path, "npz")


def test_npz_too_long_is_refused_before_decompressing(tmp_path: Path) -> None:
    np.savez_compressed(tmp_path / "bomb.npz", signals=np.zeros((2 * 3600 * 500 + 1, 2), dtype=np.int8), fs=500)
    refused(SignalError, tmp_path / "bomb.npz", "at most 60 minutes")


# ============================================================ EDF
def test_truncated_edf(tmp_path: Path) -> None:
    sig = edfio.EdfSignal(np.sin(np.arange(5000) / 30), sampling_frequency=500, label="II", physical_dimension="mV")
    edfio.Edf([sig]).write(tmp_path / "full.edf")
    data = (tmp_path / "full.edf").read_bytes()
    (tmp_path / "cut.edf").write_bytes(data[: len(data) // 2])
    refused(CorruptFileError, tmp_path / "cut.edf", "truncated")


def test_edf_header_only_garbage(tmp_path: Path) -> None:
    path = tmp_path / "fake.edf"
    path.write_bytes(b"0       " + b"x" * 244 + b"   2" + RNG.integers(0, 256, 600, dtype=np.uint8).tobytes())
    err = refused(CorruptFileError, path, "not a valid EDF", "header is damaged")
    assert err.__cause__ is not None


# ============================================================ size limit
@pytest.mark.parametrize("name", ["huge.csv", "huge.npy", "huge.edf", "huge.bin"])
def test_200_mb_file_is_refused_before_reading(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with open(path, "wb") as fh:  # sparse: no disk used, and never read
        fh.truncate(200 * 1024**2)
    start = time.perf_counter()
    err = refused(FileTooLargeError, path, "200 MB", "up to 100 MB")
    assert time.perf_counter() - start < 1.0
    assert err.hint and "max_file_mb" in err.hint


def test_oversized_signal_file_of_a_wfdb_record(tmp_path: Path) -> None:
    header = wfdb_header(tmp_path, "big", 2, 500, 100)
    with open(tmp_path / "big.dat", "wb") as fh:
        fh.truncate(200 * 1024**2)
    err = refused(FileTooLargeError, header, "200 MB")
    assert "big.dat" in str(err)


def test_size_limit_follows_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_MAX_FILE_MB", "1")
    get_settings.cache_clear()
    np.save(tmp_path / "two_mb.npy", np.zeros((22000, 12)))
    assert os.path.getsize(tmp_path / "two_mb.npy") > 1024**2
    refused(FileTooLargeError, tmp_path / "two_mb.npy", "up to 1 MB", fs=500)


# ============================================================ wrapping
def test_library_errors_are_chained_not_leaked(tmp_path: Path) -> None:
    path = tmp_path / "broken.npz"
    path.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(CorruptFileError) as info:
        read_ecg(path)
    assert info.value.__cause__ is not None and not isinstance(info.value.__cause__, WorkbenchError)
    assert info.value.to_dict()["title"] == "Damaged file"
