"""Notebook and kiosk user interface: ipywidgets panels and plotly figures over the pipeline, store and labs APIs.

Display only: the panels call the pipeline, the case store and the labs layer and show what they return; no
clinical rule lives here. Entry points (imported lazily, so `import workbench.ui` stays cheap):

    >>> from workbench.ui import CaseApp, kiosk_app
    >>> CaseApp().widget          # intake -> run -> ECG / attention / labs / report / validation / cases
    >>> kiosk_app()               # the locked-down kiosk page (see workbench/ui/app.py for its contract)
"""
from __future__ import annotations

from typing import Any

_EXPORTS = {
    "CaseApp": "app", "kiosk_app": "app", "IntakePanel": "intake", "CaseRequest": "intake", "ECGViewer": "ecg_viewer",
    "AttentionPanel": "attention", "LabsPanel": "labs_panel", "ReportPanel": "report_panel", "RunProgress": "report_panel",
    "ValidationPanel": "validation_panel", "CaseBrowser": "validation_panel", "ecg_paper_figure": "ecg_figures",
    "trend_figure": "lab_figures", "run_state_from_store": "common",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
