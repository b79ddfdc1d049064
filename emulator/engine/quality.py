"""The trace's quality columns: what the quality model says of each request's decision.

``quality_metric``, ``quality_value`` and ``output_distortion`` (``docs/quality.md``) come from
:class:`~coinfer.emulator.model.quality.QualityModel` for every request whose model has a
quality table; a model without one leaves them empty (metric ``""``, NaN). A decision outside
the measured points keeps its metric with a NaN value (the quality model does not extrapolate).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.model.quality import DENSE_BITS, QualityModel

use_compiled(__name__, __file__)  # its compiled build, if built from this source

#: A transformer block of a profile (``layer.3``, ``block.7``); embeddings and heads are not.
_TRANSFORMER_BLOCK = re.compile(r"(layer|block)\.\d+")
_CACHE = 4096  # decisions remembered per run (constant for fixed decisions)
_NAN = math.nan
_EMPTY = (0, _NAN, _NAN)


def transformer_blocks_before(model: ModelProfile) -> list[int]:
    """Transformer blocks on the device at each split point ``0 … L`` of ``model``."""
    counts = [0]
    for block in model.blocks:
        counts.append(counts[-1] + bool(_TRANSFORMER_BLOCK.fullmatch(block.name)))
    return counts


class QualityColumns:
    """The quality columns of each trace row, remembered per (model, split, ρ, ρ̃)."""

    def __init__(self, quality: QualityModel | None, models: Iterable[str] = ()) -> None:
        self._quality = quality
        self._metrics: dict[str, int] = {"": 0}  # label -> code; 0: no data
        for model in models:  # every label up front: the writer takes them before the run
            for metric in () if quality is None else quality.metrics(model):
                self._metrics.setdefault(metric, len(self._metrics))
        self._blocks: dict[str, list[int] | None] = {}  # model -> blocks before each split
        self._cache: dict[tuple[str, int, float, float, int, int], tuple[int, float, float]] = {}

    def labels(self) -> list[str]:
        """Labels of ``quality_metric``, indexed by the codes in the rows."""
        return list(self._metrics)

    def of(
        self,
        model: ModelProfile,
        split: int,
        rho_device: float,
        rho_server: float,
        bits_device: int = 0,
        bits_server: int = 0,
    ) -> tuple[int, float, float]:
        """``(metric code, value, output distortion)`` of one decision (NaN: no data), its
        weights stored at ``bits_device`` and ``bits_server`` bits (0: the model's own)."""
        name = model.name
        if name not in self._blocks:
            known = self._quality is not None and name in self._quality
            self._blocks[name] = transformer_blocks_before(model) if known else None
        blocks = self._blocks[name]
        if blocks is None or self._quality is None:
            return _EMPTY  # no table for the model: nothing to remember
        key = (name, split, rho_device, rho_server, bits_device, bits_server)
        found = self._cache.get(key)
        if found is not None:
            return found
        own = min(int(model.weight_bits), DENSE_BITS)
        bits_d = min(bits_device, DENSE_BITS) if bits_device else own
        bits_s = min(bits_server, DENSE_BITS) if bits_server else own
        device_blocks = blocks[split]
        # an empty side keeps what it has (a decision may say 0 for it)
        kept_device = rho_device if device_blocks > 0 else 1.0
        kept_server = rho_server if device_blocks < blocks[-1] else 1.0
        if not (0.0 < kept_device <= 1.0 and 0.0 < kept_server <= 1.0):  # nothing measured
            metric = self._metrics[self._quality.metrics(name)[0]]
            found = (metric, _NAN, _NAN)
            self._cache[key] = found
            return found
        estimate = self._quality.estimate(
            model=name,
            kept_device=kept_device,
            kept_server=kept_server,
            device_blocks=device_blocks,
            weight_bits_device=bits_d,
            weight_bits_server=bits_s,
        )
        if estimate is None:
            found = _EMPTY
        else:
            distortion = estimate.output_distortion
            found = (
                self._metrics[estimate.metric],
                estimate.value,
                _NAN if distortion is None else distortion,
            )
        if len(self._cache) >= _CACHE:
            self._cache.clear()
        self._cache[key] = found
        return found
