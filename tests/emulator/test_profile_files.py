"""Users add their own model profiles from YAML (blocks or hyperparameters) or CSV files."""

import textwrap

import pytest

from coinfer.emulator.errors import InputError
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.profile_files import load_profile_file

BLOCKS_YAML = """\
name: my-cnn
family: vision
input_bits: 1204224
blocks:
  - {name: conv1, params: 9408, flops: 2.36e8, activation_bits: 2.57e7}
  - {name: fc, params: 513000, flops: 1.03e6, activation_bits: 32000}
"""

ARCHITECTURE_YAML = """\
name: my-llm
architecture:
  kind: decoder
  vocab_size: 32000
  hidden_size: 2048
  num_layers: 22
  num_heads: 32
  num_kv_heads: 4
  ffn_size: 5632
  gated_mlp: true
  bias: false
  norm: rmsnorm
  tied_head: false
sequence_length: 256
activation_bits: 16
weight_bits: 16
"""

CSV = """\
name,params,flops,activation_bits
input,0,0,4096
embed,1000000,0,24576
body,5000000,1e9,24576
head,100000,2e5,3200
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_yaml_with_explicit_blocks(tmp_path):
    profile = load_profile_file(write(tmp_path, "cnn.yaml", BLOCKS_YAML))
    assert profile.name == "my-cnn"
    assert profile.total_params == 9408 + 513000
    assert list(profile.payload_bits) == [1204224, 2.57e7, 0]


def test_yaml_with_hyperparameters_builds_like_the_presets(tmp_path):
    profile = load_profile_file(write(tmp_path, "llm.yaml", ARCHITECTURE_YAML))
    tinyllama = ModelCatalog.builtin().get("tinyllama-1.1b", sequence_length=256)
    assert profile.total_params == tinyllama.total_params
    assert profile.total_flops == tinyllama.total_flops
    assert profile.decode is not None


def test_csv_with_an_input_row(tmp_path):
    profile = load_profile_file(write(tmp_path, "split-me.csv", CSV))
    assert profile.name == "split-me"
    assert list(profile.payload_bits) == [4096, 24576, 24576, 0]
    assert profile.total_flops == 1e9 + 2e5


def test_catalog_lists_user_profiles_after_the_builtins(tmp_path):
    catalog = ModelCatalog.builtin().with_files([write(tmp_path, "cnn.yaml", BLOCKS_YAML)])
    assert catalog.names()[-1] == "my-cnn"
    assert catalog.get("my-cnn").num_blocks == 2


def test_a_user_profile_may_not_shadow_a_builtin(tmp_path):
    path = write(tmp_path, "bert.yaml", BLOCKS_YAML.replace("my-cnn", "bert-base"))
    with pytest.raises(InputError, match="'bert-base'"):
        ModelCatalog.builtin().with_files([path])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BLOCKS_YAML.replace("params: 9408", "params: -5"), r"blocks\[0\]\.params: got -5"),
        (BLOCKS_YAML.replace("input_bits: 1204224\n", ""), "input_bits: missing"),
        (ARCHITECTURE_YAML.replace("num_heads: 32", "num_heads: 30"), "not divisible"),
        (
            ARCHITECTURE_YAML.replace("norm: rmsnorm", "norm: batchnorm"),
            "architecture.norm: got 'batchnorm'",
        ),
        ("- just\n- a list\n", "got a list at the top level, expected a mapping"),
        ("name: [unclosed\n", "is not valid YAML"),
    ],
)
def test_bad_yaml_is_refused_naming_field_and_value(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        load_profile_file(write(tmp_path, "bad.yaml", text))


def test_csv_without_an_input_row_is_refused(tmp_path):
    path = write(tmp_path, "bad.csv", CSV.replace("input,0,0,4096\n", ""))
    with pytest.raises(InputError, match="first row got name 'embed', expected 'input'"):
        load_profile_file(path)


def test_csv_with_a_missing_column_is_refused(tmp_path):
    path = write(tmp_path, "bad.csv", "name,params,flops\ninput,0,0\n")
    with pytest.raises(InputError, match="missing activation_bits"):
        load_profile_file(path)


def test_missing_file_and_unknown_suffix_are_refused(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_profile_file(tmp_path / "absent.yaml")
    with pytest.raises(InputError, match=r"expected a name ending in \.yaml"):
        load_profile_file(tmp_path / "model.json")
