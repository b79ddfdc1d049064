"""The quality model: task quality of a compacted model from measured or published points.

:meth:`QualityModel.estimate` maps a decision (kept fraction and weight bits per side, the split
and the pruning method) to the task metric and the relative output distortion. It never invents
data (``docs/quality.md``):

* A query that is a point of a table returns that point exactly.
* Otherwise the estimate is composed from one-dimensional curves of the same table, in the
  log of the metric:

  ``log v = log v0 + Δprune + Δquant`` with ``Δ = Δdevice + Δserver``,

  where ``v0`` is the unpruned, unquantized point. A uniform treatment of the whole model reads
  the whole-model curve of its method (or weight format). A split treatment adds the device-side
  damage of the first ``device_blocks`` blocks and the server-side damage of the others, each
  read from the side-only curves measured at that split; between measured splits it is linear
  in ``device_blocks``, anchored at 0 (no device side: no device damage, the server side is the
  whole model) and at the number of blocks (the reverse). A table without side-only
  measurements does not say how damage splits between the sides: a split query that treats
  the sides differently is then not in range. Whether damage does add up is
  measured, not assumed: ``docs/quality.md`` reports the error of this rule at the measured
  mixed points. The output distortion is given only where one compaction (one side, pruning
  or quantization) is at work, read from its curve: the measurements show that it does not add
  up in any simple way, so a composed estimate has none.
* Along a curve the interpolation is monotone: a PCHIP (``scipy.interpolate.PchipInterpolator``)
  through the measured points (straight lines when a curve has two), which never leaves the
  range of its two neighbouring points.
* A query outside the measured points (a kept fraction below the smallest measured one, a bit
  width below the smallest, a method or split layout that the table has no curve for) is not
  extrapolated: the estimate says ``in_range=False`` with ``value = nan``.
"""

from __future__ import annotations

import bisect
import contextlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.interpolate import PchipInterpolator

from coinfer.emulator.errors import InputError, unknown_name_error
from coinfer.emulator.model.quality.tables import (
    DENSE_BITS,
    QualityPoint,
    QualityTable,
    read_quality_table,
)

#: The quality tables shipped with coinfer, in the order the quality model prefers them.
SHIPPED_TABLES = (
    "smollm2-135m-calibration",
    "wanda-llama2-wikitext",
    "efficientqat-model-zoo",
    "llamacpp-llama-wikitext",
    "distilbert-glue",
)

TABLES_DIR = Path(__file__).parent / "tables"


@dataclass(frozen=True)
class QualityEstimate:
    """The task quality of one decision, with where it comes from."""

    metric: str  #: the task metric, e.g. "wikitext2_perplexity"
    value: float  #: the metric at this decision (nan when not in range)
    output_distortion: float | None  #: relative output (logit) distortion, if the source has it
    in_range: bool  #: False when the query lies outside the measured points (no extrapolation)
    source: str  #: the table id


@dataclass(frozen=True)
class _Query:
    """A decision in canonical form: ``device_blocks`` None means uniform over the model."""

    device_blocks: int | None
    kept_device: float
    kept_server: float
    bits_device: int
    bits_server: int


#: The decision that compacts nothing.
_DENSE = _Query(None, 1.0, 1.0, DENSE_BITS, DENSE_BITS)


class _Curve:
    """A monotone (PCHIP) curve of ``log value`` and ``distortion²`` over one variable.

    scipy builds the piecewise cubics (``PchipInterpolator``: Fritsch–Carlson slopes); they
    are evaluated here in plain Python (a scipy call per estimate costs far more).
    """

    def __init__(self, xs: Sequence[float], points: Sequence[QualityPoint]) -> None:
        order = np.argsort(xs)
        self.x: list[float] = [float(v) for v in np.asarray(xs, dtype=float)[order]]
        self.log_value = [math.log(points[i].value) for i in order]
        distortions = [points[i].output_distortion for i in order]
        self.distortion2 = [0.0 if d is None else d * d for d in distortions]
        self._value = self._cubics(self.log_value)
        self._distortion = self._cubics(self.distortion2)

    def _cubics(self, y: list[float]) -> list[tuple[float, float, float, float]]:
        """Per interval ``[x_i, x_i+1]``, the coefficients of ``Σ c_j·(x − x_i)^(3−j)``."""
        if len(self.x) < 2:
            return []
        c = PchipInterpolator(self.x, y).c
        return [tuple(float(v) for v in c[:, i]) for i in range(c.shape[1])]  # type: ignore[misc]

    def covers(self, x: float) -> bool:
        return self.x[0] <= x <= self.x[-1]

    def at(self, x: float) -> tuple[float, float]:
        """``(log value, distortion²)`` at ``x`` (exact at a measured point)."""
        i = bisect.bisect_left(self.x, x)
        if i < len(self.x) and self.x[i] == x:
            return self.log_value[i], self.distortion2[i]
        i -= 1  # x lies inside interval i
        t = x - self.x[i]
        a0, a1, a2, a3 = self._value[i]
        b0, b1, b2, b3 = self._distortion[i]
        return ((a0 * t + a1) * t + a2) * t + a3, ((b0 * t + b1) * t + b2) * t + b3


class _NotCoveredError(Exception):
    """The query needs a curve or a range that the table does not have."""


@dataclass
class _Damage:
    log_value: float = 0.0
    distortion2: float = 0.0
    parts: int = 0  #: compactions that contributed (pruning or quantization of a side)

    def add(self, other: tuple[float, float], active: bool) -> None:
        self.log_value += other[0]
        self.distortion2 += other[1]
        self.parts += active


class _Surface:
    """The points of one model and metric in one table, and the curves through them."""

    def __init__(self, table: QualityTable, model: str, metric: str) -> None:
        self.table = table
        self.model = model
        self.metric = metric
        self.blocks = table.blocks.get(model)
        self.points = [p for p in table.points if p.model == model and p.metric == metric]
        #: each point's decision in canonical form, and the points at each decision
        self.queries = [_canonical(_point_query(p), self.blocks) for p in self.points]
        self._at: dict[_Query, list[QualityPoint]] = {}
        for p, q in zip(self.points, self.queries, strict=True):
            self._at.setdefault(q, []).append(p)
        dense = self._at.get(_DENSE, [])
        self.dense = dense[0] if dense else None
        self._curves: dict[tuple[str, str, int | None, str, str | None], _Curve | None] = {}
        self._splits: dict[tuple[str, str, str | None], list[int]] = {}

    # -- exact points ---------------------------------------------------------------------

    def exact(self, query: _Query, method: str, quantization: str | None) -> QualityPoint | None:
        """The table point at ``query`` (the worst one when several weight formats match)."""
        matches = [
            p
            for p in self._at.get(query, ())
            if (p.method == method or min(query.kept_device, query.kept_server) == 1.0)
            and (quantization is None or p.quantization in ("", quantization))
        ]
        if not matches:
            return None
        return max(matches, key=self._badness)

    def _badness(self, p: QualityPoint) -> float:
        return p.value if self.table.better[self.metric] == "lower" else -p.value

    # -- curves ---------------------------------------------------------------------------

    def curve(
        self, kind: str, side: str, split: int | None, method: str, quantization: str | None
    ) -> _Curve | None:
        """The curve of ``kind`` (``prune`` over kept, ``quant`` over bits) for one side.

        ``side`` is ``whole``, ``device`` or ``server``; ``split`` the device blocks of a side
        curve. The dense point closes every curve (kept 1, or 16 bits).
        """
        key = (kind, side, split, method, quantization)
        if key not in self._curves:
            self._curves[key] = self._new_curve(kind, side, split, method, quantization)
        return self._curves[key]

    def _new_curve(
        self, kind: str, side: str, split: int | None, method: str, quantization: str | None
    ) -> _Curve | None:
        if self.dense is None:
            return None

        def x_of(q: _Query) -> float | None:
            if kind == "prune":
                if q.bits_device != DENSE_BITS or q.bits_server != DENSE_BITS:
                    return None
                return _side_value(q, side, split, q.kept_device, q.kept_server, 1.0)
            if q.kept_device != 1.0 or q.kept_server != 1.0:
                return None
            value = _side_value(q, side, split, q.bits_device, q.bits_server, DENSE_BITS)
            return None if value is None else float(value)

        def keep(p: QualityPoint) -> bool:
            if kind == "prune":
                return p.method == method
            return quantization is None or p.quantization == quantization

        chosen: dict[float, QualityPoint] = {}
        for p, q in zip(self.points, self.queries, strict=True):
            if p is self.dense or not keep(p):
                continue
            x = x_of(q)
            if x is None:
                continue
            if x not in chosen or self._badness(p) > self._badness(chosen[x]):
                chosen[x] = p
        if not chosen:
            return None
        anchor = 1.0 if kind == "prune" else float(DENSE_BITS)
        return _Curve([*chosen, anchor], [*chosen.values(), self.dense])

    def splits(self, kind: str, method: str, quantization: str | None) -> list[int]:
        """The device-block counts at which side curves of ``kind`` were measured."""
        key = (kind, method, quantization)
        if key not in self._splits:
            self._splits[key] = self._find_splits(kind, method, quantization)
        return self._splits[key]

    def _find_splits(self, kind: str, method: str, quantization: str | None) -> list[int]:
        found = set()
        for p, q in zip(self.points, self.queries, strict=True):
            if q.device_blocks is None:
                continue
            if kind == "prune" and p.method == method and q.bits_device == q.bits_server == 16:
                found.add(q.device_blocks)
            same_format = quantization is None or p.quantization == quantization
            if kind == "quant" and q.kept_device == q.kept_server == 1.0 and same_format:
                found.add(q.device_blocks)
        return sorted(found)

    # -- composition ----------------------------------------------------------------------

    def compose(self, query: _Query, method: str, quantization: str | None) -> _Damage:
        """``log v − log v0`` and ``distortion²`` of ``query`` by the documented rule."""
        damage = _Damage()
        pruned = (query.kept_device < 1.0, query.kept_server < 1.0)
        quantized = (query.bits_device < DENSE_BITS, query.bits_server < DENSE_BITS)
        for kind, active in (("prune", pruned), ("quant", quantized)):
            if query.device_blocks is None:
                x = query.kept_device if kind == "prune" else float(query.bits_device)
                damage.add(self._whole(kind, x, method, quantization), active[0])
                continue
            for side, on in zip(("device", "server"), active, strict=True):
                damage.add(self._side(kind, side, query, method, quantization), on)
        return damage

    def _whole(
        self, kind: str, x: float, method: str, quantization: str | None
    ) -> tuple[float, float]:
        if x == (1.0 if kind == "prune" else DENSE_BITS):
            return 0.0, 0.0
        curve = self.curve(kind, "whole", None, method, quantization)
        if curve is None or not curve.covers(x):
            raise _NotCoveredError
        log_value, distortion2 = curve.at(x)
        assert self.dense is not None
        return log_value - math.log(self.dense.value), distortion2

    def _side(
        self, kind: str, side: str, query: _Query, method: str, quantization: str | None
    ) -> tuple[float, float]:
        if kind == "prune":
            x = query.kept_device if side == "device" else query.kept_server
            untouched = x == 1.0
        else:
            x = float(query.bits_device if side == "device" else query.bits_server)
            untouched = x == DENSE_BITS
        if untouched:
            return 0.0, 0.0
        k = query.device_blocks
        assert k is not None
        known: dict[int, tuple[float, float]] = {}
        measured = self.splits(kind, method, quantization)
        for split in measured:
            value = self._side_at(kind, side, split, x, method, quantization)
            if value is not None:
                known[split] = value
        if not known:  # no side-only measurement: how damage splits is unknown
            raise _NotCoveredError
        # no device side: device damage 0, server damage = the whole model's (and the reverse)
        ends = {0: side == "server", self.blocks: side == "device"}
        for end, is_whole in ends.items():
            if end is None:
                continue
            if not is_whole:
                known[end] = (0.0, 0.0)
                continue
            with contextlib.suppress(_NotCoveredError):
                known[end] = self._whole(kind, x, method, quantization)
        below = [s for s in known if s <= k]
        above = [s for s in known if s >= k]
        if not below or not above:
            raise _NotCoveredError
        lo, hi = max(below), min(above)
        if lo == hi:
            return known[lo]
        t = (k - lo) / (hi - lo)
        a, b = known[lo], known[hi]
        return (1 - t) * a[0] + t * b[0], (1 - t) * a[1] + t * b[1]

    def _side_at(
        self, kind: str, side: str, split: int, x: float, method: str, quantization: str | None
    ) -> tuple[float, float] | None:
        curve = self.curve(kind, side, split, method, quantization)
        if curve is None or not curve.covers(x):
            return None
        log_value, distortion2 = curve.at(x)
        assert self.dense is not None
        return log_value - math.log(self.dense.value), distortion2


def _side_value(
    q: _Query, side: str, split: int | None, device: float, server: float, untouched: float
) -> float | None:
    """The x of a point on the ``side`` curve at ``split``, None when it is not on it."""
    if side == "whole":
        return device if q.device_blocks is None else None
    if q.device_blocks != split:
        return None
    if side == "device":
        return device if server == untouched and device != untouched else None
    return server if device == untouched and server != untouched else None


def _point_query(p: QualityPoint) -> _Query:
    return _Query(
        p.device_blocks, p.kept_device, p.kept_server, p.weight_bits_device, p.weight_bits_server
    )


def _canonical(q: _Query, blocks: int | None) -> _Query:
    """One form per decision: a split that treats both sides alike, or leaves a side empty,
    is the uniform treatment of the whole model."""
    k = q.device_blocks
    if k is None:
        return q
    if k == 0:
        return _Query(None, q.kept_server, q.kept_server, q.bits_server, q.bits_server)
    if blocks is not None and k >= blocks:
        return _Query(None, q.kept_device, q.kept_device, q.bits_device, q.bits_device)
    if q.kept_device == q.kept_server and q.bits_device == q.bits_server:
        return _Query(None, q.kept_device, q.kept_device, q.bits_device, q.bits_device)
    return q


class QualityModel:
    """Task quality of compacted models from quality tables (see the module for the rules).

    Tables earlier in the list are preferred: for each model the first table whose points cover
    a query answers it (the unpruned point of the first table that has the model answers a
    query that compacts nothing).
    """

    def __init__(self, tables: Iterable[QualityTable]) -> None:
        self._tables = tuple(tables)
        ids = [t.id for t in self._tables]
        for table_id in ids:
            if ids.count(table_id) > 1:
                raise InputError(
                    f"quality tables: table id {table_id!r} appears twice, expected unique ids",
                    path="id",
                    value=table_id,
                    expected="unique table ids",
                )
        self._surfaces: dict[str, list[_Surface]] = {}
        for table in self._tables:
            for model in table.models():
                metrics = dict.fromkeys(p.metric for p in table.points if p.model == model)
                for metric in metrics:
                    self._surfaces.setdefault(model, []).append(_Surface(table, model, metric))

    @property
    def tables(self) -> tuple[QualityTable, ...]:
        """The tables, in order of preference."""
        return self._tables

    def models(self) -> list[str]:
        """The models that some table has data for."""
        return list(self._surfaces)

    def metrics(self, model: str) -> list[str]:
        """The metrics that estimates of ``model`` may name (none without data)."""
        return list(dict.fromkeys(s.metric for s in self._surfaces.get(model, ())))

    def __contains__(self, model: object) -> bool:
        return model in self._surfaces

    def estimate(
        self,
        *,
        model: str,
        kept_device: float,
        kept_server: float,
        device_blocks: int,
        weight_bits_device: int,
        weight_bits_server: int,
        method: str = "magnitude",
        quantization: str | None = None,
        source: str | None = None,
    ) -> QualityEstimate | None:
        """The quality of ``model`` at one decision; None when no table has the model.

        ``kept_*`` are the kept fractions in (0, 1], ``device_blocks`` the transformer blocks on
        the device (the first ones), ``weight_bits_*`` the bits per weight (16: unquantized),
        ``method`` the pruning method. Optional: ``quantization`` picks one weight format of a
        table that has several at a bit width (default: the worst of them), ``source`` one table
        by id.
        """
        _check_fraction("kept_device", kept_device)
        _check_fraction("kept_server", kept_server)
        _check_bits("weight_bits_device", weight_bits_device)
        _check_bits("weight_bits_server", weight_bits_server)
        if isinstance(device_blocks, bool) or not isinstance(device_blocks, int | np.integer):
            raise _bad("device_blocks", device_blocks, "a non-negative integer")
        if device_blocks < 0:
            raise _bad("device_blocks", device_blocks, "a non-negative integer")
        surfaces = self._surfaces.get(model)
        if surfaces is None:
            return None
        if source is not None:
            surfaces = [s for s in surfaces if s.table.id == source]
            if not surfaces:
                ids = [s.table.id for s in self._surfaces[model]]
                raise unknown_name_error(f"quality table for model {model!r}", source, ids)
        first: tuple[_Surface, _Query] | None = None
        for surface in surfaces:
            query = _canonical(
                _Query(
                    int(device_blocks),
                    float(kept_device),
                    float(kept_server),
                    int(weight_bits_device),
                    int(weight_bits_server),
                ),
                surface.blocks,
            )
            first = first or (surface, query)
            point = surface.exact(query, method, quantization)
            if point is not None:
                return QualityEstimate(
                    surface.metric, point.value, point.output_distortion, True, surface.table.id
                )
            if surface.dense is None:
                continue
            try:
                damage = surface.compose(query, method, quantization)
            except _NotCoveredError:
                continue
            # output distortion does not add up (docs/quality.md): only along one curve
            has_distortion = (
                damage.parts <= 1
                and surface.dense.output_distortion is not None
                and all(p.output_distortion is not None for p in surface.points)
            )
            return QualityEstimate(
                surface.metric,
                math.exp(math.log(surface.dense.value) + damage.log_value),
                math.sqrt(max(damage.distortion2, 0.0)) if has_distortion else None,
                True,
                surface.table.id,
            )
        assert first is not None
        return QualityEstimate(first[0].metric, math.nan, None, False, first[0].table.id)


def shipped_table_paths() -> list[Path]:
    """The CSV files of the shipped quality tables, in order of preference."""
    return [TABLES_DIR / f"{name}.csv" for name in SHIPPED_TABLES]


def load_quality_model(paths: Sequence[Path] | None = None) -> QualityModel:
    """The quality model of the tables at ``paths`` (default: the shipped tables)."""
    chosen = shipped_table_paths() if paths is None else [Path(p) for p in paths]
    return QualityModel(read_quality_table(p) for p in chosen)


def _bad(name: str, value: object, expected: str) -> InputError:
    return InputError(
        f"{name}: got {value!r}, expected {expected}", path=name, value=value, expected=expected
    )


def _check_fraction(name: str, value: float) -> None:
    if not (isinstance(value, int | float | np.floating) and 0.0 < float(value) <= 1.0):
        raise _bad(name, value, "a kept fraction in (0, 1]")


def _check_bits(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise _bad(name, value, f"an integer number of bits from 1 to {DENSE_BITS}")
    if not 1 <= int(value) <= DENSE_BITS:
        raise _bad(name, value, f"an integer number of bits from 1 to {DENSE_BITS}")
