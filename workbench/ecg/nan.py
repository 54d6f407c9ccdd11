"""Quiet NaN statistics: missing samples are expected (leads printed for part of a page), not a warning."""
from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


@contextmanager
def missing_ok() -> Iterator[None]:
    """Silence numpy's 'empty slice' / 'all-NaN' warnings and floating-point errors inside the block."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
