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


def _runs(column: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.r_[0, column.astype(np.int8), 0]))
    return list(zip(edges[::2], edges[1::2] - 1))  # inclusive (top, bottom)


def _gap(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Vertical distance between two runs (0 when they touch or overlap)."""
    return float(max(0, b[0] - a[1] - 1, a[0] - b[1] - 1))


def follow_trace(mask: np.ndarray, baseline: float, *, max_jump_px: float, stroke_px: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Trace of one row band ``mask`` (rows x columns, bool) as (x, y) points in band coordinates.

    Returns x (float, two points per inked column: entry and exit) and y; columns bridged by the gap
    state give no points (the caller interpolates over short gaps).
    """
    n_cols = mask.shape[1]
    candidates = [_runs(mask[:, x]) for x in range(n_cols)]
    big = 1e12
    # state 0 = gap, states 1.. = runs of that column
    cost = [np.zeros(1)]
    back: list[np.ndarray] = [np.zeros(1, dtype=int)]
    last_run: list[list[tuple[int, int] | None]] = [[None]]
    for x in range(n_cols):
        runs = candidates[x]
        prev_cost, prev_runs = cost[-1], last_run[-1]
        new_cost = np.full(len(runs) + 1, big)
        new_back = np.zeros(len(runs) + 1, dtype=int)
        new_runs: list[tuple[int, int] | None] = [None] * (len(runs) + 1)
        # gap: keep the previous run in memory
        k = int(np.argmin(prev_cost))
        new_cost[0], new_back[0], new_runs[0] = prev_cost[k] + _GAP_COST, k, prev_runs[k]
        for i, run in enumerate(runs, start=1):
            centre = 0.5 * (run[0] + run[1])
            prior = _BASELINE_WEIGHT * abs(centre - baseline)
            for j, prev in enumerate(prev_runs):
                jump = 0.0 if prev is None else _gap(prev, run)
                if jump > max_jump_px:
                    continue
                c = prev_cost[j] + jump + prior
                if c < new_cost[i]:
                    new_cost[i], new_back[i] = c, j
            new_runs[i] = run
        cost.append(new_cost)
        back.append(new_back)
        last_run.append(new_runs)
    # backtrack
    state = int(np.argmin(cost[-1]))
    chosen: list[tuple[int, int] | None] = [None] * n_cols
    for x in range(n_cols, 0, -1):
        chosen[x - 1] = last_run[x][state] if state > 0 else None
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
