"""The ECG vision-language model on llama.cpp (llama-cpp-python): load a GGUF (+ mmproj for images), stream
tokens with cancellation, constrain answers to the findings JSON schema, and time every call.

Deterministic by default (temperature 0, fixed seed). GPU offload follows the settings: ``gpu_layers =
"auto"`` offloads every layer when the installed llama.cpp build has a GPU backend, else none.
"""
from __future__ import annotations

import atexit
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import get_settings
from ..errors import ModelError
from .findings_schema import schema_json

log = logging.getLogger(__name__)

#: Gemma 3 turn format, used when a GGUF carries no chat template (base models)
GEMMA3_TURNS = "<start_of_turn>user\n{prompt}<end_of_turn>\n<start_of_turn>model\n"
#: the same as a Jinja chat template for llama.cpp's multimodal handler (image parts arrive as text markers)
GEMMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>{{ 'model' if message['role'] == 'assistant' else 'user' }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def _image_handler(mmproj: Path, use_gpu: bool) -> Any:
    """llama.cpp's generic multimodal (libmtmd) handler, with the Gemma 3 template for GGUFs that lack one."""
    chat_format = _llama_cpp().llama_chat_format
    _route_mtmd_logs()

    class Gemma3MTMDHandler(chat_format.MTMDChatHandler):
        def _get_chat_template(self, llama_model: Any) -> str:
            template = llama_model.metadata.get("tokenizer.chat_template")
            return template if isinstance(template, str) and template else GEMMA3_TEMPLATE

    try:
        return Gemma3MTMDHandler(clip_model_path=str(mmproj), verbose=False, use_gpu=use_gpu)
    except ValueError as exc:
        raise ModelError(f"The projector file {mmproj.name} cannot be used: {exc}") from exc


def _route_mtmd_logs() -> None:
    """libmtmd prints its progress to stderr by default; send it through llama-cpp-python's logger instead,
    which is silent unless the model was loaded verbose."""
    import ctypes

    from llama_cpp import _logger, mtmd_cpp

    mtmd_cpp.mtmd_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
    mtmd_cpp.mtmd_helper_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


@dataclass
class Timings:
    load_s: float = 0.0
    ttft_s: float | None = None
    decode_tok_s: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class Generation:
    text: str
    timings: Timings
    backend: str
    models: dict[str, str]
    findings: list[dict[str, Any]] | None = None
    cancelled: bool = False
    extras: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "findings": self.findings, "timings": self.timings.to_dict(), "backend": self.backend,
                "models": self.models, "cancelled": self.cancelled}


def _llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:  # an optional runtime: say how to install it
        raise ModelError("The llama.cpp runtime is not installed.", hint="pip install llama-cpp-python==0.3.36 (see README).") from exc
    return llama_cpp


def _grammar(json_schema: bool) -> Any:
    return _llama_cpp().LlamaGrammar.from_json_schema(schema_json(), verbose=False) if json_schema else None


def _timed(chunks: Iterator[dict], piece_of: Any, cancel: threading.Event | None, timings: Timings,
           start: float) -> Iterator[str]:
    """Yield the non-empty text pieces of a llama.cpp stream, stopping on ``cancel``, and fill ``timings``.
    ``start`` is taken before the request: the multimodal handler evaluates the image eagerly."""
    first, count = None, 0
    for chunk in chunks:
        if cancel is not None and cancel.is_set():
            break
        piece = piece_of(chunk["choices"][0])
        if not piece:
            continue  # role headers and the closing chunk carry no token
        count += 1
        if first is None:
            first = time.perf_counter()
            timings.ttft_s = first - start
        yield piece
    end = time.perf_counter()
    timings.completion_tokens = count
    timings.total_s = end - start
    if first is not None and count > 1 and end > first:
        timings.decode_tok_s = (count - 1) / (end - first)


def gpu_backend_available() -> bool:
    return bool(_llama_cpp().llama_supports_gpu_offload())


def resolve_gpu_layers(setting: int | str) -> int:
    """'auto' -> all layers (-1) when a GPU backend is built in, else 0; a number is used as given."""
    if setting == "auto":
        return -1 if gpu_backend_available() else 0
    return int(setting)


class VLMRuntime:
    """One loaded model. ``model_hashes`` (name -> sha256) are recorded in every result for provenance."""

    def __init__(self, model_path: str | Path, *, mmproj_path: str | Path | None = None, n_ctx: int = 2048,
                 n_threads: int | None = None, gpu_layers: int | str | None = None, seed: int = 0,
                 model_hashes: dict[str, str] | None = None) -> None:
        llama_cpp = _llama_cpp()
        settings = get_settings()
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"Model file {path} does not exist.", hint="Run `workbench models verify` to see what to put where.")
        self.gpu_layers = resolve_gpu_layers(settings.gpu_layers if gpu_layers is None else gpu_layers)
        handler = None
        if mmproj_path is not None:
            mmproj = Path(mmproj_path)
            if not mmproj.is_file():
                raise ModelError(f"Projector file {mmproj} does not exist.", hint="Run `workbench models verify`.")
            handler = _image_handler(mmproj, use_gpu=self.gpu_layers != 0)
        start = time.perf_counter()
        try:
            self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads or settings.n_threads,
                                       n_gpu_layers=self.gpu_layers, seed=seed, verbose=False, chat_handler=handler)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"{path.name} could not be loaded by llama.cpp (damaged or not a GGUF model): {exc}") from exc
        self.load_s = time.perf_counter() - start
        self.seed = seed
        self.path = path
        self.models = model_hashes or {path.name: ""}
        self.backend = "cuda" if self.gpu_layers != 0 and gpu_backend_available() else "cpu"
        self.chat_template = (self.llm.metadata or {}).get("tokenizer.chat_template")
        self.has_images = handler is not None
        self.lock = threading.Lock()  # one llama.cpp context: one generation at a time

    def format_prompt(self, prompt: str) -> str:
        """The model's own chat template is used by chat calls; base models get the Gemma 3 turn format."""
        return GEMMA3_TURNS.format(prompt=prompt)

    def stream(self, prompt: str, *, max_tokens: int = 256, json_schema: bool = False,
               cancel: threading.Event | None = None, timings: Timings | None = None) -> Iterator[str]:
        """Yield text pieces as they are generated; stops early when ``cancel`` is set."""
        timings = timings if timings is not None else Timings()
        timings.load_s = self.load_s
        text = self.format_prompt(prompt)
        timings.prompt_tokens = len(self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))
        self.llm.set_seed(self.seed)
        start = time.perf_counter()
        chunks = self.llm.create_completion(text, max_tokens=max_tokens, temperature=0.0, top_k=1, top_p=1.0,
                                            repeat_penalty=1.0, stream=True, grammar=_grammar(json_schema))
        yield from _timed(chunks, lambda choice: choice["text"], cancel, timings, start)

    def generate(self, prompt: str, *, max_tokens: int = 256, json_schema: bool = False,
                 cancel: threading.Event | None = None, on_piece: Callable[[str], None] | None = None) -> Generation:
        timings = Timings()
        with self.lock:
            pieces = self.stream(prompt, max_tokens=max_tokens, json_schema=json_schema, cancel=cancel, timings=timings)
            return self._collect(pieces, timings, json_schema, cancel, on_piece)

    def generate_image(self, image_png: bytes, prompt: str, *, max_tokens: int = 512, json_schema: bool = False,
                       cancel: threading.Event | None = None, on_piece: Callable[[str], None] | None = None) -> Generation:
        """One answer about an image; ``on_piece`` sees every text piece as it streams (CLI, UI progress)."""
        timings = Timings()
        with self.lock:
            pieces = self.stream_image(image_png, prompt, max_tokens=max_tokens, json_schema=json_schema, cancel=cancel,
                                       timings=timings)
            return self._collect(pieces, timings, json_schema, cancel, on_piece)

    def _collect(self, pieces: Iterator[str], timings: Timings, json_schema: bool, cancel: threading.Event | None,
                 on_piece: Callable[[str], None] | None = None) -> Generation:
        collected = []
        for piece in pieces:
            collected.append(piece)
            if on_piece is not None:
                on_piece(piece)
        text = "".join(collected)
        result = Generation(text, timings, self.backend, self.models, cancelled=bool(cancel and cancel.is_set()))
        if json_schema and not result.cancelled:
            try:
                answer = json.loads(text)
                result.findings = answer["findings"]
                result.extras["report"] = answer.get("report", "")
            except (ValueError, KeyError, TypeError) as exc:  # e.g. max_tokens cut the JSON short
                result.extras["parse_error"] = f"the model's answer is not complete JSON ({exc})"
        return result

    def stream_image(self, image_png: bytes, prompt: str, *, max_tokens: int = 256, json_schema: bool = False,
                     cancel: threading.Event | None = None, timings: Timings | None = None) -> Iterator[str]:
        """Like `stream`, with an image (PNG bytes) placed before the prompt in the user turn."""
        if not self.has_images:
            raise ModelError("This model was loaded without its projector (mmproj): it cannot read images.")
        import base64

        timings = timings if timings is not None else Timings()
        timings.load_s = self.load_s
        url = "data:image/png;base64," + base64.b64encode(image_png).decode("ascii")
        messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": prompt}]}]
        before = self.llm.n_tokens
        self.llm.set_seed(self.seed)
        start = time.perf_counter()
        chunks = self.llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0, top_k=1,
                                                 top_p=1.0, repeat_penalty=1.0, stream=True, grammar=_grammar(json_schema))
        for piece in _timed(chunks, lambda choice: choice.get("delta", {}).get("content") or "", cancel, timings, start):
            if timings.prompt_tokens == 0:  # the image tokens are only known once the prompt is evaluated
                timings.prompt_tokens = self.llm.n_tokens - before - 1
            yield piece


def load_vlm(name: str | None = None, *, images: bool = True, models_dir: Path | None = None, **options: Any) -> VLMRuntime:
    """The manifest's vision-language model (and its projector when ``images``), verified before loading and
    with the verified hashes recorded for provenance."""
    from .manifest import require

    vlm = require("vlm", models_dir, name=name)
    statuses = [vlm]
    if images:
        statuses.append(require("mmproj", models_dir, name=vlm.entry.mmproj or None))
    hashes = {status.entry.name: status.sha256 or "" for status in statuses}
    return VLMRuntime(vlm.path, mmproj_path=statuses[1].path if images else None, model_hashes=hashes, **options)


_SHARED: dict[tuple[str, str | None], VLMRuntime] = {}
_SHARED_LOCK = threading.Lock()


@atexit.register
def _close_shared() -> None:
    """Free the shared models before the interpreter tears down the streams llama.cpp's cleanup writes to."""
    while _SHARED:
        _, runtime = _SHARED.popitem()
        runtime.llm.close()


def shared_vlm(name: str | None = None) -> VLMRuntime:
    """One loaded model per process (loading a 4B model takes seconds and gigabytes): the pipeline's reading,
    narrative and batch runs reuse it. Calls are serialised by llama.cpp's single context, so runs share it
    one at a time."""
    key = (str(get_settings().models_dir), name)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = load_vlm(name)
        return _SHARED[key]
