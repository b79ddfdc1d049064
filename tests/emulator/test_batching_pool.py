"""The KV block pool and the batching parameters, on their own, and the package's independence
from SimPy.

The pool counts blocks per sequence row and refuses, with :class:`KvPoolError`, any allocation
that would overdraw it; the parameters refuse values out of range with a message naming the
field.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from coinfer.emulator.engine import batching
from coinfer.emulator.engine.batching.kv import KvBlockManager, KvPoolError
from coinfer.emulator.engine.batching.params import BatchingParams
from coinfer.emulator.engine.batching.records import Sequence


def test_a_sequence_holds_the_ceiling_of_its_tokens_over_the_block_size():
    pool = KvBlockManager(num_blocks=10, block_size=4)
    assert [pool.blocks_for(tokens) for tokens in (0, 1, 4, 5, 8, 9)] == [0, 1, 1, 2, 2, 3]
    assert pool.blocks_for_many(np.array([0, 1, 4, 5, 8, 9])).tolist() == [0, 1, 1, 2, 2, 3]


def test_the_pool_hands_out_blocks_until_none_is_left_and_takes_them_back():
    pool = KvBlockManager(num_blocks=10, block_size=4, rows=4)
    pool.allocate(0, 3)
    pool.allocate_many(np.array([1, 2]), np.array([2, 4]), total=6)
    assert (pool.held.tolist(), pool.used, pool.free) == ([3, 2, 4, 0], 9, 1)
    with pytest.raises(KvPoolError, match="cannot allocate 2 blocks: 1 free"):
        pool.allocate(3, 2)
    with pytest.raises(KvPoolError, match="cannot allocate 2 blocks: 1 free"):
        pool.allocate_many(np.array([0, 3]), np.array([1, 1]), total=2)
    assert (pool.held.tolist(), pool.free) == ([3, 2, 4, 0], 1)  # a refusal changes nothing
    assert pool.release(2) == 4
    assert pool.release_many(np.array([0, 1])) == 5
    assert (pool.held.tolist(), pool.used, pool.free) == ([0, 0, 0, 0], 0, 10)
    pool.check()


def test_check_finds_counts_that_do_not_add_up():
    pool = KvBlockManager(num_blocks=10, block_size=4, rows=2)
    pool.allocate(0, 3)
    pool.held[1] = 1  # a block no allocation gave out
    with pytest.raises(KvPoolError, match="pool of 10: 7 free, rows hold 4 blocks"):
        pool.check()


def test_growing_the_rows_keeps_the_counts():
    pool = KvBlockManager(num_blocks=10, block_size=4, rows=2)
    pool.allocate(1, 2)
    pool.resize(5)
    assert pool.held.tolist() == [0, 2, 0, 0, 0]


def test_parameters_default_to_vllms_and_derive_the_watermark_in_blocks():
    params = BatchingParams(num_kv_blocks=1000)
    assert (params.block_size_tokens, params.max_sequences, params.watermark) == (16, 256, 0.01)
    assert params.watermark_blocks == 10
    assert BatchingParams(num_kv_blocks=10, watermark=0.25).watermark_blocks == 2  # int(2.5)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("block_size_tokens", 0),
        ("num_kv_blocks", 0),
        ("max_batched_tokens", 0),
        ("max_sequences", 0),
        ("watermark", 1.0),
        ("watermark", -0.1),
        ("chunk_size_tokens", 0),
        ("unknown_field", 1),
    ],
)
def test_a_parameter_out_of_range_is_refused_naming_the_field(field, value):
    with pytest.raises(ValidationError, match=field):
        BatchingParams(**{"num_kv_blocks": 10, field: value})


def test_more_sequences_than_batched_tokens_is_refused():
    with pytest.raises(ValidationError, match="max_sequences = 9 decodes would not fit"):
        BatchingParams(num_kv_blocks=10, max_sequences=9, max_batched_tokens=8)


def test_a_sequence_needs_a_prompt_and_an_output():
    with pytest.raises(ValueError, match="sequence 3: prompt_tokens = 0, output_tokens = 2"):
        Sequence(3, prompt_tokens=0, output_tokens=2)
    with pytest.raises(ValueError, match="expected both >= 1"):
        Sequence(3, prompt_tokens=5, output_tokens=0)


def test_the_batching_package_is_a_pure_state_machine():
    """No SimPy and nothing else of the engine: the package imports only the standard library,
    numpy, pydantic, its own modules, the project's error type, its base of input models and
    the switch to its compiled build (standard library only)."""
    package = Path(batching.__file__).parent
    allowed = {"__future__", "abc", "collections", "dataclasses", "enum", "typing"}
    allowed |= {"numpy", "pydantic", "coinfer.emulator.errors", "coinfer.emulator.inputs"}
    allowed |= {"coinfer.emulator.compiled"}
    imported = set()
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module)
    own = "coinfer.emulator.engine.batching."
    outside = {name for name in imported if not name.startswith(own)}
    assert {name.split(".")[0] for name in outside} >= {"numpy", "pydantic"}  # the scan works
    assert {
        name for name in outside if name not in allowed and name.split(".")[0] not in allowed
    } == set()
