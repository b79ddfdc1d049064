"""Profiles are found by name; unknown names and inapplicable sizes are refused clearly."""

import pytest

from coinfer.emulator.errors import InputError
from coinfer.emulator.model.catalog import ModelCatalog

CATALOG = ModelCatalog.builtin()

REQUIRED = [
    "bert-paper", "bart-paper", "bert-base", "bart-base", "gpt2", "gpt2-medium", "gpt2-large",
    "gpt2-xl", "opt-1.3b", "llama-2-7b", "llama-2-13b", "llama-3-8b", "mistral-7b", "phi-2",
    "tinyllama-1.1b", "vit-b-16", "vit-l-16", "resnet-50", "resnet-101",
]  # fmt: skip


def test_every_required_model_is_built_in():
    assert set(REQUIRED) <= set(CATALOG.names())
    assert len(CATALOG) == len(CATALOG.names())


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(
        InputError, match=r"unknown model 'llama-9b'; expected one of: .*llama-2-7b"
    ):
        CATALOG.get("llama-9b")


def test_size_parameter_follows_the_family():
    assert CATALOG.size_parameter("gpt2") == "sequence_length"
    assert CATALOG.size_parameter("resnet-50") == "image_size"
    assert CATALOG.size_parameter("bert-paper") == ""


def test_a_size_the_model_does_not_take_is_refused():
    with pytest.raises(InputError, match="image_size: model 'gpt2' does not take it"):
        CATALOG.get("gpt2", image_size=224)
    with pytest.raises(InputError, match="sequence_length: model 'bert-paper' does not take it"):
        CATALOG.get("bert-paper", sequence_length=64)


def test_an_image_size_that_is_not_a_patch_multiple_is_refused():
    with pytest.raises(InputError, match=r"image_size for model 'vit-b-16'.*multiple of the patch"):
        CATALOG.get("vit-b-16", image_size=100)


def test_each_call_builds_the_same_profile():
    assert CATALOG.get("gpt2") == CATALOG.get("gpt2")
