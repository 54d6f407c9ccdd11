"""Predictors of a study: one record in, one score per class out. ``engine`` (the measurement engine, no model)
is the default; ``vlm`` asks the installed vision-language model (loaded once per worker process via
`shared_vlm`) and scores the findings its answer claims.

A predictor is any picklable callable ``(EvalRecord) -> Prediction``; the named ones are looked up in
`PREDICTORS` on the worker, so only the name travels over the network.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .datasets.base import EvalRecord
from .labels import load_label_map


@dataclass
class Prediction:
    """Per-label scores (NaN: not assessed) and stated findings (0/1), the generated text and extra truth-side
    output (AF episodes) of one record."""

    scores: dict[str, float]
    stated: dict[str, int]
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def engine_text(findings: list[Any], heart_rate: float | None) -> str:
    """A one-paragraph reading from the engine's findings, compared with reference reports by the text metrics."""
    parts = [f.label for f in findings]
    rate = f" Heart rate {heart_rate:.0f} bpm." if heart_rate is not None else ""
    return (("Findings: " + "; ".join(parts) + ".") if parts else "No abnormal finding stated.") + rate


def engine_predict(record: EvalRecord) -> Prediction:
    """The measurement engine on the record's file (signals read, pictures digitized first)."""
    from ..ecg.inputs import analyze_file

    label_map = load_label_map()
    result = analyze_file(record.path, age=record.age, sex=record.sex)
    stated_rules = {f.rule for f in result.findings}
    episodes = [[round(e.start_s, 3), round(e.end_s, 3)] for e in result.episodes or [] if e.rhythm == "atrial fibrillation"]
    hr = result.measurements.get("heart_rate")
    return Prediction(
        scores=label_map.label_scores(result.scores),
        stated={lab.id: int(lab.rule in stated_rules) for lab in label_map.labels},
        text=engine_text(result.findings, hr.value if hr is not None else None),
        extra={"af_pred_episodes": episodes, "codes": sorted(result.codes), "quality": result.quality.get("overall")},
    )


def claim_scores(text: str, findings: list[dict[str, Any]] | None = None) -> dict[str, float]:
    """Label scores from what a model's answer claims: its confidence when given, 0.5 for a hedged claim (the
    decision threshold), 1 for a plain claim, 0 for a label it does not claim."""
    from ..explain.claims import extract_claims

    label_map = load_label_map()
    scores = {lab.id: 0.0 for lab in label_map.labels}
    for claim in extract_claims(findings, text):
        if not claim.code or claim.numeric:
            continue
        value = claim.confidence if claim.confidence is not None else 0.5 if claim.hedged else 1.0
        for label in label_map.labels_for_code(claim.code):
            scores[label] = max(scores[label], float(value))
    return scores


def vlm_predict(record: EvalRecord, *, max_tokens: int = 512) -> Prediction:
    """The installed vision-language model: the record's own question (text tasks) or the findings prompt."""
    from ..models.image_input import ecg_picture, to_png
    from ..models.prompts import FINDINGS_PROMPT
    from ..models.vlm import shared_vlm

    runtime = shared_vlm()
    png = to_png(ecg_picture(record.path))
    structured = record.question is None
    answer = runtime.generate_image(png, record.question or FINDINGS_PROMPT, max_tokens=max_tokens, json_schema=structured)
    text = answer.extras.get("report", "") if structured else answer.text
    findings = answer.findings if structured and isinstance(answer.findings, list) else None
    scores = claim_scores(text or "", findings)
    return Prediction(scores=scores, stated={k: int(v >= 0.5) for k, v in scores.items()}, text=text or answer.text,
                      extra={"problem": answer.extras.get("parse_error", "")})


PREDICTORS: dict[str, Callable[[EvalRecord], Prediction]] = {"engine": engine_predict, "vlm": vlm_predict}


def resolve(predictor: str | Callable[[EvalRecord], Prediction]) -> Callable[[EvalRecord], Prediction]:
    if callable(predictor):
        return predictor
    try:
        return PREDICTORS[predictor]
    except KeyError:
        from .datasets.base import DatasetError

        raise DatasetError(f"Unknown predictor {predictor!r}; choose {', '.join(PREDICTORS)}.") from None


def warm_up(predictor: str | Callable[[EvalRecord], Prediction]) -> None:
    """Load what a predictor needs once per process (engine modules and tables; the model for 'vlm'), before the
    first record, so no batch pays for it and rates measure analysis only."""
    from ..ecg import inputs  # noqa: F401  (imports the engine: ~2 s of the first record otherwise)
    from ..ecg.tables import load_table

    load_label_map()
    load_table("criteria")
    load_table("delineation")
    if predictor == "vlm":
        from ..models.vlm import shared_vlm

        shared_vlm()
