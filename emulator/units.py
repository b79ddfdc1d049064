"""Unit conversions used only at the edges (input files, CLI, printed tables).

Everything inside coinfer is SI and linear: watts, hertz, seconds, linear power ratios. These
helpers convert the decibel and prefixed forms that papers and datasheets use.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def db_to_linear(value_db: ArrayLike) -> np.ndarray | float:
    """Power ratio in dB to a linear ratio: ``10**(dB/10)``."""
    return np.power(10.0, np.asarray(value_db, dtype=float) / 10.0)


def linear_to_db(ratio: ArrayLike) -> np.ndarray | float:
    """Linear power ratio to dB: ``10·log10(ratio)``."""
    return 10.0 * np.log10(np.asarray(ratio, dtype=float))


def dbm_to_w(power_dbm: ArrayLike) -> np.ndarray | float:
    """Power in dBm to watts."""
    return np.power(10.0, (np.asarray(power_dbm, dtype=float) - 30.0) / 10.0)


def w_to_dbm(power_w: ArrayLike) -> np.ndarray | float:
    """Power in watts to dBm."""
    return 10.0 * np.log10(np.asarray(power_w, dtype=float)) + 30.0


def dbm_per_hz_to_w_per_hz(psd_dbm_per_hz: ArrayLike) -> np.ndarray | float:
    """Noise power spectral density in dBm/Hz to W/Hz (−174 dBm/Hz ≈ 3.98e-21 W/Hz)."""
    return dbm_to_w(psd_dbm_per_hz)
