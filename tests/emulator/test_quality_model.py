"""The quality model (docs/quality.md): every shipped table point is reproduced exactly; between
points the estimate is a monotone interpolation or the documented composition of side-only
damage, equal to its closed form; outside the measured points it says so instead of
extrapolating."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from coinfer.emulator.errors import InputError
from coinfer.emulator.model.quality import (
    DENSE_BITS,
    QualityModel,
    load_quality_model,
    read_quality_table,
    shipped_table_paths,
)
from coinfer.emulator.model.quality.tables import REQUIRED_COLUMNS, sidecar_path


@pytest.fixture(scope="module")
def shipped():
    return load_quality_model()


def estimate(model, name, **decision):
    query = {
        "kept_device": 1.0,
        "kept_server": 1.0,
        "device_blocks": 0,
        "weight_bits_device": DENSE_BITS,
        "weight_bits_server": DENSE_BITS,
    }
    return model.estimate(model=name, **(query | decision))


@pytest.mark.parametrize("path", shipped_table_paths(), ids=lambda p: p.stem)
def test_every_shipped_point_is_reproduced_exactly(path):
    table = read_quality_table(path)
    model = QualityModel([table])
    for p in table.points:
        got = model.estimate(
            model=p.model,
            kept_device=p.kept_device,
            kept_server=p.kept_server,
            device_blocks=0 if p.device_blocks is None else p.device_blocks,
            weight_bits_device=p.weight_bits_device,
            weight_bits_server=p.weight_bits_server,
            method=p.method or "magnitude",
            quantization=p.quantization or None,
        )
        if p.device_blocks is None and p.kept_device == 1.0 and p.weight_bits_device == 16:
            pass  # the split of the unpruned model is immaterial
        assert got is not None and got.in_range
        assert (got.metric, got.value, got.output_distortion, got.source) == (
            p.metric,
            p.value,
            p.output_distortion,
            table.id,
        )


def test_a_model_without_data_has_no_estimate(shipped):
    assert estimate(shipped, "gpt2") is None
    assert "gpt2" not in shipped and "llama-2-7b" in shipped


def test_interpolation_between_dense_and_half_pruned_is_monotone_and_bounded(shipped):
    dense = estimate(shipped, "llama-2-7b").value
    half = estimate(shipped, "llama-2-7b", kept_device=0.5, kept_server=0.5).value
    kept = np.linspace(0.5, 1.0, 26)
    values = [estimate(shipped, "llama-2-7b", kept_device=k, kept_server=k).value for k in kept]
    assert np.all(np.diff(values) <= 0.0)  # more kept, lower perplexity
    assert values[0] == half and values[-1] == dense
    # two measured points: a straight line in the log of the metric
    mid = estimate(shipped, "llama-2-7b", kept_device=0.75, kept_server=0.75).value
    assert mid == pytest.approx(math.sqrt(dense * half), rel=1e-12)


def test_below_the_smallest_measured_kept_fraction_is_out_of_range(shipped):
    got = estimate(shipped, "llama-2-7b", kept_device=0.4, kept_server=0.4)
    assert not got.in_range and math.isnan(got.value) and got.output_distortion is None
    assert got.source == "wanda-llama2-wikitext"


def test_an_unmeasured_method_is_out_of_range(shipped):
    got = estimate(shipped, "llama-2-7b", kept_device=0.5, kept_server=0.5, method="random")
    assert not got.in_range


def test_a_table_without_side_measurements_does_not_guess_how_damage_splits(shipped):
    got = estimate(shipped, "llama-2-7b", device_blocks=10, kept_device=0.5, kept_server=1.0)
    assert not got.in_range
    # the same kept fraction on both sides is the whole model, whatever the split
    both = estimate(shipped, "llama-2-7b", device_blocks=10, kept_device=0.5, kept_server=0.5)
    assert both.value == 14.89


def test_bits_pick_the_table_that_has_them_and_the_worst_format_unless_named(shipped):
    q4 = estimate(shipped, "llama-7b", weight_bits_device=4, weight_bits_server=4)
    assert (q4.value, q4.source) == (6.1565, "llamacpp-llama-wikitext")  # Q4_0, the worse
    q41 = shipped.estimate(
        model="llama-7b",
        kept_device=1.0,
        kept_server=1.0,
        device_blocks=0,
        weight_bits_device=4,
        weight_bits_server=4,
        quantization="q4_1",
    )
    assert q41.value == 6.0912
    eqat = estimate(shipped, "llama-2-7b", weight_bits_device=2, weight_bits_server=2)
    assert (eqat.value, eqat.source) == (7.17, "efficientqat-model-zoo")
    assert (
        estimate(shipped, "llama-2-7b", weight_bits_device=1, weight_bits_server=1).in_range
        is False
    )


def test_a_source_can_be_chosen_by_id(shipped):
    wanda = estimate(shipped, "llama-2-7b")
    eqat = shipped.estimate(
        model="llama-2-7b",
        kept_device=1.0,
        kept_server=1.0,
        device_blocks=0,
        weight_bits_device=16,
        weight_bits_server=16,
        source="efficientqat-model-zoo",
    )
    assert (wanda.value, eqat.value) == (5.12, 5.47)
    with pytest.raises(InputError, match="nowhere"):
        shipped.estimate(
            model="llama-2-7b",
            kept_device=1.0,
            kept_server=1.0,
            device_blocks=0,
            weight_bits_device=16,
            weight_bits_server=16,
            source="nowhere",
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kept_device", 0.0),
        ("kept_server", 1.5),
        ("weight_bits_device", 0),
        ("weight_bits_server", 4.0),
        ("device_blocks", -1),
    ],
)
def test_a_bad_decision_is_refused_naming_the_field(shipped, field, value):
    with pytest.raises(InputError) as err:
        estimate(shipped, "llama-2-7b", **{field: value})
    assert err.value.path == field and err.value.value == value


# -- the composition rule, on a table made for it ---------------------------------------------

V0 = 10.0
BLOCKS = 10


def toy_model(tmp_path, rows):
    """A table of one model with ``BLOCKS`` blocks; rows are (k, ρd, ρs, bd, bs, value, od)."""
    lines = [",".join(REQUIRED_COLUMNS)]
    for k, rd, rs, bd, bs, value, od in rows:
        method = "magnitude" if min(rd, rs) < 1 else ""
        quant = "rtn" if min(bd, bs) < 16 else ""
        blocks = "" if k is None else str(k)
        lines.append(f"toy,ppl,{method},{quant},{blocks},{rd},{rs},{bd},{bs},{value},{od}")
    path = tmp_path / "toy.csv"
    path.write_text("\n".join(lines) + "\n")
    sidecar = {
        "id": "toy",
        "source": "test",
        "table": "1",
        "license": "CC0",
        "metrics": {"ppl": {"better": "lower"}},
        "blocks": {"toy": BLOCKS},
    }
    sidecar_path(path).write_text(json.dumps(sidecar))
    return QualityModel([read_quality_table(path)])


def test_split_damage_is_the_sum_of_the_measured_side_damages(tmp_path):
    """log v = log v0 + Δdevice(ρ) + Δserver(ρ̃); distortion² adds the same way."""
    model = toy_model(
        tmp_path,
        [
            (None, 1, 1, 16, 16, V0, 0.0),
            (None, 0.5, 0.5, 16, 16, 40.0, 0.5),
            (4, 0.5, 1, 16, 16, 15.0, 0.3),
            (4, 1, 0.5, 16, 16, 25.0, 0.4),
        ],
    )
    got = estimate(model, "toy", device_blocks=4, kept_device=0.5, kept_server=0.5)
    assert got.value == 40.0  # measured: the whole model at ρ = 0.5
    # a mixed decision is composed from the side-only points
    got = model.estimate(
        model="toy",
        kept_device=0.5,
        kept_server=0.75,
        device_blocks=4,
        weight_bits_device=16,
        weight_bits_server=16,
    )
    server_half = math.log(25.0 / V0) / 2  # (ρ̃ = 0.75: halfway between 1 and 0.5, a line)
    assert got.in_range
    assert got.value == pytest.approx(V0 * (15.0 / V0) * math.exp(server_half), rel=1e-12)
    assert got.output_distortion is None  # two compactions: their distortions do not add up
    # one compaction: its curve (ρ̃ = 0.75 halfway between 1 and 0.5: a line in distortion²)
    server = estimate(model, "toy", device_blocks=4, kept_server=0.75)
    assert server.output_distortion == pytest.approx(math.sqrt(0.4**2 / 2), rel=1e-12)


def test_between_measured_splits_side_damage_is_linear_in_the_device_blocks(tmp_path):
    model = toy_model(
        tmp_path,
        [
            (None, 1, 1, 16, 16, V0, 0.0),
            (None, 0.5, 0.5, 16, 16, 40.0, 0.5),
            (4, 0.5, 1, 16, 16, 15.0, 0.3),
        ],
    )

    def device_only(k):
        return estimate(model, "toy", device_blocks=k, kept_device=0.5).value

    # anchors: no device blocks (no damage), 4 blocks (measured), all blocks (the whole model)
    assert device_only(2) == pytest.approx(V0 * math.sqrt(15.0 / V0), rel=1e-12)
    assert device_only(7) == pytest.approx(15.0 * (40.0 / 15.0) ** 0.5, rel=1e-12)
    assert device_only(BLOCKS) == 40.0
    # the server side was never measured alone: a server-side query is not in range
    assert not estimate(model, "toy", device_blocks=4, kept_server=0.5).in_range


def test_pruning_and_quantization_damage_add_up(tmp_path):
    model = toy_model(
        tmp_path,
        [
            (None, 1, 1, 16, 16, V0, 0.0),
            (None, 0.5, 0.5, 16, 16, 40.0, 0.5),
            (None, 1, 1, 4, 4, 12.0, 0.2),
        ],
    )
    got = estimate(
        model, "toy", kept_device=0.5, kept_server=0.5, weight_bits_device=4, weight_bits_server=4
    )
    assert got.value == pytest.approx(40.0 * 12.0 / V0, rel=1e-12)
    assert got.output_distortion is None
    # 10 bits: between the measured 4 bits and the unquantized 16 (a line in bits)
    ten = estimate(model, "toy", weight_bits_device=10, weight_bits_server=10)
    assert ten.value == pytest.approx(V0 * math.sqrt(12.0 / V0), rel=1e-12)
