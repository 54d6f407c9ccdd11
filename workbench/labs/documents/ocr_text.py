"""Text boxes of a page picture with RapidOCR, read as well as it can on report pages.

RapidOCR finds the boxes; each box is then re-read from a crop with a margin of paper (never reaching into
the next box), which keeps more spaces between words and reads lone flag letters ("L", "H") that a tight
crop loses; spaces the recogniser still drops are put back where the paper between two characters is as
wide as a space. The angle classifier is not used: it turns "g/dL" upside down into "7p/6", and report
pages are upright (a small tilt is measured from the boxes and taken out of their centres instead).
Small marks the detector misses on a table line (a flag "L" or "*", a one-digit value) are found as ink
outside every box and read on their own (`read_marks`).

Recognition is most of the time (about 12 ms per box on one core): `read_text` with ``lazy=True`` only
finds the boxes, and the table reader reads those it needs (`PageText.read`). Each crop is padded to its
own width (rounded up), so a box reads the same whichever boxes are read with it.

The engine (`get_lab_ocr_engine`) has the ECG reader's models but is its own instance, created once per
process and thread count (the ``threads`` setting): the ECG reader's engine is never changed from here.
See benchmarks/labs_speed.py and docs/BENCHMARKS.md for what each choice costs and gains.
"""
from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from statistics import median
from typing import Any

import cv2
import numpy as np

from ...config import get_settings
from .cells import clean_text, is_flag
from .rows import BBox

log = logging.getLogger(__name__)

__all__ = ["PageText", "TextBox", "get_lab_ocr_engine", "read_marks", "read_text"]

_MIN_SCORE = 0.5
_SMALL_TEXT_PX = 14.0  # below this box height the page is enlarged before detection
_TARGET_TEXT_PX = 26.0


@dataclass
class TextBox:
    """One OCR box: text, score, the box in image pixels, and its centre with the page tilt taken out."""

    text: str
    score: float
    bbox: BBox  # x0, y0, x1, y1 in image pixels (as printed on the picture)
    h: float = 0.0  # text height (the box's short side, not inflated by a tilt)
    xc: float = 0.0  # centre after de-tilting
    yc: float = 0.0
    x0: float = 0.0  # left / right edge after de-tilting
    x1: float = 0.0
    pending: bool = False  # found by the detector but not read yet (text "", see `PageText.read`)

    @property
    def height(self) -> float:
        return self.h or (self.bbox[3] - self.bbox[1])


@dataclass
class PageText:
    """The boxes of a page and the page tilt (radians) that was taken out of their centres.

    ``boxes`` are the boxes read; ``pending`` those found but not read yet (`read_text` with ``lazy=True``),
    read on demand with `read`: recognition is most of the OCR time, and a report's footer (notes,
    disclaimers, signatures) is often a third of its text.
    """

    boxes: list[TextBox]
    angle: float = 0.0
    pending: list[TextBox] = field(default_factory=list)
    _crops: dict[int, tuple[np.ndarray, float]] = field(default_factory=dict, repr=False)  # id(box) -> crop, h
    _rank: dict[int, int] = field(default_factory=dict, repr=False)  # id(box) -> the detector's order
    _engine: Any = field(default=None, repr=False)

    def read(self, boxes: list[TextBox]) -> None:
        """Read the given pending boxes: they move to ``boxes`` (kept in the detector's order), or are dropped
        when nothing legible is there."""
        todo = [b for b in boxes if b.pending and id(b) in self._crops]
        if not todo:
            return
        jobs = [self._crops.pop(id(b)) for b in todo]
        found = _recognise(self._engine, [crop for crop, _ in jobs], [h for _, h in jobs])
        done = {id(b) for b in todo}
        self.pending = [b for b in self.pending if id(b) not in done]
        for box, (text, score) in zip(todo, found):
            text = _normalise(text)
            box.pending = False
            if text and score >= _MIN_SCORE:
                box.text, box.score = text, score
                self.boxes.append(box)
        self.boxes.sort(key=lambda b: self._rank.get(id(b), len(self._rank)))

    def read_all(self) -> None:
        self.read(list(self.pending))


# ====================================================================== engine
_ENGINES: dict[int, Any] = {}
_ENGINES_LOCK = threading.Lock()


def get_lab_ocr_engine(threads: int | None = None) -> Any:
    """The RapidOCR engine for report pages, created on first use and kept for the process (one per thread count).

    Same models as the ECG reader's engine (`get_ocr_engine`) but its own instance, so that nothing set here
    reaches the ECG reader. ``threads``: onnxruntime threads per model; default the ``threads`` setting
    (0 = all cores). The model sessions are made here (see `_session`) rather than by RapidOCR.
    """
    n = max(1, int(threads if threads else get_settings().n_threads))
    with _ENGINES_LOCK:
        engine = _ENGINES.get(n)
        if engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise ImportError("reading scanned lab reports needs the OCR package: pip install "
                                  "rapidocr_onnxruntime") from exc
            engine = RapidOCR(det_limit_type="max", det_limit_side_len=2000, intra_op_num_threads=n,
                              inter_op_num_threads=1)
            for holder in (getattr(engine.text_det, "infer", None), getattr(engine.text_rec, "session", None)):
                path = getattr(getattr(holder, "session", None), "_model_path", None)
                if path:
                    holder.session = _session(path, n)
            _ENGINES[n] = engine
        return engine


_SPIN = False  # let idle onnxruntime threads spin (onnxruntime's and RapidOCR's default)
_FUSE_HARD_SWISH = True


def _session(path: str, threads: int) -> Any:
    """An onnxruntime session of one of RapidOCR's models, made as RapidOCR makes it except that

    - with more than one thread, idle threads sleep instead of spinning: spinning threads fight any other
      work on the machine for the cores (on a busy 2-core machine two spinning threads made a page 2-3
      times slower than one thread);
    - the model's hard-swish activations are fused (`_fused_model`): same outputs, about 10% less time.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.enable_cpu_mem_arena = False  # as RapidOCR: the arena kept ~150 MB more and was not faster here
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if threads > 1 and not _SPIN:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    model = _fused_model(path) if _FUSE_HARD_SWISH else None
    return ort.InferenceSession(model or path, sess_options=options, providers=["CPUExecutionProvider"])


def _fused_model(path: str) -> bytes | None:
    """The model with each hard-swish written as ``x * HardSigmoid(x)`` (2 operators instead of 4), or None.

    The Paddle export spells hard-swish as ``Add(x, 3) -> Clip(0, 6) -> Mul(x) -> Div(6)``: four passes over
    every feature map, which onnxruntime does not fuse (28 in the recogniser, 24 in the detector). The
    function is the same (outputs differ by ~1e-6; every text read on the benchmark pages is unchanged).
    The opset stays 12 (``HardSwish`` itself needs 14, which would change other operators).
    """
    try:
        import onnx
        from onnx import helper, numpy_helper

        model = onnx.load(path)
    except Exception:  # onnx missing or the file not readable by it: the model as it is
        log.debug("hard-swish fusion skipped for %s", path, exc_info=True)
        return None
    graph = model.graph
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node
              if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"}
    consts.update({t.name: numpy_helper.to_array(t) for t in graph.initializer})
    producer = {o: n for n in graph.node for o in n.output}
    uses: dict[str, int] = {}
    for n in graph.node:
        for name in n.input:
            uses[name] = uses.get(name, 0) + 1

    def scalar(name: str, value: float) -> bool:
        c = consts.get(name)
        return c is not None and c.size == 1 and float(c.reshape(-1)[0]) == value

    replace: dict[int, list[Any]] = {}
    for div in graph.node:
        mul = producer.get(div.input[0]) if div.op_type == "Div" and len(div.input) == 2 else None
        if mul is None or mul.op_type != "Mul" or not scalar(div.input[1], 6.0):
            continue
        clip = next((producer[i] for i in mul.input if i in producer and producer[i].op_type == "Clip"), None)
        if clip is None or len(clip.input) != 3 or not (scalar(clip.input[1], 0.0) and scalar(clip.input[2], 6.0)):
            continue
        x = next((i for i in mul.input if i != clip.output[0]), None)
        add = producer.get(clip.input[0])
        if x is None or add is None or add.op_type != "Add" or x not in add.input:
            continue
        if not scalar(next((i for i in add.input if i != x), ""), 3.0):
            continue
        if any(uses.get(n.output[0], 0) != 1 for n in (add, clip, mul)):
            continue
        gate = div.output[0] + "_hardsigmoid"
        replace[id(div)] = [helper.make_node("HardSigmoid", [x], [gate], name=gate, alpha=1.0 / 6.0, beta=0.5),
                            helper.make_node("Mul", [x, gate], [div.output[0]], name=div.output[0] + "_hardswish")]
        replace[id(add)] = replace[id(clip)] = replace[id(mul)] = []
    if not replace:
        return None
    nodes = [m for n in graph.node for m in replace.get(id(n), [n])]
    used = {name for n in nodes for name in n.input} | {o.name for o in graph.output}
    nodes = [n for n in nodes if n.op_type != "Constant" or n.output[0] in used]
    del graph.node[:]
    graph.node.extend(nodes)
    return model.SerializeToString()


# ====================================================================== OCR
_DET_SIDE = 1600  # detection runs on a copy at most this long (text stays > 14 px on an A4 page); reading
#                   uses the full-resolution picture
_BOX_THRESH = 0.3  # RapidOCR's 0.5 drops lone flag letters ("H" beside a result); the recogniser's score filters
_REC_MIN_RATIO: float | None = None  # crops narrower (width / height) are padded to this; None: the model's 320 / 48
_REC_BATCH = 6
_REC_OWN_WIDTH = True  # False: RapidOCR's padding to the widest crop of the batch (as before; benchmark)
_REC_WIDTH_STEP = 128  # px: a crop is padded to its width rounded up to this (0: not rounded)


def _detect(engine: Any, image: np.ndarray, side: float) -> list[np.ndarray]:
    """Text boxes (4 corners each, in ``image`` pixels) found on a copy of ``image`` scaled to ``side`` pixels
    on its long side. RapidOCR's detector model is run directly (its own pre- and post-processing with a
    lower box threshold): nothing of the engine is changed."""
    h, w = image.shape[:2]
    scale = side / max(h, w)
    det = getattr(engine, "text_det", None)
    if det is None or not hasattr(det, "infer"):  # any engine with RapidOCR's call convention
        small = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        found, _ = engine(small, use_cls=False, use_rec=False)
        return [np.asarray(q, dtype=np.float32).reshape(4, 2) / scale for q in (found or [])]
    dh, dw = max(32, int(round(h * scale / 32)) * 32), max(32, int(round(w * scale / 32)) * 32)
    small = cv2.resize(image, (dw, dh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    mean = np.asarray(getattr(det, "mean", None) or 0.5, np.float32)
    std = np.asarray(getattr(det, "std", None) or 0.5, np.float32)
    tensor = ((small.astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1)[None]  # as RapidOCR's DetPreProcess
    preds = det.infer(tensor)[0]
    boxes, _ = _post_process(det)(preds, (h, w))
    if len(boxes) == 0:
        return []
    boxes = det.filter_tag_det_res(boxes, (h, w))
    return [np.asarray(q, dtype=np.float32).reshape(4, 2) for q in boxes]


_POST: dict[int, Any] = {}


def _post_process(det: Any) -> Any:
    """A copy of the detector's box finder with the lower box threshold (the engine's own stays as it is)."""
    post = _POST.get(id(det))
    if post is None:
        import copy

        post = copy.copy(det.postprocess_op)
        post.box_thresh = min(post.box_thresh, _BOX_THRESH)
        _POST[id(det)] = post
    return post


def _side_room(quads: list[np.ndarray]) -> list[tuple[float, float]]:
    """Free paper left and right of each box before the next box on its line (half of each gap)."""
    lo, hi = np.array([q.min(axis=0) for q in quads]), np.array([q.max(axis=0) for q in quads])
    room = []
    for i in range(len(quads)):
        overlap = np.minimum(hi[:, 1], hi[i, 1]) - np.maximum(lo[:, 1], lo[i, 1])
        same = overlap > 0.5 * np.minimum(hi[:, 1] - lo[:, 1], hi[i, 1] - lo[i, 1])
        same[i] = False
        left = lo[i, 0] - hi[same & (hi[:, 0] <= hi[i, 0]) & (lo[:, 0] < lo[i, 0]), 0]
        right = lo[same & (lo[:, 0] >= lo[i, 0]) & (hi[:, 0] > hi[i, 0]), 0] - hi[i, 0]
        room.append((max(0.0, float(left.min()) / 2) if left.size else np.inf,
                     max(0.0, float(right.min()) / 2) if right.size else np.inf))
    return room


def _padded_crop(image: np.ndarray, quad: np.ndarray, room: tuple[float, float]) -> np.ndarray:
    """The box's text, straightened, with a margin of paper around it (the recogniser reads better: it keeps
    the spaces between words and reads single letters); the margin never reaches into the next box."""
    p0, p1, p2, p3 = quad
    width = max(np.linalg.norm(p1 - p0), np.linalg.norm(p2 - p3))
    height = max(np.linalg.norm(p3 - p0), np.linalg.norm(p2 - p1))
    if width < 1 or height < 1:
        return np.zeros((0, 0, 3), np.uint8)
    u, v = (p1 - p0) / max(1e-6, np.linalg.norm(p1 - p0)), (p3 - p0) / max(1e-6, np.linalg.norm(p3 - p0))
    pl, pr = (min(max(3.0, 0.4 * height), r) for r in room)
    py = max(2.0, 0.15 * height)
    src = np.array([p0 - pl * u - py * v, p1 + pr * u - py * v, p2 + pr * u + py * v, p3 - pl * u + py * v],
                   np.float32)
    w, h = int(round(width + pl + pr)), int(round(height + 2 * py))
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(image, matrix, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def _recognise(engine: Any, crops: list[np.ndarray], heights: list[float]) -> list[tuple[str, float]]:
    """(text, score) for each crop; ``heights`` are the text heights in the crops (for the spaces)."""
    rec = getattr(engine, "text_rec", None)
    if rec is None or not hasattr(rec, "session"):  # any engine with RapidOCR's call convention, one crop at a time
        out = []
        for crop in crops:
            found, _ = engine(crop, use_det=False, use_cls=False)
            out.append((str(found[0][0]), float(found[0][1])) if found else ("", 0.0))
        return out
    results = _run_recogniser(rec, crops)
    out = []
    for crop, height, result in zip(crops, heights, results):
        text, score = str(result[0]), float(result[1])
        if len(result) > 2:
            text = _restore_spaces(crop, height, text, result[2])
        out.append((text, score))
    return out


def _run_recogniser(rec: Any, crops: list[np.ndarray]) -> list[Any]:
    """RapidOCR's recogniser on the crops, with character positions.

    RapidOCR pads every crop of a batch to the widest of the batch, and the recogniser reads a crop a little
    differently with more padding: a box's text then depended on which boxes were read with it. Here each
    crop is padded to its own width rounded up to `_REC_WIDTH_STEP` pixels (at least the model's 320): the
    same text whatever else is read, some padding right of a long line as before, and crops of the same
    padded width still share a batch.
    """
    _, in_h, in_w = rec.rec_image_shape
    least = _REC_MIN_RATIO or in_w / in_h
    ratios = [c.shape[1] / max(1, c.shape[0]) for c in crops]
    groups: dict[float, list[int]] = {}
    for k in sorted(range(len(crops)), key=lambda k: ratios[k]):
        own = math.ceil(ratios[k] * in_h / _REC_WIDTH_STEP) * _REC_WIDTH_STEP / in_h if _REC_WIDTH_STEP else ratios[k]
        groups.setdefault(max(least, own) if _REC_OWN_WIDTH else 0.0, []).append(k)
    results: list[Any] = [("", 0.0)] * len(crops)
    for key, members in sorted(groups.items()):
        for start in range(0, len(members), _REC_BATCH):
            batch = members[start:start + _REC_BATCH]
            widest = key or max(least, max(ratios[k] for k in batch))
            tensor = np.stack([rec.resize_norm_img(crops[k], widest) for k in batch]).astype(np.float32)
            preds = rec.session(tensor)[0]
            for k, result in zip(batch, rec.postprocess_op(preds, True, wh_ratio_list=[ratios[k] for k in batch],
                                                            max_wh_ratio=widest)):
                results[k] = result
    return results


_WORD_GAP = 0.17  # blank run between two characters, in box heights, that is a space (letters: <= 0.11)
_MIN_GAP_PX = 3.5  # small print: letters 3 px apart are common, a space is wider
_NARROW = set("lIij1!|tfr")  # narrow letters with wide margins: a space next to them must be wider


def _restore_spaces(crop: np.ndarray, height: float, text: str, info: Any) -> str:
    """Put back the spaces the recogniser dropped ("troponinT", "CKD-EPI2021", "Upto5.0").

    Each character's position comes from the recogniser's output columns; a blank stretch of paper wider
    than `_WORD_GAP` box heights between two characters is a space. Digits next to digits, dots or commas
    are never split (a "1" has wide margins: "11.0" must stay whole).
    """
    try:
        n_cols, words, cols = float(info[0]), info[1], info[2]
        chars = [c for word in words for c in word]
        pos = [p for word in cols for p in word]
    except (TypeError, IndexError, ValueError):
        return text
    if len(chars) != len(text) or len(chars) < 2 or n_cols <= 0:
        return text
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    pad = int(round((crop.shape[0] - height) / 2))
    band = gray[pad:crop.shape[0] - pad] if crop.shape[0] - 2 * pad > 4 else gray
    threshold, _ = cv2.threshold(band, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    blank = ~(band < threshold).any(axis=0)
    xs = [int((p + 0.5) * crop.shape[1] / n_cols) for p in pos]
    out = [chars[0]]
    for i in range(len(chars) - 1):
        a, b = chars[i], chars[i + 1]
        keep_whole = ((a.isdigit() or a in ".,") and (b.isdigit() or b in ".,")) or b in ")]},.:;%" or a in "([{"
        gap = max(_WORD_GAP * height, _MIN_GAP_PX) * (1.5 if a in _NARROW or b in _NARROW else 1.0)
        if a != " " and b != " " and not keep_whole and _longest_run(blank[xs[i]:xs[i + 1]]) >= gap:
            out.append(" ")
        out.append(b)
    return "".join(out)


def _longest_run(flags: np.ndarray) -> int:
    best = run = 0
    for value in flags:
        run = run + 1 if value else 0
        best = max(best, run)
    return best


def read_text(image: np.ndarray, *, engine: Any = None, lazy: bool = False) -> PageText:
    """Text boxes of a page picture (RGB uint8), in image pixels, tilt-corrected centres filled in.

    With ``lazy`` the boxes are found but not read: all are in ``pending`` and the caller reads those it needs
    (`PageText.read`); the result for a box read later is the same as when read at once.
    """
    engine = engine if engine is not None else get_lab_ocr_engine()
    img = np.ascontiguousarray(image[:, :, :3] if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2))
    quads = _detect(engine, img, min(_DET_SIDE, max(img.shape[:2])))
    scale = 1.0
    heights = [float(np.linalg.norm(q[3] - q[0])) for q in quads]
    if heights and median(heights) < _SMALL_TEXT_PX:  # small print: enlarge so that the detector sees it
        scale = min(3.0, _TARGET_TEXT_PX / max(1.0, median(heights)))
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        quads = _detect(engine, img, min(2000, max(img.shape[:2])))
    crops = [_padded_crop(img, q, r) for q, r in zip(quads, _side_room(quads))] if quads else []
    keep = [i for i, c in enumerate(crops) if c.size]
    angle = _page_angle([quads[i] / scale for i in keep])
    page = PageText([], angle, _engine=engine)
    for n, i in enumerate(keep):
        q = quads[i] / scale
        box = TextBox("", 0.0, (float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max())),
                      h=float(np.linalg.norm(q[3] - q[0])), pending=True)
        _detilt(box, angle)
        page.pending.append(box)
        page._crops[id(box)] = (crops[i], float(np.linalg.norm(quads[i][3] - quads[i][0])))
        page._rank[id(box)] = n
    if not lazy:
        page.read_all()
    return page


_LOOKALIKES = str.maketrans({"★": "*", "☆": "*", "＊": "*", "∗": "*", "丨": "|", "：": ":", "（": "(",
                             "）": ")", "，": ",", "～": "~"})


def _normalise(text: str) -> str:
    """Single-spaced text with the recogniser's wide / CJK look-alikes of ASCII marks replaced."""
    return clean_text(text.translate(_LOOKALIKES))


def _page_angle(quads: list[np.ndarray]) -> float:
    """Median slope of the long boxes: the tilt of the page (radians)."""
    angles = []
    for q in quads:
        dx, dy = q[1] - q[0]
        if dx > 4 * max(1.0, float(np.linalg.norm(q[3] - q[0]))):
            angles.append(math.atan2(float(dy), float(dx)))
    return median(angles) if len(angles) >= 3 else 0.0


def _rotate(x: float, y: float, angle: float) -> tuple[float, float]:
    c, s = math.cos(-angle), math.sin(-angle)
    return c * x - s * y, s * x + c * y


def _detilt(box: TextBox, angle: float) -> None:
    """Fill the box's de-tilted centre and edges (rotation about the image origin)."""
    x0, y0, x1, y1 = box.bbox
    box.xc, box.yc = _rotate((x0 + x1) / 2, (y0 + y1) / 2, angle)
    half = (x1 - x0) / 2
    box.x0, box.x1 = box.xc - half, box.xc + half


# ====================================================================== marks the detector missed
def read_marks(image: np.ndarray, page: PageText, lines: list[list[TextBox]], *,
               engine: Any = None) -> list[TextBox]:
    """Short texts on the given lines that no box covers (a lone "L", "*", "1"), read one by one.

    Ink is found by a local threshold; pieces of ink on a line, outside every box, about as tall as the
    line's text (a quarter of it for "*"), close together, become one crop for the recogniser.
    """
    if not lines:
        return []
    engine = engine if engine is not None else get_lab_ocr_engine()
    gray = image.min(axis=2) if image.ndim == 3 else image
    h_all = median(b.height for line in lines for b in line)
    block = max(3, int(2 * round(1.5 * h_all) + 1))
    ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 25)
    _, _, stats, centres = cv2.connectedComponentsWithStats(ink, connectivity=8)
    cx, cy = centres[:, 0], centres[:, 1]
    free = np.ones(len(stats), bool)
    free[0] = False  # the background
    for x0, y0, x1, y1 in (b.bbox for b in page.boxes + page.pending):  # unread boxes hold text too
        free &= ~((cx >= x0 - 2) & (cx <= x1 + 2) & (cy >= y0 - 2) & (cy <= y1 + 2))
    c, s = math.cos(-page.angle), math.sin(-page.angle)
    level = s * cx + c * cy  # de-tilted vertical position of each piece
    w, hh, area = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT], stats[:, cv2.CC_STAT_AREA]
    candidates: list[tuple[tuple[float, float, float, float], float]] = []
    for line in lines:
        yc, h = median(b.yc for b in line), median(b.height for b in line)
        pick = free & (np.abs(level - yc) <= 0.45 * h) & (hh >= 0.25 * h) & (hh <= 1.2 * h) & (w <= 3 * h) & (
            area >= 0.02 * h * h)
        pieces = sorted((float(stats[k, 0]), float(stats[k, 1]), float(stats[k, 0] + w[k]), float(stats[k, 1] + hh[k]))
                        for k in np.flatnonzero(pick))
        candidates += [(piece, h) for piece in _merge_pieces(pieces, 0.5 * h)]
    crops, kept = [], []
    for (x0, y0, x1, y1), h in candidates:
        pad = 0.35 * max(y1 - y0, 0.6 * h)
        ym = (y0 + y1) / 2
        a, b = int(max(0, x0 - pad)), int(min(gray.shape[1], x1 + pad))
        top, bottom = int(max(0, ym - 0.5 * h - pad)), int(min(gray.shape[0], ym + 0.5 * h + pad))
        if b - a >= 4 and bottom - top >= 4:
            crop = image[top:bottom, a:b, :3] if image.ndim == 3 else np.repeat(image[top:bottom, a:b, None], 3, 2)
            crops.append(np.ascontiguousarray(crop))
            kept.append(((x0, y0, x1, y1), h))
    found = []
    read = _recognise(engine, crops, [h for _, h in kept]) if crops else []
    for (bbox, h), (text, score) in zip(kept, read):
        text = _normalise(text)
        if text and score >= (0.6 if is_flag(text) or text.isdigit() else 0.8):
            box = TextBox(text, score, bbox, h=h)  # the line's height: a small "*" still joins its line
            _detilt(box, page.angle)
            found.append(box)
    return found


def _merge_pieces(pieces: list[BBox], gap: float) -> list[BBox]:
    """Pieces of ink on one line (sorted by x) joined when closer than ``gap``: one crop per short text."""
    merged: list[list[float]] = []
    for x0, y0, x1, y1 in pieces:
        if merged and x0 - merged[-1][2] <= gap:
            m = merged[-1]
            m[0], m[1], m[2], m[3] = min(m[0], x0), min(m[1], y0), max(m[2], x1), max(m[3], y1)
        else:
            merged.append([x0, y0, x1, y1])
    return [(a, b, c, d) for a, b, c, d in merged]
