"""Scenario fields of early exit and model placement (docs/early-exit-and-placement.md).

* :class:`EarlyExit` (a device group's ``exits``): exit heads attached to the group's model,
  given inline or read from a CSV file (``after_block,probability``);
* :class:`ModelCacheParams` (the scenario's ``model_cache``): which models each edge server
  holds in its memory, the placement policy that decides it (a member of the ``placement``
  plug-in family), and where a missing model is loaded from;
* :class:`ModelDownload` (a device group's ``download``): the device downloads the device side
  of its model over its cell's shared downlink before it first runs it.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from coinfer.emulator.errors import InputError
from coinfer.emulator.inputs import InputModel
from coinfer.emulator.model.profiles import ExitHead
from coinfer.emulator.scenario.paths import FILE
from coinfer.emulator.text_files import read_text_lines


class _Spec(InputModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EarlyExit(_Spec):
    """Early-exit heads of a device group's model: inline ``heads`` or a CSV ``file``."""

    heads: tuple[ExitHead, ...] = Field(
        default=(),
        description="exit heads in block order: after_block (1..L) and probability (the share "
        "of all requests that stop there; they add up to at most 1)",
    )
    file: str | None = Field(
        default=None,
        description="or: a CSV file with the columns after_block,probability (one row per "
        "head), relative to the scenario file",
        json_schema_extra=FILE,
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if bool(self.heads) == (self.file is not None):
            raise ValueError("give exactly one of heads and file")
        return self

    def read_heads(self, where: str) -> tuple[ExitHead, ...]:
        """The heads, inline or from the file; a bad file raises InputError naming ``where``
        (the scenario field), the file and the row."""
        if self.file is None:
            return self.heads
        return read_exit_file(Path(self.file), f"{where}.file")


def read_exit_file(path: Path, where: str) -> tuple[ExitHead, ...]:
    """Exit heads from a CSV file with a header ``after_block,probability`` (``#`` comments)."""
    what = f"{where}: file {str(path)!r}"
    if not path.is_file():
        raise InputError(f"{what} does not exist", path=where, value=str(path))
    lines = [
        line
        for line in read_text_lines(path, f"{where}: file")
        if line.strip() and not line.lstrip().startswith("#")
    ]
    rows = list(csv.DictReader(lines))
    expected = ["after_block", "probability"]
    if not rows or any(name not in rows[0] for name in expected):
        raise InputError(
            f"{what}: expected a header row with the columns {', '.join(expected)} and one row "
            "per exit head",
            path=where,
        )
    heads = []
    for number, row in enumerate(rows, start=2):
        block_text, probability_text = row["after_block"].strip(), row["probability"].strip()
        try:
            block, probability = int(block_text), float(probability_text)
        except ValueError:
            block, probability = 0, math.nan
        if block < 1 or not 0.0 <= probability <= 1.0:
            raise InputError(
                f"{what} row {number}: got after_block {block_text!r}, probability "
                f"{probability_text!r}; expected a block ≥ 1 and a probability in [0, 1]",
                path=where,
                value=f"{block_text},{probability_text}",
            )
        heads.append(ExitHead(after_block=block, probability=probability))
    return tuple(heads)


class ModelCacheParams(_Spec):
    """Which models an edge server holds, and how a missing one gets there.

    Every server of the scenario holds models in ``memory_bytes`` (default: its hardware
    class's memory); a request reaching a server that does not hold its model waits for it to
    load: ``latency_s + 8·bytes / bandwidth_bps`` seconds, ``bytes = parameters ×
    bytes_per_weight``. ``policy`` names the placement policy (a registered member of the
    ``placement`` family: ``static``, ``lru``, or a plug-in); a plug-in's ``Params`` extends
    this model.
    """

    policy: str = Field(
        default="lru",
        description="static: the preload set only, a missing model is loaded for each request "
        "and not kept; lru: load on a miss and keep it, evicting the least recently used models "
        "until it fits; or a registered plug-in",
    )
    memory_bytes: float | None = Field(
        default=None,
        gt=0,
        le=1e15,
        description="memory for weights on each server, B (default: its hardware class's)",
    )
    bytes_per_weight: float = Field(
        default=2.0, gt=0, le=8, description="stored bytes per weight (2: fp16; 0.5: 4-bit), B"
    )
    preload: tuple[str, ...] = Field(
        default=(),
        description="models every server holds at the start (names as in devices[].model), "
        "in order; they must fit in memory_bytes",
    )
    source: Literal["disk", "cloud"] = Field(
        default="disk",
        description="where a missing model comes from: the server's disk, or the cloud (with a "
        "topology: over the wired path to the nearest cloud node; without one: a path of "
        "bandwidth_bps and latency_s)",
    )
    bandwidth_bps: float = Field(
        default=16e9,
        gt=0,
        le=1e15,
        description="load bandwidth: disk read or the cloud path's bottleneck, bit/s "
        "(default 16 Gbit/s, 2 GB/s: an NVMe disk)",
    )
    latency_s: float = Field(
        default=0.0,
        ge=0,
        le=1e3,
        description="time before the first byte arrives (cloud: the path's latency), s",
    )


class ModelDownload(_Spec):
    """Devices download the device side of their model before running it on the device.

    Blocks ``1..l`` for split ``l`` (early exit: up to the exit), ``q(l) × bytes_per_weight``
    bytes, over the cell's downlink shared fairly among the cell's downloads in progress; a
    device keeps what it downloaded.
    """

    bytes_per_weight: float = Field(
        default=0.5, gt=0, le=8, description="bytes per weight of the download (0.5: 4-bit), B"
    )


def check_fits(
    server: str, memory_bytes: float, sizes: Mapping[str, float], params: ModelCacheParams
) -> None:
    """Refuse a server that could never hold one of its models, or its preload set."""
    for name, size in sizes.items():
        if size > memory_bytes:
            raise InputError(
                f"model_cache: model {name!r} needs {size:.4g} B on server {server!r}, which "
                f"has {memory_bytes:.4g} B for weights; expected a smaller bytes_per_weight or "
                "a larger memory_bytes",
                path="model_cache.memory_bytes",
                value=memory_bytes,
            )
    for name in params.preload:
        if name not in sizes:
            raise InputError(
                f"model_cache.preload: got {name!r}, expected one of the models of the "
                f"scenario's requests: {sorted(sizes)}",
                path="model_cache.preload",
                value=name,
            )
    total = sum(sizes[name] for name in params.preload)
    if total > memory_bytes:
        raise InputError(
            f"model_cache.preload: the preloaded models need {total:.4g} B on server "
            f"{server!r}, which has {memory_bytes:.4g} B; expected fewer models",
            path="model_cache.preload",
            value=list(params.preload),
        )
