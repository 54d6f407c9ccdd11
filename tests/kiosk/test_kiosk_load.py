"""Five browser sessions at once on one kiosk (this is a 2-core machine: generous timeouts): each opens the kiosk,
loads the example case and runs it to the end; then the pages are closed and their kernels must be shut down
(Voila's page-unload request; idle culling is off because it breaks pre-started kernels)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from workbench.kiosk import probe


SESSIONS = 5


def _kernel_alive(kiosk, kernel_id: str) -> bool:  # noqa: ANN001
    status, _, _ = kiosk.request(f"api/kernels/{kernel_id}")
    assert status in (200, 404), status
    return status == 200


def test_five_sessions_at_once_then_kernels_shut_down(kiosk, browser, artifacts: Path) -> None:  # noqa: ANN001
    pool = kiosk.pool_state()["pool_size"]
    kiosk.wait_kernels(pool)
    log = probe.RequestLog().attach(browser)
    pages = [log.watch(browser.new_page()) for _ in range(SESSIONS)]
    start = time.perf_counter()
    for page in pages:  # all five requests are in flight before any is waited for
        page.goto(kiosk.url, wait_until="commit", timeout=120000)
    opened = [probe.open_intake_wait(page, timeout_s=240) for page in pages]
    for page in pages:
        probe.use_example(page, timeout_s=120)
    clicked = time.perf_counter()
    for page in pages:
        probe.button(page, "Analyse").click()
    done = [probe.wait_for_report(page, clicked, timeout_s=300, need=("urgency", "impressions", "labs", "done"))
            for page in pages]
    for i, page in enumerate(pages):
        assert "Patient EXAMPLE-001" in probe.banner_text(page) or "EXAMPLE-001" in page.content()
        assert page.locator(".wb-impressions").inner_text().strip()
        assert "Traceback" not in page.content()
    pages[-1].locator(".wb-urgency").first.scroll_into_view_if_needed()
    pages[-1].screenshot(path=str(artifacts / "kiosk_load_session5.png"))
    print(f"{SESSIONS} sessions: intake usable after {max(opened):.1f} s (all), reports done "
          f"{min(done):.1f}-{max(done):.1f} s after the clicks; total {time.perf_counter() - start:.1f} s")

    ids = [probe.kernel_id(page) for page in pages]
    assert len(set(ids)) == SESSIONS and all(ids), ids  # one kernel per session
    assert all(_kernel_alive(kiosk, k) for k in ids)
    assert len(kiosk.kernel_pids()) >= SESSIONS

    # closing a page (as a tab is closed) shuts its kernel down
    pages[0].close(run_before_unload=True)
    deadline = time.monotonic() + 30
    while _kernel_alive(kiosk, ids[0]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _kernel_alive(kiosk, ids[0]), "the kernel of a closed page is still running"
    assert all(_kernel_alive(kiosk, k) for k in ids[1:])  # the other sessions keep theirs
    for page in pages[1:]:
        page.close(run_before_unload=True)
    deadline = time.monotonic() + 60
    while any(_kernel_alive(kiosk, k) for k in ids) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(_kernel_alive(kiosk, k) for k in ids)
    kiosk.wait_kernels(pool, timeout_s=120)  # only the pre-started pool is left (refilled)

    assert not log.external, log.external
    assert log.hosts() <= {"127.0.0.1"}, log.hosts()
    assert not log.csp_violations(), log.csp_violations()
