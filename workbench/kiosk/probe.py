"""Drive the kiosk in a real browser (Chromium through playwright): used by tests/kiosk and benchmarks/kiosk_speed.py.

Nothing here is needed to run the kiosk; playwright is imported only by the functions that use it. The browser is
the system Chromium (``/usr/bin/chromium``; playwright's own browser download is never used), started headless
with a private profile folder, at 1366x768 by default. Every request the pages make is recorded, and a request
to another machine is aborted (and recorded), so an offline kiosk is checked offline.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 768}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
# the banner while nothing is known yet (before a run, or while the evidence is being combined)
_PENDING_BANNER = re.compile(r"no case analysed yet|analysing|appears when", re.I)


def launch_browser(playwright: Any, profile_dir: str | Path, *, chromium: str | Path = CHROMIUM,
                   viewport: dict[str, int] | None = None) -> Any:
    """A headless Chromium context with its own profile folder (``launch_persistent_context``)."""
    return playwright.chromium.launch_persistent_context(
        str(profile_dir), executable_path=str(chromium), headless=True, args=list(BROWSER_ARGS),
        viewport=viewport or VIEWPORT, accept_downloads=True)


@dataclass
class RequestLog:
    """Every URL a browser context asked for, and the ones that would have left this machine (aborted)."""

    urls: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def attach(self, context: Any) -> RequestLog:
        context.on("request", lambda request: self.urls.append(request.url))
        context.route(lambda url: not is_local(url), self._abort)
        return self

    def _abort(self, route: Any) -> None:
        self.external.append(route.request.url)
        route.abort()

    def watch(self, page: Any) -> Any:
        """Record the page's console messages and uncaught errors (CSP violations appear there)."""
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        return page

    def hosts(self) -> set[str]:
        return {urlsplit(u).hostname or "" for u in self.urls if "://" in u and not u.startswith(("data:", "blob:"))}

    def csp_violations(self) -> list[str]:
        return [line for line in self.console if "Content Security Policy" in line or "Refused to" in line]


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome", "chrome-extension", "devtools"):
        return True
    return (parts.hostname or "") in LOCAL_HOSTS


# ====================================================================== the kiosk page
def text_input(page: Any, label: str) -> Any:
    return page.locator(".widget-text", has=page.locator("label", has_text=label)).locator("input").first


def upload(page: Any, label: str, files: Sequence[Path | str]) -> None:
    """Choose ``files`` with the upload button labelled ``label`` (ipywidgets creates the file input on click,
    so the browser's file chooser is answered)."""
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload", has_text=label).first.click()
    chooser.value.set_files([str(p) for p in files])


def button(page: Any, name: str) -> Any:
    """The button whose text is exactly ``name`` (an icon's glyph is not part of the text)."""
    return page.locator("button").filter(has_text=re.compile(rf"^\s*{re.escape(name)}\s*$")).first


def open_intake(page: Any, url: str, *, timeout_s: float = 60.0) -> float:
    """Open the kiosk and wait until the intake can be used (patient id field and Analyse button visible and
    enabled); seconds from the navigation start."""
    start = time.perf_counter()
    page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
    return open_intake_wait(page, start=start, timeout_s=timeout_s)


def open_intake_wait(page: Any, *, start: float | None = None, timeout_s: float = 60.0) -> float:
    """Wait until the intake of an already navigated page can be used; seconds since ``start`` (default: now)."""
    start = time.perf_counter() if start is None else start
    text_input(page, "Patient ID").wait_for(state="visible", timeout=timeout_s * 1000)
    analyse = button(page, "Analyse")
    analyse.wait_for(state="visible", timeout=timeout_s * 1000)
    remaining = max(1.0, timeout_s - (time.perf_counter() - start))
    page.wait_for_function("b => !b.disabled", arg=analyse.element_handle(), timeout=remaining * 1000)
    return time.perf_counter() - start


def fill_case(page: Any, patient_id: str, ecg: Sequence[Path] = (), labs: Sequence[Path] = (),
              *, timeout_s: float = 30.0) -> None:
    """Type the patient id and attach the files (an ECG record's .hea and .dat together); waits until the form
    lists each file (the upload buttons are emptied again once the files are staged)."""
    field_ = text_input(page, "Patient ID")
    field_.fill(patient_id)
    field_.press("Tab")  # ipywidgets sends a Text value on change / blur
    for label, files in (("ECG file", ecg), ("Lab reports", labs)):
        if files:
            upload(page, label, files)
            for path in files[:1] if label == "ECG file" else files:
                wait_for_text(page, ".wb-intake", Path(path).stem, timeout_s=timeout_s)


def wait_for_text(page: Any, selector: str, text: str, *, timeout_s: float = 30.0) -> None:
    page.wait_for_function("([sel, text]) => { const e = document.querySelector(sel);"
                           " return !!e && e.innerText.includes(text); }", arg=[selector, text],
                           timeout=timeout_s * 1000)


def banner_text(page: Any) -> str:
    banner = page.locator(".wb-urgency").first
    return banner.inner_text() if banner.count() else ""


def analyse(page: Any, *, timeout_s: float = 120.0, need: Iterable[str] = ("urgency", "impressions")) -> float:
    """Click Analyse and wait for the report; seconds from the click. ``need`` lists what must be there:
    "urgency" (the banner states an urgency), "impressions", "labs" (the lab table has rows), "ecg" (the ECG plot
    is drawn), "heatmap" (the heatmap overlay shows a picture), "done" (the progress bar finished)."""
    start = time.perf_counter()
    button(page, "Analyse").click()
    wait_for_run_start(page, timeout_s=min(30.0, timeout_s))
    return wait_for_report(page, start, timeout_s=timeout_s, need=need)


def wait_for_run_start(page: Any, *, timeout_s: float = 30.0) -> None:
    """Wait until the page shows that a run started (the banner is reset to "Analysing..."), so a report still on
    the page from an earlier case is not taken for the new one."""
    page.wait_for_function("() => { const b = document.querySelector('.wb-urgency');"
                           " return !!b && /" + _PENDING_BANNER.pattern + "/i.test(b.innerText); }",
                           timeout=timeout_s * 1000, polling=50)


_REPORT_CHECKS = {
    "urgency": """() => { const b = document.querySelector('.wb-urgency');
        return !!b && b.innerText.trim().length > 0 && !PENDING.test(b.innerText); }""",
    "impressions": """() => { const e = document.querySelector('.wb-impressions');
        return !!e && e.innerText.trim().length > 0; }""",
    "labs": """() => { const e = document.querySelector('.wb-labs-table');
        return !!e && e.querySelectorAll('tr').length > 1; }""",
    "ecg": """() => { const e = document.querySelector('.wb-ecg-plot');
        return !!e && e.querySelectorAll('.main-svg, svg.main-svg, canvas, img').length > 0; }""",
    "heatmap": """() => { const e = document.querySelector('.wb-heatmap');
        if (!e) return false;
        const imgs = [...e.querySelectorAll('img')].filter(i => i.complete && i.naturalWidth > 0);
        const canvases = [...e.querySelectorAll('canvas')].filter(c => c.width > 0);
        return imgs.length + canvases.length > 0; }""",
    "done": """() => { const p = document.querySelector('.wb-progress');
        return !!p && !!p.querySelector('.progress-bar-success, .progress-bar-danger, .widget-bar-success,'
                                        + ' .widget-bar-danger'); }""",
}


def _report_script(need: Sequence[str]) -> str:
    return ("() => { const PENDING = /" + _PENDING_BANNER.pattern + "/i; return ["
            + ",".join(f"({_REPORT_CHECKS[n]})()" for n in need) + "]; }")


def wait_for_report(page: Any, start: float, *, timeout_s: float = 120.0,
                    need: Iterable[str] = ("urgency", "impressions")) -> float:
    """Wait until every part of ``need`` is on the page (see `analyse`); seconds since ``start``. On timeout, a
    TimeoutError names the parts still missing."""
    need = list(need)
    script = _report_script(need)
    remaining = max(1.0, timeout_s - (time.perf_counter() - start))
    try:
        page.wait_for_function(f"() => ({script})().every(Boolean)", timeout=remaining * 1000, polling=100)
    except Exception as exc:  # playwright's TimeoutError: say what is missing
        try:
            states = page.evaluate(script)
            missing = [n for n, ok in zip(need, states) if not ok]
        except Exception:  # noqa: BLE001 - the page may be gone
            missing = need
        raise TimeoutError(f"report not complete after {timeout_s:.0f} s; missing: {', '.join(missing)}") from exc
    return time.perf_counter() - start


def use_example(page: Any, *, timeout_s: float = 60.0) -> None:
    """Click "Use example case" and wait until the form says the example is loaded."""
    button(page, "Use example case").click()
    wait_for_text(page, ".wb-intake", "Example case loaded", timeout_s=timeout_s)


def kernel_id(page: Any) -> str | None:
    """The id of the kernel serving this page (from Voila's page configuration)."""
    import json

    raw = page.locator("#jupyter-config-data").first.text_content()
    return json.loads(raw).get("kernelId") if raw else None


def encoder_only_models(installed: Path, folder: Path) -> Path:
    """A models folder with only the vision encoder of the installed test models (hard links, the manifest's
    encoder entry). The kiosk uses every installed model: with the test VLM (Gemma 3 270M) one case took about
    3 minutes on a busy 2-core machine, too long for tests and the speed benchmark ("without a VLM"); the encoder is
    what draws the heatmap."""
    from ..models.manifest import MANIFEST_NAME

    folder.mkdir(parents=True, exist_ok=True)
    head, *blocks = (installed / MANIFEST_NAME).read_text(encoding="utf-8").split("[[model]]")
    keep = [b for b in blocks if re.search(r'^role\s*=\s*"vision_encoder"', b, re.M)]
    if not keep:
        raise ValueError(f"{installed / MANIFEST_NAME} lists no vision encoder")
    for block in keep:
        name = re.search(r'^file\s*=\s*"([^"]+)"', block, re.M).group(1)
        for source in installed.glob(Path(name).stem + ".*"):
            target = folder / source.name
            if not target.exists():
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copy2(source, target)
    (folder / MANIFEST_NAME).write_text(head + "".join("[[model]]" + b for b in keep), encoding="utf-8")
    return folder
