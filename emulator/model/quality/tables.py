"""Quality tables: measured or published task quality of a compacted model, one CSV per source.

A quality table is a CSV file with one row per measured point and a provenance sidecar next to it
(``NAME.csv`` and ``NAME.provenance.json``); ``docs/quality.md`` documents both. Columns, in any
order (other columns are kept as ``extra`` and ignored by the quality model):

* ``model``: the catalog name of the model (``llama-2-7b``);
* ``metric``: the task metric (``wikitext2_perplexity``); its direction is in the sidecar;
* ``method``: the pruning method (``magnitude``, ``wanda``, ``sparsegpt``, ``wanda-2:4`` …);
  blank where nothing is pruned (``kept_device = kept_server = 1``);
* ``quantization``: the weight format (``q4_0``, ``w4g128``, ``rtn-per-channel`` …); blank at
  16 bits;
* ``device_blocks``: transformer blocks on the device side (the first ones); blank when the
  same treatment applies to the whole model (then ``kept_device = kept_server`` and
  ``weight_bits_device = weight_bits_server``);
* ``kept_device``, ``kept_server``: fraction of each side's weights kept, in (0, 1];
* ``weight_bits_device``, ``weight_bits_server``: bits per weight of each side, 16 = unquantized;
* ``value``: the metric at that point, a positive number (perplexity, a score);
* ``output_distortion``: relative output (logit) distortion against the unpruned model,
  ``||L − L0||_F / ||L0||_F``; blank when the source does not give it.

The sidecar (JSON) names the source: ``id``, ``source`` (citation), ``table`` (which table of
it), ``license``, ``metrics`` (``{name: {"better": "lower" | "higher", "description": …}}``)
and optionally ``blocks`` (``{model: number of transformer blocks}``) and free-form fields.

Reading refuses a malformed table before any work with an InputError naming the file, the row,
the column, the value and what was expected.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coinfer.emulator.errors import InputError
from coinfer.emulator.text_files import read_text

#: Bits per weight of an unquantized side (the float model).
DENSE_BITS = 16

REQUIRED_COLUMNS = (
    "model",
    "metric",
    "method",
    "quantization",
    "device_blocks",
    "kept_device",
    "kept_server",
    "weight_bits_device",
    "weight_bits_server",
    "value",
    "output_distortion",
)

SIDECAR_FIELDS = ("id", "source", "table", "license", "metrics")


@dataclass(frozen=True)
class QualityPoint:
    """One row of a quality table (see the module for the meaning of each field)."""

    model: str
    metric: str
    method: str  #: pruning method; "" where nothing is pruned
    quantization: str  #: weight format; "" at 16 bits
    device_blocks: int | None  #: None: the same treatment on the whole model
    kept_device: float  #: fraction of the device side's weights kept
    kept_server: float  #: fraction of the server side's weights kept
    weight_bits_device: int  #: bits per device-side weight (16: unquantized)
    weight_bits_server: int  #: bits per server-side weight (16: unquantized)
    value: float  #: the metric at this point
    output_distortion: float | None  #: relative logit distortion, if measured
    extra: Mapping[str, str] = field(default_factory=dict)  #: other columns, as text


@dataclass(frozen=True)
class QualityTable:
    """A quality table and its provenance: the points of one source."""

    id: str  #: table id (the sidecar's ``id``), cited in every estimate
    source: str  #: citation
    table: str  #: which table of the source
    license: str
    better: Mapping[str, str]  #: metric name -> "lower" or "higher"
    blocks: Mapping[str, int]  #: model -> transformer blocks (may be empty)
    points: tuple[QualityPoint, ...]
    provenance: Mapping[str, Any]  #: the whole sidecar
    path: str = ""  #: the CSV file read ("" when built in Python)

    def models(self) -> list[str]:
        """The models of the table, in order of first appearance."""
        return list(dict.fromkeys(p.model for p in self.points))


def sidecar_path(csv_path: Path) -> Path:
    """``NAME.provenance.json`` next to ``NAME.csv``."""
    return csv_path.with_name(csv_path.name.removesuffix(".csv") + ".provenance.json")


def read_quality_table(path: str | Path) -> QualityTable:
    """Read a quality table and its provenance sidecar (both refused when malformed)."""
    path = Path(path)
    where = f"quality table {str(path)!r}"
    text = read_text(path, "quality table")
    sidecar = sidecar_path(path)
    provenance = _read_sidecar(sidecar)
    better = _metrics(provenance, str(sidecar))
    blocks = _blocks(provenance, str(sidecar))
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{where}: missing column(s) {', '.join(missing)}; expected the columns "
            f"{', '.join(REQUIRED_COLUMNS)}",
            path="columns",
            value=header,
            expected=", ".join(REQUIRED_COLUMNS),
            source=str(path),
        )
    points = []
    for number, row in enumerate(reader, start=2):
        point = _point(row, f"{where} line {number}", str(path))
        if point.metric not in better:
            raise InputError(
                f"{where} line {number}: metric {point.metric!r} is not declared in the "
                f"sidecar's metrics ({', '.join(better)})",
                path="metric",
                value=point.metric,
                expected="a metric declared in the sidecar",
                source=str(path),
            )
        points.append(point)
    if not points:
        raise InputError(
            f"{where}: no rows", path="rows", value=0, expected="at least one row", source=str(path)
        )
    return QualityTable(
        id=str(provenance["id"]),
        source=str(provenance["source"]),
        table=str(provenance["table"]),
        license=str(provenance["license"]),
        better=better,
        blocks=blocks,
        points=tuple(points),
        provenance=provenance,
        path=str(path),
    )


def _read_sidecar(path: Path) -> dict[str, Any]:
    where = f"provenance sidecar {str(path)!r}"
    text = read_text(path, "provenance sidecar of a quality table")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            f"{where}: not JSON ({err})", value=None, expected="a JSON object", source=str(path)
        ) from err
    if not isinstance(data, dict):
        raise InputError(
            f"{where}: got a {type(data).__name__}, expected a JSON object",
            value=type(data).__name__,
            expected="a JSON object",
            source=str(path),
        )
    missing = [f for f in SIDECAR_FIELDS if not data.get(f)]
    if missing:
        raise InputError(
            f"{where}: missing field(s) {', '.join(missing)}; a quality table must say "
            f"{', '.join(SIDECAR_FIELDS)}",
            path=missing[0],
            value=None,
            expected="a non-empty value",
            source=str(path),
        )
    return data


def _metrics(provenance: Mapping[str, Any], where: str) -> dict[str, str]:
    metrics = provenance["metrics"]
    if not isinstance(metrics, dict):
        raise InputError(
            f"provenance sidecar {where!r}: metrics must map each metric to its description",
            path="metrics",
            value=metrics,
            expected="an object {metric: {better: lower|higher}}",
            source=where,
        )
    better = {}
    for name, spec in metrics.items():
        direction = spec.get("better") if isinstance(spec, dict) else None
        if direction not in ("lower", "higher"):
            raise InputError(
                f"provenance sidecar {where!r}: metrics.{name}.better: got {direction!r}, "
                "expected 'lower' or 'higher'",
                path=f"metrics.{name}.better",
                value=direction,
                expected="'lower' or 'higher'",
                source=where,
            )
        better[str(name)] = str(direction)
    return better


def _blocks(provenance: Mapping[str, Any], where: str) -> dict[str, int]:
    blocks = provenance.get("blocks", {})
    if not isinstance(blocks, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in blocks.values()
    ):
        raise InputError(
            f"provenance sidecar {where!r}: blocks: got {blocks!r}, expected an object "
            "{model: positive number of transformer blocks}",
            path="blocks",
            value=blocks,
            expected="{model: positive integer}",
            source=where,
        )
    return {str(k): int(v) for k, v in blocks.items()}


def _point(row: Mapping[str, str | None], where: str, source: str) -> QualityPoint:
    def text(column: str) -> str:
        return (row.get(column) or "").strip()

    def fail(column: str, expected: str) -> InputError:
        return InputError(
            f"{where}: {column}: got {text(column)!r}, expected {expected}",
            path=column,
            value=text(column),
            expected=expected,
            source=source,
        )

    def number(column: str, low: float, high: float, expected: str) -> float:
        try:
            value = float(text(column))
        except ValueError:
            raise fail(column, expected) from None
        if not (math.isfinite(value) and low < value <= high):
            raise fail(column, expected)
        return value

    def bits(column: str) -> int:
        value = text(column)
        if not value.isdigit() or not 1 <= int(value) <= DENSE_BITS:
            raise fail(column, f"an integer number of bits from 1 to {DENSE_BITS}")
        return int(value)

    for column in ("model", "metric"):
        if not text(column):
            raise fail(column, "a name")
    blocks_text = text("device_blocks")
    if blocks_text and not blocks_text.isdigit():
        raise fail("device_blocks", "a non-negative integer, or blank for the whole model")
    device_blocks = int(blocks_text) if blocks_text else None
    kept_device = number("kept_device", 0.0, 1.0, "a fraction in (0, 1]")
    kept_server = number("kept_server", 0.0, 1.0, "a fraction in (0, 1]")
    bits_device, bits_server = bits("weight_bits_device"), bits("weight_bits_server")
    if device_blocks is None and (kept_device != kept_server or bits_device != bits_server):
        raise fail(
            "device_blocks",
            "a number of device-side blocks where the two sides differ (blank means the whole "
            "model, with kept_device = kept_server and the same bits)",
        )
    value = number("value", 0.0, math.inf, "a positive finite number")
    distortion_text = text("output_distortion")
    distortion = (
        number("output_distortion", -1e-300, math.inf, "a non-negative number, or blank")
        if distortion_text
        else None
    )
    pruned = min(kept_device, kept_server) < 1.0
    if pruned and not text("method"):
        raise fail("method", "the pruning method of a pruned point")
    quantized = min(bits_device, bits_server) < DENSE_BITS
    if quantized and not text("quantization"):
        raise fail("quantization", "the weight format of a quantized point")
    extra = {k: (v or "") for k, v in row.items() if k not in REQUIRED_COLUMNS and k is not None}
    return QualityPoint(
        model=text("model"),
        metric=text("metric"),
        method=text("method") if pruned else "",
        quantization=text("quantization") if quantized else "",
        device_blocks=device_blocks,
        kept_device=kept_device,
        kept_server=kept_server,
        weight_bits_device=bits_device,
        weight_bits_server=bits_server,
        value=value,
        output_distortion=distortion,
        extra=extra,
    )
