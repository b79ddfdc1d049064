"""Argument types shared by the command-line subcommands (argparse ``type=`` callables).

A bad value becomes argparse's usage error naming the flag, the value and what was expected.
"""

from __future__ import annotations

import argparse


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
