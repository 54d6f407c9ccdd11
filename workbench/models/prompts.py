"""Prompts for the ECG vision-language model, in the style of the ECGInstruct model card (one instruction,
the image before it). Kept in one place so that every run records which prompt produced its answer."""
from __future__ import annotations

#: free-text interpretation (the model card's report style)
REPORT_PROMPT = (
    "You are a cardiologist reading a 12-lead ECG. Interpret this ECG image: rhythm and rate, axis, PR, QRS and QT "
    "intervals, conduction blocks, chamber hypertrophy, ST segment and T wave changes with the leads involved, and "
    "a final impression."
)

#: structured findings, constrained by the findings JSON schema through llama.cpp's grammar
FINDINGS_PROMPT = (
    REPORT_PROMPT + " Answer in JSON: a list of findings, each with its SNOMED CT code when known, a short label, "
    "the leads involved, your confidence between 0 and 1 and a one-sentence rationale, then the full report text."
)
