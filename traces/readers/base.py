"""What every trace reader is: the ``coinfer.trace_readers`` plug-in family.

A trace reader is a plug-in (:mod:`coinfer.emulator.plugins`): a class implementing
:class:`TraceReader`, registered under the name the trace catalog gives as an entry's
``reader`` (its ``options`` are the reader's typed ``Params``). The built-in readers wrap the
reading functions of the modules beside this one (:class:`FunctionReader`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import ConfigDict

from coinfer.emulator.inputs import InputModel
from coinfer.traces.arrivals import ArrivalTrace
from coinfer.traces.capacity import LinkCapacityTrace
from coinfer.traces.positions import PositionTrace
from coinfer.traces.provenance import Provenance
from coinfer.traces.snr import SnrTrace

#: What a reader returns.
Trace = ArrivalTrace | LinkCapacityTrace | SnrTrace | PositionTrace


class ReaderParams(InputModel):
    """The options of a trace reader (none here); a reader's ``Params`` extends this model."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class TraceReader(Protocol):
    """A trace reader, made from a catalog entry's ``options`` (its ``Params``)."""

    Params: ClassVar[type[ReaderParams]]

    def __init__(self, params: ReaderParams) -> None: ...

    def read(self, path: Path, provenance: Provenance | None) -> Trace:
        """The trace in the file at ``path`` (SI units), carrying ``provenance`` (None: a
        user's own file). A malformed file is an InputError naming the file, line and value."""
        ...


class FunctionReader:
    """A reader that calls ``function(path, provenance=..., **options)``."""

    Params: ClassVar[type[ReaderParams]] = ReaderParams
    function: ClassVar[Callable[..., Any]]

    def __init__(self, params: ReaderParams) -> None:
        self.params = params

    def read(self, path: Path, provenance: Provenance | None) -> Trace:
        return type(self).function(path, provenance=provenance, **self.params.model_dump())
