"""Argument types shared by the command-line subcommands (argparse ``type=`` callables).

A bad value becomes argparse's usage error naming the flag, the value and what was expected.
"""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    """An integer > 0 (a count)."""
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """An integer ≥ 0 (a seed)."""
    return _int_at_least(text, 0, "an integer >= 0")


def _int_at_least(text: str, lowest: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected {expected}") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"got {value}, expected {expected}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (a time, a load factor, a tolerance)."""
    value = _float(text, "a number > 0")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a number > 0")
    return value


def share(text: str) -> float:
    """A number in (0, 1] (a share of requests)."""
    value = _float(text, "a number in (0, 1]")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a number in (0, 1]")
    return value


def _float(text: str, expected: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected {expected}") from None
