"""Looking up model profiles by name: the built-in presets plus the user's own files."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from coinfer.emulator.errors import InputError, unknown_name_error
from coinfer.emulator.model.presets import BUILTIN_PRESETS, Preset
from coinfer.emulator.model.profile_files import load_profile_file
from coinfer.emulator.model.profiles import ModelProfile


class ModelCatalog:
    """An immutable set of named model profiles.

    Built-in presets are built on demand (a Llama profile costs a few hundred microseconds) and
    accept a pass size; user profiles are fixed. Use :meth:`builtin` and :meth:`with_files`.
    """

    def __init__(
        self, presets: Iterable[Preset] = (), profiles: Iterable[ModelProfile] = ()
    ) -> None:
        self._presets: dict[str, Preset] = {}
        self._profiles: dict[str, ModelProfile] = {}
        for preset in presets:
            self._claim(preset.name, "built-in preset")
            self._presets[preset.name] = preset
        for profile in profiles:
            self._claim(profile.name, "profile")
            self._profiles[profile.name] = profile

    def _claim(self, name: str, what: str) -> None:
        if name in self:
            raise InputError(
                f"{what} name: got {name!r}, expected a name not already in the catalog"
            )

    @classmethod
    def builtin(cls) -> ModelCatalog:
        """The catalog of every built-in preset."""
        return cls(BUILTIN_PRESETS)

    def with_profiles(self, profiles: Iterable[ModelProfile]) -> ModelCatalog:
        """A new catalog with ``profiles`` added; a name already present is refused."""
        return ModelCatalog(self._presets.values(), [*self._profiles.values(), *profiles])

    def with_files(self, paths: Iterable[str | Path]) -> ModelCatalog:
        """A new catalog with the profiles of YAML/CSV files added (see ``profile_files``)."""
        return self.with_profiles(load_profile_file(p) for p in paths)

    def names(self) -> list[str]:
        """Names in catalog order: built-ins first, then user profiles."""
        return [*self._presets, *self._profiles]

    def __contains__(self, name: object) -> bool:
        return name in self._presets or name in self._profiles

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._presets) + len(self._profiles)

    def size_parameter(self, name: str) -> str:
        """``"sequence_length"``, ``"image_size"`` or ``""`` (fixed) for the named profile."""
        if name in self._presets:
            return self._presets[name].size_parameter
        if name in self._profiles:
            return ""
        raise unknown_name_error("model", name, self.names())

    def get(
        self, name: str, *, sequence_length: int | None = None, image_size: int | None = None
    ) -> ModelProfile:
        """The named profile, optionally at another pass size.

        ``sequence_length`` applies to text models, ``image_size`` to vision models; giving one
        that the model does not take raises :class:`InputError`.
        """
        if name in self._profiles:
            if sequence_length is not None or image_size is not None:
                raise InputError(
                    f"model {name!r} is a fixed profile from a file; it takes no sequence_length "
                    "or image_size"
                )
            return self._profiles[name]
        preset = self._presets.get(name)
        if preset is None:
            raise unknown_name_error("model", name, self.names())
        sizes = {"sequence_length": sequence_length, "image_size": image_size}
        for parameter, value in sizes.items():
            if value is None:
                continue
            if parameter != preset.size_parameter:
                expected = preset.size_parameter or "no size parameter"
                raise InputError(
                    f"{parameter}: model {name!r} does not take it (it takes {expected})",
                    path=parameter,
                    value=value,
                    expected=expected,
                )
            if value <= 0:
                raise InputError(
                    f"{parameter}: got {value}, expected a positive integer",
                    path=parameter,
                    value=value,
                    expected="a positive integer",
                )
        if not preset.size_parameter:
            return preset.build()
        size = sizes[preset.size_parameter] or preset.default_size
        try:
            return preset.build(**{preset.size_parameter: size})
        except ValueError as err:
            raise InputError(
                f"{preset.size_parameter} for model {name!r}: {err}",
                path=preset.size_parameter,
                value=size,
            ) from err
