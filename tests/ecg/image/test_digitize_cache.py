"""A case's ECG reading, heatmap and viewer read the same picture: `digitize_file` keeps its last results by
file, page and layout, shares one digitization between threads asking at once, and redoes a changed file."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from PIL import Image

import workbench.ecg.image as image_module
from workbench.ecg import simulate_ecg
from workbench.ecg.image import digitize_file
from workbench.ecg.image.render import render_ecg


@pytest.fixture()
def page(tmp_path: Path) -> Path:
    path = tmp_path / "page.png"
    Image.fromarray(render_ecg(simulate_ecg(seed=3), "3x4+1", dpi=100, seed=1).image).save(path)
    return path


@pytest.fixture()
def counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """The real digitization, with each call recorded (path, read_text)."""
    calls: list[tuple[str, bool]] = []
    real = image_module._digitize_file

    def counting(path, *, page, layout, read_text):  # noqa: ANN001, ANN202
        calls.append((str(path), read_text))
        return real(path, page=page, layout=layout, read_text=read_text)

    monkeypatch.setattr(image_module, "_digitize_file", counting)
    return calls


def test_a_second_reading_of_the_same_file_reuses_the_result(page: Path, counted: list) -> None:
    first = digitize_file(page)
    assert digitize_file(page) is first and digitize_file(page, read_text=False) is first
    assert len(counted) == 1
    assert digitize_file(page, layout="3x4") is not first and len(counted) == 2  # another layout is another reading


def test_a_reading_without_text_does_not_answer_one_that_needs_it(page: Path, counted: list) -> None:
    plain = digitize_file(page, read_text=False)
    full = digitize_file(page)
    assert full is not plain and [flag for _, flag in counted] == [False, True]
    assert digitize_file(page, read_text=False) is full and len(counted) == 2


def test_a_changed_file_is_read_again(page: Path, counted: list) -> None:
    first = digitize_file(page)
    Image.fromarray(render_ecg(simulate_ecg(seed=4), "3x4+1", dpi=100, seed=1).image).save(page)
    stat = page.stat()
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert digitize_file(page) is not first and len(counted) == 2


def test_threads_asking_at_once_share_one_digitization(page: Path, counted: list) -> None:
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(digitize_file(page))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(counted) == 1 and len(results) == 3 and all(r is results[0] for r in results)


def test_a_failed_reading_is_not_kept_and_gives_its_error_again(tmp_path: Path, counted: list) -> None:
    from workbench.errors import WorkbenchError

    blank = tmp_path / "blank.png"
    Image.new("RGB", (1200, 800), "white").save(blank)
    for _ in range(2):
        with pytest.raises(WorkbenchError):
            digitize_file(blank)
    assert len(counted) == 2
