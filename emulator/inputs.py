"""The base of every model that validates what a user wrote: finite numbers, and no true/false
where a number goes.

Pydantic on its own accepts ``.inf`` and ``.nan`` for a float field and ``true`` for an int or a
float (as 1); each has made a run hang or print nonsense. :class:`InputModel` refuses both, for
every field of every subclass:

* ``allow_inf_nan=False``: a non-finite number is refused, except in a field that declares
  ``Field(allow_inf_nan=True)`` because infinity means something there (a budget: none); NaN
  still fails such a field's bounds (``gt=0``);
* a bool given for a field typed ``int`` or ``float`` (or an optional one) is refused with
  ``FIELD: got true, expected a number`` (reported at the model holding the field).

Subclasses keep ``frozen=True, extra="forbid"`` unless they say otherwise.
"""

from __future__ import annotations

import functools
import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator

_NUMBERS = (int, float)

#: A name that becomes a file or folder name: no path separator, no ``..``, no leading dot.
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


def is_number_type(annotation: Any) -> bool:
    """Whether ``annotation`` is ``int`` or ``float``, or a union holding one and no ``bool``."""
    if annotation in _NUMBERS:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        members = get_args(annotation)
        return bool not in members and any(member in _NUMBERS for member in members)
    return False


class InputModel(BaseModel):
    """A model of user input: frozen, no unknown keys, finite numbers, no bools for numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, data: Any) -> Any:
        if isinstance(data, dict):
            numeric = _numeric_fields(cls)
            for key, value in data.items():
                if isinstance(value, bool) and key in numeric:
                    raise ValueError(f"{key}: got {str(value).lower()}, expected a number")
        return data


@functools.cache
def _numeric_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` typed as numbers (remembered per class)."""
    return frozenset(
        key
        for name, field in model.model_fields.items()
        if is_number_type(field.annotation)
        for key in (name, field.alias)
        if key
    )
