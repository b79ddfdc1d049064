"""User model profiles from YAML or CSV files.

Two YAML forms are accepted.

Explicit blocks (any model, measured or computed elsewhere)::

    name: my-cnn
    family: vision            # encoder | decoder | encoder-decoder | vision | custom
    input_bits: 1204224       # θ(0): raw input uploaded at split 0, bits
    weight_bits: 32
    blocks:
      - {name: conv1, params: 9408, flops: 2.36e8, activation_bits: 2.57e7}
      - {name: fc, params: 513000, flops: 1.03e6, activation_bits: 32000}

Architecture hyperparameters (a transformer built by the same formulas as the presets)::

    name: my-llm
    architecture:
      kind: decoder
      vocab_size: 32000
      hidden_size: 2048
      num_layers: 16
      num_heads: 16
      ffn_size: 5632
      gated_mlp: true
      bias: false
      norm: rmsnorm
      tied_head: false
    sequence_length: 512
    activation_bits: 16
    weight_bits: 16

CSV: one row per block with the header ``name,params,flops,activation_bits`` (optionally
``kv_cache_bytes_per_token``), preceded by one row named ``input`` whose ``activation_bits`` is
the raw input size θ(0) (its params and flops must be 0). The profile is named after the file.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from coinfer.emulator.errors import InputError, input_error_from_validation
from coinfer.emulator.inputs import InputModel
from coinfer.emulator.model.architectures import TransformerConfig, transformer_profile
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.text_files import read_text_lines
from coinfer.emulator.yaml_files import read_yaml

PROFILE_SUFFIXES = (".yaml", ".yml", ".csv")
CSV_COLUMNS = ("name", "params", "flops", "activation_bits")


class ArchitectureFile(InputModel):
    """A YAML profile given by transformer hyperparameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    source: str = ""
    architecture: TransformerConfig
    sequence_length: int = Field(default=128, gt=0)
    activation_bits: int = Field(default=32, gt=0, le=64)
    weight_bits: int = Field(default=32, gt=0, le=64)

    def build(self) -> ModelProfile:
        return transformer_profile(
            self.name,
            self.architecture,
            sequence_length=self.sequence_length,
            activation_bits=self.activation_bits,
            weight_bits=self.weight_bits,
            description=self.description,
            source=self.source,
        )


def load_profile_file(path: str | Path) -> ModelProfile:
    """Load one user profile from a ``.yaml``/``.yml`` or ``.csv`` file.

    Every problem (missing file, syntax, wrong shape, a bad value) raises :class:`InputError`
    naming the file, the field and the value.
    """
    path = Path(path)
    if path.suffix.lower() not in PROFILE_SUFFIXES:
        raise InputError(
            f"model profile file: got {str(path)!r}, expected a name ending in "
            f"{', '.join(PROFILE_SUFFIXES)}",
            value=str(path),
            expected=f"a name ending in {', '.join(PROFILE_SUFFIXES)}",
        )
    if not path.is_file():
        raise InputError(
            f"model profile file: {str(path)!r} does not exist", source=str(path), expected="a file"
        )
    if path.suffix.lower() == ".csv":
        return _load_csv(path)
    return _load_yaml(path)


def _load_yaml(path: Path) -> ModelProfile:
    data = read_yaml(path, "model profile file")
    if not isinstance(data, dict):
        raise InputError(
            f"model profile file {str(path)!r}: got a {type(data).__name__} at the top level, "
            "expected a mapping with 'name' and either 'blocks' or 'architecture'"
        )
    try:
        if "architecture" in data:
            return ArchitectureFile.model_validate(data).build()
        return ModelProfile.model_validate({"family": "custom", **data})
    except ValidationError as err:
        invalid = input_error_from_validation(err, f"model profile {str(path)!r}", file=str(path))
        raise invalid from err
    except ValueError as err:  # raised by a builder, e.g. heads not dividing the width
        raise InputError(f"invalid model profile {str(path)!r}: {err}", source=str(path)) from err


def _load_csv(path: Path) -> ModelProfile:
    reader = csv.DictReader(read_text_lines(path, "model profile file"))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(
            f"model profile {str(path)!r}: header got {reader.fieldnames}, expected the "
            f"columns {', '.join(CSV_COLUMNS)} (missing {', '.join(missing)})"
        )
    rows = [{k: v for k, v in row.items() if v not in (None, "")} for row in reader]
    if not rows or rows[0].get("name") != "input":
        raise InputError(
            f"model profile {str(path)!r}: first row got name "
            f"{rows[0].get('name') if rows else None!r}, expected 'input' (its activation_bits "
            "is the raw input size θ(0))"
        )
    input_row = rows[0]
    for column in ("params", "flops"):
        if float(input_row.get(column, 0) or 0) != 0:
            raise InputError(
                f"model profile {str(path)!r}: row 'input' {column} got {input_row[column]!r}, "
                "expected 0"
            )
    data: dict[str, Any] = {
        "name": path.stem,
        "family": "custom",
        "source": str(path),
        "input_bits": input_row.get("activation_bits"),
        "blocks": rows[1:],
    }
    try:
        return ModelProfile.model_validate(data)
    except ValidationError as err:
        invalid = input_error_from_validation(err, f"model profile {str(path)!r}", file=str(path))
        raise invalid from err
