"""Decode speed and time to first token of the workbench's llama.cpp runtime against raw llama-cpp-python on
the same GGUF with the same settings, in one run (target: ratio >= 0.97), plus the image path's timings.

The two sides alternate (A B A B ...) so that a warm-up or a busy moment of the machine affects both alike;
medians are compared. On a machine with an NVIDIA GPU and the CUDA build, the same script records the
GPU figures (gpu_layers "auto"); pass a 4B Q4_K_M model with --model to record the MedGemma-sized figure.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import fmt, run_info, shared_data, table, update_section  # noqa: E402

SECTION = "Vision-language model runtime (llama.cpp)"
PROMPT = "Write a long, detailed story about a lighthouse keeper who finds a message in a bottle."
TARGET = 0.97


def raw_run(llm, prompt: str, max_tokens: int) -> tuple[float, float, int]:
    """The raw llama-cpp-python call the runtime wraps: (ttft_s, decode tok/s, tokens)."""
    from workbench.models.vlm import GEMMA3_TURNS

    start = time.perf_counter()
    first, count = None, 0
    for chunk in llm.create_completion(GEMMA3_TURNS.format(prompt=prompt), max_tokens=max_tokens, temperature=0.0,
                                       top_k=1, top_p=1.0, repeat_penalty=1.0, stream=True):
        if not chunk["choices"][0]["text"]:
            continue
        count += 1
        first = first or time.perf_counter()
    end = time.perf_counter()
    return first - start, (count - 1) / (end - first), count


def workbench_run(runtime, prompt: str, max_tokens: int) -> tuple[float, float, int]:
    result = runtime.generate(prompt, max_tokens=max_tokens)
    return result.timings.ttft_s, result.timings.decode_tok_s, result.timings.completion_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None, help="GGUF to measure (default: the Gemma 3 270M test model)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()

    import llama_cpp

    from workbench.config import get_settings
    from workbench.models.image_input import to_png
    from workbench.models.test_models import gemma3_270m, tiny_gemma3_mmproj
    from workbench.models.vlm import VLMRuntime, resolve_gpu_layers

    model = args.model or gemma3_270m()
    threads = get_settings().n_threads
    layers = resolve_gpu_layers(get_settings().gpu_layers)
    options = {"n_ctx": 2048, "n_threads": threads, "seed": 0}
    runtime = VLMRuntime(model, gpu_layers=layers, **options)
    raw = llama_cpp.Llama(model_path=str(model), n_gpu_layers=layers, verbose=False, **options)
    for warm in (lambda: raw_run(raw, PROMPT, 16), lambda: workbench_run(runtime, PROMPT, 16)):
        warm()
    samples: dict[str, list[tuple[float, float, int]]] = {"raw llama-cpp-python": [], "workbench runtime": []}
    for i in range(args.rounds):  # a new prompt each round: llama.cpp's prefix cache would hide prompt evaluation
        prompt = f"Story number {i + 1}. {PROMPT}"
        samples["raw llama-cpp-python"].append(raw_run(raw, prompt, args.max_tokens))
        samples["workbench runtime"].append(workbench_run(runtime, prompt, args.max_tokens))
    med = {name: (statistics.median(s[0] for s in runs), statistics.median(s[1] for s in runs),
                  statistics.median(s[2] for s in runs)) for name, runs in samples.items()}
    raw_ttft, raw_rate, _ = med["raw llama-cpp-python"]
    wb_ttft, wb_rate, _ = med["workbench runtime"]
    decode_ratio = wb_rate / raw_rate
    ttft_ratio = raw_ttft / wb_ttft  # > 1 means the workbench is faster to its first token
    rows = [[name, f"{ttft * 1000:.1f}", f"{rate:.1f}", f"{tokens:.0f}"] for name, (ttft, rate, tokens) in med.items()]
    del raw

    # the image path: real 270M text model + the tiny projector, on a real scan
    scan = shared_data() / "images" / "scans" / "ecg00001.png"
    from PIL import Image
    import numpy as np

    png = to_png(np.asarray(Image.open(scan).convert("RGB")))
    image_runtime = VLMRuntime(gemma3_270m(), mmproj_path=tiny_gemma3_mmproj(), gpu_layers=layers, **options)
    image_runs = [image_runtime.generate_image(png, "Describe this ECG.", max_tokens=32).timings for _ in range(3)]
    image_row = [f"{statistics.median(t.ttft_s for t in image_runs) * 1000:.0f}",
                 f"{statistics.median(t.decode_tok_s for t in image_runs):.1f}", str(image_runs[0].prompt_tokens)]

    verdict = "met" if min(decode_ratio, ttft_ratio) >= TARGET else "not met"
    body = "\n\n".join([
        run_info(),
        f"Model `{model.name}`, backend `{runtime.backend}` (gpu_layers {layers}), {threads} threads, n_ctx 2048, "
        f"greedy decoding, up to {args.max_tokens} tokens, {args.rounds} alternating rounds, medians.",
        table(["runtime", "time to first token (ms)", "decode tokens/s", "tokens"], rows),
        table(["ratio", "value", "target", "verdict"], [
            ["decode tok/s, workbench / raw", fmt(decode_ratio), f">= {TARGET}", "met" if decode_ratio >= TARGET else "not met"],
            ["TTFT, raw / workbench", fmt(ttft_ratio), f">= {TARGET}", "met" if ttft_ratio >= TARGET else "not met"]]),
        f"Overall: {verdict}.",
        "Image path (Gemma 3 270M + tiny random projector, real scan ecg00001.png, 3 runs, medians):",
        table(["time to first token (ms)", "decode tokens/s", "prompt tokens (image + text)"], [image_row]),
        "The 4B Q4_K_M figure (model card anchor ~45 tok/s, TTFT ~150 ms on an A100) needs an NVIDIA GPU and the "
        "MedGemma files; neither was available for this run.",
    ])
    print(f"## {SECTION}\n\n{body}")
    update_section(SECTION, body)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
