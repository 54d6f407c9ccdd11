"""Validation studies: how well the workbench's findings agree with labelled public data and with clinicians.

- `datasets`: adapters yielding `EvalRecord` (input + truth) for PTB-XL, PhysioNet Challenge 2021, CPSC 2021, PTB,
  ECGInstruct-style JSONL, image folders with a labels CSV and the case store's validated cases;
- `labels`: the SNOMED CT / PTB-XL SCP -> workbench label -> superclass map (``tables/labels.toml``);
- `batch.run_study`: Dask runs (local cluster or ``tcp://`` scheduler), resumable Parquet results;
- `metrics`, `text_metrics`, `conformal`, `agreement`: the numbers; `figures`: their plotly figures;
- `report.write_report`: one offline HTML + JSON + Markdown per study; `study.run_shared_study`: the reference
  study behind docs/VALIDATION.md.

CLI: ``workbench eval run | report | study``. Submodules are imported on use (Dask and plotly load only when needed).
"""
