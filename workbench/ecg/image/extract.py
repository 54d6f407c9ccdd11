"""Following one trace through its row of the trace mask, column by column.

Each pixel column offers a few candidate ink runs (its own trace, a neighbouring lead's tall QRS that
reaches into the row, text remnants). The path is chosen by dynamic programming (Viterbi): stay
continuous with the previous column, and prefer the row's own baseline, with a gap state that bridges
columns where the ink was lost (grid crossings). Within a column a tall run means the trace travelled
vertically there, so the column contributes its entry and exit points and QRS peaks are kept.
"""
from __future__ import annotations

import numpy as np

_GAP_COST = 6.0  # per column without ink, in pixels of jump
_BASELINE_WEIGHT = 0.02  # cost per pixel of distance from the row's baseline


_MAX_CANDIDATES = 6  # ink runs per column kept (nearest the baseline); more is grid debris or text


def _column_runs(mask: np.ndarray) -> list[np.ndarray]:
    """Per column, the ink runs as an (n, 2) array of inclusive (top, bottom) rows, found for all columns at once."""
    padded = np.zeros((mask.shape[0] + 2, mask.shape[1]), dtype=np.int8)
    padded[1:-1] = mask
    edges = np.diff(padded, axis=0)
    start_rows, start_cols = np.nonzero(edges.T == 1)  # sorted by column, then row
    stop_rows = np.nonzero(edges.T == -1)[1] - 1
    bounds = np.searchsorted(start_rows, np.arange(mask.shape[1] + 1))
    runs = np.column_stack([start_cols, stop_rows])
    return [runs[bounds[x]: bounds[x + 1]] for x in range(mask.shape[1])]


def follow_trace(mask: np.ndarray, baseline: float, *, max_jump_px: float, stroke_px: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Trace of one row band ``mask`` (rows x columns, bool) as (x, y) points in band coordinates.

    Returns x (float, two points per inked column: entry and exit) and y; columns bridged by the gap
    state give no points (the caller interpolates over short gaps).
    """
    n_cols = mask.shape[1]
    big = 1e12
    # state 0 = gap (remembering the last run); states 1.. = this column's runs
    cost = np.zeros(1)
    memory = np.full((1, 2), np.nan)  # the run each state stands on (gap: the last one seen)
    back: list[np.ndarray] = []
    runs_per_col: list[np.ndarray] = []
    for runs in _column_runs(mask):
        if len(runs) > _MAX_CANDIDATES:
            centres = runs.mean(axis=1)
            runs = runs[np.sort(np.argsort(np.abs(centres - baseline))[:_MAX_CANDIDATES])]
        runs_per_col.append(runs)
        k = int(np.argmin(cost))
        gap_cost, gap_memory = cost[k] + _GAP_COST, memory[k]
        if len(runs):
            top, bottom = runs[:, 0][:, None].astype(float), runs[:, 1][:, None].astype(float)
            prev_top, prev_bottom = memory[:, 0][None, :], memory[:, 1][None, :]
            jump = np.maximum(0.0, np.maximum(prev_top - bottom - 1, top - prev_bottom - 1))
            jump = np.where(np.isnan(jump), 0.0, jump)  # nothing seen yet: free start
            total = cost[None, :] + jump + _BASELINE_WEIGHT * np.abs(0.5 * (top + bottom) - baseline)
            total[jump > max_jump_px] = big
            best = np.argmin(total, axis=1)
            run_cost = total[np.arange(len(runs)), best]
        else:
            best, run_cost = np.zeros(0, dtype=int), np.zeros(0)
        back.append(np.concatenate([[k], best]))
        cost = np.concatenate([[gap_cost], run_cost])
        memory = np.vstack([gap_memory[None, :], runs.astype(float)]) if len(runs) else gap_memory[None, :]
    chosen: list[tuple[int, int] | None] = [None] * n_cols
    state = int(np.argmin(cost))
    for x in range(n_cols - 1, -1, -1):
        chosen[x] = tuple(runs_per_col[x][state - 1]) if state > 0 else None
        state = int(back[x][state])
    return _column_points(chosen, stroke_px)


def _column_points(chosen: list[tuple[int, int] | None], stroke_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Two points per column: where the pen enters (continuing from the previous column) and where it
    leaves (towards the next column's run). A thick pen makes neighbouring columns' runs overlap, so the
    entry is the previous exit clamped into this run, not simply one of the run's ends."""
    xs: list[float] = []
    ys: list[float] = []
    previous_exit: float | None = None
    half = 0.5 * stroke_px
    for x, run in enumerate(chosen):
        if run is None:
            previous_exit = None
            continue
        top, bottom = float(run[0]) + half, float(run[1]) - half  # pen centre line, not the ink edge
        if bottom <= top:
            top = bottom = 0.5 * (run[0] + run[1])
        centre = 0.5 * (top + bottom)
        entry = centre if previous_exit is None else float(np.clip(previous_exit, top, bottom))
        following = chosen[x + 1] if x + 1 < len(chosen) else None
        if following is None:
            exit_ = centre if previous_exit is None else (bottom if entry <= centre else top)
        else:
            exit_ = bottom if 0.5 * (following[0] + following[1]) > centre else top
        if bottom - top < stroke_px:  # a flat stretch: one level
            entry = exit_ = centre
        xs += [x - 0.25, x + 0.25]
        ys += [entry, exit_]
        previous_exit = exit_
    return np.asarray(xs), np.asarray(ys)
