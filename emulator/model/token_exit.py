"""Per-token early exit of a decoder (CALM, Schuster et al., NeurIPS 2022): what a token that
leaves after block ``e`` runs, and the draw of each token's exit block.

A decoder profile's blocks are the embeddings, the transformer layers and, last, the output head
(the LM head; ``docs/model-profiles.md``). A generated token that is confident enough after
block ``e`` (one of the model's exit heads, ``after_block``) stops there: it runs blocks
``1..e``, then the output head, which every exit shares (CALM's exits reuse the model's own
output embedding). :func:`exit_profile` is that model: ``e`` blocks and the head, ``e + 1``
blocks in all; leaving after block ``L`` (or ``L − 1``, the last layer) is the whole model.

The exit law is the profile's (:attr:`~coinfer.emulator.model.profiles.ModelProfile.exit_law`:
each head's block with its probability, then ``L`` with the rest), the one one-pass early exit
reads; :func:`draw_token_exits` draws one block per token from it, with the same inversion of a
uniform draw as the one-pass requests' exits. SI units; blocks are counted from 1.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from coinfer.emulator.model.profiles import ModelProfile

IntArray = npt.NDArray[np.int64]


def exit_profile(model: ModelProfile, exit_block: int) -> ModelProfile:
    """The model a token leaving after block ``exit_block`` (``1..L``) runs: blocks
    ``1..exit_block`` and the output head (the model's last block), shared by every exit; the
    model itself for ``exit_block ≥ L − 1``. Its name is the model's (the step-time models that
    measured the model accept it); it has no exits and no decode profile."""
    last = model.num_blocks
    if not 1 <= exit_block <= last:
        raise ValueError(f"exit_block: got {exit_block}, expected an integer in 1..{last}")
    if exit_block >= last - 1:
        return model
    data = model.model_dump(exclude={"blocks", "max_split", "exits", "decode"})
    blocks = (*model.blocks[:exit_block], model.blocks[-1])
    return ModelProfile.model_validate({**data, "blocks": blocks})


def exit_cumulative(probabilities: tuple[float, ...]) -> np.ndarray:
    """The cumulative probabilities of an exit law, its last raised to at least 1 (the rest of
    the probability runs the whole model)."""
    cumulative = np.cumsum(probabilities)
    cumulative[-1] = max(float(cumulative[-1]), 1.0)
    return cumulative


def draw_token_exits(
    rng: np.random.Generator, blocks: IntArray, cumulative: np.ndarray, count: int
) -> IntArray:
    """``count`` exit blocks, one per token: ``blocks[i]`` for the first ``i`` whose cumulative
    probability (:func:`exit_cumulative`) exceeds a uniform draw of ``rng`` (one draw a token)."""
    picks = np.searchsorted(cumulative, rng.random(count), side="right")
    drawn: IntArray = blocks[np.minimum(picks, len(blocks) - 1)]
    return drawn
