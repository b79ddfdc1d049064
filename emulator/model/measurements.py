"""Measured tables shipped with the package: SmolLM2-135M's speculative rounds and exit layers.

``examples/calibration/smollm2_speculation_exits.py`` measured them with the real model on a
CPU; each file has a provenance sidecar beside it (``*.provenance.json``: model file and hash,
prompts, settings, confidence intervals, versions). The files live in the folder
:data:`MEASURED_DIR` (``coinfer/emulator/model/measured/`` once installed):

* ``smollm2-135m-int{4,8}-g128.rounds.csv``: speculative sampling rounds (``γ = 4``,
  temperature 1) of SmolLM2-135M drafting for itself with its projection weights fake-quantized
  to INT4 or INT8 (round-to-nearest, groups of 128); columns ``prompt`` (which prompt the round
  belongs to) and ``tokens_per_round`` (accepted drafts + 1). The column a scenario's
  ``speculative.tokens_per_round`` reads (``docs/edge-llm.md``).
* ``smollm2-135m-calm-{λ}.csv``: the block after which a generated token exits when it leaves
  at the first layer whose softmax confidence reaches ``λ`` (CALM-style, the model's own final
  norm and head on every layer); columns ``after_block`` (1..30) and ``probability`` (adding up
  to 1; block 30 is the full model). The format of a device group's ``exits: {file: ...}``
  (``docs/early-exit-and-placement.md``).

Lines starting with ``#`` are comments. SI units; probabilities are shares of tokens or rounds.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from coinfer.emulator.model.profiles import ExitHead
from coinfer.emulator.text_files import read_text_lines

#: The folder of the measured tables.
MEASURED_DIR = Path(__file__).with_name("measured")
#: Weight bits of the measured quantized drafts.
DRAFT_BITS = (4, 8)
#: Confidence thresholds of the measured exit distributions.
EXIT_THRESHOLDS = (0.8, 0.9, 0.95, 0.99)


def rounds_path(bits: int) -> Path:
    """The speculative rounds of SmolLM2-135M drafting for itself at ``bits`` weight bits."""
    if bits not in DRAFT_BITS:
        raise ValueError(f"bits: got {bits!r}, expected one of {DRAFT_BITS}")
    return MEASURED_DIR / f"smollm2-135m-int{bits}-g128.rounds.csv"


def exits_path(threshold: float) -> Path:
    """The exit-block distribution of SmolLM2-135M at the confidence threshold ``threshold``."""
    if threshold not in EXIT_THRESHOLDS:
        raise ValueError(f"threshold: got {threshold!r}, expected one of {EXIT_THRESHOLDS}")
    return MEASURED_DIR / f"smollm2-135m-calm-{threshold:g}.csv"


def provenance(path: Path) -> dict[str, Any]:
    """The provenance sidecar of a measured table (``NAME.provenance.json`` beside it; the
    exit tables of all thresholds share ``smollm2-135m-calm.provenance.json``)."""
    stem = path.name.removesuffix(".csv").removesuffix(".rounds")
    if stem.startswith("smollm2-135m-calm-"):
        stem = "smollm2-135m-calm"
    data: dict[str, Any] = json.loads((MEASURED_DIR / f"{stem}.provenance.json").read_text())
    return data


def _rows(path: Path) -> list[dict[str, str]]:
    lines = [line for line in read_text_lines(path, str(path)) if not line.startswith("#")]
    return list(csv.DictReader(lines))


def read_rounds(bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The measured rounds at ``bits`` weight bits: each round's prompt index and its tokens
    (accepted drafts + 1)."""
    rows = _rows(rounds_path(bits))
    prompts = np.array([int(row["prompt"]) for row in rows], dtype=np.int64)
    tokens = np.array([int(row["tokens_per_round"]) for row in rows], dtype=np.int64)
    return prompts, tokens


def read_exit_heads(threshold: float) -> tuple[ExitHead, ...]:
    """The measured exit distribution at ``threshold`` as exit heads, blocks 1..30 (block 30:
    the tokens that ran the whole model)."""
    return tuple(
        ExitHead(after_block=int(row["after_block"]), probability=float(row["probability"]))
        for row in _rows(exits_path(threshold))
    )
