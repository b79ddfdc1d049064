"""Hardware classes: the compute and radio capabilities of a device or an edge server.

The reference model (``docs/reference-model.md``) needs, per side, the clock range ``f`` (Hz),
the FLOPs per cycle ``c``, the chip power coefficient ``φ`` (W per (cycle/s)³, so that the chip
draws ``φ·f³`` watts at clock ``f``) and the power-usage effectiveness ``η`` (facility power over
chip power). Devices also carry their maximum transmit power. Memory size and bandwidth are
recorded for policies and checks that need them (a model must fit; decode steps are often
bandwidth-bound). Built-in classes live in :mod:`emulator.hardware_catalog`; users add their own
from YAML with :func:`load_hardware_file`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from coinfer.emulator.errors import InputError, input_error_from_validation, unknown_name_error
from coinfer.emulator.model.hardware_catalog import BUILTIN_HARDWARE
from coinfer.emulator.model.hardware_spec import HardwareSpec
from coinfer.emulator.yaml_files import read_yaml

__all__ = ["HardwareCatalog", "HardwareSpec", "load_hardware_file"]


class HardwareCatalog:
    """An immutable, ordered set of hardware classes looked up by name."""

    def __init__(self, specs: Iterable[HardwareSpec] = ()) -> None:
        self._specs: dict[str, HardwareSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise InputError(
                    f"hardware class name: got {spec.name!r}, expected a name not already "
                    "in the catalog"
                )
            self._specs[spec.name] = spec

    @classmethod
    def builtin(cls) -> HardwareCatalog:
        """The catalog of every built-in class (see :mod:`emulator.hardware_catalog`)."""
        return cls(BUILTIN_HARDWARE)

    def with_specs(self, specs: Iterable[HardwareSpec]) -> HardwareCatalog:
        """A new catalog with ``specs`` added; a name already present is refused."""
        return HardwareCatalog([*self._specs.values(), *specs])

    def with_files(self, paths: Iterable[str | Path]) -> HardwareCatalog:
        """A new catalog with the classes of YAML files added."""
        catalog = self
        for path in paths:
            catalog = catalog.with_specs(load_hardware_file(path))
        return catalog

    def get(self, name: str, kind: Literal["device", "server"] | None = None) -> HardwareSpec:
        """The named class; with ``kind``, refuse a class of the other kind."""
        if name not in self._specs:
            known = self.names() if kind is None else [s.name for s in self if s.kind == kind]
            raise unknown_name_error(f"{kind or 'hardware'} class", name, known)
        spec = self._specs[name]
        if kind is not None and spec.kind != kind:
            raise InputError(
                f"hardware class {name!r} is a {spec.kind}, expected a {kind}",
                value=name,
                expected=f"a {kind} class",
            )
        return spec

    def names(self) -> list[str]:
        """Names in catalog order."""
        return list(self._specs)

    def devices(self) -> list[HardwareSpec]:
        """Every device class."""
        return [s for s in self if s.kind == "device"]

    def servers(self) -> list[HardwareSpec]:
        """Every server class."""
        return [s for s in self if s.kind == "server"]

    def __iter__(self) -> Iterator[HardwareSpec]:
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __len__(self) -> int:
        return len(self._specs)


def load_hardware_file(path: str | Path) -> list[HardwareSpec]:
    """Hardware classes from a YAML file: a list of specs, or a mapping ``{hardware: [...]}``.

    Every problem raises :class:`InputError` naming the file, the field and the value.
    """
    data = read_yaml(path, "hardware file")
    if isinstance(data, dict) and set(data) == {"hardware"}:
        data = data["hardware"]
    if not isinstance(data, list):
        raise InputError(
            f"hardware file {str(path)!r}: got a {type(data).__name__} at the top level, "
            "expected a list of hardware classes (or a mapping with the key 'hardware')",
            source=str(path),
            expected="a list of hardware classes",
        )
    specs = []
    for index, entry in enumerate(data):
        try:
            specs.append(HardwareSpec.model_validate(entry))
        except ValidationError as err:
            invalid = input_error_from_validation(
                err,
                f"hardware class [{index}] in {str(path)!r}",
                file=str(path),
                model=HardwareSpec,
            )
            raise invalid from err
    return specs
