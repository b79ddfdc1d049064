"""Confidence intervals over independent replications (seeds), shared by comparisons and sweeps."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95  #: two-sided confidence level of every interval coinfer reports


def t_interval(values: Sequence[float] | np.ndarray) -> tuple[float, float, int]:
    """``(mean, half-width, n)`` of the 95 % Student-t interval of the finite-or-inf values.

    NaN values are dropped; ``n`` counts the rest. Half-width NaN for ``n < 2``.
    """
    array = np.asarray(values, dtype=float)
    array = array[~np.isnan(array)]
    n = len(array)
    if n == 0:
        return float("nan"), float("nan"), 0
    mean = float(array.mean())
    if n < 2:
        return mean, float("nan"), n
    with np.errstate(invalid="ignore"):  # an infinite value has no spread: NaN
        spread = float(array.std(ddof=1))
    quantile = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1))
    return mean, quantile * spread / math.sqrt(n), n
